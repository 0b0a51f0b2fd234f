"""Keeping to the account's rate limit: no window of W seconds ever holds more than N sends.

aiolimiter's ``AsyncLimiter(N, W)`` is a leaky bucket with a burst of N: in its first W seconds
it lets about 2N calls through, which LeadSquared's window would throttle (BENCHMARKS.md
measures it). So it is wrapped. A sliding window over this process's last N sends holds each
send until the N-th before it is more than ``W * (1 + margin)`` old: any N+1 sends then span
more than W, and the margin absorbs network jitter. In front of it, an ``AsyncLimiter(1, ...)``
spreads the sends evenly, pacing 5% faster than the window allows so that its late wake-ups
(lost for good in a bucket of one: about 3% of the limit at 25 calls a second) cost nothing.

A throttle pauses every sender for a whole window, so that the server's window empties, and a
lower limit named by the server replaces the configured one.
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
