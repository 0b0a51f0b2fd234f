"""Sandbox: the tests that need the real command line
(the rest are in tests/unit/test_sandbox.py)."""

from __future__ import annotations

from tests.conftest import run_cli


def test_sandbox_help_documents_every_knob():
    result = run_cli("sandbox", "--help")
    assert result.returncode == 0
    for option in (
        "--port",
        "--rate",
        "--throttle-200-share",
        "--latency",
        "--latency-sigma",
        "--fail-rate",
        "--drop-rate",
        "--slow-rate",
        "--slow-seconds",
        "--race",
        "--seed",
        "--schema",
        "--access-key",
        "--secret-key",
        "--host",
    ):
        assert option in result.stdout, option


def test_sandbox_rejects_bad_knobs():
    result = run_cli("sandbox", "--rate", "lots")
    assert result.returncode == 2
    assert "'lots' is not a rate; write calls/seconds, e.g. 25/5s" in result.stderr
    result = run_cli("sandbox", "--fail-rate", "1.5")
    assert result.returncode == 2
    assert "1.5 is not a share between 0 and 1" in result.stderr
