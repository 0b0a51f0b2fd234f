"""One row's delivery against scripted answers: retries, the duplicate rule, lost answers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from importer.errors import CallLost, CallNotSent, FatalError, LookupFailed, RunStopped
from importer.sending.client import Counters
from importer.sending.delivery import FAILED, INTERRUPTED, SUCCEEDED, Delivery, RetryPolicy, RowJob
from importer.sending.landed import same_activity
from importer.sending.outage import Link

OK = (200, json.dumps({"Status": "Success", "Message": {"Id": "act", "RelatedId": "lead"}}))


def mx(kind: str, status: int = 500) -> tuple[int, str]:
    return status, json.dumps({"Status": "Error", "ExceptionType": kind, "ExceptionMessage": kind})


class ScriptedClient:
    """Answers CreateCustom from a script; lookups from a table."""

    def __init__(self, answers: list[Any], lookups: dict[str, Any] | None = None) -> None:
        self.answers = list(answers)
        self.lookups = lookups or {}
        self.sent = 0
        self.left = 0
        self.paused: list[float] = []
        self.link = Link(lambda: "http://scripted", self.probe)

    async def probe(self) -> None:
        pass

    async def send(self, method: str, path: str, on_leave: Any = None, **_: Any) -> tuple[int, str]:
        self.sent += 1
        answer = self.answers.pop(0)
        if isinstance(answer, RunStopped):  # the stop came while it waited for its turn
            raise answer
        if on_leave is not None:
            on_leave()
            self.left += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def pause(self, seconds: float) -> None:
        self.paused.append(seconds)

    async def lookup(self, method: str, path: str, **_: Any) -> Any:
        answer = self.lookups.get(path.rsplit("/", 1)[-1])
        if answer is None or isinstance(answer, Exception):
            raise answer or LookupFailed("no")
        return answer


def job(search_by: str = "EmailAddress") -> RowJob:
    payload = {
        "LeadDetails": [{"Attribute": "EmailAddress", "Value": "a@x.com"}],
        "Activity": {
            "ActivityEvent": 201,
            "ActivityNote": "n",
            "ActivityDateTime": "2026-03-05 09:00:00",
            "Fields": [{"SchemaName": "mx_Custom_1", "Value": "P"}],
        },
    }
    return RowJob(7, payload, ["a@x.com"], search_by, "a@x.com")


async def deliver(client: ScriptedClient, **policy: Any):
    rules = {"backoff_base": 0.0, "backoff_cap": 0.0, "settle": 0.0, **policy}
    counters = Counters()
    result = await Delivery(client, RetryPolicy(**rules), counters).deliver(job())  # type: ignore[arg-type]
    return result, counters


async def test_a_duplicate_entry_is_retried_once():
    result, _ = await deliver(ScriptedClient([mx("MXDuplicateEntryException"), OK]))
    assert (result.status, result.activity_id, result.attempts) == (SUCCEEDED, "act", 2)
    result, _ = await deliver(ScriptedClient([mx("MXDuplicateEntryException")] * 2))
    assert (result.status, result.error_type, result.attempts) == (
        FAILED,
        "MXDuplicateEntryException",
        2,
    )


async def test_transient_errors_retry_a_bounded_number_of_times():
    result, counters = await deliver(ScriptedClient([(502, "")] * 3 + [OK]), transient_retries=3)
    assert (result.status, result.attempts, counters.retries) == (SUCCEEDED, 4, 3)
    result, _ = await deliver(ScriptedClient([(502, "")] * 4), transient_retries=3)
    assert result.status == FAILED
    assert result.error == "HTTP 502 without an MX error body (gave up after 4 attempts)"


async def test_throttles_resend_without_using_the_retry_budget():
    # (the client, not the delivery, tells the limiter: every throttle of every call, once)
    throttle = mx("MXAPIRateLimitExceededException", 200)
    client = ScriptedClient([throttle, throttle, OK])
    result, _ = await deliver(client, transient_retries=0)
    assert (result.status, result.attempts, client.sent) == (SUCCEEDED, 3, 3)
    result, _ = await deliver(ScriptedClient([throttle] * 3), throttle_retries=2)
    assert (result.status, result.error_type) == (FAILED, "MXAPIRateLimitExceededException")


async def test_application_errors_are_not_retried_and_bad_keys_are_fatal():
    client = ScriptedClient([mx("MXInvalidActivityException")])
    result, _ = await deliver(client)
    assert (result.status, result.error_type, client.sent) == (
        FAILED,
        "MXInvalidActivityException",
        1,
    )
    with pytest.raises(FatalError):
        await deliver(ScriptedClient([(401, "")]))


ACTIVITY = {
    "Id": "found",
    "EventCode": 201,
    "CreatedOn": "2026-03-05 09:00:00",
    "Data": {"ActivityEvent_Note": "n", "mx_Custom_1": "P"},
}


async def test_a_lost_answer_found_landed_is_not_resent():
    client = ScriptedClient(
        [CallLost("gone")],
        {
            "Leads.GetByEmailaddress": [{"ProspectID": "L"}],
            "Retrieve": {"RecordCount": 1, "ProspectActivities": [ACTIVITY]},
        },
    )
    result, counters = await deliver(client)
    assert (result.status, result.activity_id, result.lead_id) == (SUCCEEDED, "found", "L")
    assert client.sent == 1 and counters.verified_landed == 1


async def test_a_lost_answer_not_landed_is_resent_once_checked():
    other = {**ACTIVITY, "CreatedOn": "2026-03-04 09:00:00"}
    client = ScriptedClient(
        [CallLost("gone"), OK],
        {
            "Leads.GetByEmailaddress": [{"ProspectID": "L"}],
            "Retrieve": {"RecordCount": 1, "ProspectActivities": [other]},
        },
    )
    result, counters = await deliver(client)
    assert (result.status, result.activity_id, client.sent) == (SUCCEEDED, "act", 2)
    assert result.possible_duplicate is False and counters.verified_not_landed == 1


async def test_a_lost_answer_that_cannot_be_checked_is_resent_and_marked():
    client = ScriptedClient([CallLost("gone"), OK], {"Leads.GetByEmailaddress": LookupFailed("x")})
    result, _ = await deliver(client)
    assert (result.status, result.possible_duplicate, client.sent) == (SUCCEEDED, True, 2)


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({}, True),
        ({"EventCode": 202}, False),
        ({"CreatedOn": "2026-03-05 09:00:01"}, False),
        ({"Data": {"ActivityEvent_Note": "other", "mx_Custom_1": "P"}}, False),
        ({"Data": {"ActivityEvent_Note": "n", "mx_Custom_1": "Q"}}, False),
    ],
)
def test_same_activity(change: dict[str, Any], same: bool):
    sent = job().payload["Activity"]
    assert same_activity(sent, {**ACTIVITY, **change}, dt.datetime.now(dt.UTC)) is same


def test_the_note_is_compared_under_whichever_key_data_uses():
    sent = job().payload["Activity"]
    now = dt.datetime.now(dt.UTC)
    renamed = {**ACTIVITY, "Data": {"ActivityNote": "n", "mx_Custom_1": "P"}}
    assert same_activity(sent, renamed, now) is True
    other = {**ACTIVITY, "Data": {"ActivityNote": "other", "mx_Custom_1": "P"}}
    assert same_activity(sent, other, now) is False
    unnamed = {**ACTIVITY, "Data": {"mx_Custom_1": "P"}}
    assert same_activity(sent, unnamed, now) is True  # no note key: date-time and fields decide


def test_without_a_date_time_only_a_recent_activity_matches():
    sent = {k: v for k, v in job().payload["Activity"].items() if k != "ActivityDateTime"}
    at = dt.datetime(2026, 3, 5, 9, 5, tzinfo=dt.UTC)
    assert same_activity(sent, ACTIVITY, at) is True  # 5 minutes before the first attempt
    late = dt.datetime(2026, 3, 5, 9, 30, tzinfo=dt.UTC)
    assert same_activity(sent, ACTIVITY, late) is False  # an older, identical activity


async def test_a_stop_before_the_first_call_leaves_the_row_to_do():
    client = ScriptedClient([RunStopped()])
    with pytest.raises(RunStopped):  # the worker leaves it pending: nothing is recorded
        await deliver(client)
    assert client.left == 0


async def test_a_stop_between_attempts_fails_the_row_as_interrupted_with_the_last_error():
    client = ScriptedClient([(502, "<html>Bad Gateway</html>"), RunStopped()])
    result, _ = await deliver(client, backoff_base=1.0, backoff_cap=1.0)
    assert result.status == FAILED
    assert result.error_type == INTERRUPTED  # retryable: the next run sends it, unchecked
    assert "last attempt: HTTP502" in result.error
    assert len(client.paused) == 1 and client.left == 1


async def test_each_call_that_leaves_is_counted_on_the_job():
    client = ScriptedClient([CallNotSent("refused"), (502, ""), OK])
    row = job()
    before: list[int] = []
    counters = Counters()
    delivery = Delivery(
        client,  # type: ignore[arg-type]
        RetryPolicy(backoff_base=0.0, backoff_cap=0.0, settle=0.0),
        counters,
        before_send=lambda j: before.append(j.row),
    )
    result = await delivery.deliver(row)
    assert result.status == SUCCEEDED
    assert row.left == 3 and before == [7, 7, 7]


class Ledger:
    """A journal's part in a delivery, in memory: the activities other rows hold."""

    def __init__(self, claimed: frozenset[str] = frozenset()) -> None:
        self.held = claimed
        self.asked: list[tuple[str, int]] = []
        self.entries: list[tuple[str, Any]] = []

    def sending(self, row: int, line: str) -> None:
        self.entries.append(("sending", row))

    def answered(self, row: int, attempt: Any) -> None:
        self.entries.append(("answered", attempt.outcome))

    def checked(self, row: int, began: dt.datetime, attempt: Any) -> None:
        self.entries.append(("checked", attempt.outcome, attempt.activity_id, attempt.error))

    def claimed(self, activity_id: str, row: int) -> bool:
        self.asked.append((activity_id, row))
        return activity_id in self.held


