"""The import: read and map rows, deliver them through a pool of workers, write every result.

``run_import`` checks the mapping against the file before anything is sent, then streams: a
producer reads and maps chunks in a thread and feeds a bounded queue (memory stays bounded on
any file size); workers take rows from it. Rows that share a SearchBy value are never in flight
together and go in file order: a worker that finds the key busy leaves the row with the worker
that holds it. Rows that fail to map go to ``failures.csv`` without a call.

A run stops early in three ways, each leaving the journal ready for the next run to go on:
``StopSwitch.request`` (the command line's SIGINT and SIGTERM: the first stops taking rows and
lets calls in flight finish, within a bounded wait; the second stops at once), ``max_rows``
(a daily quota), and an answer that stops everything (bad keys). Rows a stopped run did not
reach are ``pending``: counted in the summary, not written as failures, sent by the next run.
A file that cannot be written (``OutputError``: a full disk, a folder made read-only or removed)
stops the run as a graceful stop does; a row whose outcome could not be journaled stays as the
journal last had it (``sending``: looked up on its lead before it is sent again).

The output folder is checked before the first call (``outdir.prepare``). Nothing in it is
written over to start a run: with ``fresh`` (or in a folder with no journal) an earlier run's
files are moved aside into ``DIR/earlier/<time>/`` (``outdir.move_aside``), and an input that was
one of them is read from there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import heapq
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importer import exitcodes
from importer.account import FILE_NAME as ACCOUNT_FILE
from importer.calllog import FILE_NAME as CALL_LOG
from importer.calllog import CallLog
from importer.client import Counters, LeadSquaredClient, RunStopped
from importer.config import Mapping
from importer.connection import Connection
from importer.delivery import (
    SUCCEEDED,
    Delivery,
    FatalError,
    OutcomeUnknown,
    RetryPolicy,
    RowJob,
    RowResult,
)
from importer.errors import ConfigError, OutputError, Problem
from importer.failures import NOT_SENT, OUTCOME_UNKNOWN, checks_first, is_final
from importer.journal import FILE_NAME as JOURNAL_FILE
from importer.journal import (
    SENDING,
    FolderLock,
    Journal,
    JournalError,
    Replayed,
    RowSet,
    RowState,
    Snapshot,
)
from importer.limiter import Lesson, Rate, RateLimiter
from importer.mapping import MappedChunk, Plan
from importer.outage import OutagePolicy
from importer.outdir import EARLIER, move_aside, output_error, prepare, same_file
from importer.preflight import preflight
from importer.progress import Progress, SilentProgress
from importer.results import (
    FAILURES_FILE,
    SUCCESS_FILE,
    SUMMARY_FILE,
    RunResults,
    encode_cells,
    write_summary,
)
from importer.source import Source
from importer.validation import open_input

FATAL, MAX_ROWS, OUTAGE, OUTPUT = "fatal", "max_rows", "outage", "output"
#: The files a run writes in its folder that hold its outcomes: a run starting in a folder with
#: no journal moves those it finds aside rather than write over them.
OUTCOME_FILES = (SUCCESS_FILE, FAILURES_FILE, SUMMARY_FILE)
#: A row that did not map: (row, error type, message, cells).
Failed = tuple[int, str, str, list[str]]
#: Every file of a run: ``fresh`` moves them all aside, the journal last.
RUN_FILES = (
    *OUTCOME_FILES,
    CALL_LOG,
    ACCOUNT_FILE,
    JOURNAL_FILE,
    f"{JOURNAL_FILE}-wal",
    f"{JOURNAL_FILE}-shm",
)


@dataclass
class RunOptions:
    rate: Rate = field(default_factory=lambda: Rate(25, 5.0))
    #: A fixed margin in seconds for the rate limiter (None: learned from the run).
    margin: float | None = None
    workers: int | None = None  # default: enough to keep the limit busy at 1-2 s latency
    timeout: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: Send at most this many rows in this run (rows done before and rows that fail to map
    #: do not count); the rest stay pending for the next run.
    max_rows: int | None = None
    #: After a stop request, how long calls in flight may take to finish before they are cut
    #: off (default: the timeout, plus 5 s for the check of a lost answer to start).
    grace: float | None = None
    #: The JSON-lines call log (None: none); ``log_payloads`` adds each call's body to it.
    log_path: Path | None = None
    log_payloads: bool = False
    #: Check the mapping and the values against the account's metadata before sending.
    check_account: bool = True
    #: When the host stops answering: how long the run waits for it, and how it probes.
    outage: OutagePolicy = field(default_factory=OutagePolicy)

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        per_second = self.rate.calls / self.rate.seconds
        return max(4, min(100, round(per_second * 3) + 2))


class StopSwitch:
    """Stops a running import from outside, e.g. from a signal handler on the run's loop.

    The first request stops it gracefully: no new row is sent, calls in flight finish (within
    ``RunOptions.grace``), results and the journal are written. The second stops it at once: a
    row whose call was on the wire is recorded as ``OutcomeUnknown``, which the next run checks
    on its lead before sending again."""

    def __init__(self) -> None:
        self.reason: str | None = None  # the first request's name, e.g. "SIGINT"
        self.requests = 0
        self._listener: Callable[[int], None] | None = None

    def request(self, reason: str = "stop") -> None:
        self.requests += 1
        self.reason = self.reason or reason
        if self._listener is not None:
            self._listener(self.requests)

    def listen(self, listener: Callable[[int], None] | None) -> None:
        self._listener = listener


@dataclass
class RunSummary:
    rows: int = 0  # rows with a result (succeeded or failed), earlier runs' included
    succeeded: int = 0
    failed: int = 0
    not_sent: int = 0
    pending: int = 0  # rows this run stopped before reaching: the next run sends them
    done_before: int = 0  # rows an earlier run finished for good (resumed, not sent again)
    total: int = 0  # rows in the input (blank rows aside)
    blank: int = 0
    failed_by_type: dict[str, int] = field(default_factory=dict)
    possible_duplicates: list[int] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    elapsed: float = 0.0
    rate: str = ""
    adopted_rate: str | None = None
    stopped: str | None = None  # why the run stopped early, for people
    stop: str | None = None  # how: FATAL, MAX_ROWS, OUTAGE, OUTPUT or a signal's name
    out_dir: Path | None = None
    #: The input as read: where ``fresh`` moved it, if it was a file of the earlier run.
    input_path: Path | None = None
    #: Where ``fresh`` moved the earlier run's files (None: nothing was there to move).
    earlier: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 all rows succeeded; 1 some failed; 3 stopped by LeadSquared or a host that never
        answered; 4 stopped at --max-rows with rows left; 74 a file could not be written; 75
        the host stopped answering for longer than the outage limit; 130/143 stopped by
        SIGINT/SIGTERM (2 is a config error, raised before any run). 4, 74, 75, 130 and 143:
        the same command resumes."""
        if self.stop == OUTPUT:
            return exitcodes.CANNOT_WRITE
        if self.stop == FATAL:
            return exitcodes.STOPPED
        if self.stop == OUTAGE:
            return exitcodes.HOST_DOWN
        if self.stop not in (None, MAX_ROWS):
            return exitcodes.BY_SIGNAL.get(self.stop, exitcodes.BY_SIGNAL["SIGINT"])
        if self.failed:
            return exitcodes.ROWS_FAILED
        return exitcodes.MAX_ROWS_LEFT if self.pending else exitcodes.OK

    @property
    def failed_retryable(self) -> dict[str, int]:
        """The failures a later run sends again (resume, ``lsq-import retry``), by type: those
        the table of failure kinds does not call final."""
        return {k: n for k, n in self.failed_by_type.items() if not is_final(k)}

    @property
    def handled(self) -> int:
        """Rows this run settled by sending them (or failing to map them)."""
        return self.rows - self.done_before - self.not_sent

    def as_json(self, **extra: Any) -> dict[str, Any]:
        handled = self.handled
        return {
            "rows": self.rows,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failed_by_type": self.failed_by_type,
            "failed_retryable": sum(self.failed_retryable.values()),
            "not_sent": self.not_sent,
            "pending": self.pending,
            "complete": self.pending == 0,
            "blank_rows_skipped": self.blank,
            "possible_duplicates": self.possible_duplicates,
            "calls": self.counters.calls,
            "throttles": self.counters.throttles,
            "retries": self.counters.retries,
            "lost_answers": self.counters.lost_answers,
            "lost_answers_found_landed": self.counters.verified_landed,
            "elapsed_seconds": round(self.elapsed, 3),
            "rows_done_before": self.done_before,
            "rows_per_second": round(handled / self.elapsed, 3) if self.elapsed else None,
            "rate": self.rate,
            "adopted_rate": self.adopted_rate,
            "stopped": self.stopped,
            "stop": self.stop,
            "exit_code": self.exit_code,
            **extra,
        }


