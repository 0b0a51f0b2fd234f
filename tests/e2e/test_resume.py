"""Crash safety: kill the real command at random moments, resume it, and judge by the sandbox's
own records that every row's activity exists exactly once and every row has a result."""

from __future__ import annotations

import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.unit.test_run import MAPPING


def write_inputs(folder: Path, count: int) -> tuple[Path, Path]:
    data = folder / "in.csv"
    with open(data, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Note", "When", "Project"])
        for i in range(count):
            writer.writerow(
                [
                    f"user{i}@example.com",
                    f"Name {i}",
                    f"note {i}",
                    f"01/03/2026 {i // 60 % 24:02d}:{i % 60:02d}",
                    "Skyline Towers",
                ]
            )
        writer.writerow(["bad-email", "x", "note bad", "01/03/2026 10:00", "Skyline Towers"])
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def command(
    data: Path, mapping: Path, out: Path, *extra: str, timeout: float = 2, quiet: bool = True
) -> list[str]:
    """The real command at a compressed rate; ``quiet`` silences the notes on stderr."""
    return [
        *(sys.executable, "-m", "importer", "run", str(data), "-m", str(mapping)),
        *("--out", str(out), "--rate", "40/1s", "--timeout", str(timeout)),
        *(["--quiet"] if quiet else []),
        *extra,
    ]


def in_flight_rows(out: Path) -> int:
    """Rows the journal shows as sent with no answer yet."""
    journal = out / "journal.sqlite"
    if not journal.exists():
        return 0
    with closing(sqlite3.connect(journal)) as db:
        return db.execute("SELECT count(*) FROM rows WHERE state = 'sending'").fetchone()[0]


def read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_killed_again_and_again_then_resumed_every_row_lands_exactly_once(tmp_path: Path):
    rows = 80
    data, mapping = write_inputs(tmp_path, rows)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=40, rate_window=1.0, latency=0.05, drop_rate=0.1, seed=5)
    rng = random.Random(2026)
    with serve_in_thread(config) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
            "PYTHONPATH": str(ROOT),
        }
        kills = in_flight = 0
        for _ in range(4):
            sent = sandbox.state.counters["calls:CreateCustom"]
            process = subprocess.Popen(
                command(data, mapping, out),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            # a random moment once this run is sending (start-up time varies with the load)
            deadline = time.monotonic() + 60
            while (
                sandbox.state.counters["calls:CreateCustom"] < sent + 3
                and process.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=30)
            in_flight += in_flight_rows(out)
        final = subprocess.run(
            command(data, mapping, out),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        activities = list(sandbox.state.activities)
    assert kills >= 2, "the runs finished before they could be killed"
    assert in_flight >= 1, "no kill caught a call in flight: the check-first path was not used"
    assert final.returncode == 1, final.stderr  # the one bad row
    notes = Counter(a.note for a in activities)
    assert notes == Counter({f"note {i}": 1 for i in range(rows)})  # each exactly once
    success, failures = read(out / "success.csv"), read(out / "failures.csv")
    assert sorted(int(s["_row"]) for s in success) == list(range(2, rows + 2))
    assert [f["_row"] for f in failures] == [str(rows + 2)]
    ids = {a.id for a in activities}
    assert {s["_activity_id"] for s in success} == ids


def test_a_finished_run_resumed_sends_nothing(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 10)
    config = SandboxConfig(rate_limit=100, rate_window=1.0)
    with serve_in_thread(config) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
        }
        first = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        again = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        calls = sandbox.state.counters["calls:CreateCustom"]
    assert first.returncode == again.returncode == 1
    assert "resuming: 11 of 11 rows already done" in again.stderr
    # the second run reads the account (4 calls) and sends no row
    assert "11 rows: 10 succeeded, 1 failed (InvalidValue 1); 4 calls" in again.stdout
    assert calls == 10
    assert len(read(tmp_path / "out" / "success.csv")) == 10


def test_a_changed_input_is_refused_unless_fresh(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 5)
    config = SandboxConfig(rate_limit=100, rate_window=1.0)
    with serve_in_thread(config) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
        }
        run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        with open(data, "a", encoding="utf-8") as handle:
            handle.write("late@example.com,Late,note late,01/03/2026 11:00,Skyline Towers\n")
        refused = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        fresh = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", "--fresh", env=env)
    assert refused.returncode == 2
    assert "the input file changed since, and resuming would mix two imports" in refused.stderr
    assert "Add --fresh" in refused.stderr
    assert fresh.returncode == 1
    assert "7 rows: 6 succeeded" in fresh.stdout
