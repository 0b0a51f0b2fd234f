"""What a run is asked to do: one typed request, built by the command line or by a library user
and handed to ``run_import``.

``RunRequest`` says what to read (``input``), how to map it (``mapping``, a file: the journal
records it, and ``lsq-import retry`` reads it again), where to send (``connection``), how fast
and how patiently (``options``, a ``RunOptions``) and where to write (``out_dir``).
``StopSwitch`` is how a caller stops a run that is going (the command line's signal handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from importer.sending.connection import Connection
from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate
from importer.sending.outage import OutagePolicy


@dataclass(frozen=True)
class RunOptions:
    """How a run sends: its rate, its patience, its limits and its call log."""

    rate: Rate = field(default_factory=lambda: Rate(25, 5.0))
    #: A fixed margin in seconds for the rate limiter (None: learned from the run).
    margin: float | None = None
    workers: int | None = None  # default: enough to keep the limit busy at 1-2 s latency
    timeout: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: Send at most this many rows in this run (rows done before and rows that fail to map
    #: do not count); the rest stay pending for the next run.
    max_rows: int | None = None
    #: After a stop request, how long calls in flight may take to finish before they are cut
    #: off (default: the timeout, plus 5 s for the check of a lost answer to start).
    grace: float | None = None
    #: The JSON-lines call log (None: none); ``log_payloads`` adds each call's body to it.
    log_path: Path | None = None
    log_payloads: bool = False
    #: Check the mapping and the values against the account's metadata before sending.
    check_account: bool = True
    #: When the host stops answering: how long the run waits for it, and how it probes.
    outage: OutagePolicy = field(default_factory=OutagePolicy)

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        per_second = self.rate.calls / self.rate.seconds
        return max(4, min(100, round(per_second * 3) + 2))


@dataclass(frozen=True, init=False)
class RunRequest:
    """One import: every row of ``input`` mapped by the ``mapping`` file and sent to
    ``connection``, the outcomes written in ``out_dir`` (its journal lets the same request
    resume). Paths may be given as text.

    ``fresh`` starts over: the earlier run's files in ``out_dir`` are moved into
    ``out_dir/earlier/``, never deleted. ``retry`` sends only the rows the journal holds as
    failed for a passing reason (or in flight): rows never tried stay pending."""

    input: Path
    mapping: Path
    out_dir: Path
    connection: Connection
    options: RunOptions
    fresh: bool
    retry: bool

    def __init__(
        self,
        input: str | Path,
        mapping: str | Path,
        out_dir: str | Path,
        connection: Connection,
        options: RunOptions | None = None,
        *,
        fresh: bool = False,
        retry: bool = False,
    ) -> None:
        set_field = object.__setattr__  # frozen: set once, here
        set_field(self, "input", Path(input))
        set_field(self, "mapping", Path(mapping))
        set_field(self, "out_dir", Path(out_dir))
        set_field(self, "connection", connection)
        set_field(self, "options", options or RunOptions())
        set_field(self, "fresh", fresh)
        set_field(self, "retry", retry)


class StopSwitch:
    """Stops a running import from outside, e.g. from a signal handler on the run's loop.

    The first request stops it gracefully: no new row is sent, calls in flight finish (within
    ``RunOptions.grace``), results and the journal are written. The second stops it at once: a
    row whose call was on the wire is recorded as ``OutcomeUnknown``, which the next run checks
    on its lead before sending again."""

    def __init__(self) -> None:
        self.reason: str | None = None  # the first request's name, e.g. "SIGINT"
        self.requests = 0
        self._listener: Callable[[int], None] | None = None

    def request(self, reason: str = "stop") -> None:
        self.requests += 1
        self.reason = self.reason or reason
        if self._listener is not None:
            self._listener(self.requests)

    def listen(self, listener: Callable[[int], None] | None) -> None:
        self._listener = listener