async def run_import(
    input_path: str | Path,
    mapping: Mapping,
    mapping_path: str | Path,
    out_dir: str | Path,
    connection: Connection,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    fresh: bool = False,
    stop: StopSwitch | None = None,
    retry: bool = False,
) -> RunSummary:
    """Import every row of a file; results go to ``out_dir`` as rows finish.

    A journal in ``out_dir`` records every row; run again with the same ``out_dir`` and the run
    resumes: rows done are not sent again, rows that were in flight are checked on their lead
    first. ``fresh`` starts over: the earlier run's files are moved into ``out_dir/earlier/``
    (``summary.earlier``), never deleted. ``retry`` sends only the rows the journal holds as
    failed for a passing reason (or in flight): rows never tried stay pending. ``stop`` lets a
    caller stop the run (see StopSwitch).

    Raises ConfigError or SourceError before anything is sent (an ``out_dir`` that cannot be
    written included), and OutputError if a file cannot be written before the first row is
    sent; once rows are sent, a file that cannot be written stops the run (``OUTPUT``)."""
    options = options or RunOptions()
    progress = progress or SilentProgress()
    stop = stop or StopSwitch()
    out_dir = Path(out_dir)
    input_path = Path(input_path)
    source, plan = open_input(input_path, mapping)  # the mapping fits: nothing touched before
    for note in source.notes:  # an encoding detected, NUL characters removed: said once
        progress.note(note)
    prepare(out_dir)
    log_path = options.log_path
    if log_path is not None:
        _check_log(log_path, input_path, Path(mapping_path), out_dir)
        if not same_file(log_path.parent, out_dir):
            prepare(log_path.parent, "--log")
    with FolderLock(out_dir):  # one run at a time in a folder: two would send rows twice
        aside = None
        starting = fresh or not (out_dir / JOURNAL_FILE).exists()
        mine = [name for name in RUN_FILES if same_file(input_path, out_dir / name)]
        if mine and not starting:
            raise _input_in_the_run(input_path, out_dir, mine[0])
        if starting:  # what an earlier run left is moved aside, not written over
            aside = move_aside(out_dir, RUN_FILES if fresh else (*OUTCOME_FILES, *mine))
        if aside is not None:
            moved = f" (the input {input_path} among them: it is read from there)" if mine else ""
            progress.note(f"the earlier run's files in {out_dir} are moved into {aside}{moved}")
            if mine:
                input_path = aside / mine[0]
                source, plan = open_input(input_path, mapping)
        summary = await _import(
            source,
            plan,
            input_path,
            mapping,
            mapping_path,
            out_dir,
            connection,
            options,
            progress,
            stop,
            retry,
        )
    summary.input_path, summary.earlier = input_path, aside
    return summary