def lost_then(*answers: Any, found: list[dict[str, Any]]) -> ScriptedClient:
    return ScriptedClient(
        [CallLost("gone"), *answers],
        {
            "Leads.GetByEmailaddress": [{"ProspectID": "L"}],
            "Retrieve": {"RecordCount": len(found), "ProspectActivities": found},
        },
    )


async def deliver_to(client: ScriptedClient, ledger: Ledger):
    policy = RetryPolicy(backoff_base=0.0, backoff_cap=0.0, settle=0.0)
    counters = Counters()
    delivery = Delivery(client, policy, counters, ledger=ledger)  # type: ignore[arg-type]
    return await delivery.deliver(job()), counters


async def test_a_lost_answer_passes_over_an_identical_activity_another_row_holds():
    mine = {**ACTIVITY, "Id": "mine"}
    ledger = Ledger(claimed=frozenset({"found"}))
    result, counters = await deliver_to(lost_then(found=[ACTIVITY, mine]), ledger)
    assert (result.status, result.activity_id, result.lead_id) == (SUCCEEDED, "mine", "L")
    assert ledger.asked == [("found", 7), ("mine", 7)] and counters.verified_landed == 1
    assert ledger.entries == [
        ("sending", 7),
        ("answered", "answer_lost"),
        ("checked", "landed", "mine", ""),
    ]


async def test_a_lost_answer_whose_only_match_another_row_holds_is_resent():
    ledger = Ledger(claimed=frozenset({"found"}))
    client = lost_then(OK, found=[ACTIVITY])
    result, counters = await deliver_to(client, ledger)
    assert (result.status, result.activity_id, client.sent) == (SUCCEEDED, "act", 2)
    assert result.possible_duplicate is False and counters.verified_not_landed == 1
    assert ledger.entries == [
        ("sending", 7),
        ("answered", "answer_lost"),
        ("checked", "not_landed", "", "passed over found: identical, and another row's"),
        ("sending", 7),
        ("answered", "success"),
    ]
    # unclaimed, the same activity is this row's: found landed, not resent
    result, _ = await deliver_to(lost_then(found=[ACTIVITY]), Ledger())
    assert (result.status, result.activity_id) == (SUCCEEDED, "found")
