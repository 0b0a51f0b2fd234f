"""Keeping to the account's rate limit, on a real network and beside other clients.

LeadSquared counts the calls that *arrive* in any window of W seconds (``shared/
LEADSQUARED_API.md`` assumes a strict sliding window that counts rejected calls too). We only
know when ours *leave*. Two sends N apart that leave ``W + m`` apart arrive at least
``W + m - J`` apart, where J is the spread of the network's delay on the way in; so the margin m
must cover J, and every second of margin costs a share ``m / (W + m)`` of the limit.

``Pacer`` (pure: it is handed the time, it never sleeps) decides when the next send may leave:

- **A sliding window over our own sends**: a send leaves only once the ``allowed``-th send
  before it is ``W + margin`` old, so no window of W ever holds more than ``allowed`` of them.
- **A margin that is a time, learned from the run.** It starts at the spread of the answer
  times (the most recent 64 calls of the kind whose times spread least, largest left out,
  throttles' answers aside), at most 2 % of W: an estimate with no throttle behind it is
  never allowed to cost more than 2 %. Answer times hold the server's work as well as the
  network's jitter, and only the jitter needs a margin, so every four clean windows relax the
  margin by a fifth, down to 0.2 % of W. A throttle that our own sends could explain (our
  window was full) shows the margin in force was too small: it is doubled, up to 20 % of W,
  relaxed again as before, but never below 1.25 times the widest margin a throttle showed too
  small (a lesson itself relaxed by a tenth every 64 clean windows, as the network calms).
  The margin thus settles just above what the network needs, at the cost of a throttle or two.
  The send is stamped as late as the client can: after the journal's mark, when the
  request's headers are written.
- **A throttled call counts**, as it did on the server: its stamp stays in the window, and the
  next send waits as long as the window then requires; there is no blanket pause.
- **Neighbours.** Another integration, or a second import, on the same account uses part of
  the same quota. A throttle that our own sends cannot explain (they left room in the window),
  or one that comes again within three windows although the margin was just widened, lowers
  ``allowed`` by 30 % (multiplicative decrease). Each clean window then adds one call back
  (additive increase) while far below the level that was throttled, and near it only every
  ``patience`` windows, a patience that doubles with each neighbour throttle, so that probing
  for the neighbour's share gets rarer instead of recurring.
- **A lower limit named by the server** ("API calls exceeded the limit of 20 in 5 second(s)")
  replaces the configured one.

``RateLimiter`` runs a ``Pacer`` in the event loop, with an ``aiolimiter.AsyncLimiter`` of one
in front to spread the sends evenly (a burst of N opens N connections at once, and their uneven
set-up squeezes the arrivals), 5 % faster than the window allows so that its late wake-ups cost
nothing: the window is what holds the rate. Measurements: BENCHMARKS.md, "the rate on a real
network".
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

_SPREAD = 0.95  # the bucket's pace, as a share of the window's
_FLOOR, _ESTIMATE_CAP, _CEILING = 0.002, 0.02, 0.2  # the margin's bounds, as shares of W
_RELAX_EVERY, _RELAX = 4, 0.8  # clean windows between relaxations, and the factor
_ABOVE = 1.25  # the margin stays this far above the widest one a throttle showed too small
_FORGET_EVERY, _FORGET = 64, 0.9  # clean windows between relaxations of that lesson, and the factor
_DECREASE = 0.7  # a neighbour throttle leaves this share of ``allowed``
_NEAR = 0.85  # within this share of the throttled level, increase only every ``patience``
_PATIENCE_CAP = 16


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.calls}/{self.seconds:g}s"


@dataclass
class Stamp:
    """When one send left, as the window counts it (moved later as the request leaves)."""

    at: float


class Throttle(enum.Enum):
    """What one throttle taught the pacer."""

    JITTER = "jitter"  # our own window was full: the margin was too small, and is widened
    NEIGHBOUR = "neighbour"  # someone else's calls filled the server's window: send less


@dataclass(frozen=True)
class Lesson:
    kind: Throttle
    adopted: Rate | None = None  # the lower limit the server named, now in force
    first_neighbour: bool = False  # the first neighbour throttle of the run: say so, once


class Pacer:
    """When the next send may leave; see the module docstring. ``margin``: a fixed margin in
    seconds instead of a learned one (tests)."""

    def __init__(self, rate: Rate, margin: float | None = None) -> None:
        self.fixed_margin = margin
        self.adopted: Rate | None = None
        self.learned = 0.0  # the margin widened by throttles, in seconds
        self.too_small = 0.0  # the widest margin a throttle showed to be too small, in seconds
        self._relaxed = 1.0  # how far clean windows have relaxed the answer times' estimate
        self._answers: dict[str, deque[float]] = {}  # recent answer times, per kind of call
        self._high: float | None = None  # the ``allowed`` a neighbour throttle came at
        self.patience = 1
        self.neighbour_throttles = 0
        self._last_throttle: float | None = None
        self._clean_windows = 0
        self._next_review: float | None = None
        self.allowed = float(rate.calls)
        self._sent: deque[Stamp] = deque()
        self._set(rate)

    def _set(self, rate: Rate) -> None:
        self.rate = rate
        # Twice the limit: a throttle is judged against the sends before it and those that
        # left while it was on the wire.
        self._sent = deque(self._sent, maxlen=2 * rate.calls)
        self.allowed = min(self.allowed, float(rate.calls))

    # --- what it knows ------------------------------------------------------------------------

    @property
    def spread(self) -> float | None:
        """The spread of the recent answer times (largest left out), of the kind of call whose
        times spread least; None before 8 answers of one kind. Each kind's spread is the
        network's plus the server's work, which differs by call: the least is the closest to
        the network's alone."""
        spreads = [
            ordered[-2] - ordered[0]
            for times in self._answers.values()
            if len(times) >= 8 and (ordered := sorted(times))
        ]
        return min(spreads) if spreads else None

    @property
    def margin(self) -> float:
        if self.fixed_margin is not None:
            return self.fixed_margin
        window = self.rate.seconds
        estimate = min(self.spread or 0.0, _ESTIMATE_CAP * window) * self._relaxed
        known = _ABOVE * self.too_small
        return min(max(estimate, _FLOOR * window, self.learned, known), _CEILING * window)

    @property
    def span(self) -> float:
        return self.rate.seconds + self.margin

    @property
    def budget(self) -> int:
        """How many sends any window may hold now."""
        return max(1, int(self.allowed))

    def gap(self) -> float:
        """The even spacing of sends at the current budget (the bucket's period)."""
        return self.span / self.budget * _SPREAD

    # --- the decisions ------------------------------------------------------------------------

    def earliest(self, now: float) -> float:
        """The earliest time the next send may leave."""
        self._review(now)
        budget = self.budget
        if len(self._sent) < budget:
            return now
        return max(now, self._sent[-budget].at + self.span)

    def sent(self, now: float) -> Stamp:
        """A send leaves now; its stamp may be moved later (``restamp``) as it really leaves."""
        self._review(now)
        stamp = Stamp(now)
        self._sent.append(stamp)
        return stamp

    @staticmethod
    def restamp(stamp: Stamp, now: float) -> None:
        stamp.at = max(stamp.at, now)

    def answered(self, stamp: Stamp, now: float, kind: str = "") -> None:
        """An answer came back: its time teaches the network's spread. ``kind``: the call's
        path (a throttle's answer, which skips the server's work, is not one to learn from)."""
        times = self._answers.setdefault(kind, deque(maxlen=64))
        times.append(max(0.0, now - stamp.at))

    def throttled(self, stamp: Stamp, now: float, stated: tuple[int, float] | None) -> Lesson:
        """The call sent at ``stamp`` was throttled. Its stamp stays in the window."""
        adopted = None
        if stated is not None:
            calls, seconds = stated
            limit = self.rate.calls / self.rate.seconds
            if calls > 0 and seconds > 0 and calls / seconds < limit:
                adopted = self.adopted = Rate(calls, seconds)
                self._set(adopted)
        recent = (
            self._last_throttle is not None and now - self._last_throttle < 3 * self.rate.seconds
        )
        self._last_throttle = now
        self._clean_windows = 0
        self._next_review = now + self.rate.seconds
        if adopted is not None:
            return Lesson(Throttle.JITTER, adopted)
        if self._ours_could_fill(stamp) and not (recent and self.learned):
            window, margin = self.rate.seconds, self.margin
            self.too_small = max(self.too_small, margin)
            self.learned = min(_CEILING * window, max(2 * margin, margin + _FLOOR * window))
            return Lesson(Throttle.JITTER)
        self.neighbour_throttles += 1
        self._high = self.allowed
        self.allowed = max(1.0, self.allowed * _DECREASE)
        self.patience = min(_PATIENCE_CAP, self.patience * 2)
        return Lesson(Throttle.NEIGHBOUR, first_neighbour=self.neighbour_throttles == 1)

    def _ours_could_fill(self, stamp: Stamp) -> bool:
        """Whether our own sends alone could have put N calls in the server's window before
        this one: N of them left within ``W`` plus twice the plausible jitter of it."""
        calls = self.rate.calls
        jitter = 2 * max(self.margin, self.spread or 0.0) + _FLOOR * self.rate.seconds
        earlier = [s.at for s in self._sent if s is not stamp and s.at <= stamp.at + jitter]
        if len(earlier) < calls:
            return False
        return stamp.at - sorted(earlier)[-calls] < self.rate.seconds + jitter

    def _review(self, now: float) -> None:
        """After each clean window: relax the margin now and then, and win back calls."""
        if self._next_review is None:
            self._next_review = now + self.rate.seconds
            return
        while now >= self._next_review:
            self._next_review += self.rate.seconds
            self._clean_windows += 1
            if self._clean_windows % _RELAX_EVERY == 0:
                floor = _FLOOR * self.rate.seconds
                self._relaxed *= _RELAX
                self.learned = self.learned * _RELAX if self.learned * _RELAX >= floor else 0.0
            if self._clean_windows % _FORGET_EVERY == 0:
                self.too_small *= _FORGET
            if self.allowed < self.rate.calls:
                far = self._high is None or self.allowed + 1 <= _NEAR * self._high
                if far or self._clean_windows % self.patience == 0:
                    self.allowed = min(float(self.rate.calls), self.allowed + 1)


