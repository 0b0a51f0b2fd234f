"""Call log: the tests that need the real command line
(the rest are in tests/unit/test_call_log.py)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_call_log import (
    LOOKUPS,
    PLAIN_FIELDS,
    PRE_FLIGHT,
    read_log,
    run_with_every_answer_lost,
)


def test_lookups_that_worked_are_successes_and_hold_nothing_of_the_lead(tmp_path: Path):
    code, activities = run_with_every_answer_lost(tmp_path, tmp_path / "out")
    assert (code, activities) == (0, 3)  # every lost answer found landed, none sent twice
    text = (tmp_path / "out" / "calls.jsonl").read_text("utf-8")
    lines = read_log(tmp_path / "out" / "calls.jsonl")
    # the pre-flight's calls first, then the run
    assert sorted(line["call"] for line in lines[:4]) == PRE_FLIGHT
    assert (lines[4]["event"], lines[-1]["event"]) == ("run", "summary")
    for line in lines[:4]:
        assert set(line) == PLAIN_FIELDS - {"row"}, line
        assert (line["status"], line["outcome"]) == (200, "success")
    calls = [line for line in lines if line["event"] == "call"][4:]
    creates = [line for line in calls if line["call"] == "CreateCustom"]
    assert sorted(line["row"] for line in creates) == [2, 3, 4]
    assert {line["outcome"] for line in creates} == {"answer_lost"}
    for name in LOOKUPS:
        found = [line for line in calls if line["call"] == name]
        assert sorted(line["row"] for line in found) == [2, 3, 4], name
        for line in found:
            assert set(line) == PLAIN_FIELDS, line
            assert (line["status"], line["outcome"]) == (200, "success")
    assert len(calls) == 9  # one CreateCustom and two lookups a row: nothing else
    assert 4 + len(calls) == lines[-1]["calls"]  # every call the run counted has its line
    assert lines[-1]["lost_answers"] == 3 and lines[-1]["succeeded"] == 3
    # nothing of the rows or of what the account answered (the leads, the user's login)
    for private in ("zelda", "quixote", "@", "skyline", "admin", "sandbox realty"):
        assert private not in text.lower(), private


def test_with_log_payloads_each_call_s_body_and_query_are_there(tmp_path: Path):
    code, _ = run_with_every_answer_lost(tmp_path, tmp_path / "out", "--log-payloads")
    assert code == 0
    calls = [line for line in read_log(tmp_path / "out" / "calls.jsonl") if line["event"] == "call"]
    creates = [line for line in calls if line["call"] == "CreateCustom"]
    emails = sorted(
        next(d["Value"] for d in line["payload"]["LeadDetails"] if d["Attribute"] == "EmailAddress")
        for line in creates
    )
    assert emails == [f"zelda.quixote{i}@example.org" for i in range(3)]
    by_email = [line for line in calls if line["call"] == "Leads.GetByEmailaddress"]
    assert sorted(line["params"]["emailaddress"] for line in by_email) == emails
    retrieves = [line for line in calls if line["call"] == "Retrieve"]
    assert len(retrieves) == 3
    assert all(line["payload"]["Paging"] and line["params"]["leadId"] for line in retrieves)
    assert [line["params"] for line in calls if line["call"] == "GetActivitySetting"] == [
        {"code": "201"}
    ]
    for line in by_email + retrieves:  # the answers themselves are never logged
        body = {"payload"} if line["call"] == "Retrieve" else set()
        assert set(line) == PLAIN_FIELDS | {"params"} | body, line