def _check_log(log_path: Path, input_path: Path, mapping_path: Path, out_dir: Path) -> None:
    """The call log is appended to: it must not be a file the run reads or writes otherwise,
    nor a file that holds anything but a call log (another run's results, a mapping...)."""

    def refuse(why: str) -> None:
        raise ConfigError([Problem("--log", f"{log_path} {why}: give the call log another file")])

    if same_file(log_path, input_path):
        refuse("is the input")
    if same_file(log_path, mapping_path):
        refuse("is the mapping")
    mine = [n for n in RUN_FILES if n != CALL_LOG and same_file(log_path, out_dir / n)]
    if mine or (log_path.name in RUN_FILES and log_path.name != CALL_LOG):
        refuse(f"is a run's {mine[0] if mine else log_path.name}, not a call log")
    if log_path.is_symlink() or (log_path.exists() and not log_path.is_file()):
        refuse("is not a plain file")
    if log_path.is_file() and log_path.stat().st_size and not _a_call_log(log_path):
        refuse("holds something else than a call log (its first line is no call log's line)")


def _a_call_log(path: Path) -> bool:
    """Whether a file begins as a call log does: a JSON object with a time and an event."""
    import json

    try:
        with open(path, "rb") as handle:
            first = json.loads(handle.readline(1 << 16))
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and {"time", "event"} <= first.keys()


def _input_in_the_run(input_path: Path, out_dir: Path, name: str) -> ConfigError:
    """The input is a file the run in ``out_dir`` writes: resuming would write over it."""
    return ConfigError(
        [
            Problem(
                "INPUT",
                f"{input_path} is the {name} of the run in {out_dir}, which a run there "
                f"rewrites. To send its rows (fixed), add --fresh: that run's files are moved "
                f"into {out_dir / EARLIER}/ and the rows are read from there; or give "
                "another --out. To send again only the rows that failed for a passing reason "
                f"(timeouts, throttles, a stop), run: lsq-import retry {out_dir}",
            )
        ]
    )


