"""Where each row's outcome goes, in one place: the journal first, then the summary's counts,
the outputs (``Output``: today ``results.RunResults``, the two CSV files) and the progress
display.

A row's outcome is counted once the journal holds it. If the journal cannot take it, the row
stays as the journal last had it (``sending`` for a row whose call went: the next run looks it
up on its lead instead of sending it blindly). If only the results file cannot, the row counts:
the next run rebuilds the results files from the journal. Either way the run is told
(``cannot_write``) and stops as a graceful stop does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Protocol

from importer.errors import OutputError
from importer.failures import NOT_SENT
from importer.outdir import output_error
from importer.outputs.progress import Progress
from importer.pipeline.journal import Journal
from importer.pipeline.summary import RunSummary
from importer.sending.delivery import SUCCEEDED, RowResult


class Output(Protocol):
    """What is told every row's outcome once the journal holds it, in the order rows finish,
    and closed when the run ends. A new output (a report, say) implements these and is added
    to the runner's ``outputs`` beside the results files; an OutputError from it stops the run
    as a full disk does."""

    def succeeded(
        self, row: int, activity_id: str, lead_id: str, line: str, possible_duplicate: bool = False
    ) -> None: ...

    def failed(self, row: int, error_type: str, message: str, line: str) -> None: ...

    def close(self) -> None:
        """The run is over, on a stop too: write what is left; OutputError if it cannot."""


class Outcomes:
    """Records each row's outcome in the journal, the summary, the outputs and the progress."""

    def __init__(
        self,
        journal: Journal,
        outputs: Sequence[Output],
        summary: RunSummary,
        progress: Progress,
        cannot_write: Callable[[OutputError], None],
    ) -> None:
        self.journal = journal
        self.outputs = outputs
        self.summary = summary
        self.progress = progress
        self.cannot_write = cannot_write

    def journal_error(self, exc: sqlite3.Error) -> None:
        self.cannot_write(output_error(exc, self.journal.path))

    def finish(self, result: RowResult, line: str) -> None:
        """A row whose delivery ended: succeeded, or failed with its answer's reason."""
        if result.status != SUCCEEDED:
            self.failed(result.row, result.error_type, result.error, line)
            return
        try:
            self.journal.succeeded(
                result.row, line, result.activity_id, result.lead_id, result.possible_duplicate
            )
        except sqlite3.Error as exc:
            self.journal_error(exc)
            return
        self.summary.rows += 1
        self.summary.succeeded += 1
        for output in self.outputs:
            try:
                output.succeeded(
                    result.row, result.activity_id, result.lead_id, line, result.possible_duplicate
                )
            except OutputError as exc:
                self.cannot_write(exc)
        self._advance(True)

    def failed(self, row: int, error_type: str, message: str, line: str) -> None:
        """A row that failed: it did not map, its answer refused it, or it was not sent."""
        try:
            self.journal.failed(row, line, error_type, message)
        except sqlite3.Error as exc:
            self.journal_error(exc)
            return
        self.summary.rows += 1
        self.summary.failed += 1
        if error_type == NOT_SENT:
            self.summary.not_sent += 1
        for output in self.outputs:
            try:
                output.failed(row, error_type, message, line)
            except OutputError as exc:
                self.cannot_write(exc)
        self._advance(False)

    def _advance(self, succeeded: bool) -> None:
        self.progress.advance(succeeded, self.summary.failed, self.summary.counters.throttles)
