"""The exception tree, named for what the run does next.

Everything lsq-import raises on purpose is an ``ImporterError``. The branch under it says what
the run does next; the leaf says what went wrong and carries what the caller needs to act on
it (the problems to list, the row's error type, the file to make room in). A leaf defined in
another module is named with it.

    ImporterError                  base of everything lsq-import raises on purpose
    │
    ├── NothingSent                found before any row is sent: the command says what to fix
    │   │                          and exits 2 (3 for refused keys); fixed, the same command runs
    │   ├── ConfigError            the mapping, an option or the --out folder is wrong (exit 2)
    │   ├── SourceError            the input file cannot be read as asked (exit 2)
    │   ├── AccountError           the account's metadata cannot be read (exit 2; 3 when
    │   │                          LeadSquared refused the keys or the host: ``refused``)
    │   ├── JournalError           (pipeline/journal.py) the folder's journal is another
    │   │                          version's or is damaged: a ConfigError about --out, or DIR
    │   │                          for retry (exit 2)
    │   └── XlsxPartError          (readers/xlsx_extras.py) a part of a workbook is missing or
    │       │                      damaged: a SourceError naming the sheet (exit 2)
    │       └── _Damaged           (readers/xlsb_extras.py, private) a record cut short: its
    │                              caller raises the XlsxPartError that names the part
    │
    ├── StopTheRun                 every further call would fail alike, or nothing more can be
    │   │                          recorded: the run stops; rows not sent stay for the next run
    │   ├── FatalError             LeadSquared refused the keys or the path, or the host never
    │   │                          answered: the kinds of Next.STOP (Unauthorized, NotFound,
    │   │                          HostUnreachable, MXInvalidUserDetailsException). Its row is
    │   │                          recorded as ``row_error_type``, the rows after it as NotSent
    │   │                          (exit 3)
    │   ├── HostUnreachable        no call of this run got an answer from the host: in a run, a
    │   │                          FatalError of kind HostUnreachable (OutcomeUnknown if the row's
    │   │                          call may have landed), exit 3; before it, an AccountError
    │   │                          (exit 2)
    │   ├── OutputError            a file under --out (or the --log file) cannot be written: a
    │   │                          full disk, a folder made read-only or removed: the run stops
    │   │                          as a graceful stop does (exit 74); the same command resumes
    │   └── RunStopped             the run is stopping (a signal, a FatalError, an OutputError,
    │                              an outage past --outage-limit): a call waiting for its turn is
    │                              not sent. Its row stays pending (NotSent after a FatalError;
    │                              Interrupted if an earlier attempt reached the server); the
    │                              exit code is the stop's (3, 74, 75, 130, 143)
    │
    ├── SendAgain                  transient: the call is made again after a pause (``backoff``);
    │   │                          once a row's retries are spent it fails with the leaf's kind,
    │   │                          of Next.RETRY_NOW: a later run (resume, retry) sends it again
    │   ├── CallNotSent            no connection: the call never reached the server (kind
    │   │                          ConnectionError)
    │   ├── CallLost               the answer was lost: the row's lead is looked up first (did
    │   │                          the call land?), then it is sent again (kind AnswerLost)
    │   └── TooDeep                (sending/responses.py; also a ValueError) an answer's JSON
    │                              is nested too deeply to read: judged by its status alone (a
    │                              200: kind HTTP2??)
    │
    ├── GoWithout                  a read-only call gave no answer to use, its own retries spent:
    │   │                          the caller goes on without it
    │   └── LookupFailed           a lost call's check ends unchecked (the row is sent again,
    │                              marked possibly duplicated); an account check is skipped.
    │                              Where the answer cannot be done without (``fatal``: the keys
    │                              or the host refused; not ``reached``: no answer at all), the
    │                              account's reader raises an AccountError instead
    │
    └── RowFailed                  the row is recorded as failed, under its kind, and the run goes
        │                          on with the next row (exit 1 at the end, if nothing stopped it)
        └── OutcomeUnknown         the run stopped while a lost call was being checked: kind
                                   OutcomeUnknown (Next.RETRY_LATER, its lead looked up first)

The row-level branch's data is the table of failure kinds, ``failures.KINDS``: every kind a row
can end with, whether raised as a RowFailed, met as a SendAgain whose retries ran out or as a
StopTheRun, or (most of them) found without raising anything: a row that cannot become a
payload is a value of the mapping stage (``mapping.plan.RowProblem``: BadRow,
InvalidValue...), an MX error is read from LeadSquared's answer
(``sending.responses.classify_response``); and what a later run does with each (``Next``).
The exit codes are ``exitcodes.py``'s.

A ConfigError carries every problem found at once as ``Problem`` items (a path in the mapping
file and a message), so that the user fixes them in one pass; a FatalError carries the answer
and how its row is recorded, so that nothing parses strings.

Outside the tree, for now: ``metadata.Unreadable`` (an account's answer in a shape nothing here
reads; the check that needed it is skipped, a GoWithout in all but name) and the sandbox's
``MXError`` (how the local fake of LeadSquared answers with an MX error: the server's, not the
client's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importer.failures import Answer


class ImporterError(Exception):
    """Base of every error lsq-import raises on purpose."""


# --- the branches: what the run does next --------------------------------------------------


class NothingSent(ImporterError):
    """Found before any row is sent: the command says what to fix, and nothing was sent."""


class StopTheRun(ImporterError):
    """The run stops: rows not sent stay for the next run, which sends them."""


class SendAgain(ImporterError):
    """Transient: the call is made again after a pause (``backoff.Backoff``)."""


class GoWithout(ImporterError):
    """A read-only call gave no answer to use, its own retries spent: the caller goes on
    without it."""


class RowFailed(ImporterError):
    """One row is recorded as failed under its kind (``failures.KINDS``); the run goes on."""


# --- nothing sent --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping: where (``activity.fields.mx_Custom_2.format``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(NothingSent):
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


class SourceError(NothingSent):
    """The input file cannot be read as asked (missing, no such sheet, undecodable).

    Nothing is sent."""


class AccountError(NothingSent):
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


# --- stop the run --------------------------------------------------------------------------


class FatalError(StopTheRun):
    """The run cannot go on (bad keys, wrong host, a host that never answered).

    ``row_error_type``: how the row it came with is recorded (its own call's answer may have
    been lost: then it is OutcomeUnknown, checked by the next run)."""

    def __init__(self, answer: Answer, row_error_type: str = "") -> None:
        super().__init__(answer.message)
        self.answer = answer
        self.row_error_type = row_error_type or answer.error_type


class HostUnreachable(StopTheRun):
    """No call of this run ever got an answer from the host. ``detail``: what happened, without
    the advice (for messages that give their own)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


class OutputError(StopTheRun):
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


class RunStopped(StopTheRun):
    """The run was stopped while this call waited for its turn: it was not sent."""


# --- send again ----------------------------------------------------------------------------


class CallNotSent(SendAgain):
    """The call failed before reaching the server (no connection)."""


class CallLost(SendAgain):
    """The call may have reached the server, but its answer was lost (timeout, disconnect)."""


# --- go without ----------------------------------------------------------------------------


class LookupFailed(GoWithout):
    """A read-only call could not be made to answer. ``fatal``: the keys or the host were
    refused, as they would be for every call."""

    def __init__(
        self, message: str, fatal: bool = False, detail: str = "", reached: bool = True
    ) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.detail = detail or message  # the answer's own message, without its type
        #: The host answered (with an error); False: no answer came (connection, timeout).
        self.reached = reached


# --- the row failed ------------------------------------------------------------------------


class OutcomeUnknown(RowFailed):
    """The run stopped while a lost call was being checked: it may or may not have landed."""
