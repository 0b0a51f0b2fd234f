"""Reading the account's metadata endpoints: who the keys belong to, the lead fields, the
activity types and their fields, and a raw dump of the answers for support; ``preflight``, the
account read before a run, its host found from the keys if none was given.

The calls go through the run's client, so they count against the rate limit like any other.
What each answer means is ``importer.account.model``'s business; this module decides what a failed
call means:

    the keys or the host refused (401, wrong path)     AccountError(refused=True): stop, exit 3
    no answer at all (connection, timeout)             AccountError: stop, exit 2
    an error answer, or a shape nothing here reads     the check that needed it is skipped and
                                                       ``Account.unreadable`` says why
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar, cast

from importer.account.field_values import event_code
from importer.account.model import NO_USER, Account, ActivityType, FieldInfo, User
from importer.account.parsers import parse_activity_types, parse_fields, parse_user
from importer.errors import AccountError, HostUnreachable, LookupFailed, RunStopped
from importer.mapping.config import Mapping
from importer.outputs.calllog import CallLog
from importer.sending.client import WHOAMI, Counters, LeadSquaredClient
from importer.sending.connection import Connection, check_url
from importer.sending.limiter import RateLimiter

ACTIVITY_TYPES = "/v2/ProspectActivity.svc/ActivityTypes.Get"
ACTIVITY_SETTING = "/v2/ProspectActivity.svc/CustomActivity/GetActivitySetting"
LEAD_FIELDS = "/v2/LeadManagement.svc/LeadsMetaData.Get"
DUMP_HINT = (
    "lsq-import account --dump FILE saves what the account answered (keys removed), to send "
    "to whoever supports you"
)
#: Keys whose values are never written to a dump, whatever they hold.
_SECRET_KEYS = re.compile(r"secret|accesskey|password|passphrase|token|apikey", re.IGNORECASE)


class Unreadable(Exception):
    """A metadata call answered, but with an error or in a shape nothing here reads."""


T = TypeVar("T")

#: The raw answers of the calls made, for a dump: ``{"call", "params", "answer" | "error"}``.
Record = list[dict[str, Any]]


async def whoami(client: LeadSquaredClient) -> User:
    """Who the keys belong to; AccountError when the answer cannot be read."""
    try:
        return await _user(client)
    except Unreadable as exc:
        raise AccountError(str(exc)) from None


async def _user(client: LeadSquaredClient, record: Record | None = None) -> User:
    answer = await _get(client, WHOAMI, record=record)
    user = parse_user(answer)
    if user is None:
        raise Unreadable(
            f"user: {_name(WHOAMI)} answered with {type(answer).__name__}, not an object"
        )
    return user


async def lead_fields(
    client: LeadSquaredClient, record: Record | None = None
) -> tuple[FieldInfo, ...]:
    found = parse_fields(await _get(client, LEAD_FIELDS, record=record))
    if found is None:
        raise Unreadable(
            f"{_name(LEAD_FIELDS)} answered with no list of fields that lsq-import reads"
        )
    return found


async def activity_types(
    client: LeadSquaredClient, record: Record | None = None
) -> tuple[ActivityType, ...]:
    found = parse_activity_types(await _get(client, ACTIVITY_TYPES, record=record))
    if found is None:
        raise Unreadable(
            f"activity types: {_name(ACTIVITY_TYPES)} answered with no list of types that "
            "lsq-import reads"
        )
    return found


async def activity_fields(
    client: LeadSquaredClient, code: int, record: Record | None = None
) -> tuple[FieldInfo, ...]:
    found = parse_fields(await _get(client, ACTIVITY_SETTING, {"code": str(code)}, record))
    if found is None:
        raise Unreadable(
            f"fields of activity {code}: {_name(ACTIVITY_SETTING)} answered with no list of "
            "fields that lsq-import reads"
        )
    return found


async def fetch_account(
    client: LeadSquaredClient, events: list[int] | None, record: Record | None = None
) -> Account:
    """The user, the lead fields, the activity types and the fields of the types in ``events``
    (None: of every type; four calls for one event type). What could not be read is left out
    and said in ``Account.unreadable``; only a refusal or a host that does not answer raises.
    With ``record``, every raw answer is appended to it, in the order the calls are listed.

    The user comes first and alone (it proves the keys and the host: a refusal costs one call);
    the rest go together, so the pre-flight takes two answers' time, not four."""
    records: list[Record] = []

    async def attempt(call: Callable[[Record], Awaitable[T]]) -> T | Unreadable:
        own: Record = []
        records.append(own)  # in the order the calls are made, whatever order they answer in
        try:
            return await call(own)
        except Unreadable as exc:
            return exc

    try:
        user = await attempt(lambda own: _user(client, own))
        wanted = events or []
        answers = await _together(
            attempt(lambda own: lead_fields(client, own)),
            attempt(lambda own: activity_types(client, own)),
            *(attempt(partial(activity_fields, client, code)) for code in wanted),
        )  # one list of three kinds: typed again here
        leads = cast(tuple[FieldInfo, ...] | Unreadable, answers[0])
        types = cast(tuple[ActivityType, ...] | Unreadable, answers[1])
        fields = cast(list[tuple[FieldInfo, ...] | Unreadable], answers[2:])
        known = dict(zip(wanted, fields, strict=True))
        if events is None and not isinstance(types, Unreadable):  # the list comes first
            every = await _together(
                *(attempt(partial(activity_fields, client, t.code)) for t in types)
            )
            known = {t.code: f for t, f in zip(types, every, strict=True)}
    finally:
        if record is not None:
            record.extend(entry for own in records for entry in own)
    listed = (
        tuple(ActivityType(code, "") for code in wanted) if isinstance(types, Unreadable) else types
    )
    # a type the account does not list is the pre-flight's to report, not its fields' answer
    fields_of = {t.code: known.get(t.code) for t in listed}
    unreadable = [
        f"{user}: the account's time zone and country are not used"
        if isinstance(user, Unreadable)
        else None,
        *(str(a) for a in (leads, types, *fields_of.values()) if isinstance(a, Unreadable)),
    ]
    return Account(
        NO_USER if isinstance(user, Unreadable) else user,
        () if isinstance(leads, Unreadable) else leads,
        tuple(
            ActivityType(t.code, t.name, None if isinstance(f, Unreadable) else f)
            for t, f in zip(listed, fields_of.values(), strict=True)
        ),
        fetched_at=_now(),
        host=client.connection.base_url,
        lead_fields_listed=not isinstance(leads, Unreadable) and bool(leads),
        activity_types_listed=not isinstance(types, Unreadable) and bool(types),
        unreadable=tuple(note for note in unreadable if note),
    )


