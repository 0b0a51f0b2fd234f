"""Running the sandbox: in the foreground (``lsq-import sandbox``), inside a running event loop
(tests, ``lsq-import run --sandbox``), or in a thread of its own (tests of the real command)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass

from aiohttp import web

from importer.sandbox.app import create_app
from importer.sandbox.state import SandboxConfig, State
from importer.sending.connection import Connection


@dataclass
class RunningSandbox:
    """A sandbox that is listening: where, with which keys, and its state for inspection."""

    url: str
    state: State

    @property
    def access_key(self) -> str:
        return self.state.config.access_key

    @property
    def secret_key(self) -> str:
        return self.state.config.secret_key

    @property
    def connection(self) -> Connection:
        """Where a run sends to reach this sandbox, with its keys."""
        return Connection(self.url, self.access_key, self.secret_key)


@asynccontextmanager
async def serve(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    state: State | None = None,
) -> AsyncIterator[RunningSandbox]:
    """Serve the sandbox in the running loop until the block ends (port 0: a free one).
    ``state``: another sandbox's, to start it again where it stopped (an outage)."""
    state = state or State(config or SandboxConfig())
    # A short shutdown: a slow call still sleeping when the sandbox stops is simply dropped.
    runner = web.AppRunner(
        create_app(state=state), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    try:
        yield RunningSandbox(f"http://{bound[0]}:{bound[1]}", state)
    finally:
        await runner.cleanup()


@contextmanager
def serve_in_thread(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSandbox]:
    """Serve the sandbox from a thread with its own event loop until the block ends."""
    started = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    running: list[RunningSandbox] = []
    failure: list[BaseException] = []

    async def main() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        try:
            async with serve(config, host, port) as sandbox:
                running.append(sandbox)
                started.set()
                await stop.wait()
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    try:
        yield running[0]
    finally:
        assert loop is not None and stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


def run_foreground(
    config: SandboxConfig, host: str, port: int, announce: Callable[[RunningSandbox], None]
) -> None:
    """Serve until interrupted; ``announce(sandbox)`` is called once it listens.

    The process is the sandbox's own, so its garbage collector is tuned: a full collection
    over everything the sandbox stores stalls the loop for tens of milliseconds, and calls that
    arrive meanwhile get stamped together, as a burst the client never sent (BENCHMARKS.md)."""
    gc.freeze()  # what was imported to get here is never garbage
    gc.set_threshold(50_000, 50, 1_000)

    async def main() -> None:
        async with serve(config, host, port) as sandbox:
            announce(sandbox)
            await asyncio.Event().wait()

    with suppress(KeyboardInterrupt):
        asyncio.run(main())
