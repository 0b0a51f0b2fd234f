"""Failure kinds: the tests that need the real command line
(the rest are in tests/unit/test_failure_kinds.py)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.unit.test_failure_kinds import (
    attempts,
)
from tests.unit.test_run import MAPPING, read, rows, write_input


@pytest.mark.parametrize("again", ["run", "retry"])
def test_wrong_keys_then_the_same_command_with_the_right_ones_sends_every_row_once(
    tmp_path: Path, again: str
):
    count = 12
    data = write_input(tmp_path / "in.csv", rows(count))
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text(MAPPING, encoding="utf-8")
    out = tmp_path / "out"
    # no pre-flight: the row calls themselves meet the refusal
    command = ("run", data, "-m", mapping_file, "--out", out, "--rate", "100/1s")
    unchecked = ("--no-check-account", "--quiet")
    with serve_in_thread(SandboxConfig(rate_limit=100, rate_window=1.0, seed=12)) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": "wrong$secret",
            "PYTHONPATH": str(ROOT),
        }
        refused = run_cli(*command, *unchecked, env=env, cwd=tmp_path)
        assert refused.returncode == 3, refused.stderr
        refused_calls = sandbox.state.counters["calls:CreateCustom"]
        first_failures = read(out / "failures.csv")
        first_summary = json.loads((out / "summary.json").read_text("utf-8"))
        env["LSQ_SECRET_KEY"] = sandbox.secret_key
        if again == "run":
            fixed = run_cli(*command, *unchecked, env=env, cwd=tmp_path)
        else:
            fixed = run_cli("retry", out, "--rate", "100/1s", *unchecked, env=env, cwd=tmp_path)
        calls = sandbox.state.counters["calls:CreateCustom"] - refused_calls
        activities = list(sandbox.state.activities)

    assert "Stopped: LeadSquared refused the access key and secret key" in refused.stderr
    # the way on is said: fix the keys, run again; the summary counts what that run sends
    assert f"the {count} rows it kept from being sent are sent then" in refused.stderr
    assert first_summary["failed_retryable"] == count
    assert refused_calls == 1  # the first call finds out; the rest are never sent
    kinds = Counter(f["_error_type"] for f in first_failures)
    assert kinds == Counter({"MXInvalidUserDetailsException": 1, "NotSent": count - 1})

    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert calls == count  # every row, the refused one included, sent once more: once each
    assert Counter(a.note for a in activities) == Counter({f"note {i}": 1 for i in range(count)})
    success = read(out / "success.csv")
    assert sorted(int(line["_row"]) for line in success) == list(range(2, count + 2))
    assert {line["_activity_id"] for line in success} == {a.id for a in activities}
    assert read(out / "failures.csv") == []

    # the journal keeps both runs' attempts: the refused row has two, the others one
    (refused_row,) = [int(f["_row"]) for f in first_failures if f["_error_type"] != "NotSent"]
    history = attempts(out)
    assert history[refused_row] == [
        ("CreateCustom", "fatal", 401, "MXInvalidUserDetailsException"),
        ("CreateCustom", "success", 200, None),
    ]
    others = {row: entries for row, entries in history.items() if row != refused_row}
    assert others == {
        row: [("CreateCustom", "success", 200, None)]
        for row in range(2, count + 2)
        if row != refused_row
    }
