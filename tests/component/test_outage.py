"""Outage: the tests that need the sandbox server
(the rest are in tests/unit/test_outage.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from importer.pipeline.request import RunRequest
from importer.pipeline.runner import run_import
from importer.pipeline.summary import OUTAGE
from importer.sandbox import serve
from importer.sending.outage import OutagePolicy
from tests.unit.test_outage import (
    QUICK_PROBES,
    import_through_an_outage,
)
from tests.unit.test_run import read


async def test_an_outage_mid_run_pauses_the_pool_and_every_row_lands_once(tmp_path: Path):
    summary, box, notes, *_ = await import_through_an_outage(tmp_path, 90, 20.0, QUICK_PROBES)
    state = box.snapshot()
    assert (summary.succeeded, summary.failed, summary.pending) == (90, 0, 0), summary.as_json()
    assert summary.exit_code == 0
    per_row = Counter(a["ActivityNote"] for a in state["activities"])
    assert len(per_row) == 90 and set(per_row.values()) == {1}  # none posted twice
    assert any("is not answering" in n and "one probe at a time" in n for n in notes), notes
    assert any("answers again after" in n for n in notes), notes
    failures = read(tmp_path / "out" / "failures.csv")
    assert failures == []
    log = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text("utf-8").splitlines()]
    refused = [r for r in log if r.get("outcome") == "not_sent"]
    assert refused, "the outage never showed on the wire"
    host = [(r["down"], r["message"].split(" ")[1]) for r in log if r["event"] == "host"]
    assert host == [(True, "is"), (False, "answers")]  # down, then back


async def test_an_outage_past_its_limit_stops_resumably(tmp_path: Path):
    policy = OutagePolicy(limit=3.0, first_probe=0.2, probe_cap=0.5)
    summary, state, notes, connection, options, source, mapping = await import_through_an_outage(
        tmp_path, 90, 0.0, policy, back=False
    )
    assert summary.stop == OUTAGE and summary.exit_code == 75
    assert summary.pending > 0 and summary.succeeded + summary.pending + summary.failed == 90
    failed_kinds = {f["_error_type"] for f in read(tmp_path / "out" / "failures.csv")}
    assert failed_kinds <= {"Interrupted", "OutcomeUnknown"}, failed_kinds
    assert "run the same command again to resume" in (summary.stopped or "")
    assert any("has not answered for 3 s" in n for n in notes), notes
    # the same command, with the host back: every row, each once
    port = int(connection.base_url.rsplit(":", 1)[1])
    async with serve(port=port, state=state):
        again = await run_import(RunRequest(source, mapping, tmp_path / "out", connection, options))
    assert (again.exit_code, again.pending) == (0, 0), again.as_json()
    per_row = Counter(a["ActivityNote"] for a in state.snapshot()["activities"])
    assert len(per_row) == 90 and set(per_row.values()) == {1}
