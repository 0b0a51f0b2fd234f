"""What a resumed run reads from its journal: the rows finished for good, the rows still open,
and the finished rows copied into the results files as CSV lines that SQLite builds, all as of
one moment while the run goes on marking rows (``Journal.snapshot``).

Which rows are finished for good is decided by the table of failure kinds
(``failures.KINDS``), through the SQL it gives.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from importer.failures import final_sql

#: A journaled row's (state, error type, first send time, last send time), times in UTC.
RowState = tuple[str, str, str | None, str | None]


class Snapshot:
    """What a resumed run reads from the journal, all as of one moment (a read transaction on
    a connection of its own): the rows done can be copied into the results in a thread while
    the run goes on marking other rows."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("BEGIN")
        self._db.execute("SELECT count(*) FROM meta").fetchone()  # the snapshot starts here

    def close(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_rows(self) -> RowSet:
        """The rows finished for good: succeeded, or failed for a reason that will not pass."""
        done = RowSet()
        for (row,) in self._db.execute(f"SELECT row FROM rows WHERE {_DONE}"):
            done.add(row)
        return done

    def open_rows(self) -> dict[int, RowState]:
        """Every journaled row not finished for good: (state, error type, first and last send
        time in UTC)."""
        return {
            row: (state, error_type or "", sent_at, last_sent_at)
            for row, state, error_type, sent_at, last_sent_at in self._db.execute(
                f"SELECT row, state, error_type, sent_at, last_sent_at FROM rows WHERE NOT {_DONE}"
            )
        }

    def copy_done(self, success: TextIO, failures: TextIO) -> Replayed:
        """Write the rows finished for good into results files, in row order, as CSV lines
        built by SQLite: a resumed run's results hold them without a row parsed in Python."""
        replayed = Replayed()
        success.writelines(
            line
            for (line,) in self._db.execute(
                f"SELECT row || ',' || {_csv('activity_id')} || ',' || {_csv('lead_id')} || ',' "
                "|| cells || char(13, 10) FROM rows WHERE state = 'succeeded' ORDER BY row"
            )
        )
        failures.writelines(
            line
            for (line,) in self._db.execute(
                f"SELECT row || ',' || {_csv('error_type')} || ',' || {_csv('error')} || ',' "
                f"|| cells || char(13, 10) FROM rows WHERE state = 'failed' AND {_DONE} "
                "ORDER BY row"
            )
        )
        replayed.succeeded = self._db.execute(
            "SELECT count(*) FROM rows WHERE state = 'succeeded'"
        ).fetchone()[0]
        replayed.failed_by_type = dict(
            self._db.execute(
                f"SELECT error_type, count(*) FROM rows WHERE state = 'failed' AND {_DONE} "
                "GROUP BY error_type"
            )
        )
        replayed.possible_duplicates = [
            row
            for (row,) in self._db.execute(
                "SELECT row FROM rows WHERE state = 'succeeded' AND possible_duplicate ORDER BY row"
            )
        ]
        return replayed


@dataclass
class Replayed:
    """What ``Snapshot.copy_done`` wrote."""

    succeeded: int = 0
    failed_by_type: dict[str, int] = field(default_factory=dict)
    possible_duplicates: list[int] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.failed_by_type.values())


class RowSet:
    """A set of row numbers as one byte per row: a million done rows take a megabyte."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, row: int) -> None:
        if row >= len(self._bits):
            self._bits.extend(bytes(max(row + 1 - len(self._bits), len(self._bits))))
        if not self._bits[row]:
            self._bits[row] = 1
            self._count += 1

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and 0 <= row < len(self._bits) and self._bits[row] == 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0


#: A row finished for good: succeeded, or failed for a reason the table of failure kinds
#: calls final.
_DONE = f"(state = 'succeeded' OR (state = 'failed' AND {final_sql('error_type')}))"


def _csv(column: str) -> str:
    """A column as one CSV field, in SQL: quoted only if it must be, as the csv module does."""
    value = f"coalesce({column}, '')"
    return (
        f"(CASE WHEN {value} GLOB ('*[\",' || char(13, 10) || ']*') "
        f"THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END)"
    )