async def _import(
    source: Source,
    plan: Plan,
    input_path: str | Path,
    mapping: Mapping,
    mapping_path: str | Path,
    out_dir: Path,
    connection: Connection,
    options: RunOptions,
    progress: Progress,
    stop: StopSwitch,
    retry: bool,
) -> RunSummary:
    started = time.monotonic()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    task = asyncio.current_task()
    run: _Run | None = None

    def stop_requested(count: int) -> None:
        if run is not None:
            run.stop(count)
        elif count > 1 and task is not None:  # still preparing: nothing is in flight
            task.cancel()

    stop.listen(stop_requested)
    limiter = RateLimiter(options.rate, options.margin)  # the pre-flight's calls count too
    counters = Counters()
    account = None
    # open before the pre-flight: its calls are logged too (the log holds no file open)
    log = CallLog(options.log_path, options.log_payloads) if options.log_path else None
    preflighted = options.check_account or connection.discover  # it answered, or we stop
    if preflighted:
        connection, account = await preflight(
            connection,
            mapping,
            limiter,
            counters,
            options.timeout,
            check=options.check_account,
            note=progress.note,
            log=log,
        )
        if account is not None:
            for note in plan.use_account(account):  # ConfigError: every problem, none sent
                progress.note(note)
    hashes = await asyncio.to_thread(_hashes, Path(input_path), Path(mapping_path))
    journal = _open_journal(out_dir, hashes, input_path, mapping_path, started_at)
    try:  # OutputError: nothing is sent
        edited = _edited(out_dir, journal.meta())
        if edited:  # the results are rebuilt from the journal: the person's edits are kept
            aside = move_aside(out_dir, edited)
            progress.note(
                f"{' and '.join(edited)} changed since the run wrote {_them(edited)}: moved "
                f"into {aside} as {_them(edited)} {_are(edited)}, and written anew from the "
                "journal"
            )
        if account is not None:
            account.save(out_dir)
        results = RunResults(out_dir, source.header)
        # until this run ends, what the files hold is its own (a run killed leaves no record)
        try:
            journal.set_meta({key: "" for key in _written(out_dir)})
        except sqlite3.Error as exc:
            raise output_error(exc, out_dir / JOURNAL_FILE) from None
    except OutputError:
        journal.close()
        raise
    summary = RunSummary(rate=str(options.rate), out_dir=out_dir, counters=counters)
    workers = options.worker_count()
    copy: concurrent.futures.Future[Replayed] | None = None

    def copy_ended(ended: concurrent.futures.Future[Replayed]) -> None:
        """A copy that could not write stops the run now, not once every row is sent."""
        error = ended.exception()
        if isinstance(error, OutputError) and run is not None:
            run.cannot_write(error)

    def details() -> dict[str, Any]:
        return {
            "input": str(input_path),
            "mapping": str(mapping_path),
            "host": connection.base_url,
            "started_at": started_at,
            "workers": workers,
        }

    try:
        summary.total, summary.blank = await asyncio.to_thread(_count_rows, source)
        snapshot = journal.snapshot()
        states, done = await asyncio.to_thread(_load_states, snapshot)
        only = set(states) if retry else None
        if done:  # the results files get the rows done, copied in a thread as sending begins
            copier = concurrent.futures.ThreadPoolExecutor(1, "lsq-import-results")
            copy = copier.submit(results.replay(snapshot))
            copier.shutdown(wait=False)  # the copy still runs; the thread ends with it
            loop = asyncio.get_running_loop()
            copy.add_done_callback(lambda ended: loop.call_soon_threadsafe(copy_ended, ended))
        else:
            snapshot.close()
        if log is not None:
            log.write("run", **details(), rate=str(options.rate), rows=summary.total)
        async with LeadSquaredClient.new_session(workers, options.timeout) as session:

            def throttled(lesson: Lesson) -> None:
                if lesson.adopted is not None:
                    rate = lesson.adopted
                    summary.adopted_rate = str(rate)
                    progress.note(
                        f"LeadSquared says the limit is {rate.calls} calls per {rate.seconds:g} "
                        f"s, below the {options.rate} set: using {rate} from now on"
                    )
                elif lesson.first_neighbour:
                    progress.note(
                        f"throttled although this run keeps to {limiter.rate}: another client "
                        "of the account seems to use part of its limit; sending less, and "
                        "more again once the throttles stop"
                    )

            client = LeadSquaredClient(
                session,
                connection,
                limiter,
                summary.counters,
                throttled,
                log=log,
                outage=options.outage,
                note=progress.note,
                host_answered=preflighted,
            )
            delivery = Delivery(
                client,
                options.policy,
                summary.counters,
                ledger=journal,
            )
            run = _Run(
                plan, delivery, results, summary, progress, journal, states, done, options, only
            )
            if copy is not None and copy.done():  # it ended before the run was there
                copy_ended(copy)
            summary.done_before = len(done)
            progress.start(summary.total, len(done))
            if done:
                progress.note(f"resuming: {len(done):,} of {summary.total:,} rows already done")
            if stop.requests:  # asked to stop while preparing
                run.stop(stop.requests)
            await run.go(source, workers)
    finally:
        # Every step below is taken even if one cannot write: what it could not write, the
        # journal has (or the next run finds out on the lead), and the summary says so.
        stop.listen(None)
        if copy is not None:
            replayed = None
            try:
                replayed = await _copied(copy)
            except OutputError as exc:
                _unwritable(summary, exc)
            finally:
                try:
                    results.replayed(replayed)
                except OutputError as exc:
                    _unwritable(summary, exc)
                snapshot.close()
            if replayed is not None:
                summary.rows += replayed.succeeded + replayed.failed
                summary.succeeded += replayed.succeeded
                summary.failed += replayed.failed
        try:
            results.close()
        except OutputError as exc:
            _unwritable(summary, exc)
        progress.close()
        with contextlib.suppress(sqlite3.Error):  # what the next run compares them to
            journal.set_meta(_written(out_dir))
        try:
            journal.close()
        except sqlite3.Error as exc:  # its last answer could not be committed: a full disk
            _unwritable(summary, output_error(exc, journal.path))
        summary.elapsed = time.monotonic() - started
        summary.failed_by_type = dict(results.failed_by_type)
        summary.possible_duplicates = sorted(results.possible_duplicates)
        summary.pending = max(0, summary.total - summary.rows)
        if stop.requests and summary.stop not in (FATAL, OUTAGE, OUTPUT):
            summary.stop = stop.reason
            summary.stopped = f"interrupted ({stop.reason})"
        elif summary.stop == MAX_ROWS and not summary.pending:
            summary.stop = summary.stopped = None  # the file ended at the limit
        report = summary.as_json(**details(), **hashes)
        try:
            write_summary(out_dir, report)
        except OutputError as exc:
            _unwritable(summary, exc)
            report = summary.as_json(**details(), **hashes)
        if log is not None:
            try:
                log.write("summary", **{k: report[k] for k in _LOGGED_SUMMARY})
            except OutputError as exc:
                _unwritable(summary, exc)
            log.close()
    return summary


