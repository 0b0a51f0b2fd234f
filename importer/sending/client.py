"""Talking to LeadSquared over HTTP: one aiohttp session per run, every call through the limiter.

``LeadSquaredClient.send`` returns the status and body, or raises ``CallNotSent`` (nothing
reached the server: safe to send again) or ``CallLost`` (the request may have reached it and the
answer did not come back: check before sending again). ``lookup`` is for the read-only calls
(the account's metadata, a lead by SearchBy value, a lead's activities): it absorbs throttles
and transient errors, and returns the answer's JSON.

Everything that comes from outside is redacted as it enters: an answer's body and an exception's
message have the keys removed (``Connection.redact``, every form of them) before anything reads
them, so no result file, journal, message or log line downstream can hold a key. Exception
messages also lose the query of any URL they name (a lookup's query holds the row's search
value).

Every call, read-only ones included, is one line of the call log with its real outcome: a
read-only call answered 200 with readable JSON is a ``success`` (``classify_read``), and the
line holds none of its body. Unless the log keeps payloads (``--log-payloads``), the error of a
row's call is logged without the answer's text (an MX message or an error page may echo the
row's values): only its type and status, except for throttles and refused keys, whose messages
are about the account.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from importer import __version__
from importer.errors import CallLost, CallNotSent, LookupFailed, OutputError, RunStopped
from importer.failures import Answer, Verdict
from importer.outputs.calllog import CallLog
from importer.sending.backoff import Backoff
from importer.sending.connection import Connection
from importer.sending.limiter import Lesson, RateLimiter, Stamp
from importer.sending.outage import Link, OutagePolicy
from importer.sending.responses import classify_response, read_json

CREATE_CUSTOM = "/v2/ProspectActivity.svc/CreateCustom"
#: The wait before a read-only call's next attempt: 0.2, 0.4, 0.8, then 1 s.
LOOKUP_BACKOFF = Backoff(base=0.2, cap=1.0)
WHOAMI = "/v2/Authentication.svc/UserByAccessKey.Get"  # answers on any host: the probe


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


@dataclass(frozen=True)
class _Leaving:
    """Handed to aiohttp's trace: the stamp to move when the request's headers are written."""

    limiter: RateLimiter
    stamp: Stamp


async def _headers_sent(
    session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    leaving = context.trace_request_ctx
    if isinstance(leaving, _Leaving):
        leaving.limiter.restamp(leaving.stamp)


@dataclass(frozen=True)
class Call:
    """One call to make: ``row`` is the input row it is for (for the call log), ``read`` marks a
    read-only call (a lookup, a metadata call, the probe), whose answer is JSON to read rather
    than a CreateCustom verdict."""

    method: str
    path: str
    params: dict[str, str] | None = None
    body: Any = None
    row: int | None = None
    read: bool = False


@dataclass(frozen=True)
class Reply:
    """An answer as it came back (its body with the keys redacted) and what it means; ``data``
    is a read-only call's JSON when it succeeded."""

    status: int
    text: str
    answer: Answer
    data: Any = None


def classify_read(status: int, text: str) -> tuple[Answer, Any]:
    """What the answer of a read-only call means, and its JSON. ``classify_response`` judges an
    answer as CreateCustom's, where success is ``"Status": "Success"``; a read-only call answers
    with the JSON it reads instead (a list of leads, the account's metadata):

        HTTP 200, readable JSON, no MX error or throttle in it    SUCCESS, with the JSON
        anything else                                             as classify_response says
    """
    answer = classify_response(status, text)
    if status != 200 or answer.verdict not in (Verdict.SUCCESS, Verdict.TRANSIENT):
        return answer, None
    try:
        return Answer(Verdict.SUCCESS), read_json(text)
    except ValueError:  # an HTML page, a truncated body, JSON too deep to read
        return answer, None