async def _together(*calls: Awaitable[T]) -> list[T]:
    """The calls' results in their order; when one raises, the others are cancelled."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def dump(connection: Connection, record: Record) -> dict[str, Any]:
    """The raw answers of the metadata calls, for support: the value of any key that names a
    secret replaced, and the keys removed from every string (values and names alike), so that
    what is written is still the answers' JSON, however short a key or wherever it occurs."""
    from importer import __version__

    return {
        "what": "the raw answers of LeadSquared's metadata calls, for support (keys removed)",
        "lsq_import": __version__,
        "host": connection.base_url,
        "fetched_at": _now(),
        "answers": _scrub(record, connection.redact),
    }


#: Deeper than any metadata answer; what lies below is left out of a dump, so that writing it
#: cannot exhaust the stack.
_DUMP_DEPTH = 64


def _scrub(data: Any, redact: Callable[[str], str], depth: int = 0) -> Any:
    """``data`` with the value of every key that names a secret replaced, and ``redact``
    applied to every string in it, names included."""
    if depth > _DUMP_DEPTH:
        return f"<nested deeper than {_DUMP_DEPTH} levels: left out>"
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, (int, float)):  # a key echoed as a number is written as text, redacted
        text = json.dumps(data)
        return data if redact(text) == text else redact(text)
    if isinstance(data, dict):
        return {
            redact(str(k)): (
                "<removed>" if _SECRET_KEYS.search(str(k)) and v else _scrub(v, redact, depth + 1)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_scrub(v, redact, depth + 1) for v in data]
    return redact(str(data))


#: What to do when the keys' user may not make a metadata call: other keys would read it.
DENIED_FIX = "Use keys whose user may read the account's metadata"
#: An error answer that says the user may not make the call, as opposed to any other error.
_DENIAL = re.compile(
    r"answered (?:HTTP403\b|\w*(?:unauthori[sz]ed|permission|forbidden|accessdenied|notallowed))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unread:
    """Why one metadata call's answer is missing from an ``Account``: its ``unreadable`` line,
    and from the call's name on (``LeadsMetaData.Get answered ...``)."""

    line: str
    why: str

    @property
    def denied(self) -> bool:
        """The keys' user may not make the call (the fix is other keys), rather than an answer
        in a shape nothing here reads (the fix is a dump for support)."""
        return denied(self.why)

    def fixed(self) -> str:
        """``why``, with what to do about a denial after it."""
        return f"{self.why.rstrip('. ')}. {DENIED_FIX}" if self.denied else self.why


def denied(reason: str) -> bool:
    """Whether a metadata call's failure says the keys' user may not make it."""
    return _DENIAL.search(reason) is not None


def fix_for(reason: str) -> str:
    """What to do about a metadata call that could not be read, said after ``reason``."""
    return DENIED_FIX if denied(reason) else DUMP_HINT


def unread(account: Account, path: str, code: int | None = None) -> Unread | None:
    """Why the answer of the call to ``path`` (for activity ``code``) is not in ``account``, or
    None when it was read. Every line of ``Account.unreadable`` names its call
    (``fetch_account``)."""
    call = f"{_name(path)} answered"
    prefix = f"fields of activity {code}:" if path == ACTIVITY_SETTING else ""
    for line in account.unreadable:
        if call in line and line.startswith(prefix):
            return Unread(line, line[line.index(call) :])
    return None


async def _get(
    client: LeadSquaredClient,
    path: str,
    params: dict[str, str] | None = None,
    record: Record | None = None,
) -> Any:
    entry: dict[str, Any] = {"call": f"GET {path}", "params": params or {}}
    try:
        entry["answer"] = answer = await client.lookup("GET", path, params=params)
        return answer
    except HostUnreachable as exc:
        entry["error"] = str(exc)
        raise AccountError(str(exc), unreachable=True, detail=exc.detail) from None
    except RunStopped:  # an outage outlasted its limit
        entry["error"] = f"{client.link.host} stopped answering"
        raise AccountError(f"{_what(path, params)}: {entry['error']}") from None
    except LookupFailed as exc:
        entry["error"] = str(exc)
        if exc.fatal:  # bad keys or host: what LeadSquared said is the whole story
            raise AccountError(exc.detail, refused=True) from None
        if not exc.reached:
            raise AccountError(f"{_name(path)}: {exc}") from None
        raise Unreadable(f"{_what(path, params)}: {_name(path)} answered {exc}") from None
    finally:
        if record is not None:
            record.append(entry)


def _what(path: str, params: dict[str, str] | None) -> str:
    if path == ACTIVITY_SETTING:
        return f"fields of activity {(params or {}).get('code', '')}"
    return {WHOAMI: "user", LEAD_FIELDS: "lead fields", ACTIVITY_TYPES: "activity types"}[path]


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def preflight(
    connection: Connection,
    mapping: Mapping | None,
    limiter: RateLimiter,
    counters: Counters,
    timeout: float,
    *,
    check: bool = True,
    note: Callable[[str], None] = lambda message: None,
    log: CallLog | None = None,
) -> tuple[Connection, Account | None]:
    """Before a run: find the account's host if none was given, and read the account's metadata
    for ``fit_account`` (``check``). Raises AccountError when the keys are refused or the
    host does not answer; metadata that answers in a shape nothing reads only skips checks.
    Every call goes to ``log``, the run's call log, like the rows' calls after it; every text
    an answer brings (and so every message raised) has the keys redacted by the client."""
    async with LeadSquaredClient.new_session(2, timeout) as session:
        client = LeadSquaredClient(session, connection, limiter, counters, log=log)
        if connection.discover:
            connection = client.connection = await _discover(client, note)
        if not check:
            return connection, None
        code = event_code(mapping) if mapping is not None else None
        try:
            account = await fetch_account(client, [code] if code is not None else [])
        except AccountError as exc:
            if exc.refused:
                raise AccountError(f"{exc} (nothing was sent)", refused=True) from None
            if exc.unreachable:
                raise AccountError(f"{exc} (nothing was sent)", unreachable=True) from None
            raise AccountError(
                f"could not read the account from {connection.base_url}: {exc}. Check the host "
                "(--host, --region, LSQ_HOST) and the network"
            ) from None
    return connection, account


async def _discover(client: LeadSquaredClient, note: Callable[[str], None]) -> Connection:
    """The connection to the account's own API host, as ``UserByAccessKey.Get`` names it (the
    call answers on any host), held to the rules of a host given by hand."""
    asked = client.connection.base_url
    found = (
        f"no host was given, and the account's host could not be found from {asked}: {{}}. "
        "Give --host or --region, or set LSQ_HOST"
    )
    try:
        user = await whoami(client)
    except AccountError as exc:
        if exc.refused:
            raise AccountError(f"{exc} (nothing was sent)", refused=True) from None
        raise AccountError(found.format(exc.detail)) from None
    if not user.api_host:
        raise AccountError(found.format("UserByAccessKey.Get named no API host"))
    unsafe = check_url(user.api_host)
    if unsafe:  # the keys would go there: it passes the check of a host given by hand, or none
        raise AccountError(
            "no host was given, and the host the account names (UserByAccessKey.Get) is not "
            f"one to send the keys to: {unsafe}. Give --host or --region, or set LSQ_HOST"
        )
    note(f"no host given: the account {user.org} is served by {user.api_host}, which this run uses")
    return replace(client.connection, base_url=user.api_host, discover=False)
