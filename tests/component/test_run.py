"""Run: the tests that need the sandbox server
(the rest are in tests/unit/test_run.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate
from tests.unit.test_run import (
    MAPPING,
    rows,
    run_against,
    sandbox,
)


async def test_every_row_lands_once_and_success_csv_holds_its_ids(tmp_path: Path):
    outcome = await run_against(tmp_path, rows(30), sandbox())
    assert outcome.summary.exit_code == 0
    assert (outcome.summary.succeeded, outcome.summary.failed) == (30, 0)
    assert len(outcome.success) == 30
    activities = {a["Id"]: a for a in outcome.state["activities"]}
    for line in outcome.success:
        activity = activities[line["_activity_id"]]
        assert activity["LeadId"] == line["_lead_id"]
        assert activity["ActivityNote"] == line["Note"]  # the original columns follow, verbatim
    assert sorted(int(line["_row"]) for line in outcome.success) == list(range(2, 32))
    assert outcome.json["calls"] == 30 and outcome.json["throttles"] == 0
    assert outcome.json["succeeded"] == 30 and outcome.json["exit_code"] == 0
    assert len(outcome.json["input_sha256"]) == 64


async def test_application_errors_fail_the_row_without_a_retry(tmp_path: Path):
    data = rows(4)
    data[1][4] = "Not a project"  # a dropdown value that is not an option
    data[2][0] = "bad@"  # fails to map: never sent
    outcome = await run_against(tmp_path, data, sandbox())
    assert outcome.summary.exit_code == 1
    failures = {f["_row"]: f for f in outcome.failures}
    assert failures["3"]["_error_type"] == "MXInvalidActivityFieldsException"
    assert failures["3"]["_error"] == (
        "mx_Custom_1: 'Not a project' is not one of the options of Project"
    )
    assert failures["4"]["_error_type"] == "InvalidValue"
    assert outcome.json["calls"] == 3  # the unmappable row was not sent; the rejected one once
    assert outcome.json["failed_by_type"] == {
        "MXInvalidActivityFieldsException": 1,
        "InvalidValue": 1,
    }


async def test_an_unknown_attribute_rejects_every_row_once(tmp_path: Path):
    mapping = MAPPING.replace("FirstName: Name", "mx_Shoe_Size: Name")
    outcome = await run_against(tmp_path, rows(3), sandbox(), mapping=mapping)
    assert {f["_error_type"] for f in outcome.failures} == {"MXUnknownAttributeException"}
    assert outcome.json["calls"] == 3


async def test_bad_keys_stop_the_run_and_the_rest_is_reported_not_sent(tmp_path: Path):
    outcome = await run_against(
        tmp_path, rows(40), sandbox(), keys=("u$wrong", "s$wrong"), rate=Rate(20, 1.0)
    )
    assert outcome.summary.exit_code == 3
    assert "refused the access key and secret key" in outcome.summary.stopped
    assert len(outcome.failures) == 40
    kinds = Counter(f["_error_type"] for f in outcome.failures)
    assert kinds["NotSent"] >= 30
    assert kinds["MXInvalidUserDetailsException"] == 40 - kinds["NotSent"]
    assert outcome.json["calls"] < 10
    assert outcome.state["activities"] == []


async def test_zero_throttles_when_the_importer_is_the_only_client(tmp_path: Path):
    outcome = await run_against(
        tmp_path,
        rows(30),
        sandbox(rate_limit=10, rate_window=1.0, latency=0.05),
        rate=Rate(10, 1.0),
    )
    assert outcome.summary.succeeded == 30
    assert outcome.json["throttles"] == 0
    assert outcome.state["counters"].get("throttled", 0) == 0


async def test_a_second_client_on_the_account_is_absorbed(tmp_path: Path):
    async def neighbour(running: Any) -> None:
        headers = {"x-LSQ-AccessKey": running.access_key, "x-LSQ-SecretKey": running.secret_key}
        async with aiohttp.ClientSession() as session:
            while True:  # another integration, reading metadata at 5 calls a second
                async with session.get(
                    running.url + "/v2/ProspectActivity.svc/ActivityTypes.Get", headers=headers
                ) as response:
                    await response.read()
                await asyncio.sleep(0.2)

    outcome = await run_against(
        tmp_path,
        rows(20),
        sandbox(rate_limit=10, rate_window=1.0),
        rate=Rate(10, 1.0),
        alongside=neighbour,
    )
    assert outcome.summary.succeeded == 20
    assert outcome.json["throttles"] > 0
    assert outcome.activities_per_row() == Counter({f"note {i}": 1 for i in range(20)})


async def test_a_lower_limit_named_by_the_server_is_adopted(tmp_path: Path):
    outcome = await run_against(
        tmp_path, rows(20), sandbox(rate_limit=5, rate_window=1.0), rate=Rate(20, 1.0)
    )
    assert outcome.summary.succeeded == 20
    assert outcome.summary.adopted_rate == "5/1s"
    assert outcome.json["adopted_rate"] == "5/1s"
    assert outcome.notes == [
        "LeadSquared says the limit is 5 calls per 1 s, below the 20/1s set: using 5/1s from now on"
    ]


async def test_server_errors_are_retried_until_every_row_lands_once(tmp_path: Path):
    outcome = await run_against(tmp_path, rows(30), sandbox(fail_rate=0.3, latency=0.01))
    assert outcome.summary.succeeded == 30
    assert outcome.json["retries"] > 0
    assert outcome.activities_per_row() == Counter({f"note {i}": 1 for i in range(30)})


async def test_dropped_answers_are_checked_not_resent(tmp_path: Path):
    outcome = await run_against(tmp_path, rows(30), sandbox(drop_rate=0.3))
    assert outcome.summary.succeeded == 30
    assert outcome.json["lost_answers"] > 0
    assert outcome.json["lost_answers_found_landed"] == outcome.json["lost_answers"]
    assert outcome.activities_per_row() == Counter({f"note {i}": 1 for i in range(30)})
    assert outcome.json["possible_duplicates"] == []
    # the ids in success.csv are the ones the sandbox stored, found by the lookup
    ids = {a["Id"] for a in outcome.state["activities"]}
    assert {line["_activity_id"] for line in outcome.success} == ids


async def test_calls_slower_than_the_timeout_are_waited_for_not_resent(tmp_path: Path):
    outcome = await run_against(
        tmp_path,
        rows(12),
        sandbox(slow_rate=0.3, slow_seconds=0.6),
        timeout=0.3,
        policy=RetryPolicy(transient_retries=8, backoff_base=0.02, backoff_cap=0.2, settle=0.6),
    )
    assert outcome.summary.succeeded == 12
    assert outcome.json["lost_answers"] > 0
    assert outcome.activities_per_row() == Counter({f"note {i}": 1 for i in range(12)})


async def test_a_lost_answer_that_cannot_be_checked_is_marked_possibly_duplicated(tmp_path: Path):
    mapping = MAPPING.replace("search_by: EmailAddress", "search_by: mx_Customer_ID").replace(
        "FirstName: Name", "mx_Customer_ID: Name"
    )
    from importer.sandbox.schema import default_schema

    schema = default_schema()
    schema.lead_field("mx_Customer_ID").unique = True  # unique, but with no lookup endpoint
    outcome = await run_against(
        tmp_path, rows(20), sandbox(drop_rate=0.3, schema=schema), mapping=mapping
    )
    assert outcome.summary.succeeded == 20
    dropped = outcome.state["counters"]["faults_dropped"]
    assert dropped > 0
    assert len(outcome.state["activities"]) == 20 + dropped  # what the mark warns of
    posted_twice = {
        int(note.split()[1]) + 2 for note, n in outcome.activities_per_row().items() if n > 1
    }
    assert set(outcome.json["possible_duplicates"]) == posted_twice


async def test_rows_for_one_lead_go_one_at_a_time_in_file_order(tmp_path: Path):
    data = [
        [
            "Same@Example.com",
            f"Version {i}",
            f"note {i}",
            f"01/03/2026 10:{i:02d}",
            "Skyline Towers",
        ]
        for i in range(6)
    ]
    data[2][0] = "same@example.COM"
    outcome = await run_against(tmp_path, data + rows(10), sandbox(latency=0.05))
    leads = [
        lead
        for lead in outcome.state["leads"]
        if lead["EmailAddress"].lower() == "same@example.com"
    ]
    assert len(leads) == 1  # no duplicate lead from a race
    assert leads[0]["FirstName"] == "Version 5"  # the last row's values win
    mine = [
        a["ActivityNote"]
        for a in outcome.state["activities"]
        if a["LeadId"] == leads[0]["ProspectID"]
    ]
    assert mine == [f"note {i}" for i in range(6)]  # stored in file order


async def test_secrets_appear_in_nothing_written(tmp_path: Path):
    secret = "sec$ret$value$0123456789"
    access = "u$acc$ess$key"
    outcome = await run_against(
        tmp_path,
        rows(10),
        sandbox(access_key=access, secret_key=secret, fail_rate=0.3, drop_rate=0.2),
    )
    assert outcome.summary.succeeded == 10
    written = b"".join(p.read_bytes() for p in outcome.out.iterdir())  # the journal too
    written += ("".join(outcome.notes) + repr(outcome.summary)).encode()
    assert secret.encode() not in written and access.encode() not in written
    assert b"sec$ret" not in written