#: A URL's query in an exception's message: for a lookup it holds the row's search value.
_QUERY = re.compile(r"""(https?://[^\s?#'"]*)\?[^\s#'"]*""", re.IGNORECASE)
#: The error of a row's call as the log holds it, without --log-payloads.
_WITHHELD = "the answer's text is not logged: it may hold the row's data (--log-payloads logs it)"


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
        on_throttle: Callable[[Lesson], None] | None = None,
        log: CallLog | None = None,
        outage: OutagePolicy | None = None,
        note: Callable[[str], None] | None = None,
        host_answered: bool = False,
    ) -> None:
        self.session = session
        self.connection = connection
        #: The host as the pool sees it: an outage pauses every call, not each row.
        #: ``host_answered``: it answered just before this client (the pre-flight's calls).
        self.link = Link(
            lambda: self.connection.base_url,
            self._probe,
            outage,
            self._host_note,
            answered=host_answered,
        )
        self._note = note
        self.limiter = limiter
        self.counters = counters
        self.on_throttle = on_throttle  # called with what the limiter learned from a throttle
        self.log = log  # every call and its outcome, one JSON line each
        self.on_wire = 0  # calls sent whose answer has not come back yet
        self._stop = asyncio.Event()  # set when the run stops: calls still waiting are not sent
        #: Whether a call of this run was answered: until then calls go one at a time.
        self._warm = host_answered
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
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(_headers_sent)
        return aiohttp.ClientSession(
            trace_configs=[trace],
            connector=connector,
            # a healthy host connects in well under a second; a blackholed one costs this much
            timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10)),
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
        row it is for, for the call log. The body comes back with the keys redacted.

        Until the host has answered one call of this run (the pre-flight's count), calls go one
        at a time: bad keys or a host that never answers are found with one or two calls
        instead of a pool's worth. A cold connection's slow set-up costs the window nothing:
        the send is stamped when its headers are written."""
        reply = await self._call(Call(method, path, params, body, row), on_leave)
        return reply.status, reply.text

    async def _call(self, call: Call, on_leave: Callable[[], None] | None = None) -> Reply:
        """``call``, alone until the host has answered one call of this run (see ``send``)."""
        if not self._warm:
            async with self._warming:
                if not self._warm:
                    # It reached the server at some moment before its answer came: it is
                    # counted in the window as of then, the safe side. Until one call is
                    # answered, calls go one at a time: a host that never answers is found
                    # with two calls, not a pool's worth.
                    reply = await self._send(call, on_leave, stamp_at_answer=True)
                    self._warm = True
                    return reply
        return await self._send(call, on_leave)

    def _host_note(self, message: str) -> None:
        """The host went down or came back: tell the person, and the call log."""
        if self.log is not None:
            self.log.write("host", down=self.link.down, message=message)
        if self._note is not None:
            self._note(message)

    async def _probe(self) -> None:
        """One read-only call past the gate, for the link: returns if the host answered."""
        await self._send(Call("GET", WHOAMI, read=True), None, gated=False)

    async def _send(
        self,
        call: Call,
        on_leave: Callable[[], None] | None,
        stamp_at_answer: bool = False,
        gated: bool = True,
    ) -> Reply:
        if gated:
            await self._through_gate()
        stamp = await self._turn()
        if on_leave is not None:
            on_leave()
        self.limiter.restamp(stamp)  # after the journal's mark: as late as it can be
        self.counters.calls += 1
        headers = self.connection.headers()
        started = time.monotonic()
        self.on_wire += 1
        try:
            async with self.session.request(
                call.method,
                self.connection.base_url + call.path,
                params=call.params,
                json=call.body,
                headers=headers,
                trace_request_ctx=_Leaving(self.limiter, stamp),
            ) as response:
                status = response.status
                # redacted as it enters: nothing downstream sees a key an error page echoes
                text = self.connection.redact(await response.text(errors="replace"))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            error = self._describe(exc)
            self._log(call, started, outcome="not_sent", error=error)
            self.link.failed(error)
            raise CallNotSent(error) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = self._describe(exc)
            self._log(call, started, outcome="answer_lost", error=error)
            self.link.failed(error)
            raise CallLost(error) from None
        except asyncio.CancelledError:  # the run was stopped at once with the call on the wire
            with contextlib.suppress(OutputError):  # the stop goes on whatever the log can take
                self._log(call, started, outcome="cut_off")
            raise
        finally:
            self.on_wire -= 1
            if stamp_at_answer:
                self.limiter.restamp(stamp)
        self.link.succeeded()
        if call.read:
            answer, data = classify_read(status, text)
        else:
            answer, data = classify_response(status, text), None
        if answer.verdict is Verdict.THROTTLED:
            self._throttled(stamp, answer.limit)
        else:
            self.limiter.answered(stamp, call.path)
        self._log(
            call, started, status=status, outcome=answer.verdict.value, **self._said(call, answer)
        )
        return Reply(status, text, answer, data)

    def _said(self, call: Call, answer: Answer) -> dict[str, str]:
        """What the call log says of an answer besides its status and outcome: the ids a row's
        call got, or the error. Never the body of a read that worked (a lead's data, the
        account's metadata); without payloads, no answer's text for a row's call (see the
        module's docstring)."""
        if answer.verdict is Verdict.SUCCESS:
            if not answer.activity_id:
                return {}
            return {"activity_id": answer.activity_id, "lead_id": answer.lead_id}
        if not answer.error_type:
            return {}
        about_the_account = answer.verdict in (Verdict.THROTTLED, Verdict.FATAL)
        if call.row is None or about_the_account or (self.log is not None and self.log.payloads):
            return {"error_type": answer.error_type, "error": answer.message}
        return {"error_type": answer.error_type, "error": _WITHHELD}

    def _log(self, call: Call, started: float, **fields: Any) -> None:
        if self.log is None:
            return
        record: dict[str, Any] = {"call": call.path.rsplit("/", 1)[-1]}
        if call.row is not None:
            record["row"] = call.row
        record["ms"] = round((time.monotonic() - started) * 1000)
        record.update(fields)
        if self.log.payloads:
            if call.params:
                record["params"] = call.params
            if call.body is not None:
                record["payload"] = call.body
        self.log.write("call", **record)

    def _describe(self, exc: BaseException) -> str:
        """An exception's kind and message, for people and files: the keys redacted, and the
        query of any URL in it left out."""
        kind = type(exc).__name__
        text = str(exc) or {"TimeoutError": "no answer within the timeout"}.get(kind, kind)
        return self.connection.redact(_QUERY.sub(r"\1", f"{kind}: {text}"))

    async def _through_gate(self) -> None:
        """Wait while the host is down (RunStopped if the run stops or the outage outlasts its
        limit meanwhile); HostUnreachable if it never answered this run."""
        if self.link.down:
            await _first(self.link.gate(), self._stop.wait(), self.link.gave_up.wait())
        if self.stopped or self.link.gave_up.is_set():
            raise RunStopped
        await self.link.gate()

    async def _turn(self) -> Stamp:
        """Wait for the limiter's go, unless the run stops first (RunStopped)."""
        if self.stopped:
            raise RunStopped
        turn = asyncio.ensure_future(self.limiter.acquire())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((turn, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not turn.done():
                turn.cancel()
        if self.stopped or not turn.done() or turn.cancelled():
            raise RunStopped  # a slot taken and not used only makes the window safer
        return turn.result()

    def _throttled(self, stamp: Stamp, stated: tuple[int, float] | None) -> None:
        """Every throttle, of any call, teaches the limiter once, with the throttled send."""
        self.counters.throttles += 1
        lesson = self.limiter.throttled(stamp, stated)
        if self.on_throttle is not None:
            self.on_throttle(lesson)

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
        """A read-only call's JSON answer (``classify_read``), the keys redacted. Throttles wait
        and retry; transient failures retry a few times; anything else raises LookupFailed."""
        call = Call(method, path, params, body, row, read=True)
        failures = 0
        while True:
            try:
                reply = await self._call(call)
            except (CallNotSent, CallLost) as exc:
                failures += 1
                if failures >= attempts:
                    raise LookupFailed(str(exc), reached=False) from None
                await self.pause(LOOKUP_BACKOFF.delay(failures))
                continue
            answer = reply.answer
            if answer.verdict is Verdict.THROTTLED:
                continue  # the limiter has learned from it; the call waits its turn again
            if answer.verdict is Verdict.SUCCESS:
                return reply.data
            failures += 1
            if answer.verdict in (Verdict.REJECTED, Verdict.FATAL) or failures >= attempts:
                raise LookupFailed(
                    f"{answer.error_type}: {answer.message}",
                    answer.verdict is Verdict.FATAL,
                    answer.message,
                )
            await self.pause(LOOKUP_BACKOFF.delay(failures))
