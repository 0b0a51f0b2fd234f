"""The journal: what a resumed run reads back from it, and the results rebuilt from it."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from importer.journal import Journal, JournalError, RowSet
from importer.results import encode_cells

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
