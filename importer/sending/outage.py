"""When the host stops answering: the pool's business, not each row's.

A connection that fails, or a call that times out, says little about its row and much about the
network. So the client reports every call's fate to one ``Link``, and the link decides:

    an HTTP answer of any kind               the host is up; failures so far are forgotten
    ``down_after`` failures in a row         the host is down: every call waits at the gate,
      (across the pool)                      one probe (a read-only call) at a time tries it,
                                             backing off from ``first_probe`` to ``probe_cap``
                                             seconds; the first answer opens the gate again.
                                             Rows are not failed meanwhile, and no attempt
                                             made during the outage counts against a row
    down for longer than ``limit``           give up: ``gave_up`` is set, and the run stops as
                                             a graceful stop does (the same command resumes)
    ``never_after`` failures before any      the host never answered this run: HostUnreachable,
      answer at all                          at once, naming the host (a wrong --host/--region,
                                             a host that is down, no network)

A blackholed host costs one connect timeout per failure, a refused or unknown one nothing, so a
run pointed at the wrong place stops in seconds, not after retrying every row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from importer.errors import HostUnreachable
from importer.sending.backoff import Backoff


@dataclass(frozen=True)
class OutagePolicy:
    limit: float = 900.0  # a nightly run survives a 15-minute blip
    down_after: int = 3
    never_after: int = 2
    first_probe: float = 1.0
    probe_cap: float = 30.0

    @property
    def backoff(self) -> Backoff:
        """The wait before each probe of a host that is down, by the probes that failed."""
        return Backoff(self.first_probe, self.probe_cap)


class Link:
    """The host's state as the pool sees it. ``probe`` makes one read-only call and returns
    normally if the host answered (any status), raising if it did not."""

    def __init__(
        self,
        host: Callable[[], str],
        probe: Callable[[], Awaitable[None]],
        policy: OutagePolicy | None = None,
        note: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        answered: bool = False,
    ) -> None:
        self._host = host
        self.policy = policy or OutagePolicy()
        self._probe = probe
        self._note = note or (lambda message: None)
        self._clock = clock
        #: Some call of this run got an HTTP answer (or the pre-flight's did, just before).
        self.answered = answered
        self.failures = 0  # in a row, across the pool
        self.outages = 0  # how many times the host went down in this run
        self.down_since: float | None = None
        self.last_error = ""
        self._up = asyncio.Event()
        self._up.set()
        self.gave_up = asyncio.Event()
        self._prober: asyncio.Task | None = None

    @property
    def host(self) -> str:
        return self._host()

    @property
    def down(self) -> bool:
        return not self._up.is_set()

    async def gate(self) -> None:
        """Return when calls may go (at once while the host is up). Raises HostUnreachable
        once the host has proved it never answers."""
        if self.unreachable:
            detail = f"{self.host} did not answer ({self.last_error})"
            raise HostUnreachable(self.unreachable_message(), detail)
        await self._up.wait()

    @property
    def unreachable(self) -> bool:
        return not self.answered and self.failures >= self.policy.never_after

    def unreachable_message(self) -> str:
        return (
            f"{self.host} did not answer ({self.last_error}); no call of this run reached it. "
            "Check the host (--host, --region, LSQ_HOST) and the network"
        )

    def succeeded(self) -> None:
        """A call got an HTTP answer (any status): the host is up, if it was down."""
        self.answered = True
        self.failures = 0
        if self.down:
            self._recovered()

    def _recovered(self) -> None:
        assert self.down_since is not None
        took = self._clock() - self.down_since
        self.down_since = None
        self._up.set()  # the prober sees it and ends
        self._note(f"{self.host} answers again after {took:.0f} s: sending resumes")

    def failed(self, error: str) -> None:
        """A call could not connect, or got no answer in time."""
        self.failures += 1
        self.last_error = error
        if self.answered and not self.down and self.failures >= self.policy.down_after:
            self.outages += 1
            self.down_since = self._clock()
            self._up.clear()
            self._note(
                f"{self.host} is not answering ({error}): every call waits, and one probe at a "
                f"time tries the host; the run stops (resumable) after "
                f"{self.policy.limit:g} s without an answer"
            )
            self._prober = asyncio.get_running_loop().create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        backoff = self.policy.backoff
        failed = 0  # probes of this outage that got no answer: each doubles the wait
        while self.down and self.down_since is not None:
            left = self.policy.limit - (self._clock() - self.down_since)
            if left <= 0:
                self._note(
                    f"{self.host} has not answered for {self.policy.limit:g} s: stopping; "
                    "run the same command again to resume"
                )
                self.gave_up.set()
                return
            await asyncio.sleep(min(backoff.delay(failed + 1), left))
            if not self.down or self._clock() - self.down_since >= self.policy.limit:
                continue  # back up meanwhile (another call was answered), or time is up
            try:
                await self._probe()  # an answer comes back through succeeded()
            except Exception as exc:  # no answer: back off and try again
                self.last_error = str(exc) or type(exc).__name__
                failed += 1

    def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