def _written(out_dir: Path) -> dict[str, str]:
    """The size and modification time of the results files as the run leaves them."""
    found = {}
    for name in (SUCCESS_FILE, FAILURES_FILE):
        with contextlib.suppress(OSError):
            stat = (out_dir / name).stat()
            found[f"written:{name}"] = f"{stat.st_size} {stat.st_mtime_ns}"
    return found


def _edited(out_dir: Path, began: dict[str, str]) -> list[str]:
    """The results files changed since the last run wrote them (a person fixed rows in
    ``failures.csv``, say): a resumed run would rebuild them from the journal over the edits."""
    edited = []
    for key, was in began.items():
        name = key.removeprefix("written:")
        if name == key or not was:
            continue
        try:
            stat = (out_dir / name).stat()
        except OSError:
            continue  # gone: nothing to keep
        if f"{stat.st_size} {stat.st_mtime_ns}" != was:
            edited.append(name)
    return edited


def _them(names: list[str]) -> str:
    return "them" if len(names) > 1 else "it"


def _are(names: list[str]) -> str:
    return "are" if len(names) > 1 else "is"


def _unwritable(summary: RunSummary, error: OutputError) -> None:
    """A file could not be written: the run ends as stopped by it (the first such error)."""
    if summary.stop != OUTPUT:
        summary.stop, summary.stopped = OUTPUT, str(error)


_LOGGED_SUMMARY = (
    "rows",
    "succeeded",
    "failed",
    "failed_by_type",
    "pending",
    "calls",
    "throttles",
    "retries",
    "lost_answers",
    "elapsed_seconds",
    "stopped",
    "exit_code",
)


def _load_states(snapshot: Snapshot) -> tuple[dict[int, RowState], RowSet]:
    """The journaled rows not finished for good, and the rows that are (never sent again)."""
    return snapshot.open_rows(), snapshot.done_rows()


