"""Sending one row to CreateCustom until its outcome is known, and never posting it twice.

``Delivery.deliver`` runs one row through: the limiter, the call, the verdict
(``responses.classify_response``) and what follows from it: a throttle pauses everyone and
resends; a transient error backs off (exponential, full jitter) and resends a bounded number of
times; an application error fails the row; bad keys stop the run. A call whose answer was lost
is not resent blindly: the lead is looked up by its SearchBy value and its activities are
searched for this row's activity, passing over any activity another row already holds (two
identical rows for one lead post two identical activities: each is credited to one row only).
Only if that is impossible is the row resent and marked as possibly duplicated.

What it does goes into a ``Ledger`` (the run's journal): the mark before each call leaves, each
call's outcome and each check of a lost answer, and the question whether an activity is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from importer.errors import (
    CallLost,
    CallNotSent,
    FatalError,
    HostUnreachable,
    OutcomeUnknown,
    RunStopped,
)
from importer.failures import (
    ANSWER_LOST,
    CONNECTION_ERROR,
    HOST_UNREACHABLE,
    INTERRUPTED,
    OUTCOME_UNKNOWN,
    Answer,
    Verdict,
)
from importer.pipeline.journal import Attempt
from importer.sending.backoff import Backoff
from importer.sending.client import CREATE_CUSTOM, Counters, LeadSquaredClient
from importer.sending.landed import find_landed
from importer.sending.outage import Link
from importer.sending.responses import classify_response

SUCCEEDED, FAILED = "succeeded", "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Backoff is full jitter: a random wait up to base * 2**n, capped
    (``backoff``, the rule in ``importer.sending.backoff``)."""

    transient_retries: int = 5
    throttle_retries: int = 50
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    #: After a lost answer that is not found landed, wait this long and look again before
    #: resending: the call may still be running on the server (a timeout is not a failure).
    settle: float = 30.0

    @property
    def backoff(self) -> Backoff:
        """The wait before a row's next attempt after a transient failure."""
        return Backoff(self.backoff_base, self.backoff_cap, jitter=True)


@dataclass
class RowJob:
    row: int
    payload: dict[str, Any]
    cells: list[str]
    search_by: str
    search_value: str
    #: A run before this one may have sent it (it died mid-call): check the lead first.
    check_first: bool = False
    first_sent: dt.datetime | None = None
    last_sent: dt.datetime | None = None
    #: CreateCustom calls of this row that left in this run: if it is stopped at once with
    #: one on the wire, its outcome is unknown.
    left: int = 0
    #: The cells as the results files and the journal hold them (``results.encode_cells``).
    line: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Rows with the same key are never in flight together (email ignores case)."""
        value = (
            self.search_value.casefold() if self.search_by == "EmailAddress" else self.search_value
        )
        return self.search_by, value


@dataclass
class RowResult:
    row: int
    cells: list[str]
    status: str
    error_type: str = ""
    error: str = ""
    activity_id: str = ""
    lead_id: str = ""
    attempts: int = 0
    possible_duplicate: bool = False


class Ledger(Protocol):
    """Where a delivery writes down what it does: the run's journal (``journal.Journal``)."""

    def sending(self, row: int, line: str) -> None:
        """The row's CreateCustom is leaving (its mark, committed before it goes)."""

    def answered(self, row: int, attempt: Attempt) -> None:
        """The outcome of the row's CreateCustom that left last."""

    def checked(self, row: int, began: dt.datetime, attempt: Attempt) -> None:
        """The outcome of a check whether a lost call landed."""

    def claimed(self, activity_id: str, row: int) -> bool:
        """Whether a row other than ``row`` holds this activity."""
        ...


#: Outcomes of a call and of a check, as the journal's attempts table holds them.
NOT_SENT, LOST, CUT_OFF = "not_sent", "answer_lost", "cut_off"
LANDED, NOT_LANDED, UNCHECKED, CHECK_STOPPED = "landed", "not_landed", "unknown", "stopped"


@dataclass
class _Attempts:
    calls: int = 0
    transient: int = 0
    throttles: int = 0
    duplicate_retried: bool = False
    possible_duplicate: bool = False
    #: Some attempt may have reached the server (answered, or its answer was lost); False
    #: while every attempt failed to connect.
    reached: bool = False
    sent_at: list[dt.datetime] = field(default_factory=list)
    last_error: str = ""  # why the last attempt did not settle the row
    unchecked: str = ""  # why a lost answer could not be checked
    #: Activities that matched this row but were already another row's.
    passed_over: list[str] = field(default_factory=list)


