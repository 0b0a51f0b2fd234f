"""The baseline for ``bench_network.py``: lsq-import's rate limiter as it was before it learned
the network (commit f77014d), its code unchanged, and an adapter that gives it today's interface
so that the same ``run_import`` can run with either. Not used by lsq-import itself.

Its own docstring, then: a sliding window over this process's last N sends holds each send
until the N-th before it is more than ``W * (1 + margin)`` old (margin 0.5 % of W); an
``AsyncLimiter(1, ...)`` in front spreads the sends; a throttle pauses every sender for a whole
window, and a lower limit named by the server replaces the configured one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

DEFAULT_MARGIN = 0.005
_SPREAD = 0.95  # the bucket's pace, as a share of the window's


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.calls}/{self.seconds:g}s"


class RateLimiter:
    """Every call to LeadSquared, retries and lookups included, waits on ``acquire()`` first.

    Create it inside the running loop (aiolimiter binds to the loop that first uses it)."""

    def __init__(self, rate: Rate, margin: float = DEFAULT_MARGIN) -> None:
        self.margin = margin
        self._turn = asyncio.Lock()  # senders pass one at a time, in the order they came
        self._resume_at = 0.0
        self.adopted: Rate | None = None
        self._set(rate)

    def _set(self, rate: Rate) -> None:
        self.rate = rate
        self._span = rate.seconds * (1 + self.margin)
        # The bucket spreads the sends evenly (a burst of N opens N connections at once, and
        # their uneven set-up squeezes the arrivals), a little faster than the limit so that
        # its late wake-ups cost nothing: the window below is what holds the rate.
        self._bucket = AsyncLimiter(1, self._span / rate.calls * _SPREAD)
        self._sent: deque[float] = deque(maxlen=rate.calls)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._turn:
            while True:
                await self._sleep_until(self._resume_at)
                await self._bucket.acquire()
                if len(self._sent) == self._sent.maxlen:
                    await self._sleep_until(self._sent[0] + self._span)
                if loop.time() >= self._resume_at:  # no throttle came in while it waited
                    self._sent.append(loop.time())
                    return

    def restamp_last(self) -> None:
        """Count the last send as made now (its answer has just come back)."""
        if self._sent:
            self._sent[-1] = asyncio.get_running_loop().time()

    @staticmethod
    async def _sleep_until(when: float) -> None:
        loop = asyncio.get_running_loop()
        while (left := when - loop.time()) > 0:
            await asyncio.sleep(left)

    def throttled(self, stated: tuple[int, float] | None) -> Rate | None:
        """A call was throttled: pause every sender for one window. If the server named a
        lower limit than ours, adopt it and return it."""
        adopted = None
        if stated is not None:
            calls, seconds = stated
            if calls > 0 and seconds > 0 and calls / seconds < self.rate.calls / self.rate.seconds:
                adopted = self.adopted = Rate(calls, seconds)
                self._set(adopted)
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + self.rate.seconds)
        return adopted


class BaselineAdapter:
    """The old limiter behind the new one's interface: stamps are not moved as calls leave
    (the old limiter stamped a send when it let it go, before the journal's mark), answers teach
    it nothing, and a throttle pauses every sender for a window."""

    def __init__(self, rate: Rate, margin: float | None = None) -> None:
        from importer.sending.limiter import Stamp

        self._stamp = Stamp
        self.old = RateLimiter(rate)
        self._first: object | None = None

    @property
    def rate(self) -> Rate:
        return self.old.rate

    @property
    def adopted(self) -> Rate | None:
        return self.old.adopted

    async def acquire(self):
        await self.old.acquire()
        stamp = self._stamp(asyncio.get_running_loop().time())
        if self._first is None:
            self._first = stamp
        return stamp

    def restamp(self, stamp) -> None:
        if stamp is self._first:  # the old client restamped only the run's first call
            self.old.restamp_last()

    def answered(self, stamp, kind: str = "") -> None:
        pass

    def throttled(self, stamp, stated):
        from importer.sending.limiter import Lesson, Throttle

        return Lesson(Throttle.JITTER, self.old.throttled(stated))