async def _copied(copy: concurrent.futures.Future[Replayed]) -> Replayed:
    """The copy's outcome, once it is over: the results files are not closed under it."""
    try:
        return await asyncio.shield(asyncio.wrap_future(copy))
    except asyncio.CancelledError:
        copy.result()
        raise


def _open_journal(
    out_dir: Path,
    hashes: dict[str, str],
    input_path: str | Path,
    mapping_path: str | Path,
    started_at: str,
) -> Journal:
    """The journal of the run in ``out_dir``, begun now if there is none; ConfigError if it
    is another run's (another input or mapping), OutputError if it cannot be written."""
    path = out_dir / JOURNAL_FILE
    try:
        journal = Journal.open(out_dir)
    except JournalError as exc:
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{exc}. Add --fresh to start over in {out_dir} (its files are moved into "
                    f"{out_dir / EARLIER}/), or give another --out",
                )
            ]
        ) from None
    except (OSError, sqlite3.Error) as exc:
        raise output_error(exc, path) from None
    began = journal.meta()
    if not began:
        try:
            journal.set_meta(
                {
                    **hashes,
                    "input": str(Path(input_path).resolve()),
                    "mapping": str(Path(mapping_path).resolve()),
                    "started_at": started_at,
                }
            )
        except sqlite3.Error as exc:
            journal.close()
            raise output_error(exc, path) from None
        return journal
    changed = [
        what
        for key, what in (("input_sha256", "input file"), ("mapping_sha256", "mapping"))
        if began.get(key) != hashes[key]
    ]
    if changed:
        journal.close()
        what = " and ".join(changed)
        began_at = began.get("started_at", "?")
        own = Path(began.get("input", ""))
        resume = (
            f"To resume that run, give it its own input again ({own}). "
            if "input file" in changed and began.get("input") and own.is_file()
            else ""
        )
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{out_dir} holds a run that began at {began_at} with another {what}: "
                    f"the {what} changed since, and resuming would mix two imports. {resume}"
                    "Add --fresh to start a new run in that folder (the earlier run's files are "
                    f"moved into {out_dir / EARLIER}/), or give another --out",
                )
            ]
        )
    return journal


