"""Talking to LeadSquared over HTTP: one aiohttp session per run, every call through the limiter.

``LeadSquaredClient.send`` returns the raw status and body, or raises ``CallNotSent`` (nothing
reached the server: safe to send again) or ``CallLost`` (the request may have reached it and the
answer did not come back: check before sending again). ``lookup`` is for the read-only calls
(lead by SearchBy value, a lead's activities): it absorbs throttles and transient errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from importer import __version__
from importer.calllog import CallLog
from importer.connection import Connection
from importer.limiter import RateLimiter
from importer.responses import Verdict, classify_response

CREATE_CUSTOM = "/v2/ProspectActivity.svc/CreateCustom"


class CallNotSent(Exception):
    """The call failed before reaching the server (no connection)."""


class CallLost(Exception):
    """The call may have reached the server, but its answer was lost (timeout, disconnect)."""


class RunStopped(Exception):
    """The run was stopped while this call waited for its turn: it was not sent."""


async def _first(*awaitables: Any) -> None:
    """Wait until the first of these is done; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()


class LookupFailed(Exception):
    """A read-only call could not be made to answer. ``fatal``: the keys or the host were
    refused, as they would be for every call."""

    def __init__(
        self, message: str, fatal: bool = False, detail: str = "", reached: bool = True
    ) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.detail = detail or message  # the answer's own message, without its type
        #: The host answered (with an error); False: no answer came (connection, timeout).
        self.reached = reached


@dataclass
class Counters:
    """What the run did on the wire, for the summary."""

    calls: int = 0
    throttles: int = 0
    retries: int = 0
    lost_answers: int = 0
    verified_landed: int = 0
    verified_not_landed: int = 0


class LeadSquaredClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        connection: Connection,
        limiter: RateLimiter,
        counters: Counters,
        on_throttle: Any = None,
        log: CallLog | None = None,
    ) -> None:
        self.session = session
        self.connection = connection
        self.limiter = limiter
        self.counters = counters
        self.on_throttle = on_throttle  # called with (stated limit) after each throttle
        self.log = log  # every call and its outcome, one JSON line each
        self.on_wire = 0  # calls sent whose answer has not come back yet
        self._stop = asyncio.Event()  # set when the run stops: calls still waiting are not sent
        self._warm = False
        self._warming = asyncio.Lock()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Send nothing more: calls waiting for their turn raise RunStopped at once, and
        ``pause`` returns early. Calls already on the wire finish."""
        self._stop.set()

    async def pause(self, seconds: float) -> None:
        """Sleep, unless the run stops first."""
        if seconds > 0 and not self.stopped:
            await _first(asyncio.sleep(seconds), self._stop.wait())

    @staticmethod
    def new_session(workers: int, timeout: float) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=workers + 4, keepalive_timeout=60)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 15)),
            headers={"User-Agent": f"lsq-import/{__version__}"},
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        on_leave: Callable[[], None] | None = None,
        row: int | None = None,
    ) -> tuple[int, str]:
        """One call, after the limiter lets it go; ``on_leave`` is called just before it leaves
        (after the wait for its turn), and not at all if the run stops first. ``row`` is the input
        row it is for, for the call log.

        The run's first call goes alone and the others wait for its answer: it opens the
        connection and warms both ends, whose first call is slow enough to squeeze the arrivals
        of the next ones, and bad keys are found with one call instead of a pool's worth."""
        if not self._warm:
            async with self._warming:
                if not self._warm:
                    try:
                        return await self._send(method, path, params, body, on_leave, row)
                    finally:
                        # It reached the server at some moment before its answer came: count
                        # it in the window as of then, the safe side.
                        self.limiter.restamp_last()
                        self._warm = True
        return await self._send(method, path, params, body, on_leave, row)

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: Any,
        on_leave: Callable[[], None] | None,
        row: int | None,
    ) -> tuple[int, str]:
        if not self.stopped:
            await _first(self.limiter.acquire(), self._stop.wait())
        if self.stopped:
            raise RunStopped
        if on_leave is not None:
            on_leave()
        self.counters.calls += 1
        headers = self.connection.headers()
        started = time.monotonic()
        self.on_wire += 1
        try:
            async with self.session.request(
                method, self.connection.base_url + path, params=params, json=body, headers=headers
            ) as response:
                status, text = response.status, await response.text(errors="replace")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            error = self._describe(exc)
            self._log(path, row, started, body, outcome="not_sent", error=error)
            raise CallNotSent(error) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = self._describe(exc)
            self._log(path, row, started, body, outcome="answer_lost", error=error)
            raise CallLost(error) from None
        finally:
            self.on_wire -= 1
        if self.log is not None:
            answer = classify_response(status, text)
            fields = (
                {"activity_id": answer.activity_id, "lead_id": answer.lead_id}
                if answer.verdict is Verdict.SUCCESS and answer.activity_id
                else {
                    "error_type": answer.error_type,
                    "error": self.connection.redact(answer.message),
                }
                if answer.error_type
                else {}
            )
            self._log(
                path, row, started, body, status=status, outcome=answer.verdict.value, **fields
            )
        return status, text

    def _log(self, path: str, row: int | None, started: float, body: Any, **fields: Any) -> None:
        if self.log is None:
            return
        record: dict[str, Any] = {"call": path.rsplit("/", 1)[-1]}
        if row is not None:
            record["row"] = row
        record["ms"] = round((time.monotonic() - started) * 1000)
        record.update(fields)
        if self.log.payloads and body is not None:
            record["payload"] = body
        self.log.write("call", **record)

    def _describe(self, exc: BaseException) -> str:
        kind = type(exc).__name__
        text = str(exc) or {"TimeoutError": "no answer within the timeout"}.get(kind, kind)
        return self.connection.redact(f"{kind}: {text}")

    def throttled(self, stated: tuple[int, float] | None) -> None:
        self.counters.throttles += 1
        adopted = self.limiter.throttled(stated)
        if adopted is not None and self.on_throttle is not None:
            self.on_throttle(adopted)

    async def lookup(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        attempts: int = 4,
        row: int | None = None,
    ) -> Any:
        """A read-only call's JSON answer. Throttles wait and retry; transient failures retry a
        few times; anything else raises LookupFailed."""
        failures = 0
        while True:
            try:
                status, text = await self.send(method, path, params=params, body=body, row=row)
            except (CallNotSent, CallLost) as exc:
                failures += 1
                if failures >= attempts:
                    raise LookupFailed(str(exc), reached=False) from None
                await self.pause(min(2**failures, 10) * 0.1)
                continue
            answer = classify_response(status, text)
            if answer.verdict is Verdict.THROTTLED:
                self.throttled(answer.limit)
                continue
            if status == 200 and answer.verdict is not Verdict.REJECTED:
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    pass
            failures += 1
            if answer.verdict in (Verdict.REJECTED, Verdict.FATAL) or failures >= attempts:
                raise LookupFailed(
                    f"{answer.error_type}: {answer.message}",
                    answer.verdict is Verdict.FATAL,
                    answer.message,
                )
            await self.pause(min(2**failures, 10) * 0.1)
