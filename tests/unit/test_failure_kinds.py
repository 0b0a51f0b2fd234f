"""The one table of failure kinds, tested as one table across both paths: what a row's answer
makes the run do while sending (the classifier and the delivery), and what a later run does with
a row recorded with it (the journal's done or open, the check first). Then the must-show round
trip on the real command line: wrong keys stop the run, the same command with the right ones
sends every row exactly once."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from importer.account import field_values
from importer.errors import CallLost, CallNotSent, FatalError, HostUnreachable, RunStopped
from importer.failures import KINDS, Kind, Next, Verdict, final_sql, is_final, kind_of
from importer.mapping import plan as mapping
from importer.outputs.results import encode_cells
from importer.pipeline.journal import Journal
from importer.sending.client import Counters
from importer.sending.delivery import FAILED, SUCCEEDED, Delivery, RetryPolicy
from importer.sending.responses import classify_response
from tests.unit.test_delivery import OK, ScriptedClient, job


def mx(kind: str, status: int = 500) -> tuple[int, str]:
    return status, json.dumps({"Status": "Error", "ExceptionType": kind, "ExceptionMessage": "m"})


#: For every line of the table: an error type it covers, and what brings it about while sending
#: (an answer of LeadSquared, or a scripted event of the wire; None: a stop of the run's own, or
#: the mapping stage, which sends nothing).
EXAMPLES: dict[str, tuple[str, Any]] = {
    "MXAPIRateLimitExceededException": (
        "MXAPIRateLimitExceededException",
        mx("MXAPIRateLimitExceededException", 200),
    ),
    "MXDuplicateEntryException": ("MXDuplicateEntryException", mx("MXDuplicateEntryException")),
    "MXInvalidUserDetailsException": (
        "MXInvalidUserDetailsException",
        mx("MXInvalidUserDetailsException", 401),
    ),
    "Unauthorized": ("Unauthorized", (401, "")),
    "NotFound": ("NotFound", (404, "<html>Not Found</html>")),
    "HTTP408": ("HTTP408", (408, "Request Timeout")),
    "MX*": ("MXInvalidActivityFieldsException", mx("MXInvalidActivityFieldsException")),
    "HTTP4??": ("HTTP400", (400, "Bad Request")),
    "HTTP2??": ("HTTP200", (200, json.dumps({"Status": "Error"}))),
    "HTTP*": ("HTTP503", (503, "<html>Service Unavailable</html>")),
    "ConnectionError": ("ConnectionError", CallNotSent("refused")),
    "AnswerLost": ("AnswerLost", CallLost("timed out")),
    "HostUnreachable": ("HostUnreachable", HostUnreachable("no answer", "timed out")),
    "NotSent": ("NotSent", None),
    "Interrupted": ("Interrupted", None),
    "OutcomeUnknown": ("OutcomeUnknown", None),
    "BadRow": ("BadRow", None),
    "InvalidValue": ("InvalidValue", None),
    "MissingValue": ("MissingValue", None),
    "NotAnOption": ("NotAnOption", None),
    "TooLong": ("TooLong", None),
    "WrongType": ("WrongType", None),
    "UnknownEvent": ("UnknownEvent", None),
    "*": ("SomethingNewException", None),
}

#: The only verdicts each kind of next step may come with.
COHERENT = {
    Verdict.THROTTLED: Next.RETRY_NOW,
    Verdict.TRANSIENT: Next.RETRY_NOW,
    Verdict.FATAL: Next.STOP,
    Verdict.REJECTED: Next.FINAL,
    Verdict.DUPLICATE: Next.FINAL,
}
#: Lookups that find the row's lead without its activity: a lost answer checked, not landed.
NOT_LANDED = {
    "Leads.GetByEmailaddress": [{"ProspectID": "L"}],
    "Retrieve": {"RecordCount": 0, "ProspectActivities": []},
}


def test_every_line_of_the_table_has_an_example():
    assert set(EXAMPLES) == {kind.name for kind in KINDS}
    assert KINDS[-1].name == "*"  # the catch-all comes last, so that everything has a line


async def deliver(script: list[Any], **policy: Any):
    rules = {"backoff_base": 0.0, "backoff_cap": 0.0, "settle": 0.0, **policy}
    client = ScriptedClient(script, NOT_LANDED)
    delivery = Delivery(client, RetryPolicy(**rules), Counters())  # type: ignore[arg-type]
    return await delivery.deliver(job()), client


def recorded(tmp_path: Path, error_type: str) -> tuple[bool, bool, bool]:
    """A row recorded as failed with this type: (done for good, open, in failures.csv)."""
    journal = Journal.open(tmp_path)
    try:
        journal.failed(2, encode_cells(["a@x.com"]), error_type, "why")
        with journal.snapshot() as snapshot:
            done, open_rows = snapshot.done_rows(), snapshot.open_rows()
            success, failures = io.StringIO(newline=""), io.StringIO(newline="")
            snapshot.copy_done(success, failures)
    finally:
        journal.close()
    return 2 in done, 2 in open_rows, failures.getvalue().startswith("2,")


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
async def test_one_table_across_both_paths(kind: Kind, tmp_path: Path):
    error_type, cause = EXAMPLES[kind.name]
    assert kind_of(error_type) is kind

    # sending: the classifier's verdict for a representative answer is the table's
    if isinstance(cause, tuple):
        answer = classify_response(*cause)
        assert (answer.verdict, answer.error_type) == (kind.verdict, error_type)
        assert COHERENT[answer.verdict] is kind.next
    else:
        assert kind.verdict is None  # the pipeline's own kinds: no answer is classified so

    # sending: what the delivery does with it is what the table says happens next
    if cause is not None:
        if kind.next is Next.STOP:
            with pytest.raises(FatalError) as stopped:
                await deliver([cause, OK])
            assert stopped.value.row_error_type == error_type
        elif kind.next is Next.RETRY_NOW:
            result, client = await deliver([cause, OK])
            assert (result.status, client.sent) == (SUCCEEDED, 2)  # sent again, in this run
            # its retries spent, the row is recorded with this very type: for a later run
            result, _ = await deliver([cause] * 2, transient_retries=0, throttle_retries=0)
            assert (result.status, result.error_type) == (FAILED, error_type)
        else:
            assert kind.next is Next.FINAL
            result, client = await deliver([cause] * 3)
            once_more = 2 if kind.verdict is Verdict.DUPLICATE else 1
            assert (result.status, result.error_type) == (FAILED, error_type)
            assert client.sent == once_more

    # a later run: the journal's done/open decision and its SQL are the table's
    done, open_row, listed = recorded(tmp_path, error_type)
    assert done is kind.final and open_row is not kind.final
    assert listed is kind.final  # failures.csv replays only the rows that are done for good
    assert is_final(error_type) is kind.final
    assert _sql_final(error_type) is kind.final


async def test_a_stop_between_attempts_is_interrupted_and_goes_to_a_later_run(tmp_path: Path):
    result, _ = await deliver([(502, ""), RunStopped()])
    assert result.error_type == "Interrupted"
    assert kind_of(result.error_type).next is Next.RETRY_LATER
    assert recorded(tmp_path, result.error_type)[1]  # open: the next run sends it


def _sql_final(error_type: str | None) -> bool:
    with closing(sqlite3.connect(":memory:")) as db:
        (value,) = db.execute(f"SELECT {final_sql('x')} FROM (SELECT ? AS x)", (error_type,))
    return value[0] == 1


@pytest.mark.parametrize(
    "error_type",
    ["HTTP599", "HTTP600", "HTTP40", "HTTP4000", "HTTP429", "http500", "MX", "MXfoo", "Weird", ""],
)
def test_the_sql_and_kind_of_agree_beyond_the_examples(error_type: str):
    assert _sql_final(error_type) is is_final(error_type)


def test_a_failed_row_without_a_type_is_final_in_both():
    assert _sql_final(None) is is_final("") is True


def test_the_mapping_stages_kinds_are_named_in_the_table_as_final():
    names = [
        mapping.BAD_ROW,
        mapping.INVALID_VALUE,
        mapping.MISSING_VALUE,
        field_values.MISSING_VALUE,
        field_values.NOT_AN_OPTION,
        field_values.TOO_LONG,
        field_values.WRONG_TYPE,
        field_values.UNKNOWN_EVENT,
    ]
    for name in names:
        assert kind_of(name).name == name and kind_of(name).final, name


def test_only_a_row_stopped_mid_call_is_checked_on_its_lead_first():
    assert [kind.name for kind in KINDS if kind.check_first] == ["OutcomeUnknown"]


# --- the must-show: the 401 round trip on the real command line ------------------------------


def attempts(out: Path) -> dict[int, list[tuple[str, str, int | None, str | None]]]:
    """Each row's journaled attempts: (call, outcome, HTTP status, error type), in order."""
    found: dict[int, list[tuple[str, str, int | None, str | None]]] = {}
    with closing(sqlite3.connect(out / "journal.sqlite")) as db:
        for row, call, outcome, status, error_type in db.execute(
            "SELECT row, call, outcome, status, error_type FROM attempts ORDER BY row, attempt"
        ):
            found.setdefault(row, []).append((call, outcome, status, error_type))
    return found
