"""When the host goes away: an outage in the middle of a run is the pool's business (every row
still succeeds, none twice), an outage that outlasts its limit stops the run resumably, and a
host that never answers stops it at once, naming the host."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from importer.errors import HostUnreachable
from importer.outputs.progress import SilentProgress
from importer.pipeline.request import RunOptions, RunRequest
from importer.pipeline.runner import run_import
from importer.sandbox import SandboxConfig, serve
from importer.sandbox.state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, State
from importer.sending.connection import Connection
from importer.sending.limiter import Rate
from importer.sending.outage import Link, OutagePolicy
from tests.unit.test_run import FAST, MAPPING, rows, write_input

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
                RunRequest(source, mapping_path, tmp_path / "out", connection, options),
                progress=progress,
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
