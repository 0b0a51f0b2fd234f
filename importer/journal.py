"""The run's journal: one SQLite file (WAL mode) in the output folder, the truth about each row.

A row is marked ``sending`` before its call leaves and ``succeeded`` or ``failed`` once the
answer is known, each mark committed before the run goes on. After a crash, a kill or Ctrl-C,
the journal says which rows are done (never sent again), which failed for a reason that may
pass (sent again), and which were in flight (``sending``: checked on the lead before anything
is sent again). ``success.csv`` and ``failures.csv`` are rebuilt from it: each row keeps its
input cells as the CSV text the results files hold (``results.encode_cells``), so a resumed run
copies finished rows into its results without parsing them.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"
#: Failures worth another try on a later run: the row's data was not the problem.
RETRYABLE = {
    "ConnectionError",
    "AnswerLost",
    "MXAPIRateLimitExceededException",
    "NotSent",
    "OutcomeUnknown",
    "Interrupted",
    "HostUnreachable",
}
FILE_NAME = "journal.sqlite"
#: A journaled row's (state, error type, first send time, last send time), times in UTC.
RowState = tuple[str, str, str | None, str | None]
VERSION = 2


class JournalError(Exception):
    """The journal cannot be used (written by another version, or damaged)."""


class FolderLock:
    """An exclusive lock on a run folder for as long as a run uses it: a second run there (an
    overlapping cron job, a second terminal) would resume the same rows and send them twice.
    The operating system drops the lock when the process ends, however it ends, so a killed
    run leaves no stale lock. (Advisory ``flock``: where the platform has none, no lock.)"""

    NAME = ".lock"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.NAME
        self._handle: Any = None

    def __enter__(self) -> FolderLock:
        from importer.errors import ConfigError, Problem

        try:
            import fcntl
        except ImportError:  # not POSIX
            return self
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                [
                    Problem(
                        "--out",
                        f"{self.path.parent} is in use by another lsq-import run ({holder}); "
                        "wait for it to end, or give another --out",
                    )
                ]
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{path} is not a journal lsq-import can read ({exc})") from None
        if tables and version != VERSION:
            self._db.close()
            raise JournalError(
                f"{path} was written by another version of lsq-import (journal version "
                f"{version}, this one reads {VERSION})"
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS rows (
                row INTEGER PRIMARY KEY,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                activity_id TEXT, lead_id TEXT, error_type TEXT, error TEXT,
                possible_duplicate INTEGER NOT NULL DEFAULT 0,
                sent_at TEXT,
                last_sent_at TEXT,
                cells TEXT NOT NULL
            );
            """
        )
        self._db.execute(f"PRAGMA user_version = {VERSION}")

    @classmethod
    def open(cls, out_dir: Path) -> Journal:
        return cls(out_dir / FILE_NAME)

    def close(self) -> None:
        self._db.close()

    # --- the run's identity --------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, str]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items()
            )

    # --- marks ---------------------------------------------------------------------------

    # ``line`` is the row's cells as ``results.encode_cells`` gives them.

    def sending(self, row: int, line: str) -> None:
        self._db.execute(
            "INSERT INTO rows (row, state, attempts, sent_at, last_sent_at, cells) "
            "VALUES (?, 'sending', 1, strftime('%Y-%m-%d %H:%M:%f'), "
            "strftime('%Y-%m-%d %H:%M:%f'), ?) ON CONFLICT(row) DO UPDATE SET "
            "state='sending', attempts=attempts+1, sent_at=COALESCE(sent_at, excluded.sent_at), "
            "last_sent_at=excluded.last_sent_at",
            (row, line),
        )

    def succeeded(
        self, row: int, line: str, activity_id: str, lead_id: str, possible_duplicate: bool
    ) -> None:
        self._db.execute(
            "INSERT INTO rows (row, state, activity_id, lead_id, possible_duplicate, cells) "
            "VALUES (?, 'succeeded', ?, ?, ?, ?) ON CONFLICT(row) DO UPDATE SET "
            "state='succeeded', activity_id=excluded.activity_id, lead_id=excluded.lead_id, "
            "possible_duplicate=excluded.possible_duplicate, error_type=NULL, error=NULL",
            (
                row,
                activity_id,
                lead_id,
                int(possible_duplicate),
                line,
            ),
        )

    def failed(self, row: int, line: str, error_type: str, error: str) -> None:
        self._db.execute(
            "INSERT INTO rows (row, state, error_type, error, cells) VALUES (?, 'failed', ?, ?, ?) "
            "ON CONFLICT(row) DO UPDATE SET state='failed', error_type=excluded.error_type, "
            "error=excluded.error",
            (row, error_type, error, line),
        )

    def snapshot(self) -> Snapshot:
        """A read-only view of the journal as it is now, which later marks do not change."""
        return Snapshot(self.path)


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
    """What ``Journal.copy_done`` wrote."""

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


def _retryable_sql() -> str:
    kinds = ", ".join(f"'{kind}'" for kind in sorted(RETRYABLE))
    return f"(error_type IN ({kinds}) OR error_type GLOB 'HTTP5*')"


#: A row finished for good: succeeded, or failed for a reason neither in RETRYABLE nor a 5xx.
_DONE = f"(state = 'succeeded' OR (state = 'failed' AND NOT coalesce({_retryable_sql()}, 0)))"


def _csv(column: str) -> str:
    """A column as one CSV field, in SQL: quoted only if it must be, as the csv module does."""
    value = f"coalesce({column}, '')"
    return (
        f"(CASE WHEN {value} GLOB ('*[\",' || char(13, 10) || ']*') "
        f"THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END)"
    )
