"""The import: read and map rows, deliver them through a pool of workers, write every result.

``run_import`` checks the mapping against the file before anything is sent, then streams: a
producer reads and maps chunks in a thread and feeds a bounded queue (memory stays bounded on
any file size); workers take rows from it. Rows that share a SearchBy value are never in flight
together and go in file order: a worker that finds the key busy leaves the row with the worker
that holds it. Rows that fail to map go to ``failures.csv`` without a call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from importer.errors import ConfigError, Problem
from importer.journal import FAILED as JOURNAL_FAILED
from importer.journal import FILE_NAME as JOURNAL_FILE
from importer.journal import SENDING, Journal, is_retryable
from importer.limiter import DEFAULT_MARGIN, Rate, RateLimiter
from importer.mapping import MappedChunk, Plan
from importer.progress import Progress, SilentProgress
from importer.results import RunResults, write_summary
from importer.source import Source
from importer.validation import open_input

NOT_SENT = "NotSent"


@dataclass
class RunOptions:
    rate: Rate = field(default_factory=lambda: Rate(25, 5.0))
    margin: float = DEFAULT_MARGIN
    workers: int | None = None  # default: enough to keep the limit busy at 1-2 s latency
    timeout: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        per_second = self.rate.calls / self.rate.seconds
        return max(4, min(100, round(per_second * 3) + 2))


@dataclass
class RunSummary:
    rows: int = 0
    succeeded: int = 0
    failed: int = 0
    not_sent: int = 0
    blank: int = 0
    failed_by_type: dict[str, int] = field(default_factory=dict)
    possible_duplicates: list[int] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    elapsed: float = 0.0
    rate: str = ""
    adopted_rate: str | None = None
    stopped: str | None = None  # why the run stopped early
    out_dir: Path | None = None

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return 3
        return 0 if self.failed == 0 else 1

    def as_json(self, **extra: Any) -> dict[str, Any]:
        sent_rows = self.succeeded + self.failed - self.not_sent
        return {
            "rows": self.rows,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failed_by_type": self.failed_by_type,
            "not_sent": self.not_sent,
            "blank_rows_skipped": self.blank,
            "possible_duplicates": self.possible_duplicates,
            "calls": self.counters.calls,
            "throttles": self.counters.throttles,
            "retries": self.counters.retries,
            "lost_answers": self.counters.lost_answers,
            "lost_answers_found_landed": self.counters.verified_landed,
            "elapsed_seconds": round(self.elapsed, 3),
            "rows_per_second": round(sent_rows / self.elapsed, 3) if self.elapsed else None,
            "rate": self.rate,
            "adopted_rate": self.adopted_rate,
            "stopped": self.stopped,
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
) -> RunSummary:
    """Import every row of a file; results go to ``out_dir`` as rows finish.

    A journal in ``out_dir`` records every row; run again with the same ``out_dir`` and the run
    resumes: rows done are not sent again, rows that were in flight are checked on their lead
    first. ``fresh`` starts over. Raises ConfigError or SourceError before anything is sent."""
    options = options or RunOptions()
    progress = progress or SilentProgress()
    out_dir = Path(out_dir)
    source, plan = open_input(input_path, mapping)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    hashes = await asyncio.to_thread(_hashes, Path(input_path), Path(mapping_path))
    journal = _open_journal(out_dir, hashes, fresh, input_path, mapping_path, started_at)
    total = await asyncio.to_thread(_count_rows, source)
    states = await asyncio.to_thread(journal.states)
    progress.start(total)
    summary = RunSummary(rate=str(options.rate), out_dir=out_dir)
    results = RunResults(out_dir, source.header)
    workers = options.worker_count()
    try:
        async with LeadSquaredClient.new_session(workers, options.timeout) as session:
            limiter = RateLimiter(options.rate, options.margin)

            def adopted(rate: Rate) -> None:
                summary.adopted_rate = str(rate)
                progress.note(
                    f"LeadSquared says the limit is {rate.calls} calls per {rate.seconds:g} s, "
                    f"below the {options.rate} set: using {rate} from now on"
                )

            client = LeadSquaredClient(session, connection, limiter, summary.counters, adopted)
            delivery = Delivery(
                client,
                options.policy,
                summary.counters,
                before_send=lambda job: journal.sending(job.row, job.cells),
            )
            run = _Run(plan, delivery, results, summary, progress, journal, states)
            done = run.replay()
            if done:
                progress.note(f"resuming: {done:,} of {total:,} rows already done")
            await run.go(source, workers)
    finally:
        results.close()
        progress.close()
        journal.close()
        summary.elapsed = time.monotonic() - started
        summary.failed_by_type = dict(results.failed_by_type)
        summary.possible_duplicates = sorted(results.possible_duplicates)
        write_summary(
            out_dir,
            summary.as_json(
                input=str(input_path),
                mapping=str(mapping_path),
                host=connection.base_url,
                started_at=started_at,
                workers=workers,
                **hashes,
            ),
        )
    return summary


def _open_journal(
    out_dir: Path,
    hashes: dict[str, str],
    fresh: bool,
    input_path: str | Path,
    mapping_path: str | Path,
    started_at: str,
) -> Journal:
    if fresh:
        for name in (
            JOURNAL_FILE,
            f"{JOURNAL_FILE}-wal",
            f"{JOURNAL_FILE}-shm",
            "success.csv",
            "failures.csv",
            "summary.json",
        ):
            (out_dir / name).unlink(missing_ok=True)
    journal = Journal.open(out_dir)
    began = journal.meta()
    if not began:
        journal.set_meta(
            {
                **hashes,
                "input": str(input_path),
                "mapping": str(mapping_path),
                "started_at": started_at,
            }
        )
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
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{out_dir} holds a run that began at {began_at} with another {what}: "
                    f"the {what} changed since, and resuming would mix two imports. Add --fresh "
                    "to start over in that folder (its results are replaced), or give another "
                    "--out",
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
        states: dict[int, tuple[str, str, str | None]],
    ) -> None:
        self.plan = plan
        self.delivery = delivery
        self.results = results
        self.summary = summary
        self.progress = progress
        self.journal = journal
        self.states = states
        self.done: set[int] = {
            row
            for row, (state, error_type, _) in states.items()
            if state == SUCCEEDED or (state == JOURNAL_FAILED and not is_retryable(error_type))
        }
        self.busy: dict[tuple[str, str], deque[RowJob]] = {}
        self.fatal: FatalError | None = None

    def replay(self) -> int:
        """Put the rows an earlier run finished for good into this run's results."""
        count = 0
        for row, state, activity, lead, kind, error, duplicate, cells in self.journal.results():
            if row not in self.done:
                continue
            count += 1
            self.summary.rows += 1
            if state == SUCCEEDED:
                self.summary.succeeded += 1
                self.results.succeeded(row, activity or "", lead or "", cells, duplicate, False)
            else:
                self.summary.failed += 1
                self.results.failed(row, kind or "", error or "", cells, False)
            self._advance(state == SUCCEEDED)
        self.results.success.flush()
        self.results.failures.flush()
        return count

    async def go(self, source: Source, workers: int) -> None:
        queue: asyncio.Queue[RowJob | None] = asyncio.Queue(maxsize=workers * 2)
        producer = asyncio.create_task(self._produce(source, queue, workers))
        pool = [asyncio.create_task(self._work(queue)) for _ in range(workers)]
        try:
            await asyncio.gather(producer, *pool)
        finally:
            for task in (producer, *pool):
                task.cancel()
        if self.fatal is not None:
            self.summary.stopped = self.fatal.answer.message

    async def _produce(self, source: Source, queue: asyncio.Queue, workers: int) -> None:
        chunks = source.chunks()
        search_path = f"lead.attributes.{self.plan.mapping.lead.search_by}"
        while (
            mapped := await asyncio.to_thread(_next_mapped, chunks, self.plan, self.done)
        ) is not None:
            self.summary.blank += mapped.blank
            for row, error_type, message, cells in mapped.failures():
                if row not in self.done:
                    self._finish_failed(row, error_type, message, cells)
            for position in mapped.good():
                row = mapped.rows[position]
                if row in self.done:
                    continue
                cells = mapped.chunk.record(position)
                if self.fatal is not None:
                    self._finish_failed(mapped.rows[position], NOT_SENT, self._not_sent(), cells)
                    continue
                state, error_type, sent_at = self.states.get(row, ("", "", None))
                job = RowJob(
                    row,
                    self.plan.payload(mapped, position),
                    cells,
                    self.plan.mapping.lead.search_by,
                    mapped.values[search_path][position].as_py(),
                    check_first=state == SENDING or error_type == "OutcomeUnknown",
                    first_sent=_utc(sent_at),
                )
                await queue.put(job)
        for _ in range(workers):
            await queue.put(None)

    async def _work(self, queue: asyncio.Queue) -> None:
        while (job := await queue.get()) is not None:
            if self.fatal is not None:
                self._finish_failed(job.row, NOT_SENT, self._not_sent(), job.cells)
                continue
            if job.key in self.busy:  # another worker holds this lead: it sends this row next
                self.busy[job.key].append(job)
                continue
            self.busy[job.key] = waiting = deque([job])
            try:
                while waiting:
                    current = waiting.popleft()
                    if self.fatal is not None:
                        self._finish_failed(current.row, NOT_SENT, self._not_sent(), current.cells)
                        continue
                    try:
                        self._finish(await self.delivery.deliver(current))
                    except FatalError as exc:
                        self.fatal = self.fatal or exc
                        self.delivery.client.stopped = True
                        self._finish_failed(
                            current.row, exc.answer.error_type, exc.answer.message, current.cells
                        )
                    except RunStopped:
                        self._finish_failed(current.row, NOT_SENT, self._not_sent(), current.cells)
                    except OutcomeUnknown as exc:
                        self._finish_failed(current.row, "OutcomeUnknown", str(exc), current.cells)
            finally:
                del self.busy[job.key]

    def _not_sent(self) -> str:
        assert self.fatal is not None
        return f"not sent: the run stopped ({self.fatal.answer.error_type})"

    def _finish(self, result: RowResult) -> None:
        if result.status == SUCCEEDED:
            self.journal.succeeded(
                result.row,
                result.cells,
                result.activity_id,
                result.lead_id,
                result.possible_duplicate,
            )
            self.summary.rows += 1
            self.summary.succeeded += 1
            self.results.succeeded(
                result.row,
                result.activity_id,
                result.lead_id,
                result.cells,
                result.possible_duplicate,
            )
            self._advance(True)
        else:
            self._finish_failed(result.row, result.error_type, result.error, result.cells)

    def _finish_failed(self, row: int, error_type: str, message: str, cells: list[str]) -> None:
        self.journal.failed(row, cells, error_type, message)
        self.summary.rows += 1
        self.summary.failed += 1
        if error_type == NOT_SENT:
            self.summary.not_sent += 1
        self.results.failed(row, error_type, message, cells)
        self._advance(False)

    def _advance(self, succeeded: bool) -> None:
        self.progress.advance(succeeded, self.summary.failed, self.summary.counters.throttles)


def _utc(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _next_mapped(chunks: Iterator, plan: Plan, done: set[int]) -> MappedChunk | None:
    """The next chunk, mapped; one whose rows are all done is passed over unmapped."""
    for chunk in chunks:
        rows = [*chunk.rows, *(bad.row for bad in chunk.bad)]
        if done and rows and all(row in done for row in rows):
            continue
        return plan.map_chunk(chunk)
    return None


def _count_rows(source: Source) -> int:
    return sum(len(chunk) + len(chunk.bad) for chunk in source.chunks())


def _hashes(input_path: Path, mapping_path: Path) -> dict[str, str]:
    def sha256(path: Path) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    return {"input_sha256": sha256(input_path), "mapping_sha256": sha256(mapping_path)}
