"""The import against the sandbox, in compressed time: every kind of answer, every fault, and
the sandbox's own records as the judge of what landed."""

from __future__ import annotations

import asyncio
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from importer.outputs.progress import SilentProgress
from importer.pipeline.request import RunOptions, RunRequest
from importer.pipeline.runner import run_import
from importer.pipeline.summary import RunSummary
from importer.sandbox import SandboxConfig, serve
from importer.sending.connection import Connection
from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate

MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    FirstName: Name
activity:
  event: 201
  note: Note
  datetime: {column: When, format: "%d/%m/%Y %H:%M"}
  fields:
    mx_Custom_1: Project
"""
GENEROUS = Rate(1000, 1.0)
FAST = RetryPolicy(transient_retries=8, backoff_base=0.02, backoff_cap=0.2, settle=0.5)


def rows(count: int, start: int = 0) -> list[list[str]]:
    return [
        [
            f"user{i}@example.com",
            f"Name {i}",
            f"note {i}",
            f"01/03/2026 {i // 60 % 24:02d}:{i % 60:02d}",
            "Skyline Towers",
        ]
        for i in range(start, start + count)
    ]


def write_input(path: Path, data: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Note", "When", "Project"])
        writer.writerows(data)
    return path


def read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


class Outcome:
    def __init__(self, summary: RunSummary, state: dict[str, Any], out: Path, notes: list[str]):
        self.summary = summary
        self.state = state
        self.out = out
        self.notes = notes
        self.success = read(out / "success.csv")
        self.failures = read(out / "failures.csv")
        self.json = json.loads((out / "summary.json").read_text("utf-8"))

    def activities_per_row(self) -> Counter[str]:
        return Counter(a["ActivityNote"] for a in self.state["activities"])


async def run_against(
    tmp_path: Path,
    data: list[list[str]],
    sandbox: SandboxConfig,
    *,
    mapping: str = MAPPING,
    rate: Rate = GENEROUS,
    timeout: float = 5.0,
    policy: RetryPolicy = FAST,
    keys: tuple[str, str] | None = None,
    alongside: Any = None,
) -> Outcome:
    source = write_input(tmp_path / "in.csv", data)
    mapping_path = tmp_path / "m.yaml"
    mapping_path.write_text(mapping, encoding="utf-8")
    progress = SilentProgress()
    async with serve(sandbox) as running:
        access, secret = keys or (running.access_key, running.secret_key)
        connection = Connection(running.url, access, secret)
        # what the server answers is under test here: no pre-flight to catch it first
        options = RunOptions(
            rate=rate, timeout=timeout, policy=policy, margin=0.02, check_account=False
        )
        task = asyncio.create_task(alongside(running)) if alongside else None
        summary = await run_import(
            RunRequest(source, mapping_path, tmp_path / "out", connection, options),
            progress=progress,
        )
        if task is not None:
            task.cancel()
        await asyncio.sleep(0)
        state = running.state.snapshot()
    return Outcome(summary, state, tmp_path / "out", progress.notes)


def sandbox(**changes: Any) -> SandboxConfig:
    return SandboxConfig(**{"seed": 11, "rate_limit": 1000, "rate_window": 1.0, **changes})


def test_worker_count_covers_latency():
    assert RunOptions(rate=Rate(25, 5.0)).worker_count() == 17
    assert RunOptions(rate=Rate(25, 1.0)).worker_count() == 77
    assert RunOptions(rate=Rate(2, 5.0)).worker_count() == 4
    assert RunOptions(workers=3).worker_count() == 3
