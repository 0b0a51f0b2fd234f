"""How long to wait before trying again: one rule, ``Backoff``, for every loop that retries.

Exponential and capped: retry ``n`` (1 for the first) waits ``base * 2**(n - 1)`` seconds, never
more than ``cap``. With full jitter the wait is drawn uniformly between 0 and that ceiling
instead, so that rows that failed together do not all come back together.

    who waits                                   base   cap    jitter   retry 1, 2, 3, 4, 5, 6...
    Delivery: a row's transient failure         1.0    30.0   full     up to 1, 2, 4, 8, 16, 30
      (``RetryPolicy.backoff``)
    LeadSquaredClient.lookup: a read-only call  0.2    1.0    none     0.2, 0.4, 0.8, 1, 1, 1
    Link: the probe of a host that is down      1.0    30.0   none     1, 2, 4, 8, 16, 30
      (``OutagePolicy.backoff``, per failed probe)

None of them reads a Retry-After header: a throttled call is not paused here but sent again
when the rate limiter (``limiter.py``), which has learned from the throttle, lets it go.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The wait before each retry: ``base`` for the first (its ceiling, with ``jitter``),
    doubling up to ``cap``."""

    base: float
    cap: float
    #: Full jitter: a uniform draw between 0 and the ceiling.
    jitter: bool = False

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry ``retry`` (1 for the first): base * 2**(retry - 1),
        capped."""
        if retry < 1:
            raise ValueError(f"retries count from 1, not {retry}")
        try:
            # exactly base * 2**(retry - 1), without the overflow of a large retry number
            return min(self.cap, math.ldexp(self.base, retry - 1))
        except OverflowError:
            return self.cap

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry ``retry``: the ceiling, or with jitter one draw from ``rng``
        (the module's generator if None) between 0 and it."""
        ceiling = self.ceiling(retry)
        if not self.jitter:
            return ceiling
        if rng is None:
            return random.uniform(0, ceiling)
        return rng.uniform(0, ceiling)
