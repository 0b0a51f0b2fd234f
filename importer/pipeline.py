"""The import: read and map rows, deliver them through a pool of workers, write every result.

``run_import`` checks the mapping against the file before anything is sent, then streams: a
producer reads and maps chunks in a thread and feeds a bounded queue (memory stays bounded on
any file size); workers take rows from it. Rows that share a SearchBy value are never in flight
together and go in file order: a worker that finds the key busy leaves the row with the worker
that holds it. Rows that fail to map go to ``failures.csv`` without a call.
"""

from __future__ import annotations

import asyncio
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
) -> RunSummary:
    """Import every row of a file; results go to ``out_dir`` as rows finish.

    Raises ConfigError or SourceError before anything is sent."""
    options = options or RunOptions()
    progress = progress or SilentProgress()
    out_dir = Path(out_dir)
    source, plan = open_input(input_path, mapping)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    total = await asyncio.to_thread(_count_rows, source)
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
            run = _Run(
                plan, Delivery(client, options.policy, summary.counters), results, summary, progress
            )
            await run.go(source, workers)
    finally:
        results.close()
        progress.close()
        summary.elapsed = time.monotonic() - started
        summary.failed_by_type = dict(results.failed_by_type)
        summary.possible_duplicates = sorted(results.possible_duplicates)
        hashes = await asyncio.to_thread(_hashes, Path(input_path), Path(mapping_path))
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


class _Run:
    def __init__(
        self,
        plan: Plan,
        delivery: Delivery,
        results: RunResults,
        summary: RunSummary,
        progress: Progress,
    ) -> None:
        self.plan = plan
        self.delivery = delivery
        self.results = results
        self.summary = summary
        self.progress = progress
        self.busy: dict[tuple[str, str], deque[RowJob]] = {}
        self.fatal: FatalError | None = None

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
        while (mapped := await asyncio.to_thread(_next_mapped, chunks, self.plan)) is not None:
            self.summary.blank += mapped.blank
            for row, error_type, message, cells in mapped.failures():
                self._finish_failed(row, error_type, message, cells)
            for position in mapped.good():
                cells = mapped.chunk.record(position)
                if self.fatal is not None:
                    self._finish_failed(mapped.rows[position], NOT_SENT, self._not_sent(), cells)
                    continue
                job = RowJob(
                    mapped.rows[position],
                    self.plan.payload(mapped, position),
                    cells,
                    self.plan.mapping.lead.search_by,
                    mapped.values[search_path][position].as_py(),
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
        self.summary.rows += 1
        self.summary.failed += 1
        if error_type == NOT_SENT:
            self.summary.not_sent += 1
        self.results.failed(row, error_type, message, cells)
        self._advance(False)

    def _advance(self, succeeded: bool) -> None:
        self.progress.advance(succeeded, self.summary.failed, self.summary.counters.throttles)


def _next_mapped(chunks: Iterator, plan: Plan) -> MappedChunk | None:
    chunk = next(chunks, None)
    return None if chunk is None else plan.map_chunk(chunk)


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
