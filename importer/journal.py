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

import sqlite3
from collections.abc import Iterator
from pathlib import Path

PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"
#: Failures worth another try on a later run: the row's data was not the problem.
RETRYABLE = {
    "ConnectionError",
    "AnswerLost",
    "MXAPIRateLimitExceededException",
    "NotSent",
    "OutcomeUnknown",
    "Interrupted",
}
FILE_NAME = "journal.sqlite"
#: A journaled row's (state, error type, first send time, last send time), times in UTC.
RowState = tuple[str, str, str | None, str | None]
VERSION = 2


class JournalError(Exception):
    """The journal cannot be used (written by another version, or damaged)."""


def is_retryable(error_type: str) -> bool:
    return error_type in RETRYABLE or error_type.startswith("HTTP5")


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

    # --- what a resumed run needs --------------------------------------------------------

    def states(self) -> dict[int, RowState]:
        """Every journaled row's (state, error type, first and last send time in UTC)."""
        return {
            row: (state, error_type or "", sent_at, last_sent_at)
            for row, state, error_type, sent_at, last_sent_at in self._db.execute(
                "SELECT row, state, error_type, sent_at, last_sent_at FROM rows"
            )
        }

    def results(self) -> Iterator[tuple[int, str, str, str, str, str, int, str]]:
        """Finished rows in row order: (row, state, activity, lead, error type, error, possible
        duplicate, cells line)."""
        return self._db.execute(
            "SELECT row, state, activity_id, lead_id, error_type, error, possible_duplicate, "
            "cells FROM rows WHERE state IN ('succeeded', 'failed') ORDER BY row"
        )
