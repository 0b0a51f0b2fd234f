"""End to end: the real ``lsq-import run`` on the samples and on files it wrote itself."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli

SAMPLES = ROOT / "data_samples"
MAPPINGS = ROOT / "mappings"


def read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_into_the_in_process_sandbox_then_rerun_the_fixed_failures(tmp_path: Path):
    out = tmp_path / "out"
    result = run_cli(
        "run",
        SAMPLES / "site_visits.csv",
        "-m",
        MAPPINGS / "site_visits.yaml",
        "--out",
        out,
        "--sandbox",
        "--rate",
        "100/1s",
    )
    assert result.returncode == 1, result.stderr
    assert "300 rows: 294 succeeded, 6 failed (BadRow 1, InvalidValue 4, MissingValue 1)" in (
        result.stdout
    )
    assert "The sandbox now holds 293 new leads (1 updates) and 294 activities." in result.stdout
    success, failures = read(out / "success.csv"), read(out / "failures.csv")
    assert len(success) == 294 and len(failures) == 6
    assert success[0]["Customer ID"].startswith("0")  # original columns verbatim
    assert all(line["_activity_id"] and line["_lead_id"] for line in success)
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["succeeded"] == 294 and summary["exit_code"] == 1 and summary["throttles"] == 0
    assert "Traceback" not in result.stderr

    # fix the failing cells in failures.csv and give it back as the input
    fixed = tmp_path / "fixed.csv"
    with open(out / "failures.csv", encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    header, body = lines[0], lines[1:]
    column = {name: i for i, name in enumerate(header)}
    for line in body:
        if line[0] == "13":
            line[column["Mobile"]] = "9876543210"
        if line[0] == "44":
            line[column["Email"]] = "rohan.gupta@example.com"
    with open(fixed, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    again = tmp_path / "again"
    result = run_cli(
        "run",
        fixed,
        "-m",
        MAPPINGS / "site_visits.yaml",
        "--out",
        again,
        "--sandbox",
        "--rate",
        "100/1s",
    )
    assert result.returncode == 1
    assert [line["_row"] for line in read(again / "success.csv")] == ["13", "44"]
    assert [line["_row"] for line in read(again / "failures.csv")] == ["81", "124", "154", "265"]


def test_xlsx_sample(tmp_path: Path):
    result = run_cli(
        "run",
        SAMPLES / "payments.xlsx",
        "-m",
        MAPPINGS / "payments.yaml",
        "--out",
        tmp_path,
        "--sandbox",
        "--rate",
        "200/1s",
        "--quiet",
    )
    assert result.returncode == 1, result.stderr
    assert "120 rows: 117 succeeded, 3 failed" in result.stdout
    assert result.stderr == ""  # --quiet


def test_a_real_host_with_keys_from_the_environment(tmp_path: Path):
    config = SandboxConfig(rate_limit=100, rate_window=1.0, seed=3)
    with serve_in_thread(config) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
        }
        result = run_cli(
            "run",
            SAMPLES / "payments.xlsx",
            "-m",
            MAPPINGS / "payments.yaml",
            "--out",
            tmp_path / "ok",
            "--rate",
            "100/1s",
            env=env,
        )
        assert result.returncode == 1, result.stderr
        assert len(sandbox.state.activities) == 117

        env["LSQ_SECRET_KEY"] = "wrong$secret$value"
        result = run_cli(
            "run",
            SAMPLES / "payments.xlsx",
            "-m",
            MAPPINGS / "payments.yaml",
            "--out",
            tmp_path / "bad",
            "--rate",
            "100/1s",
            env=env,
        )
        requests = sandbox.state.counters["requests"]
        # without the pre-flight, the first call finds out and stops the run
        unchecked = run_cli(
            *("run", SAMPLES / "payments.xlsx", "-m", MAPPINGS / "payments.yaml"),
            *("--out", tmp_path / "bad", "--rate", "100/1s", "--no-check-account"),
            env=env,
        )
    # the pre-flight's first call finds the bad keys: no row is sent, no result is written
    assert result.returncode == 3
    assert (
        "Stopped: LeadSquared refused the access key and secret key (HTTP 401): check "
        "LSQ_ACCESS_KEY and LSQ_SECRET_KEY, and that they belong to this host's region "
        "(nothing was sent)"
    ) in result.stderr
    assert requests == 117 + 4 + 1  # rows, the first run's 4 metadata calls, one refused whoami
    assert unchecked.returncode == 3
    assert "Stopped: LeadSquared refused the access key" in unchecked.stderr
    failures = read(tmp_path / "bad" / "failures.csv")
    assert len(failures) == 120
    assert {f["_error_type"] for f in failures} >= {"NotSent", "MXInvalidUserDetailsException"}
    written = b"".join(p.read_bytes() for d in ("ok", "bad") for p in (tmp_path / d).iterdir())
    everything = (result.stdout + result.stderr + unchecked.stderr).encode() + written
    for secret in (sandbox.access_key, sandbox.secret_key, "wrong$secret$value"):
        assert secret.encode() not in everything


def run_sample(out: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``lsq-import run`` on the CSV sample, from ``out`` so that no .env file is found."""
    return run_cli(
        "run",
        SAMPLES / "site_visits.csv",
        "-m",
        MAPPINGS / "site_visits.yaml",
        "--out",
        out,
        *args,
        env=env,
        cwd=out,
    )


def test_connection_problems_are_config_errors_before_anything_is_sent(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    result = run_sample(tmp_path, "--host", "http://api-in21.leadsquared.com", env=env)
    assert result.returncode == 2
    assert "plain HTTP: LeadSquared needs HTTPS" in result.stderr
    assert "set LSQ_ACCESS_KEY and LSQ_SECRET_KEY" in result.stderr
    assert not (tmp_path / "summary.json").exists()
    result = run_sample(tmp_path, "--region", "mars", env=env)
    assert result.returncode == 2
    assert "unknown region 'mars'" in result.stderr


def test_keys_from_a_dotenv_file(tmp_path: Path):
    config = SandboxConfig(rate_limit=100, rate_window=1.0)
    with serve_in_thread(config) as sandbox:
        (tmp_path / ".env").write_text(
            f"LSQ_HOST={sandbox.url}\nLSQ_ACCESS_KEY='{sandbox.access_key}'\n"
            f"LSQ_SECRET_KEY='{sandbox.secret_key}'\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
        result = run_cli(
            "run",
            SAMPLES / "payments.xlsx",
            "-m",
            MAPPINGS / "payments.yaml",
            "--out",
            tmp_path / "out",
            "--rate",
            "100/1s",
            env=env,
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stderr
    assert "117 succeeded" in result.stdout