class RateLimiter:
    """Every call to LeadSquared, retries and lookups included, waits on ``acquire()`` first
    and reports its answer (``answered``, ``throttled``) with the stamp it got.

    Create it inside the running loop (aiolimiter binds to the loop that first uses it)."""

    def __init__(self, rate: Rate, margin: float | None = None) -> None:
        self.pacer = Pacer(rate, margin)
        self._turn = asyncio.Lock()  # senders pass one at a time, in the order they came
        self._bucket, self._gap = self._new_bucket()

    @property
    def rate(self) -> Rate:
        return self.pacer.rate

    @property
    def adopted(self) -> Rate | None:
        return self.pacer.adopted

    def _new_bucket(self) -> tuple[AsyncLimiter, float]:
        gap = self.pacer.gap()
        return AsyncLimiter(1, gap), gap

    async def acquire(self) -> Stamp:
        loop = asyncio.get_running_loop()
        async with self._turn:
            if abs(self.pacer.gap() - self._gap) > 0.05 * self._gap:  # budget or margin moved
                self._bucket, self._gap = self._new_bucket()
            await self._bucket.acquire()
            while (left := self.pacer.earliest(loop.time()) - loop.time()) > 0:
                await asyncio.sleep(left)  # a throttle meanwhile may push it later: look again
            return self.pacer.sent(loop.time())

    def restamp(self, stamp: Stamp) -> None:
        """The send leaves now (the journal has its mark; the request's headers are written)."""
        self.pacer.restamp(stamp, asyncio.get_running_loop().time())

    def answered(self, stamp: Stamp, kind: str = "") -> None:
        self.pacer.answered(stamp, asyncio.get_running_loop().time(), kind)

    def throttled(self, stamp: Stamp, stated: tuple[int, float] | None) -> Lesson:
        return self.pacer.throttled(stamp, asyncio.get_running_loop().time(), stated)
