"""The journal: what a resumed run reads back from it, and the results rebuilt from it."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from importer.outputs.results import encode_cells
from importer.pipeline.journal import Attempt, Journal, JournalError
from importer.pipeline.snapshot import RowSet

CELLS = {
    2: ["a@x.com", 'Zoë, "the" buyer', "line one\nline two"],
    3: ["b@x.com", "", " padded "],
    4: ["c@x.com", "plain", "0042"],
    5: ["d@x.com", "x", "y"],
    6: ["e@x.com", "x", "y"],
    7: ["f@x.com", "x", "y"],
}


@pytest.fixture
def journal(tmp_path: Path):
    journal = Journal.open(tmp_path)
    lines = {row: encode_cells(cells) for row, cells in CELLS.items()}
    journal.sending(2, lines[2])
    journal.succeeded(2, lines[2], "act-1", "lead,1", possible_duplicate=True)
    journal.succeeded(3, lines[3], 'act"2', "lead-2", possible_duplicate=False)
    journal.failed(4, lines[4], "MXInvalidEmailException", 'Email "c@x.com", rejected\r\nfor real')
    journal.failed(5, lines[5], "HTTP503", "HTTP 503 without an MX error body")
    journal.failed(6, lines[6], "OutcomeUnknown", "stopped mid-call")
    journal.sending(7, lines[7])
    yield journal
    journal.close()


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_finished_rows_are_copied_as_the_csv_module_reads_them(journal: Journal):
    success, failures = io.StringIO(newline=""), io.StringIO(newline="")
    with journal.snapshot() as snapshot:
        replayed = snapshot.copy_done(success, failures)
    assert read(success.getvalue()) == [
        ["2", "act-1", "lead,1", *CELLS[2]],
        ["3", 'act"2', "lead-2", *CELLS[3]],
    ]
    # only the failure that will not pass: the others are sent again
    assert read(failures.getvalue()) == [
        ["4", "MXInvalidEmailException", 'Email "c@x.com", rejected\r\nfor real', *CELLS[4]],
    ]
    assert replayed.succeeded == 2
    assert replayed.failed_by_type == {"MXInvalidEmailException": 1}
    assert replayed.possible_duplicates == [2]


def test_done_and_open_rows(journal: Journal):
    with journal.snapshot() as snapshot:
        done, open_rows = snapshot.done_rows(), snapshot.open_rows()
    assert [row for row in range(10) if row in done] == [2, 3, 4] and len(done) == 3
    assert sorted(open_rows) == [5, 6, 7]
    assert open_rows[5][:2] == ("failed", "HTTP503")
    state, kind, first, last = open_rows[7]
    assert (state, kind) == ("sending", "") and first == last and first is not None


def test_a_snapshot_does_not_see_rows_marked_after_it(journal: Journal):
    with journal.snapshot() as snapshot:
        journal.succeeded(5, encode_cells(CELLS[5]), "act-5", "lead-5", False)  # the run goes on
        success, failures = io.StringIO(newline=""), io.StringIO(newline="")
        replayed = snapshot.copy_done(success, failures)
        assert 5 not in snapshot.done_rows()
    assert replayed.succeeded == 2 and [r[0] for r in read(success.getvalue())] == ["2", "3"]
    with journal.snapshot() as later:
        assert 5 in later.done_rows()


def test_a_journal_of_another_version_is_refused(tmp_path: Path):
    Journal.open(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / "journal.sqlite")) as db:
        db.execute("PRAGMA user_version = 1")
    with pytest.raises(JournalError, match="written by another version of lsq-import"):
        Journal.open(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "journal.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="is not a journal lsq-import can read"):
        Journal.open(tmp_path / "other")


def test_a_row_set_grows_as_rows_come():
    rows = RowSet()
    assert not rows and 5 not in rows
    for row in (1_000_000, 2, 2, 77):
        rows.add(row)
    assert len(rows) == 3 and 1_000_000 in rows and 77 in rows and 3 not in rows
    assert -1 not in rows and "2" not in rows


def entries(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(
            "SELECT row, attempt, call, outcome, status, error_type, error, activity_id, "
            "sent_at <= answered_at FROM attempts ORDER BY row, attempt"
        ).fetchall()


async def test_every_attempt_is_kept_with_its_outcome(tmp_path: Path):
    from importer.sending.client import Counters
    from importer.sending.delivery import Delivery, RetryPolicy
    from tests.unit.test_delivery import OK, ScriptedClient, job, mx

    journal = Journal.open(tmp_path)
    throttle = mx("MXAPIRateLimitExceededException", 429)
    delivery = Delivery(
        ScriptedClient([throttle, OK]),  # type: ignore[arg-type]
        RetryPolicy(backoff_base=0.0, backoff_cap=0.0, settle=0.0),
        Counters(),
        ledger=journal,
    )
    row = job()
    result = await delivery.deliver(row)
    journal.succeeded(row.row, row.line, result.activity_id, result.lead_id, False)
    journal.sending(8, "b@x.com")  # a call on the wire when the process dies
    journal.sending(9, "c@x.com")  # answered just before the run stops: no mark follows
    journal.answered(9, Attempt("throttled", 429, "MXAPIRateLimitExceededException", "slow"))
    journal.close()  # commits it
    assert entries(tmp_path / "journal.sqlite") == [
        (
            7,
            1,
            "CreateCustom",
            "throttled",
            429,
            "MXAPIRateLimitExceededException",
            "MXAPIRateLimitExceededException",
            None,
            1,
        ),
        (7, 2, "CreateCustom", "success", 200, None, None, "act", 1),
        (8, 1, "CreateCustom", "in_flight", None, None, None, None, None),
        (
            9,
            1,
            "CreateCustom",
            "throttled",
            429,
            "MXAPIRateLimitExceededException",
            "slow",
            None,
            1,
        ),
    ]
    with closing(sqlite3.connect(tmp_path / "journal.sqlite")) as db:
        # the row's own mark still counts its calls, and its first and last send times
        marked = db.execute("SELECT attempts, sent_at, last_sent_at FROM rows WHERE row = 7")
        logged = db.execute(
            "SELECT count(*), min(sent_at), max(sent_at) FROM attempts WHERE row = 7"
        )
        assert marked.fetchone() == logged.fetchone()


def test_an_activity_another_row_holds_is_claimed(journal: Journal):
    assert journal.claimed("act-1", 3) is True  # row 2's
    assert journal.claimed("act-1", 2) is False  # its own
    assert journal.claimed("act-9", 3) is False


def downgrade_to_version_2(path: Path) -> None:
    """The journal as version 2 wrote it: the same rows and meta, no attempts table."""
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            "DROP TABLE attempts; DROP INDEX rows_by_activity; PRAGMA user_version = 2;"
        )


def test_a_version_2_journal_is_upgraded_in_place(journal: Journal, tmp_path: Path):
    with journal.snapshot() as snapshot:
        before = (sorted(snapshot.open_rows()), [r for r in range(10) if r in snapshot.done_rows()])
    journal.close()
    downgrade_to_version_2(tmp_path / "journal.sqlite")
    upgraded = Journal.open(tmp_path)
    try:
        with upgraded.snapshot() as snapshot:
            after = (
                sorted(snapshot.open_rows()),
                [r for r in range(10) if r in snapshot.done_rows()],
            )
        upgraded.sending(5, encode_cells(CELLS[5]))  # the next attempt of a v2 row: its first entry
    finally:
        upgraded.close()
    assert after == before == ([5, 6, 7], [2, 3, 4])
    with closing(sqlite3.connect(tmp_path / "journal.sqlite")) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert db.execute("SELECT row, attempt, outcome FROM attempts").fetchall() == [
            (5, 1, "in_flight")
        ]
