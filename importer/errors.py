"""The exception tree, named for what the run does next.

    ImporterError                  base of everything lsq-import raises on purpose
    ├── ConfigError                the mapping is wrong: nothing is sent (exit 2)
    ├── SourceError                the input file cannot be read as asked: nothing is sent (exit 2)
    ├── AccountError               the account's metadata cannot be read: nothing is sent (exit 2;
    │                              3 when LeadSquared refused the keys or the host)
    ├── OutputError                a file under --out (or the --log file) cannot be written: a
    │                              full disk, a folder made read-only or removed: the run stops
    │                              as a graceful stop does (exit 74); the same command resumes
    └── RowError                   one row cannot be mapped: record it as a failure, go on

A ConfigError carries every problem found at once as ``Problem`` items (a path in the mapping
file and a message), so that the user fixes them in one pass. A RowError carries what the
results writer needs (row number, error type, message) so that nothing parses strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ImporterError(Exception):
    """Base of every error lsq-import raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping: where (``activity.fields.mx_Custom_2.format``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ImporterError):
    """The mapping (or its fit with the file's header) is wrong. Nothing is sent."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        count = len(problems)
        noun = f"{count} problem{'s' if count != 1 else ''}"
        # without a mapping file to name, the problems are in the options or the environment
        lines = [f"{source}: {noun} in the mapping:" if source else f"{noun}:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class SourceError(ImporterError):
    """The input file cannot be read as asked (missing, no such sheet, undecodable).

    Nothing is sent."""


class AccountError(ImporterError):
    """The account cannot be read (whoami, its fields, its activity types). Nothing is sent.

    ``refused``: LeadSquared refused the keys or the host, as it would every call.
    ``unreachable``: the host never answered; the message names the host and the fix."""

    def __init__(
        self, message: str, refused: bool = False, unreachable: bool = False, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.refused = refused
        self.unreachable = unreachable
        self.detail = detail or message  # without the advice


class OutputError(ImporterError):
    """A file the run writes cannot be written. ``path`` is the file (or the folder) and
    ``cause`` what the system said (``No space left on device``, ``database or disk is full``).

    Rows whose outcome was not recorded stay pending, or ``sending`` (looked up on their lead
    before being sent again), so the same command resumes once the folder can be written."""

    def __init__(self, path: Path, cause: str) -> None:
        self.path = path
        self.cause = cause
        #: The folder to make room in, or to make writable.
        self.folder = path if path.is_dir() else path.parent
        where = f"in {path}" if path.is_dir() else f"{path.name} in {path.parent}"
        super().__init__(f"cannot write {where}: {cause}")


class RowError(ImporterError):
    """One row cannot become a payload. The row is recorded as a failure and the run goes on."""

    def __init__(self, row: int, error_type: str, message: str) -> None:
        self.row = row
        self.error_type = error_type
        self.message = message
        super().__init__(f"row {row}: {message}")
