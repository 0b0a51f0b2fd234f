"""Stopping a run on purpose: Ctrl-C and SIGTERM (graceful, then at once), --max-rows across
runs, ``retry DIR``, and the call log. Judged by the sandbox's own records and the run folder."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.e2e.test_resume import command, read, write_inputs


def sandbox_env(sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "LSQ_HOST": sandbox.url,
        "LSQ_ACCESS_KEY": sandbox.access_key,
        "LSQ_SECRET_KEY": sandbox.secret_key,
        "PYTHONPATH": str(ROOT),
    }


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def journal_states(out: Path) -> Counter:
    with closing(sqlite3.connect(out / "journal.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return Counter(
            state if state != "failed" else f"failed:{kind}"
            for state, kind in db.execute("SELECT state, error_type FROM rows")
        )


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def interrupt(data: Path, mapping: Path, out: Path, env: dict, sandbox, *signals: int, timeout=2):
    """Start the real command, wait until calls are in flight, send the signals; its result."""
    process = subprocess.Popen(
        command(data, mapping, out, timeout=timeout, quiet=False),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: sandbox.state.counters["calls:CreateCustom"] >= 6, "calls to arrive")
        for number in signals:
            process.send_signal(number)
            time.sleep(0.3)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout, stderr


def assert_resumed_exactly_once(data, mapping, out, env, sandbox, rows: int, timeout=2) -> str:
    final = subprocess.run(
        command(data, mapping, out, timeout=timeout, quiet=False),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert final.returncode == 1, final.stderr  # the one bad row
    notes = Counter(a.note for a in sandbox.state.activities)
    assert notes == Counter({f"note {i}": 1 for i in range(rows)})
    success = read(out / "success.csv")
    assert sorted(int(s["_row"]) for s in success) == list(range(2, rows + 2))
    assert [f["_row"] for f in read(out / "failures.csv")] == [str(rows + 2)]
    return final.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_one_signal_lets_calls_in_flight_finish_then_resume_finishes(tmp_path, signum, code):
    rows = 40
    data, mapping = write_inputs(tmp_path, rows)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=40, rate_window=1.0, latency=0.8, latency_sigma=0.1, seed=3)
    with serve_in_thread(config) as sandbox:
        env = sandbox_env(sandbox)
        returncode, stdout, stderr = interrupt(data, mapping, out, env, sandbox, signum)
        landed = len(sandbox.state.activities)
        name = signal.Signals(signum).name
        assert returncode == code, stderr
        assert "stopping: no new rows are sent; waiting up to 7 s for the" in stderr
        assert "calls in flight to finish. Press Ctrl-C again to stop at once" in stderr
        assert f"Interrupted ({name}). Every row's state is in {out}" in stderr
        assert "run the same command again to resume" in stderr
        states = journal_states(out)
        # every call that left was answered and recorded: none is left in doubt
        assert states["sending"] == 0 and states["failed:OutcomeUnknown"] == 0
        assert 0 < states["succeeded"] == landed == len(read(out / "success.csv"))
        report = summary(out)
        assert report["stop"] == name and report["exit_code"] == code
        # rows not reached are pending: neither in the journal nor in a results file
        assert report["pending"] == rows + 1 - sum(states.values()) > 0
        assert report["complete"] is False
        assert f"{report['pending']:,} not sent yet" in stdout
        resumed = assert_resumed_exactly_once(data, mapping, out, env, sandbox, rows)
    assert f"resuming: {sum(states.values())} of {rows + 1} rows already done" in resumed


def test_a_second_ctrl_c_stops_at_once_and_the_next_run_checks_what_was_in_flight(tmp_path):
    rows = 40
    data, mapping = write_inputs(tmp_path, rows)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=40, rate_window=1.0, latency=1.5, latency_sigma=0.1, seed=4)
    with serve_in_thread(config) as sandbox:
        env = sandbox_env(sandbox)
        returncode, _, stderr = interrupt(
            data, mapping, out, env, sandbox, signal.SIGINT, signal.SIGINT, timeout=4
        )
        assert returncode == 130, stderr
        assert "stopping at once" in stderr
        states = journal_states(out)  # the journal is whole: SQLite's integrity check passes
        cut = states["failed:OutcomeUnknown"]
        assert cut >= 1, states  # calls were cut off on the wire
        assert states["sending"] == 0
        failures = read(out / "failures.csv")
        unknown = [f for f in failures if f["_error_type"] == "OutcomeUnknown"]
        assert len(unknown) == cut
        assert "looks its lead up before sending it again" in unknown[0]["_error"]
        # The server finishes those calls anyway; the resumed run finds them on their leads.
        assert_resumed_exactly_once(data, mapping, out, env, sandbox, rows, timeout=4)
        journal = journal_states(out)
    assert journal["succeeded"] == rows


def test_max_rows_stops_cleanly_and_the_next_runs_continue(tmp_path: Path):
    rows = 10
    data, mapping = write_inputs(tmp_path, rows)
    out = tmp_path / "out"
    with serve_in_thread(SandboxConfig(rate_limit=100, rate_window=1.0)) as sandbox:
        env = sandbox_env(sandbox)
        args = ("run", data, "-m", mapping, "--out", out, "--rate", "100/1s")
        first = run_cli(*args, "--max-rows", "4", env=env)
        calls_first = sandbox.state.counters["calls:CreateCustom"]
        second = run_cli(*args, "--max-rows", "4", env=env)
        calls_second = sandbox.state.counters["calls:CreateCustom"] - calls_first
        last = run_cli(*args, "--max-rows", "4", env=env)
        notes = Counter(a.note for a in sandbox.state.activities)
    assert first.returncode == second.returncode == 4, first.stderr
    assert calls_first == calls_second == 4
    assert "11 rows: 4 succeeded, 0 failed; 7 not sent yet" in first.stdout
    assert "Stopped: --max-rows 4 reached. 7 rows are left" in first.stderr
    assert "resuming: 4 of 11 rows already done" in second.stderr
    assert "11 rows: 8 succeeded, 0 failed; 3 not sent yet" in second.stdout
    # the last two good rows and the bad one: the file ends before the limit
    assert last.returncode == 1, last.stderr
    assert "11 rows: 10 succeeded, 1 failed (InvalidValue 1);" in last.stdout
    assert notes == Counter({f"note {i}": 1 for i in range(rows)})
    assert summary(out)["complete"] is True


def test_retry_sends_only_the_failures_that_may_pass(tmp_path: Path):
    rows = 30
    data, mapping = write_inputs(tmp_path, rows)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=100, rate_window=1.0, fail_rate=0.3, seed=8)
    with serve_in_thread(config) as sandbox:
        env = sandbox_env(sandbox)
        first = run_cli(
            *("run", data, "-m", mapping, "--out", out, "--retries", "0", "--rate", "100/1s"),
            env=env,
        )
        failed = [f for f in read(out / "failures.csv") if f["_error_type"] == "HTTP500"]
        before = sandbox.state.counters["calls:CreateCustom"]
        sandbox.state.config.fail_rate = 0.0
        retried = run_cli("retry", out, "--rate", "100/1s", env=env, cwd=tmp_path)
        calls = sandbox.state.counters["calls:CreateCustom"] - before
        again = run_cli("retry", out, "--rate", "100/1s", env=env, cwd=tmp_path)
        notes = Counter(a.note for a in sandbox.state.activities)
    assert first.returncode == 1 and len(failed) >= 3, first.stdout
    assert calls == len(failed)  # the rejected row is not sent again
    assert retried.returncode == 1, retried.stderr
    assert f"resuming: {rows + 1 - len(failed)} of {rows + 1} rows already done" in retried.stderr
    assert [f["_error_type"] for f in read(out / "failures.csv")] == ["InvalidValue"]
    assert len(read(out / "success.csv")) == rows
    assert notes == Counter({f"note {i}": 1 for i in range(rows)})
    assert "4 calls" in again.stdout  # the account's metadata only: nothing left that may pass


def test_retry_names_what_is_missing(tmp_path: Path):
    empty = run_cli("retry", tmp_path)
    assert empty.returncode == 2
    assert f"{tmp_path} holds no run: it has no journal.sqlite" in empty.stderr
    assert "Traceback" not in empty.stderr


def test_the_call_log_has_every_call_and_no_secret(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 6)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=100, rate_window=1.0)
    with serve_in_thread(config) as sandbox:
        env = sandbox_env(sandbox)
        fast = ("--rate", "100/1s")
        plain = run_cli("run", data, "-m", mapping, "--out", out, *fast, env=env)
        full = run_cli(
            "run", data, "-m", mapping, "--out", tmp_path / "o2", "--log-payloads", *fast, env=env
        )
        keys = (sandbox.access_key, sandbox.secret_key)
    assert plain.returncode == full.returncode == 1
    text = (out / "calls.jsonl").read_text(encoding="utf-8")
    assert not any(key in text for key in keys)
    lines = [json.loads(line) for line in text.splitlines()]
    # the pre-flight's four metadata calls come first, then the run's own
    assert [line["event"] for line in lines] == ["call"] * 4 + ["run"] + ["call"] * 6 + ["summary"]
    assert {line["outcome"] for line in lines[:4]} == {"success"}
    calls = lines[5:-1]
    assert sorted(c["row"] for c in calls) == list(range(2, 8))
    for call in calls:
        assert call["call"] == "CreateCustom" and call["status"] == 200
        assert call["outcome"] == "success" and call["activity_id"] and call["lead_id"]
        assert "payload" not in call and "@example.com" not in json.dumps(call)
    assert lines[-1]["succeeded"] == 6 and lines[-1]["exit_code"] == 1
    logged = [
        json.loads(line)
        for line in (tmp_path / "o2" / "calls.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert logged[5]["payload"]["LeadDetails"][0]["Attribute"] == "EmailAddress"


def test_a_second_run_in_the_same_folder_is_refused_while_the_first_runs(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 300)  # 8 s at 40/1s
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=40, rate_window=1.0, latency=0.5, latency_sigma=0.1, seed=9)
    with serve_in_thread(config) as sandbox:
        env = sandbox_env(sandbox)
        first = subprocess.Popen(
            command(data, mapping, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            wait_for(lambda: sandbox.state.counters["calls:CreateCustom"] >= 3, "the first run")
            second = subprocess.run(
                command(data, mapping, out), env=env, capture_output=True, text=True, timeout=60
            )
            first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
        notes = Counter(a.note for a in sandbox.state.activities)
    assert second.returncode == 2
    assert f"--out: {out} is in use by another lsq-import run (pid {first.pid}, since" in (
        second.stderr
    )
    assert first.returncode == 1  # the one bad row
    assert notes == Counter({f"note {i}": 1 for i in range(300)})
