"""The run's journal: one SQLite file (WAL mode) in the output folder, the truth about each row.

A row is marked ``sending`` before its call leaves and ``succeeded`` or ``failed`` once the
answer is known, each mark committed before the run goes on. After a crash, a kill or Ctrl-C,
the journal says which rows are done (never sent again), which failed for a reason that may
pass (sent again), and which were in flight (``sending``: checked on the lead before anything
is sent again). ``success.csv`` and ``failures.csv`` are rebuilt from it: each row keeps its
input cells as the CSV text the results files hold (``results.encode_cells``), so a resumed run
copies finished rows into its results without parsing them.

Which failures are done for good and which are sent again is not decided here: the SQL comes
from the one table of failure kinds (``failures.KINDS``), as the classifier's verdicts do.

Besides each row's last state, the table ``attempts`` keeps every attempt, an audit of what
was sent when, appended to by every run:

    row, attempt        the input row, and 1, 2, ... across runs
    call                ``CreateCustom``, or ``check`` (the lookups that decide whether a call
                        whose answer was lost landed, as one entry)
    sent_at             UTC: when the call left (the row's ``sending`` mark), or the check began
    answered_at         UTC: when its outcome was known; NULL if the process died first
    status              the HTTP status, NULL when no answer came
    outcome             a CreateCustom's: ``in_flight`` (no outcome recorded: the process died
                        with it on the wire, or before the next mark), a verdict (``success``,
                        ``throttled``, ``transient``, ``rejected``, ``duplicate``, ``fatal``),
                        ``not_sent`` (no connection), ``answer_lost``, ``cut_off`` (the run
                        stopped at once);
                        a check's: ``landed``, ``not_landed``, ``unknown`` (the lookups failed
                        or none exists: the row is resent as possibly duplicated), ``stopped``
    error_type, error   as ``failures.csv`` would give them (no payload, no keys)
    activity_id         the activity a success named, or a check found

The entry of a CreateCustom is written with the row's ``sending`` mark, in one transaction, and
completed when the answer comes, in the transaction of the next mark (a commit of its own would
cost as much as the mark). An index on ``rows.activity_id`` tells a lost answer's check
whether an activity is already another row's (``Journal.claimed``): it is never credited twice.
A journal of version 2 (no ``attempts``, no index) is upgraded in place when it is opened: both
are created, its rows stay as they are, and it resumes.

What a resumed run reads back (the rows done, the rows open, the results replayed) is in
``snapshot``; the lock that keeps a second run out of the folder, in ``folder_lock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importer.errors import NothingSent
from importer.outdir import create_private, restrict
from importer.pipeline.snapshot import Snapshot

PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"
FILE_NAME = "journal.sqlite"
VERSION = 3
#: Versions upgraded in place when opened (2: before the attempts table).
UPGRADES = frozenset({2})
CREATE_CUSTOM, CHECK = "CreateCustom", "check"
IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt, for the journal's ``attempts`` table: a CreateCustom call
    (its entry was opened by the row's ``sending`` mark) or a check of a lost answer."""

    outcome: str
    status: int | None = None
    error_type: str = ""
    error: str = ""
    activity_id: str = ""


