"""The import: ``run_import`` takes one ``RunRequest`` and carries it out, from the first check
to the last line of ``summary.json``.

Before anything is sent: the mapping is loaded and fitted to the file's header, the run folder
checked (``outdir.prepare``, ``rundir``), the account read and the mapping checked against it
(``metadata.preflight``, ``preflight.fit_account``), the journal opened (this run's own, or
begun). Nothing in the folder is written over to start a run: with ``fresh`` (or in a folder
with no journal) an earlier run's files are moved aside into ``DIR/earlier/<time>/``
(``outdir.move_aside``), and an input that was one of them is read from there. Then the rows go
through the pool (``pool.py``: queue, workers, per-lead order, stop), each outcome recorded by
``outcomes.py``; rows an earlier run finished are copied into the results files in a thread
meanwhile. At the end, on a stop too, the results,
the journal, ``summary.json`` and the call log are closed and written.

A run stops early in the ways ``summary.py`` names, each leaving the journal ready for the next
run to go on. Rows a stopped run did not reach are ``pending``: counted in the summary, not
written as failures, sent by the next run. A row whose outcome could not be journaled stays as
the journal last had it (``sending``: looked up on its lead before it is sent again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import sqlite3
import time
from typing import Any

from importer.account.metadata import preflight
from importer.account.preflight import fit_account
from importer.errors import OutputError
from importer.mapping.config import load_mapping
from importer.mapping.plan import Plan
from importer.mapping.validation import open_input
from importer.outdir import move_aside, output_error, prepare, same_file
from importer.outputs.calllog import CallLog
from importer.outputs.progress import Progress, SilentProgress
from importer.outputs.results import RunResults, write_summary
from importer.pipeline import rundir
from importer.pipeline.folder_lock import FolderLock
from importer.pipeline.journal import FILE_NAME as JOURNAL_FILE
from importer.pipeline.outcomes import Output
from importer.pipeline.pool import Pool
from importer.pipeline.request import RunRequest, StopSwitch
from importer.pipeline.snapshot import Replayed, RowSet, RowState, Snapshot
from importer.pipeline.summary import FATAL, MAX_ROWS, OUTAGE, OUTPUT, RunSummary
from importer.readers.source import Source
from importer.sending.client import Counters, LeadSquaredClient
from importer.sending.delivery import Delivery
from importer.sending.limiter import Lesson, RateLimiter


async def run_import(
    request: RunRequest, *, progress: Progress | None = None, stop: StopSwitch | None = None
) -> RunSummary:
    """Import every row of ``request.input``; results go to ``request.out_dir`` as rows finish.

    A journal in the folder records every row; the same request again resumes the run: rows
    done are not sent again, rows that were in flight are checked on their lead first.
    ``request.fresh`` starts over (the earlier run's files are moved into ``DIR/earlier/``:
    ``summary.earlier``), ``request.retry`` sends only the rows the journal holds as failed for
    a passing reason. ``progress`` is told of each row and of notes for people; ``stop`` lets a
    caller stop the run (see StopSwitch).

    Raises ConfigError, SourceError or AccountError (``NothingSent``) before anything is sent
    (an ``out_dir`` that cannot be written included), and OutputError if a file cannot be
    written before the first row is sent; once rows are sent, a file that cannot be written
    stops the run (``OUTPUT``)."""
    progress = progress or SilentProgress()
    stop = stop or StopSwitch()
    out_dir, input_path = request.out_dir, request.input
    mapping = load_mapping(request.mapping)
    source, plan = open_input(input_path, mapping)  # the mapping fits: nothing touched before
    for note in source.notes:  # an encoding detected, NUL characters removed: said once
        progress.note(note)
    prepare(out_dir)
    log_path = request.options.log_path
    if log_path is not None:
        rundir.check_log(log_path, input_path, request.mapping, out_dir)
        if not same_file(log_path.parent, out_dir):
            prepare(log_path.parent, "--log")
    with FolderLock(out_dir):  # one run at a time in a folder: two would send rows twice
        aside = None
        starting = request.fresh or not (out_dir / JOURNAL_FILE).exists()
        mine = [name for name in rundir.RUN_FILES if same_file(input_path, out_dir / name)]
        if mine and not starting:
            raise rundir.input_in_the_run(input_path, out_dir, mine[0])
        if starting:  # what an earlier run left is moved aside, not written over
            moving = rundir.RUN_FILES if request.fresh else (*rundir.OUTCOME_FILES, *mine)
            aside = move_aside(out_dir, moving)
        if aside is not None:
            moved = f" (the input {input_path} among them: it is read from there)" if mine else ""
            progress.note(f"the earlier run's files in {out_dir} are moved into {aside}{moved}")
            if mine:
                input_path = aside / mine[0]
                request = dataclasses.replace(request, input=input_path)
                source, plan = open_input(input_path, mapping)
        summary = await _import(request, source, plan, progress, stop)
    summary.input_path, summary.earlier = input_path, aside
    return summary


async def _import(
    request: RunRequest, source: Source, plan: Plan, progress: Progress, stop: StopSwitch
) -> RunSummary:
    options, out_dir, connection = request.options, request.out_dir, request.connection
    input_path, mapping_path = request.input, request.mapping
    started = time.monotonic()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    task = asyncio.current_task()
    run: Pool | None = None

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
            plan.mapping,
            limiter,
            counters,
            options.timeout,
            check=options.check_account,
            note=progress.note,
            log=log,
        )
        if account is not None:
            fit = fit_account(plan.mapping, account)
            plan = Plan(plan.mapping, source.header, account=fit)  # ConfigError: none sent
            for note in fit.notes:
                progress.note(note)
    hashes = await asyncio.to_thread(rundir.hashes, input_path, mapping_path)
    journal = rundir.open_journal(out_dir, hashes, input_path, mapping_path, started_at)
    try:  # OutputError: nothing is sent
        edited = rundir.edited(out_dir, journal.meta())
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
        outputs: list[Output] = [results]  # each told every row's outcome, each closed at the end
        # until this run ends, what the files hold is its own (a run killed leaves no record)
        try:
            journal.set_meta({key: "" for key in rundir.written(out_dir)})
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
        only = set(states) if request.retry else None
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
            run = Pool(
                plan, delivery, outputs, summary, progress, journal, states, done, options, only
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
        for output in outputs:
            try:
                output.close()
            except OutputError as exc:
                _unwritable(summary, exc)
        progress.close()
        with contextlib.suppress(sqlite3.Error):  # what the next run compares them to
            journal.set_meta(rundir.written(out_dir))
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


def _count_rows(source: Source) -> tuple[int, int]:
    """The rows of the input (bad ones included) and its blank rows."""
    rows = blank = 0
    for chunk in source.chunks():
        rows += len(chunk) + len(chunk.bad)
        blank += chunk.blank
    return rows, blank
