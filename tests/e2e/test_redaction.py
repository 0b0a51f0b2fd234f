"""Redaction: the tests that need the real command line
(the rest are in tests/unit/test_redaction.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from importer.sandbox.echo import FORMS, KINDS
from tests.conftest import run_cli
from tests.e2e.test_resume import write_inputs
from tests.unit.test_redaction import (
    ACCESS,
    SECRET,
    _env,
    _leaks,
    _written,
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_an_error_page_that_echoes_the_keys_leaks_them_nowhere(tmp_path: Path, kind: str):
    data, mapping = write_inputs(tmp_path, 4)
    out = tmp_path / "out"
    (tmp_path / "dump").mkdir()
    config = SandboxConfig(
        rate_limit=1000, rate_window=1.0, access_key=ACCESS, secret_key=SECRET, echo_keys=kind
    )
    with serve_in_thread(config) as sandbox:
        env = _env(sandbox.url)
        run = run_cli(
            *("run", data, "-m", mapping, "--out", out, "--rate", "1000/1s", "--retries", "1"),
            env=env,
            cwd=tmp_path,
        )
        describing = [("whoami",), ("fields",), ("account", "--dump", tmp_path / "dump" / "a.json")]
        with ThreadPoolExecutor(len(describing)) as pool:  # at once: each waits out retries
            commands = list(
                pool.map(lambda args: run_cli(*args, env=env, cwd=tmp_path), describing)
            )
        counters = dict(sandbox.state.counters)
    assert all(counters.get(f"echoed:{form}", 0) >= 1 for form in FORMS), counters
    assert counters.get("calls:CreateCustom", 0) >= 4, run.stderr  # every row sent, echoed
    texts = {**_written(out), **_written(tmp_path / "dump")}
    for name, result in (("run", run), *((c.args[3], c) for c in commands)):
        assert "Traceback" not in result.stderr, result.stderr
        texts[f"{name} stdout"], texts[f"{name} stderr"] = result.stdout, result.stderr
    leaked = {name: found for name, text in texts.items() if (found := _leaks(text))}
    assert leaked == {}
    # the echoes did reach the outputs, redacted: the test saw what it means to see
    failures = (out / "failures.csv").read_text("utf-8-sig")
    assert failures.count("***") >= 4, failures
    journal = texts[f"{out / 'journal.sqlite'} (dump)"]
    assert "***" in journal
    if kind != "ok":  # an ok page is JSON that reads: the pre-flight only finds no metadata
        assert "***" in run.stderr, run.stderr
        assert "***" in (out / "calls.jsonl").read_text("utf-8")
        said = [c.stdout + c.stderr for c in commands]
        assert all("***" in text for text in said), said
