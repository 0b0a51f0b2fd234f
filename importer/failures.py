"""Every kind of failure a row can end with, and what happens next: one table, ``KINDS``.

A row's failure is recorded as an error type (``failures.csv``'s ``_error_type``, the journal's
``error_type``). The classifier of LeadSquared's answers (``responses.classify_response``) takes
its verdict from this table, the journal builds its SQL for "done for good" from it (resume and
``lsq-import retry`` send exactly the rows it leaves open), and the pipeline asks it which rows
are looked up on their lead before they are sent again. Nothing else keeps a list. The
exceptions some of these kinds come from are drawn in ``errors.py``'s tree: this table is the
data of its row-level branch, ``RowFailed``.

    Next          what happens next                              a later run (resume, retry)
    RETRY_NOW     this run sends the row again (after a pause)   sends it again once this run's
                                                                 retries are spent
    RETRY_LATER   this run leaves the row                        sends it again
    STOP          the run stops: every call would fail alike     sends it again, the cause fixed
    FINAL         the row's data is the problem                  never sends it as it is: fix it
                                                                 and run failures.csv

    error type                        next         verdict     why
    MXAPIRateLimitExceededException   RETRY_NOW    THROTTLED   the account's rate limit
    MXDuplicateEntryException         FINAL        DUPLICATE   sent once more in the run (the
                                                               lead exists now); a second is final
    MXInvalidUserDetailsException     STOP         FATAL       the keys were refused
    Unauthorized                      STOP         FATAL       HTTP 401: the keys were refused
    NotFound                          STOP         FATAL       HTTP 404: wrong host or path
    MX*                               FINAL        REJECTED    an application error: deterministic
    HTTP408                           RETRY_NOW    TRANSIENT   the server gave up waiting for it
    HTTP4??                           FINAL        REJECTED    the request itself was refused
    HTTP2??                           RETRY_NOW    TRANSIENT   an answer neither success nor MX
                                                               error (not JSON, too deep...)
    HTTP*                             RETRY_NOW    TRANSIENT   5xx without an MX body, and the rest
    ConnectionError                   RETRY_NOW    -           no connection: the call never left
    AnswerLost                        RETRY_NOW    -           checked on its lead, not found
    HostUnreachable                   STOP         -           the host never answered this run
    NotSent                           RETRY_LATER  -           the run stopped before sending it
    Interrupted                       RETRY_LATER  -           the run stopped before a retry
    OutcomeUnknown                    RETRY_LATER  -           stopped with its call in flight:
                                                               its lead is looked up first
    BadRow, InvalidValue, MissingValue, NotAnOption,
    TooLong, WrongType, UnknownEvent  FINAL        -           the row did not map: never sent
    *                                 FINAL        -           a kind this version does not know

Names are exact or glob patterns (``fnmatch`` here, ``GLOB`` in SQLite: both case-sensitive,
``*``, ``?`` and ``[...]`` alike); an exact name wins over a pattern, then the first pattern that
matches does. A verdict of ``-`` marks a kind the pipeline makes itself, never one an answer
gets. HTTP 401, 404 and 429 are recorded under their own names (Unauthorized, NotFound, the
throttle's), never as ``HTTP4??``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from fnmatch import fnmatchcase


class Next(enum.Enum):
    """What happens to a row after a failure of some kind (see the module docstring)."""

    RETRY_NOW = "retry now"
    RETRY_LATER = "retry later"
    STOP = "stop the run"
    FINAL = "final"


class Verdict(enum.Enum):
    """What one answer of LeadSquared means to the row it came for."""

    SUCCESS = "success"
    THROTTLED = "throttled"
    FATAL = "fatal"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Answer:
    """What one answer from LeadSquared means (``sending.responses.classify_response``): its
    verdict and, for a failure, its kind and message; for a success, the ids it gave."""

    verdict: Verdict
    error_type: str = ""
    message: str = ""
    activity_id: str = ""
    lead_id: str = ""
    limit: tuple[int, float] | None = None  # the limit a throttle message states


@dataclass(frozen=True)
class Kind:
    """One line of the table: an error type (or a family of them) and what it leads to."""

    name: str
    next: Next
    #: How an answer of this kind is classified; None for the kinds the pipeline makes itself.
    verdict: Verdict | None
    why: str
    #: A later run looks the row's lead up before sending it: its call may have landed.
    check_first: bool = False

    @property
    def final(self) -> bool:
        """Whether a row that failed this way is done for good (never sent again as it is)."""
        return self.next is Next.FINAL

    @property
    def pattern(self) -> bool:
        return any(ch in self.name for ch in "*?[")


# The names the pipeline and the classifier write; the mapping stage's are its own constants
# (``mapping.plan.INVALID_VALUE``...), listed in the table by name.
RATE_LIMITED = "MXAPIRateLimitExceededException"
DUPLICATE_ENTRY = "MXDuplicateEntryException"
KEYS_REFUSED = "MXInvalidUserDetailsException"
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "NotFound"
CONNECTION_ERROR = "ConnectionError"
ANSWER_LOST = "AnswerLost"
HOST_UNREACHABLE = "HostUnreachable"
NOT_SENT = "NotSent"
INTERRUPTED = "Interrupted"
OUTCOME_UNKNOWN = "OutcomeUnknown"

_UNMAPPED = "the row did not map, so it was never sent: fix it in failures.csv and run that file"

KINDS: tuple[Kind, ...] = (
    Kind(
        RATE_LIMITED,
        Next.RETRY_NOW,
        Verdict.THROTTLED,
        "the account's rate limit: every worker pauses, then the row is sent again",
    ),
    Kind(
        DUPLICATE_ENTRY,
        Next.FINAL,
        Verdict.DUPLICATE,
        "the lead was created meanwhile: sent once more in the run, which updates it; a "
        "second refusal is final",
    ),
    Kind(KEYS_REFUSED, Next.STOP, Verdict.FATAL, "LeadSquared refused the keys"),
    Kind(UNAUTHORIZED, Next.STOP, Verdict.FATAL, "HTTP 401: LeadSquared refused the keys"),
    Kind(NOT_FOUND, Next.STOP, Verdict.FATAL, "HTTP 404: the host or the API path is wrong"),
    Kind("HTTP408", Next.RETRY_NOW, Verdict.TRANSIENT, "the server gave up waiting for the call"),
    Kind("MX*", Next.FINAL, Verdict.REJECTED, "an application error: the same row gets it again"),
    Kind("HTTP4??", Next.FINAL, Verdict.REJECTED, "the server refused the request itself"),
    Kind(
        "HTTP2??",
        Next.RETRY_NOW,
        Verdict.TRANSIENT,
        "an answer that is neither a success nor an MX error (not JSON, or unreadable)",
    ),
    Kind("HTTP*", Next.RETRY_NOW, Verdict.TRANSIENT, "a server error without an MX body"),
    Kind(CONNECTION_ERROR, Next.RETRY_NOW, None, "no connection: the call never reached the host"),
    Kind(
        ANSWER_LOST,
        Next.RETRY_NOW,
        None,
        "the answer was lost, and the row's activity was not found on its lead",
    ),
    Kind(HOST_UNREACHABLE, Next.STOP, None, "the host never answered this run"),
    Kind(NOT_SENT, Next.RETRY_LATER, None, "the run stopped before sending the row"),
    Kind(INTERRUPTED, Next.RETRY_LATER, None, "the run stopped before sending the row again"),
    Kind(
        OUTCOME_UNKNOWN,
        Next.RETRY_LATER,
        None,
        "the run stopped while the row's call was in flight: it may have landed",
        check_first=True,
    ),
    *(
        Kind(name, Next.FINAL, None, _UNMAPPED)
        for name in (
            "BadRow",
            "InvalidValue",
            "MissingValue",
            "NotAnOption",
            "TooLong",
            "WrongType",
            "UnknownEvent",
        )
    ),
    Kind("*", Next.FINAL, None, "a kind this version does not know: kept as it is"),
)

_EXACT = {kind.name: kind for kind in KINDS if not kind.pattern}
_PATTERNS = tuple(kind for kind in KINDS if kind.pattern)


@functools.lru_cache(maxsize=1024)
def kind_of(error_type: str) -> Kind:
    """The table's line for an error type (the catch-all ``*`` when nothing else matches)."""
    exact = _EXACT.get(error_type)
    if exact is not None:
        return exact
    return next(kind for kind in _PATTERNS if fnmatchcase(error_type, kind.name))


def is_final(error_type: str) -> bool:
    """Whether a row that failed with this error type is done for good."""
    return kind_of(error_type).final


def checks_first(error_type: str) -> bool:
    """Whether a row that failed with this error type is looked up on its lead before it is
    sent again."""
    return kind_of(error_type).check_first


def final_sql(column: str) -> str:
    """An SQL expression, 1 or 0: whether the error type in ``column`` is final, by the same
    table and the same precedence as ``kind_of`` (NULL counts as the empty name)."""
    value = f"coalesce({column}, '')"
    branches = []
    for final in (True, False):
        names = sorted(name for name, kind in _EXACT.items() if kind.final is final)
        if names:
            listed = ", ".join(_quote(name) for name in names)
            branches.append(f"WHEN {value} IN ({listed}) THEN {int(final)}")
    branches += [f"WHEN {value} GLOB {_quote(k.name)} THEN {int(k.final)}" for k in _PATTERNS]
    return f"(CASE {' '.join(branches)} ELSE 1 END)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
