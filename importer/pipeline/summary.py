"""What a run did: ``RunSummary``, the counts and the reason it stopped, and the exit code they
mean (``exitcodes.py``). ``summary.json`` is its ``as_json``.

How a run stops early, as ``RunSummary.stop`` says: ``FATAL`` (an answer that stops everything:
bad keys, a wrong host), ``MAX_ROWS`` (``--max-rows`` reached), ``OUTAGE`` (the host did not
answer for longer than the outage limit), ``OUTPUT`` (a file could not be written), or the name
of the signal that stopped it (``SIGINT``, ``SIGTERM``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importer import exitcodes
from importer.failures import is_final
from importer.sending.client import Counters

FATAL, MAX_ROWS, OUTAGE, OUTPUT = "fatal", "max_rows", "outage", "output"


@dataclass
class RunSummary:
    rows: int = 0  # rows with a result (succeeded or failed), earlier runs' included
    succeeded: int = 0
    failed: int = 0
    not_sent: int = 0
    pending: int = 0  # rows this run stopped before reaching: the next run sends them
    done_before: int = 0  # rows an earlier run finished for good (resumed, not sent again)
    total: int = 0  # rows in the input (blank rows aside)
    blank: int = 0
    failed_by_type: dict[str, int] = field(default_factory=dict)
    possible_duplicates: list[int] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    elapsed: float = 0.0
    rate: str = ""
    adopted_rate: str | None = None
    stopped: str | None = None  # why the run stopped early, for people
    stop: str | None = None  # how: FATAL, MAX_ROWS, OUTAGE, OUTPUT or a signal's name
    out_dir: Path | None = None
    #: The input as read: where ``fresh`` moved it, if it was a file of the earlier run.
    input_path: Path | None = None
    #: Where ``fresh`` moved the earlier run's files (None: nothing was there to move).
    earlier: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 all rows succeeded; 1 some failed; 3 stopped by LeadSquared or a host that never
        answered; 4 stopped at --max-rows with rows left; 74 a file could not be written; 75
        the host stopped answering for longer than the outage limit; 130/143 stopped by
        SIGINT/SIGTERM (2 is a config error, raised before any run). 4, 74, 75, 130 and 143:
        the same command resumes."""
        if self.stop == OUTPUT:
            return exitcodes.CANNOT_WRITE
        if self.stop == FATAL:
            return exitcodes.STOPPED
        if self.stop == OUTAGE:
            return exitcodes.HOST_DOWN
        if self.stop not in (None, MAX_ROWS):
            return exitcodes.BY_SIGNAL.get(self.stop, exitcodes.BY_SIGNAL["SIGINT"])
        if self.failed:
            return exitcodes.ROWS_FAILED
        return exitcodes.MAX_ROWS_LEFT if self.pending else exitcodes.OK

    @property
    def failed_retryable(self) -> dict[str, int]:
        """The failures a later run sends again (resume, ``lsq-import retry``), by type: those
        the table of failure kinds does not call final."""
        return {k: n for k, n in self.failed_by_type.items() if not is_final(k)}

    @property
    def handled(self) -> int:
        """Rows this run settled by sending them (or failing to map them)."""
        return self.rows - self.done_before - self.not_sent

    def as_json(self, **extra: Any) -> dict[str, Any]:
        handled = self.handled
        return {
            "rows": self.rows,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failed_by_type": self.failed_by_type,
            "failed_retryable": sum(self.failed_retryable.values()),
            "not_sent": self.not_sent,
            "pending": self.pending,
            "complete": self.pending == 0,
            "blank_rows_skipped": self.blank,
            "possible_duplicates": self.possible_duplicates,
            "calls": self.counters.calls,
            "throttles": self.counters.throttles,
            "retries": self.counters.retries,
            "lost_answers": self.counters.lost_answers,
            "lost_answers_found_landed": self.counters.verified_landed,
            "elapsed_seconds": round(self.elapsed, 3),
            "rows_done_before": self.done_before,
            "rows_per_second": round(handled / self.elapsed, 3) if self.elapsed else None,
            "rate": self.rate,
            "adopted_rate": self.adopted_rate,
            "stopped": self.stopped,
            "stop": self.stop,
            "exit_code": self.exit_code,
            **extra,
        }
