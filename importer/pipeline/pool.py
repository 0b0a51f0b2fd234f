"""The pool: the rows of a run from the file to their outcome.

A producer reads and maps chunks in a thread and feeds a bounded queue (memory stays bounded on
any file size); workers take rows from it. Rows that share a SearchBy value are never in flight
together and go in file order: a worker that finds the key busy leaves the row with the worker
that holds it. Rows that fail to map are failed at once, without a call.

The pool stops in three ways, each leaving the journal ready for the next run to go on: a stop
request (the first stops taking rows and lets calls in flight finish, within the grace period;
the second cuts them off), ``max_rows``, and an answer that stops everything (``FatalError``:
bad keys); a file that cannot be written and a host gone for longer than the outage limit stop
it as a graceful stop does. Each row's outcome goes through ``Outcomes``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from importer.errors import FatalError, OutcomeUnknown, OutputError, RunStopped
from importer.failures import NOT_SENT, OUTCOME_UNKNOWN, checks_first
from importer.mapping.plan import MappedChunk, Plan
from importer.outputs.progress import Progress
from importer.outputs.results import encode_cells
from importer.pipeline.journal import SENDING, Journal
from importer.pipeline.outcomes import Outcomes, Output
from importer.pipeline.request import RunOptions
from importer.pipeline.snapshot import RowSet, RowState
from importer.pipeline.summary import FATAL, MAX_ROWS, OUTAGE, OUTPUT, RunSummary
from importer.readers.source import Source
from importer.sending.delivery import RowJob, RowResult
from importer.sending.outage import Link

#: A row that did not map: (row, error type, message, cells).
Failed = tuple[int, str, str, list[str]]


class Sender(Protocol):
    """A way of sending rows, as the pool sees it: ``delivery.Delivery`` sends one row per
    CreateCustom call until its outcome is known. A new way of sending implements these and
    is chosen where the pipeline builds the pool."""

    @property
    def link(self) -> Link:
        """The connection to the host: an outage pauses the pool, its give-up stops it."""
        ...

    @property
    def in_flight(self) -> int:
        """Calls on the wire now."""
        ...

    def stop(self) -> None:
        """Send nothing more; calls waiting for their turn end as ``RunStopped``."""

    async def deliver(self, job: RowJob) -> RowResult:
        """The row's outcome; FatalError to stop the run, OutcomeUnknown, RunStopped."""
        ...


class Pool:
    """The rows of one run on their way: a producer reading and mapping chunks in a thread and
    feeding a bounded queue, ``workers`` tasks taking rows from it, one lead's rows one at a
    time in file order, and the stop (graceful, then at once) that ends it all."""

    def __init__(
        self,
        plan: Plan,
        sender: Sender,
        outputs: Sequence[Output],
        summary: RunSummary,
        progress: Progress,
        journal: Journal,
        states: dict[int, RowState],
        done: RowSet,
        options: RunOptions,
        only: set[int] | None = None,
    ) -> None:
        self.plan = plan
        self.sender = sender
        self.summary = summary
        self.progress = progress
        self.outcomes = Outcomes(journal, outputs, summary, progress, self.cannot_write)
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
        self.sender.stop()
        grace = self.options.grace
        if grace is None:
            grace = self.options.timeout + 5
        calls = self.sender.in_flight
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

    def cut_off(self) -> None:
        self.stopping = True
        self.sender.stop()
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
            self.sender.link.close()
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
        elif self.sender.link.gave_up.is_set():
            link = self.sender.link
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
        await self.sender.link.gave_up.wait()
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
                    self.outcomes.failed(row, error_type, message, encode_cells(cells))
                    continue
                cells = mapped.chunk.record(item)
                line = encode_cells(cells)
                if self.fatal is not None:
                    self.outcomes.failed(row, NOT_SENT, self._not_sent(), line)
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
                self.outcomes.failed(job.row, NOT_SENT, self._not_sent(), job.line)
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
                        self.outcomes.failed(current.row, NOT_SENT, self._not_sent(), current.line)
                    elif not self.stopping:
                        await self._deliver(current)
            finally:
                del self.busy[job.key]

    async def _deliver(self, job: RowJob) -> None:
        try:
            self.outcomes.finish(await self.sender.deliver(job), job.line)
        except FatalError as exc:
            self.fatal = self.fatal or exc
            self.sender.stop()
            self.outcomes.failed(job.row, exc.row_error_type, exc.answer.message, job.line)
        except RunStopped:
            if self.fatal is not None:
                self.outcomes.failed(job.row, NOT_SENT, self._not_sent(), job.line)
            # else stopped before it left: pending for the next run
        except OutcomeUnknown as exc:
            self.outcomes.failed(job.row, OUTCOME_UNKNOWN, str(exc), job.line)
        except OutputError as exc:  # the call log, as a call went or came back
            self.cannot_write(exc)  # the row stays as journaled: pending, or checked first
        except sqlite3.Error as exc:  # the row's mark as its call left, or its answer's
            self.outcomes.journal_error(exc)
        except asyncio.CancelledError:
            if job.left:  # cut off with a call of it on the wire, or being checked
                self.outcomes.failed(
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