class JournalError(NothingSent):
    """The journal cannot be used (written by another version, or damaged)."""


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        # 0600 before SQLite opens it: its -wal and -shm files are given the database's mode
        create_private(path)
        for companion in ("-wal", "-shm"):
            restrict(path.with_name(path.name + companion))
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{path} is not a journal lsq-import can read ({exc})") from None
        if tables and version != VERSION and version not in UPGRADES:
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
            CREATE INDEX IF NOT EXISTS rows_by_activity ON rows (activity_id);
            CREATE TABLE IF NOT EXISTS attempts (
                row INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                call TEXT NOT NULL,
                sent_at TEXT NOT NULL,
                answered_at TEXT,
                status INTEGER,
                outcome TEXT NOT NULL,
                error_type TEXT, error TEXT, activity_id TEXT,
                PRIMARY KEY (row, attempt)
            ) WITHOUT ROWID;
            """
        )
        self._db.execute(f"PRAGMA user_version = {VERSION}")

    @classmethod
    def open(cls, out_dir: Path) -> Journal:
        return cls(out_dir / FILE_NAME)

    def close(self) -> None:
        """Commit an answer recorded since the last mark, and close (again: nothing to do),
        the connection closed even if that commit fails (its error is raised)."""
        try:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed already
                self._commit()
        finally:
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
        """The row's call is leaving: mark it, and open its entry in ``attempts``."""
        now = _stamp()
        self._begin()
        try:
            self._db.execute(
                "INSERT INTO rows (row, state, attempts, sent_at, last_sent_at, cells) "
                "VALUES (?, 'sending', 1, ?, ?, ?) ON CONFLICT(row) DO UPDATE SET "
                "state='sending', attempts=attempts+1, "
                "sent_at=COALESCE(sent_at, excluded.sent_at), last_sent_at=excluded.last_sent_at",
                (row, now, now, line),
            )
            self._db.execute(_NEW_ATTEMPT, (row, CREATE_CUSTOM, now, IN_FLIGHT, row))
        except BaseException:
            self._rollback()
            raise
        self._commit()

    def answered(self, row: int, attempt: Attempt) -> None:
        """The outcome of the row's call in flight: the entry its ``sending`` mark opened (a
        row's calls and checks follow one another, so that entry is the row's latest).

        It is committed with the next mark (of any row) or at ``close``, not on its own: a
        commit costs as much as the mark itself, and an answer whose row's mark is lost with
        the process is lost with it, as the row's state is (the entry stays ``in_flight``)."""
        self._write(
            "UPDATE attempts SET answered_at=?, status=?, outcome=?, error_type=?, error=?, "
            "activity_id=? WHERE row=? AND call=? AND attempt=(SELECT max(attempt) "
            "FROM attempts WHERE row=?)",
            (_stamp(), *_fields(attempt), row, CREATE_CUSTOM, row),
            commit=False,
        )

    def checked(self, row: int, began: dt.datetime, attempt: Attempt) -> None:
        """A check of a lost answer (its lookups, as one entry), from ``began`` to now."""
        self._write(
            "INSERT INTO attempts (row, attempt, call, sent_at, answered_at, status, outcome, "
            "error_type, error, activity_id) SELECT ?, coalesce(max(attempt), 0) + 1, ?, ?, ?, "
            "?, ?, ?, ?, ? FROM attempts WHERE row = ?",
            (row, CHECK, _stamp(began), _stamp(), *_fields(attempt), row),
        )

    def claimed(self, activity_id: str, row: int) -> bool:
        """Whether another row holds this activity: a lost answer's check must not credit it
        to this one (two identical rows for one lead post two identical activities)."""
        found = self._db.execute(
            "SELECT 1 FROM rows WHERE activity_id = ? AND row != ? LIMIT 1", (activity_id, row)
        ).fetchone()
        return found is not None

    def succeeded(
        self, row: int, line: str, activity_id: str, lead_id: str, possible_duplicate: bool
    ) -> None:
        self._write(
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
        self._write(
            "INSERT INTO rows (row, state, error_type, error, cells) VALUES (?, 'failed', ?, ?, ?) "
            "ON CONFLICT(row) DO UPDATE SET state='failed', error_type=excluded.error_type, "
            "error=excluded.error",
            (row, error_type, error, line),
        )

    def _write(self, sql: str, args: tuple[Any, ...], commit: bool = True) -> None:
        """One statement in the open transaction (begun if none is), rolled back with it if it
        fails, so that no later mark commits half of what was meant; committed unless told."""
        self._begin()
        try:
            self._db.execute(sql, args)
        except BaseException:
            self._rollback()
            raise
        if commit:
            self._commit()

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def _commit(self) -> None:
        """Commit what is open: the mark just written, with any answer recorded before it. A
        commit that fails (a full disk) rolls the transaction back, so that no later mark joins
        it unseen, and raises its own error."""
        if self._db.in_transaction:
            try:
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Roll back what is open, if SQLite has not already (its error is the one to raise)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def snapshot(self) -> Snapshot:
        """A read-only view of the journal as it is now, which later marks do not change."""
        return Snapshot(self.path)


#: Opens a row's next entry in ``attempts`` (row, call, sent_at, outcome, row).
_NEW_ATTEMPT = (
    "INSERT INTO attempts (row, attempt, call, sent_at, outcome) "
    "SELECT ?, coalesce(max(attempt), 0) + 1, ?, ?, ? FROM attempts WHERE row = ?"
)


def _stamp(moment: dt.datetime | None = None) -> str:
    """A UTC time as the journal writes it (as SQLite's ``strftime('%Y-%m-%d %H:%M:%f')``)."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _fields(attempt: Attempt) -> tuple[int | None, str, str | None, str | None, str | None]:
    """An attempt's status, outcome, error type, error and activity id, as columns."""
    return (
        attempt.status,
        attempt.outcome,
        attempt.error_type or None,
        attempt.error or None,
        attempt.activity_id or None,
    )
