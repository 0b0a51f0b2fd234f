"""Reading the account's metadata endpoints: who the keys belong to, the lead fields, the
activity types and their fields, and a raw dump of the answers for support.

The calls go through the run's client, so they count against the rate limit like any other.
What each answer means is ``importer.account``'s business; this module decides what a failed
call means:

    the keys or the host refused (401, wrong path)     AccountError(refused=True): stop, exit 3
    no answer at all (connection, timeout)             AccountError: stop, exit 2
    an error answer, or a shape nothing here reads     the check that needed it is skipped and
                                                       ``Account.unreadable`` says why
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from importer.account import (
    NO_USER,
    Account,
    ActivityType,
    FieldInfo,
    User,
    parse_activity_types,
    parse_fields,
    parse_user,
)
from importer.client import WHOAMI, LeadSquaredClient, LookupFailed, RunStopped
from importer.connection import Connection
from importer.errors import AccountError
from importer.outage import HostUnreachable

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
    With ``record``, every raw answer is appended to it."""
    unreadable: list[str] = []
    try:
        user = await _user(client, record)
    except Unreadable as exc:
        unreadable.append(f"{exc}: the account's time zone and country are not used")
        user = NO_USER
    try:
        leads: tuple[FieldInfo, ...] | None = await lead_fields(client, record)
    except Unreadable as exc:
        unreadable.append(str(exc))
        leads = None
    try:
        types: tuple[ActivityType, ...] | None = await activity_types(client, record)
    except Unreadable as exc:
        unreadable.append(str(exc))
        types = None
    wanted = events or []
    listed = types if types is not None else tuple(ActivityType(code, "") for code in wanted)
    with_fields = []
    for activity in listed:
        fields = None
        if events is None or activity.code in events:
            try:
                fields = await activity_fields(client, activity.code, record)
            except Unreadable as exc:
                unreadable.append(str(exc))
        with_fields.append(ActivityType(activity.code, activity.name, fields))
    return Account(
        user,
        leads or (),
        tuple(with_fields),
        fetched_at=_now(),
        host=client.connection.base_url,
        lead_fields_listed=bool(leads),
        activity_types_listed=bool(types),
        unreadable=tuple(unreadable),
    )


def dump(connection: Connection, record: Record) -> dict[str, Any]:
    """The raw answers of the metadata calls, for support: the keys removed from the text,
    and the value of any key that names a secret replaced."""
    from importer import __version__

    text = connection.redact(json.dumps(record, ensure_ascii=False))
    return {
        "what": "the raw answers of LeadSquared's metadata calls, for support (keys removed)",
        "lsq_import": __version__,
        "host": connection.base_url,
        "fetched_at": _now(),
        "answers": _scrub(json.loads(text)),
    }


def _scrub(data: Any) -> Any:
    """``data`` with the value of every key that names a secret replaced."""
    if isinstance(data, dict):
        return {
            k: ("<removed>" if _SECRET_KEYS.search(str(k)) and v else _scrub(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


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
