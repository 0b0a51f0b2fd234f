"""Files safe: the tests that need the real command line
(the rest are in tests/unit/test_files_safe.py)."""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.e2e.test_resume import read, write_inputs
from tests.unit.test_files_safe import (
    RUN_FILES,
    command_line,
    contents,
    env_of,
    fix_failures,
    journal_meta,
    modes_under,
    outcome,
    run_args,
    run_with_umask,
)


@pytest.fixture
def namespace(tmp_path: Path):
    """Runs a shell script as root of a user and mount namespace of its own, where it can mount
    a tmpfs; skips the test where the machine does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) on this machine: cannot mount a small or read-only folder")
    probe = tmp_path / "probe"
    probe.mkdir()
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {probe} && mount -o remount,size=128k {probe} "
        f"&& mount -o remount,ro {probe}"
    )
    tried = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if tried.returncode != 0:
        pytest.skip(
            "this machine does not let an unprivileged namespace mount a tmpfs "
            f"({tried.stderr.strip() or tried.returncode})"
        )

    def run(script: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,  # a run that hangs fails the test here
        )

    return run


@pytest.fixture
def sandbox() -> Iterator:
    with serve_in_thread(SandboxConfig(rate_limit=200, rate_window=1.0, seed=12)) as running:
        yield running


def test_failures_csv_resent_in_place_with_fresh(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)  # 5 good rows and one bad email (row 7)
    out = tmp_path / "out"
    env = env_of(sandbox)
    first = run_cli(*run_args(data, mapping, out), env=env)
    assert first.returncode == 1, first.stderr
    assert fix_failures(out / "failures.csv") == ["7"]
    before = contents(out)
    sent = sandbox.state.counters["calls:CreateCustom"]

    again = run_cli(*run_args(out / "failures.csv", mapping, out, "--fresh"), env=env)

    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert sandbox.state.counters["calls:CreateCustom"] == sent + 1  # the fixed row, once
    assert [a.note for a in sandbox.state.activities].count("note bad") == 1
    assert [line["_row"] for line in read(out / "success.csv")] == ["7"]
    assert read(out / "failures.csv") == []
    [aside] = (out / "earlier").iterdir()
    assert contents(aside) == before  # every file of the earlier run, byte for byte
    # the new run reads (and names, for resume and retry) the input where it now is
    assert journal_meta(out)["input"] == str((aside / "failures.csv").resolve())


def test_a_failures_csv_fixed_in_place_survives_a_resume_of_the_run(tmp_path: Path, sandbox):
    """The person fixes rows in out/failures.csv, then runs the original command again: the
    resume rebuilds the results from the journal, and their edits are kept aside, not lost."""
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "out"
    env = env_of(sandbox)
    assert run_cli(*run_args(data, mapping, out), env=env).returncode == 1
    unchanged = run_cli(*run_args(data, mapping, out), env=env)  # nothing edited: nothing moved
    assert unchanged.returncode == 1, unchanged.stderr
    assert not (out / "earlier").exists()
    fix_failures(out / "failures.csv")
    edited = (out / "failures.csv").read_bytes()
    sent = sandbox.state.counters["calls:CreateCustom"]

    loud = [arg for arg in run_args(data, mapping, out) if arg != "--quiet"]
    resumed = run_cli(*loud, env=env)

    assert resumed.returncode == 1, resumed.stderr  # the run's own row 7 still failed
    assert sandbox.state.counters["calls:CreateCustom"] == sent  # nothing sent again
    [aside] = (out / "earlier").iterdir()
    assert (aside / "failures.csv").read_bytes() == edited
    assert "failures.csv changed since the run wrote it" in resumed.stderr
    assert [line["_row"] for line in read(out / "failures.csv")] == ["7"]
    assert len(read(out / "success.csv")) == 5


def test_failures_csv_given_back_without_fresh_is_refused_with_the_fix(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "out"
    env = env_of(sandbox)
    run_cli(*run_args(data, mapping, out), env=env)
    fix_failures(out / "failures.csv")
    before = contents(out)
    sent = sandbox.state.counters["requests"]

    refused = run_cli(*run_args(out / "failures.csv", mapping, out), env=env)

    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"{out / 'failures.csv'} is the failures.csv of the run in {out}" in message
    assert "add --fresh" in message and "give another --out" in message
    assert f"lsq-import retry {out}" in message
    assert "in the mapping" not in message  # it is about INPUT, not the mapping
    assert contents(out) == before  # nothing touched
    assert not (out / "earlier").exists()
    assert sandbox.state.counters["requests"] == sent  # not even the pre-flight

    # the fix the message names works, and a stop after it says how to resume
    fixed = run_cli(*run_args(out / "failures.csv", mapping, out, "--fresh"), env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert [line["_row"] for line in read(out / "success.csv")] == ["7"]


def test_a_fresh_run_in_place_stopped_early_says_how_to_resume_it(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "out"
    env = env_of(sandbox)
    run_cli(*run_args(data, mapping, out), env=env)
    fix_failures(out / "failures.csv")
    with open(out / "failures.csv", "a", encoding="utf-8", newline="") as handle:
        handle.write(
            "8,InvalidValue,x,more@example.com,M,note more,01/03/2026 11:00,Skyline Towers\r\n"
        )
    stopped = run_cli(
        *run_args(out / "failures.csv", mapping, out, "--fresh", "--max-rows", "1"), env=env
    )
    assert stopped.returncode == 4, stopped.stderr
    [aside] = (out / "earlier").iterdir()
    hint = f"run the same command again without --fresh, with {aside / 'failures.csv'} as INPUT"
    assert hint in " ".join(stopped.stderr.split())
    resumed = run_cli(*run_args(aside / "failures.csv", mapping, out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(line["_row"] for line in read(out / "success.csv")) == ["7", "8"]
    assert [a.note for a in sandbox.state.activities].count("note more") == 1


def test_a_run_resumed_from_another_input_names_its_own(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "out"
    env = env_of(sandbox)
    run_cli(*run_args(data, mapping, out), env=env)
    other = tmp_path / "other.csv"
    other.write_text(data.read_text("utf-8") + "late@example.com,L,late,01/03/2026 11:00,X\n")
    refused = run_cli(*run_args(other, mapping, out), env=env)
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert f"To resume that run, give it its own input again ({data.resolve()})" in message
    assert f"the earlier run's files are moved into {out / 'earlier'}/" in message


def test_validate_onto_a_run_folder_leaves_its_failures_csv_alone(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "out"
    run_cli(*run_args(data, mapping, out), env=env_of(sandbox))
    before = contents(out)
    for input_file in (data, out / "failures.csv"):
        refused = run_cli("validate", input_file, "-m", mapping, "--out", out)
        assert refused.returncode == 2, refused.stdout
        assert "Traceback" not in refused.stderr
        message = " ".join(refused.stderr.split())
        assert f"{out} is the folder of an lsq-import run" in message
        assert f"--out {tmp_path / 'out-validated'}" in message
    assert contents(out) == before


def test_validate_never_writes_over_its_input_and_a_run_moves_its_file_aside(
    tmp_path: Path, sandbox
):
    data, mapping = write_inputs(tmp_path, 5)
    checked = tmp_path / "checked"
    first = run_cli("validate", data, "-m", mapping, "--out", checked)
    assert first.returncode == 1  # the bad email
    fix_failures(checked / "failures.csv")
    fixed = (checked / "failures.csv").read_bytes()

    refused = run_cli("validate", checked / "failures.csv", "-m", mapping, "--out", checked)
    assert refused.returncode == 2
    assert "validate never writes over its input: give another --out" in " ".join(
        refused.stderr.split()
    )
    assert (checked / "failures.csv").read_bytes() == fixed

    # a run in validate's folder (no journal there) without --fresh: the file is moved, read
    sent = run_cli(*run_args(checked / "failures.csv", mapping, checked), env=env_of(sandbox))
    assert sent.returncode == 0, sent.stderr
    [aside] = (checked / "earlier").iterdir()
    assert (aside / "failures.csv").read_bytes() == fixed
    assert [line["_row"] for line in read(checked / "success.csv")] == ["7"]


def test_a_full_disk_stops_the_run_and_the_same_command_resumes_once_there_is_room(
    tmp_path: Path, sandbox, namespace
):
    rows = 300
    data, mapping = write_inputs(tmp_path, rows)
    disk, record = tmp_path / "disk", tmp_path / "record"
    disk.mkdir()
    record.mkdir()
    out = disk / "out"
    args = run_args(data, mapping, out)
    script = "\n".join(
        [
            "set -u",
            f"mount -t tmpfs -o size=320k tmpfs {disk} || exit 90",
            command_line(args, "full", record),
            f"mount -o remount,size=64m {disk} || exit 91",  # room again
            command_line(args, "again", record),
            f"cp -r {out} {record / 'out'}",
        ]
    )
    done = namespace(script, env_of(sandbox), timeout=300)
    assert done.returncode == 0, done.stderr

    code, stderr = outcome(record, "full")
    message = " ".join(stderr.split())
    assert code == 74, stderr
    assert "Traceback" not in stderr
    assert f"in {out}:" in message or f"in {out} " in message, message  # the folder
    assert "No space left on device" in message or "database or disk is full" in message
    assert "then run the same command again" in message

    code, stderr = outcome(record, "again")
    assert code == 1, stderr  # the one bad row: every other row is in
    assert "in use by another lsq-import run" not in stderr  # the lock went with the first
    notes = Counter(a.note for a in sandbox.state.activities)
    assert notes == Counter({f"note {i}": 1 for i in range(rows)})  # each exactly once
    success = read(record / "out" / "success.csv")
    assert sorted(int(line["_row"]) for line in success) == list(range(2, rows + 2))
    assert {line["_activity_id"] for line in success} == {a.id for a in sandbox.state.activities}


def test_a_read_only_folder_is_refused_before_any_call(tmp_path: Path, sandbox, namespace):
    data, mapping = write_inputs(tmp_path, 5)
    disk, record = tmp_path / "disk", tmp_path / "record"
    disk.mkdir()
    record.mkdir()
    out = disk / "out"
    script = "\n".join(
        [
            "set -u",
            f"mount -t tmpfs -o size=1m tmpfs {disk} && mkdir {out} || exit 90",
            f"mount -o remount,ro {disk} || exit 91",
            command_line(run_args(data, mapping, out), "run", record),
            command_line(
                ["validate", str(data), "-m", str(mapping), "--out", str(out)], "v", record
            ),
        ]
    )
    done = namespace(script, env_of(sandbox), timeout=120)
    assert done.returncode == 0, done.stderr
    assert sandbox.state.counters["requests"] == 0  # not one call, pre-flight included
    for name in ("run", "v"):
        code, stderr = outcome(record, name)
        message = " ".join(stderr.split())
        assert code == 2, stderr
        assert "Traceback" not in stderr
        assert f"--out: cannot write in {out} (Read-only file system): give another --out" in (
            message
        )


def test_a_run_folder_made_read_only_is_refused_by_retry_and_resume(
    tmp_path: Path, sandbox, namespace
):
    data, mapping = write_inputs(tmp_path, 5)
    disk, record = tmp_path / "disk", tmp_path / "record"
    disk.mkdir()
    record.mkdir()
    out = disk / "out"
    script = "\n".join(
        [
            "set -u",
            f"mount -t tmpfs -o size=4m tmpfs {disk} || exit 90",
            command_line(run_args(data, mapping, out), "first", record),
            f"mount -o remount,ro {disk} || exit 91",
            command_line(["retry", str(out), "--quiet"], "retry", record),
            command_line(run_args(data, mapping, out), "resume", record),
        ]
    )
    done = namespace(script, env_of(sandbox), timeout=120)
    assert done.returncode == 0, done.stderr
    assert outcome(record, "first")[0] == 1  # the bad row failed; the rest went in
    sent = sandbox.state.counters["calls:CreateCustom"]
    assert sent == 5
    for name in ("retry", "resume"):
        code, stderr = outcome(record, name)
        assert code == 2, stderr
        assert "Traceback" not in stderr
        assert "Read-only file system" in " ".join(stderr.split()) or "readonly" in stderr
    assert sandbox.state.counters["calls:CreateCustom"] == sent  # nothing sent again


def test_the_call_log_is_never_a_file_that_holds_something_else(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    env = env_of(sandbox)
    done = tmp_path / "done"
    assert run_cli(*run_args(data, mapping, done), env=env).returncode == 1
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    out = tmp_path / "out"
    sent = sandbox.state.counters["calls:CreateCustom"]
    for log, why in [
        (mapping, "is the mapping"),
        (done / "failures.csv", "is a run's failures.csv, not a call log"),
        (done / "journal.sqlite", "is a run's journal.sqlite, not a call log"),
        (out / "success.csv", "is a run's success.csv, not a call log"),
        (notes, "holds something else than a call log"),
    ]:
        kept = {p: p.read_bytes() for p in (mapping, notes, *done.iterdir()) if p.is_file()}
        refused = run_cli(*run_args(data, mapping, out, "--log", log), env=env)
        assert refused.returncode == 2, (log, refused.stderr)
        assert why in " ".join(refused.stderr.split()), refused.stderr
        assert {p: p.read_bytes() for p in kept} == kept
    assert sandbox.state.counters["calls:CreateCustom"] == sent
    # a call log of its own, or an earlier one, is taken
    log = tmp_path / "calls.jsonl"
    assert run_cli(*run_args(data, mapping, out, "--log", log), env=env).returncode == 1
    assert run_cli(*run_args(data, mapping, out, "--log", log), env=env).returncode == 1


def test_a_link_planted_where_a_result_goes_is_not_followed(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n", encoding="utf-8")
    precious.chmod(0o644)
    out = tmp_path / "v"
    out.mkdir()
    (out / "failures.csv").symlink_to(precious)
    checked = run_cli("validate", data, "-m", mapping, "--out", out, env=env_of(sandbox))
    assert "Traceback" not in checked.stderr
    assert checked.returncode != 0
    assert precious.read_text(encoding="utf-8") == "keep me\n"
    assert stat.S_IMODE(precious.stat().st_mode) == 0o644  # not made 0600 either


def test_folders_made_for_the_run_are_the_owners_only(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out = tmp_path / "a" / "b" / "out"
    log = tmp_path / "logs" / "deep" / "calls.jsonl"
    args = run_args(data, mapping, out, "--log", log)
    done = subprocess.run(
        [
            "sh",
            "-c",
            "umask 000; exec "
            + " ".join(map(shlex.quote, [sys.executable, "-m", "importer", *args])),
        ],
        env=env_of(sandbox),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    for folder in (tmp_path / "a", tmp_path / "a" / "b", out, tmp_path / "logs", log.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_folder_removed_under_the_run_stops_it(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 300)
    out = tmp_path / "out"
    config = SandboxConfig(rate_limit=50, rate_window=1.0, latency=0.05, seed=3)
    with serve_in_thread(config) as slow:
        process = subprocess.Popen(
            [sys.executable, "-m", "importer", *run_args(data, mapping, out, "--rate", "50/1s")],
            env=env_of(slow),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while slow.state.counters["calls:CreateCustom"] < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            shutil.rmtree(out)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        sent = slow.state.counters["calls:CreateCustom"]
    assert process.returncode == 74, stderr
    assert "Traceback" not in stderr
    assert f"in {out}: No such file or directory" in " ".join(stderr.split())
    assert sent < 300  # it stopped; it did not send the rest into a folder that is gone


def test_everything_under_out_is_the_owners_only_under_umask_022(tmp_path: Path, sandbox):
    data, mapping = write_inputs(tmp_path, 5)
    out, logs, checked = tmp_path / "out", tmp_path / "logs", tmp_path / "checked"
    env = env_of(sandbox)
    first = run_with_umask(run_args(data, mapping, out), env)
    assert first.returncode == 1, first.stderr
    assert {p.name for p in out.iterdir()} >= RUN_FILES | {".lock"}
    assert modes_under(out) == {}
    # files an older version left open to all are closed down when the run goes on
    for name in ("journal.sqlite", "success.csv", "calls.jsonl", "summary.json", ".lock"):
        (out / name).chmod(0o644)
    resumed = run_with_umask(run_args(data, mapping, out), env)
    assert resumed.returncode == 1, resumed.stderr
    assert modes_under(out) == {}
    # a fresh run: the earlier run's folder; and a call log elsewhere
    fresh = run_with_umask(run_args(data, mapping, out, "--fresh", "--log", logs / "c.jsonl"), env)
    assert fresh.returncode == 1, fresh.stderr
    assert (out / "earlier").is_dir()
    assert modes_under(out) == {}
    assert modes_under(logs) == {}
    validated = run_with_umask(["validate", data, "-m", mapping, "--out", checked], env)
    assert validated.returncode == 1
    assert modes_under(checked) == {}
