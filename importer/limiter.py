"""Keeping to the account's rate limit: no window of W seconds ever holds more than N sends.

aiolimiter's ``AsyncLimiter(N, W)`` is a leaky bucket with a burst of N: in its first W seconds
it lets about 2N calls through, which LeadSquared's window would throttle (BENCHMARKS.md
measures it). Here the bucket holds one call and leaks one every ``W/N * (1 + margin)``
seconds: any N+1 sends then span more than W, whatever their timing, and the margin absorbs
network jitter. A throttle pauses every sender for a whole window, so that the server's window
empties, and a lower limit named by the server replaces the configured one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

DEFAULT_MARGIN = 0.005


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
        self.rate = rate
        self.margin = margin
        self._bucket = self._make_bucket(rate)
        self._resume_at = 0.0
        self.adopted: Rate | None = None

    def _make_bucket(self, rate: Rate) -> AsyncLimiter:
        return AsyncLimiter(1, rate.seconds / rate.calls * (1 + self.margin))

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pause = self._resume_at - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            await self._bucket.acquire()
            if loop.time() >= self._resume_at:  # no throttle came in while it waited
                return

    def throttled(self, stated: tuple[int, float] | None) -> Rate | None:
        """A call was throttled: pause every sender for one window. If the server named a
        lower limit than ours, adopt it and return it."""
        adopted = None
        if stated is not None:
            calls, seconds = stated
            if calls > 0 and seconds > 0 and calls / seconds < self.rate.calls / self.rate.seconds:
                self.rate = adopted = self.adopted = Rate(calls, seconds)
                self._bucket = self._make_bucket(self.rate)
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + self.rate.seconds)
        return adopted