class _Run:
    def __init__(
        self,
        plan: Plan,
        delivery: Delivery,
        results: RunResults,
        summary: RunSummary,
        progress: Progress,
        journal: Journal,
        states: dict[int, RowState],
        done: RowSet,
        options: RunOptions,
        only: set[int] | None = None,
    ) -> None:
        self.plan = plan
        self.delivery = delivery
        self.results = results
        self.summary = summary
        self.progress = progress
        self.journal = journal
        self.states = states
        self.done = done
        self.options = options
        self.only = only  # when set, the only rows to send (a retry of failed rows)
        self.busy: dict[tuple[str, str], deque[RowJob]] = {}
        self.fatal: FatalError | None = None
        self.unwritten: OutputError | None = None  # the first file that could not be written
        self.stopping = False  # asked to stop: send nothing new
        self._tasks: list[asyncio.Task] = []
        self._cut_off: asyncio.TimerHandle | None = None

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, requests: int) -> None:
        """The first request stops taking rows and lets calls in flight finish; the second,
        or the end of the grace period, cuts them off."""
        if requests > 1:
            self.progress.note("stopping at once")
            self.cut_off()
            return
        if self.stopping:
            return
        self.stopping = True
        self.delivery.client.stop()
        grace = self.options.grace
        if grace is None:
            grace = self.options.timeout + 5
        calls = self.delivery.client.on_wire
        waiting = (
            f"waiting up to {grace:g} s for the {calls} call{'' if calls == 1 else 's'} in "
            "flight to finish"
            if calls
            else "no call is in flight"
        )
        self.progress.note(
            f"stopping: no new rows are sent; {waiting}. Press Ctrl-C again to stop at once "
            "(rows in flight are then checked on their lead by the next run)."
        )
        self._cut_off = asyncio.get_running_loop().call_later(grace, self.cut_off)

    def cannot_write(self, error: OutputError) -> None:
        """A file of the run could not be written: stop as a graceful stop does. Rows go on
        being journaled where they can; what is not, the next run sends, or checks first."""
        if self.unwritten is not None:
            return
        self.unwritten = error
        self.progress.note(f"{error}: the run stops")
        self.stop(1)

    def _journal_error(self, exc: sqlite3.Error) -> None:
        self.cannot_write(output_error(exc, self.journal.path))

    def cut_off(self) -> None:
        self.stopping = True
        self.delivery.client.stop()
        for task in self._tasks:
            task.cancel()

    # --- the run ------------------------------------------------------------------------------

    async def go(self, source: Source, workers: int) -> None:
        queue: asyncio.Queue[RowJob | None] = asyncio.Queue(maxsize=workers * 2)
        producer = asyncio.create_task(self._produce(source, queue, workers))
        pool = [asyncio.create_task(self._work(queue)) for _ in range(workers)]
        for worker in pool:
            worker.add_done_callback(self._worker_ended)
        watcher = asyncio.create_task(self._watch_the_host())
        self._tasks = [producer, *pool]
        try:
            outcomes = await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            watcher.cancel()
            self.delivery.client.link.close()
            for task in self._tasks:
                task.cancel()
            if self._cut_off is not None:
                self._cut_off.cancel()
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                raise outcome
        if self.unwritten is not None:
            self.summary.stop = OUTPUT
            self.summary.stopped = str(self.unwritten)
        elif self.fatal is not None:
            self.summary.stop = FATAL
            self.summary.stopped = self.fatal.answer.message
        elif self.delivery.client.link.gave_up.is_set():
            link = self.delivery.client.link
            self.summary.stop = OUTAGE
            self.summary.stopped = (
                f"{link.host} did not answer for {link.policy.limit:g} s ({link.last_error}); "
                "run the same command again to resume"
            )

    def _worker_ended(self, worker: asyncio.Task) -> None:
        """A worker that died of an error takes the run down with it: the producer would
        otherwise wait forever for room in the queue (and the folder's lock stay held)."""
        if not worker.cancelled() and worker.exception() is not None:
            self.cut_off()

    async def _watch_the_host(self) -> None:
        """An outage that outlasts its limit stops the run as a graceful stop does."""
        await self.delivery.client.link.gave_up.wait()
        self.stop(1)

    async def _produce(self, source: Source, queue: asyncio.Queue, workers: int) -> None:
        try:
            await self._feed(source, queue)
        except Exception:
            for task in self._tasks[1:]:  # the workers would wait for rows forever
                task.cancel()
            raise
        for _ in range(workers):
            await queue.put(None)

    async def _feed(self, source: Source, queue: asyncio.Queue) -> None:
        """Rows in file order: those that did not map are failed at once, the others queued.
        Returns early when the run stops or --max-rows is reached."""
        chunks = source.chunks()
        search_path = f"lead.attributes.{self.plan.mapping.lead.search_by}"
        budget = self.options.max_rows
        wanted = self._wanted
        while (
            mapped := await asyncio.to_thread(_next_mapped, chunks, self.plan, wanted)
        ) is not None:
            # a row that mapped is its position in the chunk; one that did not, its failure
            good: Iterator[tuple[int, int | Failed]] = (
                (mapped.rows[position], position) for position in mapped.good()
            )
            failures: Iterator[tuple[int, int | Failed]] = (
                (failure[0], failure) for failure in mapped.failures()
            )
            for row, item in heapq.merge(good, failures, key=lambda pair: pair[0]):
                if not wanted(row):
                    continue
                if self.stopping:
                    return
                if isinstance(item, tuple):  # it did not map
                    _, error_type, message, cells = item
                    self._finish_failed(row, error_type, message, encode_cells(cells))
                    continue
                cells = mapped.chunk.record(item)
                line = encode_cells(cells)
                if self.fatal is not None:
                    self._finish_failed(row, NOT_SENT, self._not_sent(), line)
                    continue
                if budget is not None:
                    if budget == 0:
                        self.summary.stop = MAX_ROWS
                        self.summary.stopped = f"--max-rows {self.options.max_rows:,} reached"
                        return
                    budget -= 1
                state, error_type, sent_at, last_sent_at = self.states.get(
                    row, ("", "", None, None)
                )
                job = RowJob(
                    row,
                    self.plan.payload(mapped, item),
                    cells,
                    self.plan.mapping.lead.search_by,
                    mapped.values[search_path][item].as_py(),
                    check_first=state == SENDING or checks_first(error_type),
                    first_sent=_utc(sent_at),
                    last_sent=_utc(last_sent_at),
                    line=line,
                )
                await queue.put(job)

    async def _work(self, queue: asyncio.Queue) -> None:
        while (job := await queue.get()) is not None:
            if self.fatal is not None:
                self._finish_failed(job.row, NOT_SENT, self._not_sent(), job.line)
                continue
            if self.stopping:
                continue  # not sent: pending for the next run
            if job.key in self.busy:  # another worker holds this lead: it sends this row next
                self.busy[job.key].append(job)
                continue
            self.busy[job.key] = waiting = deque([job])
            try:
                while waiting:
                    current = waiting.popleft()
                    if self.fatal is not None:
                        self._finish_failed(current.row, NOT_SENT, self._not_sent(), current.line)
                    elif not self.stopping:
                        await self._deliver(current)
            finally:
                del self.busy[job.key]

    async def _deliver(self, job: RowJob) -> None:
        try:
            self._finish(await self.delivery.deliver(job), job.line)
        except FatalError as exc:
            self.fatal = self.fatal or exc
            self.delivery.client.stop()
            self._finish_failed(job.row, exc.row_error_type, exc.answer.message, job.line)
        except RunStopped:
            if self.fatal is not None:
                self._finish_failed(job.row, NOT_SENT, self._not_sent(), job.line)
            # else stopped before it left: pending for the next run
        except OutcomeUnknown as exc:
            self._finish_failed(job.row, OUTCOME_UNKNOWN, str(exc), job.line)
        except OutputError as exc:  # the call log, as a call went or came back
            self.cannot_write(exc)  # the row stays as journaled: pending, or checked first
        except sqlite3.Error as exc:  # the row's mark as its call left, or its answer's
            self._journal_error(exc)
        except asyncio.CancelledError:
            if job.left:  # cut off with a call of it on the wire, or being checked
                self._finish_failed(
                    job.row,
                    OUTCOME_UNKNOWN,
                    "the run was stopped at once while this row's call was in flight: the "
                    "next run looks its lead up before sending it again",
                    job.line,
                )
            raise

    def _wanted(self, row: int) -> bool:
        """Whether this run sends (or fails) the row."""
        if self.only is not None:
            return row in self.only
        return row not in self.done

    def _not_sent(self) -> str:
        assert self.fatal is not None
        return f"not sent: the run stopped ({self.fatal.answer.error_type})"

    # A row's outcome is counted once the journal holds it. If the journal cannot take it, the
    # row stays as the journal last had it (``sending`` for a row whose call went: the next run
    # looks it up on its lead instead of sending it blindly). If only the results file cannot,
    # the row counts: the next run rebuilds the results files from the journal.

    def _finish(self, result: RowResult, line: str) -> None:
        if result.status == SUCCEEDED:
            try:
                self.journal.succeeded(
                    result.row, line, result.activity_id, result.lead_id, result.possible_duplicate
                )
            except sqlite3.Error as exc:
                self._journal_error(exc)
                return
            self.summary.rows += 1
            self.summary.succeeded += 1
            try:
                self.results.succeeded(
                    result.row, result.activity_id, result.lead_id, line, result.possible_duplicate
                )
            except OutputError as exc:
                self.cannot_write(exc)
            self._advance(True)
        else:
            self._finish_failed(result.row, result.error_type, result.error, line)

    def _finish_failed(self, row: int, error_type: str, message: str, line: str) -> None:
        try:
            self.journal.failed(row, line, error_type, message)
        except sqlite3.Error as exc:
            self._journal_error(exc)
            return
        self.summary.rows += 1
        self.summary.failed += 1
        if error_type == NOT_SENT:
            self.summary.not_sent += 1
        try:
            self.results.failed(row, error_type, message, line)
        except OutputError as exc:
            self.cannot_write(exc)
        self._advance(False)

    def _advance(self, succeeded: bool) -> None:
        self.progress.advance(succeeded, self.summary.failed, self.summary.counters.throttles)


def _utc(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _next_mapped(chunks: Iterator, plan: Plan, wanted: Callable[[int], bool]) -> MappedChunk | None:
    """The next chunk with a row this run wants, mapped; others are passed over unmapped."""
    for chunk in chunks:
        if any(map(wanted, chunk.rows)) or any(wanted(bad.row) for bad in chunk.bad):
            return plan.map_chunk(chunk)
    return None


def _count_rows(source: Source) -> tuple[int, int]:
    """The rows of the input (bad ones included) and its blank rows."""
    rows = blank = 0
    for chunk in source.chunks():
        rows += len(chunk) + len(chunk.bad)
        blank += chunk.blank
    return rows, blank


def _hashes(input_path: Path, mapping_path: Path) -> dict[str, str]:
    def sha256(path: Path) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    return {"input_sha256": sha256(input_path), "mapping_sha256": sha256(mapping_path)}