class Delivery:
    def __init__(
        self,
        client: LeadSquaredClient,
        policy: RetryPolicy,
        counters: Counters,
        rng: random.Random | None = None,
        before_send: Callable[[RowJob], None] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self.counters = counters
        self.random = rng or random.Random()
        #: Called with the job as each CreateCustom leaves, after the ledger's mark (tests).
        self.before_send = before_send
        self.ledger = ledger

    @property
    def link(self) -> Link:
        """The state of the connection to the host (an outage, the give-up)."""
        return self.client.link

    @property
    def in_flight(self) -> int:
        """Calls on the wire now."""
        return self.client.on_wire

    def stop(self) -> None:
        """Send nothing more: calls waiting for their turn end as ``RunStopped``."""
        self.client.stop()

    async def deliver(self, job: RowJob) -> RowResult:
        """Send one row until its outcome is known. Raises FatalError to stop the run."""
        tries = _Attempts()
        try:
            return await self._deliver(job, tries)
        except HostUnreachable as exc:
            answer = Answer(Verdict.FATAL, HOST_UNREACHABLE, str(exc))
            lost = tries.reached or job.check_first
            raise FatalError(answer, OUTCOME_UNKNOWN if lost else HOST_UNREACHABLE) from None

    async def _deliver(self, job: RowJob, tries: _Attempts) -> RowResult:
        link = self.client.link
        if job.check_first:  # an earlier run died with this call in flight
            now = dt.datetime.now(dt.UTC)
            tries.sent_at.append(job.first_sent or now)
            # That call may still be running on the server: give it as long as a lost answer
            # in this run gets, counted from when it left.
            since = (now - (job.last_sent or job.first_sent or now)).total_seconds()
            settle = max(0.0, self.policy.settle - since)
            landed = await self._check_lost(job, tries, "an earlier run stopped mid-call", settle)
            if landed is not None:
                return landed
        while True:
            if tries.calls:
                self.counters.retries += 1
            tries.calls += 1
            tries.sent_at.append(dt.datetime.now(dt.UTC))

            def leaving() -> None:
                job.left += 1
                if self.ledger is not None:
                    self.ledger.sending(job.row, job.line)
                if self.before_send is not None:
                    self.before_send(job)

            outages = link.outages
            left = job.left
            try:
                status, text = await self.client.send(
                    "POST", CREATE_CUSTOM, body=job.payload, on_leave=leaving, row=job.row
                )
            except asyncio.CancelledError:  # stopped at once
                if job.left != left:  # with the call on the wire; the stop goes on regardless
                    with contextlib.suppress(sqlite3.Error):
                        self._answered(job, Attempt(CUT_OFF))
                raise
            except RunStopped:
                if not tries.last_error or not tries.reached:
                    raise  # it never reached the server in this run: the row is still to do
                return self._result(
                    job,
                    tries,
                    FAILED,
                    error_type=INTERRUPTED,
                    error="the run stopped before sending it again (last attempt: "
                    f"{tries.last_error}); the next run sends it",
                )
            except CallNotSent as exc:
                self._answered(job, Attempt(NOT_SENT, error_type=CONNECTION_ERROR, error=str(exc)))
                tries.last_error = f"{CONNECTION_ERROR}: {exc}"
                if link.down or link.outages != outages:
                    continue  # the host is down: the pool waits for it, the row does not fail
                if failed := await self._transient(job, tries, CONNECTION_ERROR, str(exc)):
                    return failed
                continue
            except CallLost as exc:
                self._answered(job, Attempt(LOST, error_type=ANSWER_LOST, error=str(exc)))
                tries.reached = True
                self.counters.lost_answers += 1
                if landed := await self._check_lost(job, tries, str(exc), self.policy.settle):
                    return landed
                if link.outages != outages:  # lost in an outage: checked, then sent again
                    tries.last_error = f"{ANSWER_LOST}: {exc}"
                    continue
                if failed := await self._transient(job, tries, ANSWER_LOST, str(exc)):
                    return failed
                continue
            tries.reached = True
            answer = classify_response(status, text)
            self._answered(
                job,
                Attempt(
                    answer.verdict.value,
                    status,
                    answer.error_type,
                    answer.message,
                    answer.activity_id,
                ),
            )
            if answer.verdict is Verdict.SUCCESS:
                return self._result(
                    job, tries, SUCCEEDED, activity_id=answer.activity_id, lead_id=answer.lead_id
                )
            tries.last_error = f"{answer.error_type}: {answer.message}"
            if answer.verdict is Verdict.THROTTLED:  # the client told the limiter
                tries.throttles += 1
                if tries.throttles > self.policy.throttle_retries:
                    return self._failed(job, tries, answer)
                continue
            if answer.verdict is Verdict.FATAL:
                raise FatalError(answer)
            if answer.verdict is Verdict.DUPLICATE and not tries.duplicate_retried:
                tries.duplicate_retried = True  # the lead exists now: the resend updates it
                continue
            if answer.verdict is Verdict.TRANSIENT:
                if failed := await self._transient(job, tries, answer.error_type, answer.message):
                    return failed
                continue
            return self._failed(job, tries, answer)

    async def _check_lost(
        self, job: RowJob, tries: _Attempts, reason: str, settle: float
    ) -> RowResult | None:
        """The success result if this row's activity is on its lead; None if it is not (or
        cannot be known: then the row is marked possibly duplicated)."""
        began = dt.datetime.now(dt.UTC)
        try:
            landed = await self._find_landed(job, tries)
            if landed is None and not tries.possible_duplicate and settle > 0:
                await self.client.pause(settle)
                landed = await self._find_landed(job, tries)
        except RunStopped:
            message = (
                f"the answer was lost ({reason}) and the run stopped before it could be "
                "checked: look the lead up before sending this row again"
            )
            self._checked(job, began, Attempt(CHECK_STOPPED, None, OUTCOME_UNKNOWN, message))
            raise OutcomeUnknown(message) from None
        except BaseException:  # cut off, or the host never answered: the check did not end
            with contextlib.suppress(sqlite3.Error):  # what ends the check is the one to raise
                self._checked(job, began, Attempt(CHECK_STOPPED))
            raise
        if landed is not None:
            self.counters.verified_landed += 1
            self._checked(job, began, Attempt(LANDED, activity_id=landed[0]))
            return self._result(job, tries, SUCCEEDED, activity_id=landed[0], lead_id=landed[1])
        if tries.possible_duplicate:
            self._checked(job, began, Attempt(UNCHECKED, error=tries.unchecked))
        else:
            self.counters.verified_not_landed += 1
            passed = ", ".join(tries.passed_over)
            note = f"passed over {passed}: identical, and another row's" if passed else ""
            self._checked(job, began, Attempt(NOT_LANDED, error=note))
        return None

    def _answered(self, job: RowJob, attempt: Attempt) -> None:
        if self.ledger is not None:
            self.ledger.answered(job.row, attempt)

    def _checked(self, job: RowJob, began: dt.datetime, attempt: Attempt) -> None:
        if self.ledger is not None:
            self.ledger.checked(job.row, began, attempt)

    async def _transient(
        self, job: RowJob, tries: _Attempts, error_type: str, message: str
    ) -> RowResult | None:
        """Back off before the next attempt, or give up: the failed result."""
        tries.last_error = f"{error_type}: {message}"
        tries.transient += 1
        if tries.transient > self.policy.transient_retries:
            return self._result(
                job,
                tries,
                FAILED,
                error_type=error_type,
                error=f"{message} (gave up after {tries.calls} attempts)",
            )
        await self.client.pause(self.policy.backoff.delay(tries.transient, self.random))
        return None

    def _failed(self, job: RowJob, tries: _Attempts, answer: Answer) -> RowResult:
        return self._result(job, tries, FAILED, error_type=answer.error_type, error=answer.message)

    def _result(self, job: RowJob, tries: _Attempts, status: str, **fields: str) -> RowResult:
        return RowResult(
            job.row,
            job.cells,
            status,
            attempts=tries.calls,
            possible_duplicate=tries.possible_duplicate,
            **fields,
        )

    # --- did a lost call land? --------------------------------------------------------------

    async def _find_landed(self, job: RowJob, tries: _Attempts) -> tuple[str, str] | None:
        """The (activity id, lead id) of this row's activity if a lost call did post it; None if
        it did not. If that cannot be known, mark the row possibly duplicated (and resend)."""
        found, unchecked = await find_landed(
            self.client,
            job.row,
            job.search_by,
            job.search_value,
            job.payload,
            tries.sent_at[0],
            self._claimed,
            tries.passed_over,
        )
        if unchecked:
            tries.possible_duplicate = True
            tries.unchecked = unchecked
        return found

    def _claimed(self, activity_id: str, row: int) -> bool:
        return self.ledger is not None and self.ledger.claimed(activity_id, row)
