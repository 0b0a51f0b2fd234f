"""Outage: the tests that need the real command line
(the rest are in tests/unit/test_outage.py)."""

from __future__ import annotations

import json
from pathlib import Path

from importer.sandbox import SandboxConfig
from tests.conftest import run_cli
from tests.e2e.test_resume import write_inputs
from tests.unit.test_account import env_for
from tests.unit.test_outage import (
    _env,
    free_port,
)


def test_a_host_that_never_answers_stops_the_run_at_once(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 6)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with_check = run_cli(
        "run", data, "-m", mapping, "--out", tmp_path / "out", env=_env(dead), cwd=tmp_path
    )
    assert with_check.returncode == 2, with_check.stderr
    assert f"{dead} did not answer (ClientConnectorError" in with_check.stderr
    assert "Check the host (--host, --region, LSQ_HOST) and the network" in with_check.stderr
    assert "--no-check-account" not in with_check.stderr
    unchecked = run_cli(
        "run",
        data,
        "-m",
        mapping,
        "--out",
        tmp_path / "out",
        "--no-check-account",
        env=_env(dead),
        cwd=tmp_path,
    )
    assert unchecked.returncode == 3, unchecked.stderr
    assert f"Stopped: {dead} did not answer" in unchecked.stderr
    log = [
        json.loads(line)
        for line in (tmp_path / "out" / "calls.jsonl").read_text("utf-8").splitlines()
    ]
    creates = [r for r in log if r.get("call") == "CreateCustom"]
    assert len(creates) == 2  # two calls find out, not a pool's worth or six per row
    summary = json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))
    assert summary["succeeded"] == 0
    # the next run, with the host up, sends every row (the bad one aside)
    from importer.sandbox import serve_in_thread

    with serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0)) as box:
        again = run_cli(
            "run",
            data,
            "-m",
            mapping,
            "--out",
            tmp_path / "out",
            "--rate",
            "1000/1s",
            env=env_for(box),
            cwd=tmp_path,
        )
        created = box.state.counters["activities_created"]
    assert again.returncode == 1, again.stderr  # write_inputs' one bad email
    assert created == 6
    assert json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))["succeeded"] == 6
