"""When the host goes away: an outage in the middle of a run is the pool's business (every row
still succeeds, none twice), an outage that outlasts its limit stops the run resumably, and a
host that never answers stops it at once, naming the host."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from pathlib import Path

import pytest

from importer.connection import Connection
from importer.limiter import Rate
from importer.outage import HostUnreachable, Link, OutagePolicy
from importer.pipeline import OUTAGE, RunOptions, run_import
from importer.progress import SilentProgress
from importer.sandbox import SandboxConfig, serve
from importer.sandbox.state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, State
from tests.conftest import run_cli
from tests.test_account import env_for
from tests.test_resume import write_inputs
from tests.test_run import FAST, MAPPING, parse_mapping, read, rows, write_input

QUICK_PROBES = OutagePolicy(limit=120.0, first_probe=0.2, probe_cap=1.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def until(condition, limit: float = 60.0) -> None:
    """Poll (in the test's own loop) until ``condition()`` holds."""
    for _ in range(int(limit / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never came")


async def import_through_an_outage(
    tmp_path: Path, count: int, down_for: float, policy: OutagePolicy, *, back: bool = True
):
    """Run an import; after a third of the rows, stop the sandbox, and (``back``) start it
    again on the same port with the same state ``down_for`` seconds later."""
    state = State(SandboxConfig(seed=3, rate_limit=25, rate_window=0.5))
    port = free_port()
    source = write_input(tmp_path / "in.csv", rows(count))
    mapping_path = tmp_path / "m.yaml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    progress = SilentProgress()
    connection = Connection(f"http://127.0.0.1:{port}", DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    options = RunOptions(
        rate=Rate(25, 0.5),
        timeout=2.0,
        policy=FAST,
        check_account=False,
        outage=policy,
        log_path=tmp_path / "calls.jsonl",
    )
    async with serve(port=port, state=state):
        run = asyncio.create_task(
            run_import(
                source,
                parse_mapping(MAPPING),
                mapping_path,
                tmp_path / "out",
                connection,
                options,
                progress,
            )
        )
        await until(lambda: state.counters["activities_created"] >= count // 3)
    await asyncio.sleep(down_for)
    if back:
        async with serve(port=port, state=state):
            summary = await run
    else:
        summary = await run
    return summary, state, progress.notes, connection, options, source, mapping_path


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
        again = await run_import(
            source, parse_mapping(MAPPING), mapping, tmp_path / "out", connection, options
        )
    assert (again.exit_code, again.pending) == (0, 0), again.as_json()
    per_row = Counter(a["ActivityNote"] for a in state.snapshot()["activities"])
    assert len(per_row) == 90 and set(per_row.values()) == {1}


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


def _env(host: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    return {
        **env,
        "LSQ_HOST": host,
        "LSQ_ACCESS_KEY": DEFAULT_ACCESS_KEY,
        "LSQ_SECRET_KEY": DEFAULT_SECRET_KEY,
    }


# --- the link alone -----------------------------------------------------------------------------


async def test_the_link_opens_at_the_first_answer_whoever_gets_it():
    probes: list[str] = []

    async def probe() -> None:
        probes.append("probe")
        raise ConnectionError("refused")

    notes: list[str] = []
    link = Link(
        lambda: "http://h", probe, OutagePolicy(first_probe=0.01, probe_cap=0.02), notes.append
    )
    link.succeeded()
    for _ in range(2):
        link.failed("refused")
    assert not link.down  # two failures in a row: a row's bad luck, not an outage
    link.failed("refused")
    assert link.down and link.outages == 1
    waiting = asyncio.create_task(link.gate())
    await until(lambda: len(probes) >= 2)
    assert not waiting.done()  # calls wait while the probes fail
    link.succeeded()  # a call that was already on the wire got its answer
    await asyncio.wait_for(waiting, 1)
    assert notes[0].startswith("http://h is not answering (refused)")
    assert notes[1].startswith("http://h answers again after")
    link.close()


async def test_the_link_gives_up_after_its_limit_and_knows_a_host_that_never_answered():
    async def probe() -> None:
        raise ConnectionError("refused")

    link = Link(lambda: "http://h", probe, OutagePolicy(limit=0.2, first_probe=0.05))
    link.succeeded()
    for _ in range(3):
        link.failed("refused")
    await asyncio.wait_for(link.gave_up.wait(), 5)
    fresh = Link(lambda: "http://h", probe)
    fresh.failed("ClientConnectorError: refused")
    await fresh.gate()  # one failure proves nothing
    fresh.failed("ClientConnectorError: refused")
    with pytest.raises(HostUnreachable) as caught:
        await fresh.gate()
    assert caught.value.detail == "http://h did not answer (ClientConnectorError: refused)"
