"""Files safe: the tests that need the sandbox server
(the rest are in tests/unit/test_files_safe.py)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

import importer.outdir
import importer.outputs.results
from importer.pipeline.summary import OUTPUT
from importer.sandbox import SandboxConfig, serve
from tests.e2e.test_resume import read, write_inputs
from tests.unit.test_files_safe import (
    filling,
    import_into,
)


async def test_a_results_file_that_fills_up_stops_the_run_and_resuming_rebuilds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    data, mapping = write_inputs(tmp_path, 60)
    out = tmp_path / "out"
    real = importer.outputs.results.open_private
    async with serve(SandboxConfig(rate_limit=1000, rate_window=1.0, seed=4)) as running:
        monkeypatch.setattr(
            importer.outputs.results, "open_private", filling(real, "success.csv", lambda: 10)
        )
        full = await import_into(out, data, mapping, running)
        monkeypatch.setattr(importer.outputs.results, "open_private", real)
        again = await import_into(out, data, mapping, running)
        activities = list(running.state.activities)
    assert full.stop == OUTPUT and full.exit_code == 74
    assert full.stopped == f"cannot write success.csv in {out}: No space left on device"
    assert full.pending > 0  # it stopped: the rest waits for the next run
    assert again.exit_code == 1  # the one bad row; the rest all in
    assert Counter(a.note for a in activities) == Counter({f"note {i}": 1 for i in range(60)})
    assert sorted(int(line["_row"]) for line in read(out / "success.csv")) == list(range(2, 62))


async def test_a_rebuild_that_fills_up_leaves_the_earlier_results_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A resumed run writes its results under a name of its own and puts them in place once
    they hold what the earlier ones held: a disk that fills during the copy loses nothing."""
    data, mapping = write_inputs(tmp_path, 60)
    out = tmp_path / "out"
    real = importer.outputs.results.open_private
    async with serve(SandboxConfig(rate_limit=1000, rate_window=1.0, seed=4)) as running:
        first = await import_into(out, data, mapping, running)
        before = {name: (out / name).read_bytes() for name in ("success.csv", "failures.csv")}
        monkeypatch.setattr(
            importer.outputs.results, "open_private", filling(real, "success.csv", lambda: 5)
        )
        full = await import_into(out, data, mapping, running)
        sent = running.state.counters["calls:CreateCustom"]
    assert first.exit_code == 1 and full.exit_code == 74
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not list(out.glob("*.new"))
    assert sent == 60  # the second run sent nothing


async def test_a_call_log_that_fills_up_stops_the_run_and_no_row_is_sent_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    data, mapping = write_inputs(tmp_path, 60)
    out = tmp_path / "out"
    opened = Counter[str]()
    real = importer.outdir.open_private

    def room() -> int:  # each line opens the log: the 15th line finds the disk full
        opened["log"] += 1
        return 1 if opened["log"] < 15 else 0

    async with serve(SandboxConfig(rate_limit=1000, rate_window=1.0, seed=4)) as running:
        monkeypatch.setattr(importer.outdir, "open_private", filling(real, "calls.jsonl", room))
        full = await import_into(out, data, mapping, running)
        monkeypatch.setattr(importer.outdir, "open_private", real)
        with closing(sqlite3.connect(out / "journal.sqlite")) as db:
            in_doubt = db.execute("SELECT count(*) FROM rows WHERE state = 'sending'").fetchone()
        again = await import_into(out, data, mapping, running)
        creates = running.state.counters["calls:CreateCustom"]
        activities = list(running.state.activities)
    assert full.stop == OUTPUT and full.exit_code == 74
    assert full.stopped == f"cannot write calls.jsonl in {out}: No space left on device"
    assert in_doubt[0] >= 1  # answered, but not recorded: left as sending
    assert again.exit_code == 1
    # the rows in doubt were looked up on their lead, not sent again
    assert creates == 60
    assert Counter(a.note for a in activities) == Counter({f"note {i}": 1 for i in range(60)})
