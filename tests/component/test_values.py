"""Values: the tests that need the sandbox server
(the rest are in tests/unit/test_values.py)."""

from __future__ import annotations

from pathlib import Path

from importer.outputs.progress import SilentProgress
from importer.pipeline.request import RunOptions, RunRequest
from importer.pipeline.runner import run_import
from importer.sandbox import SandboxConfig, serve
from importer.sending.connection import Connection
from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate
from tests.unit.test_values import (
    MAPPING,
    MAY_BE_LOST,
    OUT_OF_RANGE,
    read_csv,
    write_csv,
)


async def test_a_run_fails_these_rows_in_failures_csv_and_sends_the_rest(tmp_path: Path):
    data = write_csv(
        tmp_path / "in.csv",
        ["Email", "Mobile", "Note", "When"],
        [
            ["a@example.com", "9876543210", "good", "46086.5"],
            ["b@example.com", "9876543210", "far", "3000000"],
            ["c@example.com", "9.19876543210E+11", "sci", "46086"],
            ["d@example.com", "+91 98765 43211", "also good", "1"],
        ],
    )
    # activity 201 needs its project, a dropdown of the sandbox's
    text = MAPPING % "excel" + "  fields:\n    mx_Custom_1: {value: Skyline Towers}\n"
    mapping_path = tmp_path / "m.yaml"
    mapping_path.write_text(text, encoding="utf-8")
    config = SandboxConfig(seed=11, rate_limit=1000, rate_window=1.0)
    async with serve(config) as running:
        connection = Connection(running.url, running.access_key, running.secret_key)
        summary = await run_import(
            RunRequest(
                data,
                mapping_path,
                tmp_path / "out",
                connection,
                RunOptions(
                    rate=Rate(1000, 1.0),
                    timeout=5.0,
                    policy=RetryPolicy(transient_retries=2, backoff_base=0.02, backoff_cap=0.2),
                    margin=0.02,
                    check_account=False,
                ),
            ),
            progress=SilentProgress(),
        )
        state = running.state.snapshot()
    assert summary.exit_code == 1
    assert (summary.succeeded, summary.failed) == (2, 2)
    sent = {a["ActivityNote"]: a["ActivityDateTime"] for a in state["activities"]}
    assert sent == {"good": "2026-03-05 12:00:00", "also good": "1900-01-01 00:00:00"}
    mobiles = sorted(lead.get("Mobile") for lead in state["leads"])
    assert mobiles == ["+91-9876543210", "+91-9876543211"]
    failures = read_csv(tmp_path / "out" / "failures.csv")
    assert [(f["_row"], f["_error_type"], f["_error"], f["Mobile"]) for f in failures] == [
        (
            "3",
            "InvalidValue",
            f"activity.datetime: '3000000' in column 'When' {OUT_OF_RANGE}",
            "9876543210",
        ),
        (
            "4",
            "InvalidValue",
            f"lead.attributes.Mobile: '9.19876543210E+11' in column 'Mobile' {MAY_BE_LOST}",
            "9.19876543210E+11",
        ),
    ]
