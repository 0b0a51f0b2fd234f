"""Reading the account for the commands that describe it (whoami, account, activity-types,
fields, init-mapping, validate --check-account), and what they say of it.

``call_account`` runs one piece of work against the account: the host found from the keys when
none is given, the calls rate-limited, failures turned into ``AccountError`` messages that name
the fix. The other functions turn what was read into lines for a person: what the pre-flight can
see and what it will skip (``describe_account``), a fields table (``fields_table``), what a
mapping was checked against (``checked_against``).

Nothing here prints: the command line does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from importer.account.metadata import (
    ACTIVITY_SETTING,
    ACTIVITY_TYPES,
    LEAD_FIELDS,
    Unread,
    Unreadable,
    activity_fields,
    activity_types,
    fix_for,
    unread,
)
from importer.account.model import Account, ActivityType, FieldInfo
from importer.errors import AccountError
from importer.mapping.config import Mapping
from importer.sending.client import LeadSquaredClient
from importer.sending.connection import Connection

T = TypeVar("T")
#: One piece of work against the account, given a client for it.
Work = Callable[[LeadSquaredClient], Awaitable[T]]
#: Where notes for the person go (stderr, for the command line).
Note = Callable[[str], None]


def call_account(host: str | None, region: str | None, work: Work[T], note: Note) -> T:
    """``work(client)`` against the account, rate-limited (25 calls per 5 s), after finding its
    host if none was given. AccountError when it cannot be done, naming the fix."""
    from importer.sending.connection import resolve_connection

    return asyncio.run(_call(resolve_connection(host, region), work, note))


async def _call(connection: Connection, work: Work[T], note: Note) -> T:
    from importer.account.metadata import preflight
    from importer.sending.client import Counters
    from importer.sending.limiter import Rate, RateLimiter

    limiter, counters = RateLimiter(Rate(25, 5.0)), Counters()
    found, _ = await preflight(connection, None, limiter, counters, 30.0, check=False, note=note)
    async with LeadSquaredClient.new_session(2, 30.0) as session:
        try:
            return await work(LeadSquaredClient(session, found, limiter, counters))
        except AccountError as exc:
            if exc.refused or exc.unreachable:
                raise
            raise AccountError(
                f"could not read the account from {found.base_url}: {exc}. Check the host "
                "(--host, --region, LSQ_HOST) and the network"
            ) from None
        except Unreadable as exc:
            reason = str(exc).rstrip(". ")
            raise AccountError(f"{reason}. {fix_for(reason)}") from None


# --- one activity type's fields -----------------------------------------------------------------


@dataclass(frozen=True)
class ActivityFields:
    """What ``activity_fields_of`` found: the fields of the type asked for, or the account's
    types when it is not one of them."""

    code: int
    #: None when ``code`` is not one of the account's types (its fields were not asked for).
    fields: tuple[FieldInfo, ...] | None
    #: The account's activity types; empty when they could not be read.
    types: tuple[ActivityType, ...] = ()
    #: Why the types could not be read, so that the code was not checked against them.
    types_unread: str = ""


async def activity_fields_of(client: LeadSquaredClient, code: int) -> ActivityFields:
    """The fields of activity ``code``, once the account's types show it is one of them; when
    the types cannot be read (a user who may not read them), the fields all the same."""
    try:
        types = await activity_types(client)
    except Unreadable as exc:
        why = str(exc).removeprefix("activity types: ")
        return ActivityFields(code, await activity_fields(client, code), types_unread=why)
    if code not in {t.code for t in types}:
        return ActivityFields(code, None, types)
    return ActivityFields(code, await activity_fields(client, code), types)


def listed_types(types: Sequence[ActivityType]) -> str:
    """The account's activity types as error messages name them: ``201 Site Visit; 202 ...``."""
    return "; ".join(f"{t.code} {t.name}".rstrip() for t in types) or "none"


def unknown_codes(account: Account, codes: Sequence[int]) -> list[int]:
    """The codes in ``codes`` that the account's listed types prove are not among them."""
    if not account.activity_types_listed:
        return []
    return [code for code in codes if account.activity_type(code) is None]


# --- what the pre-flight can see ----------------------------------------------------------------


def describe_account(account: Account, codes: Sequence[int] = ()) -> list[str]:
    """What the pre-flight can see of the account, and what it will skip: one line for each
    thing, and one for each thing it cannot see, with why. ``codes``: the activity types asked
    for (none: every type)."""
    lines = [f"Account:   {account.user.org or '(not named)'} at {account.host}"]
    used: list[Unread] = []
    leads = unread(account, LEAD_FIELDS)
    if leads is not None:
        used.append(leads)
        lines.append(
            "Lead:      attributes are not checked: could not read the account's lead fields: "
            + leads.fixed()
        )
    elif account.lead_fields_listed:
        lines += _describe_lead(account.lead_fields)
    else:
        lines.append("Lead:      no lead fields listed: attributes are not checked")
    types = unread(account, ACTIVITY_TYPES)
    if types is not None:
        used.append(types)
        nor = ""
        if codes:  # --activity codes the account was asked for
            are = "is a type" if len(codes) == 1 else "are types"
            nor = f", nor that {', '.join(map(str, codes))} {are} of this account"
        lines.append(
            f"Activity:  event codes are not checked{nor}: could not read the account's "
            f"activity types: {types.fixed()}"
            + ("" if codes else " (--activity CODE reads the fields of a type you know)")
        )
    elif account.activity_types_listed:
        lines.append(f"Activity:  {_count(len(account.activity_types), 'type')}")
    else:
        lines.append("Activity:  no activity types listed: event codes are not checked")
    for activity in account.activity_types:
        fields = unread(account, ACTIVITY_SETTING, activity.code)
        if fields is not None:
            used.append(fields)
            lines.append(f"  {activity.label()}: could not read its fields: {fields.fixed()}")
        elif activity.fields is not None:
            lines.append(f"  {activity.label()}: {_describe_fields(activity.fields)}")
    said = {u.line for u in used}
    lines += [
        f"could not read the account's {line}" for line in account.unreadable if line not in said
    ]
    return lines


def _describe_lead(fields: tuple[FieldInfo, ...]) -> list[str]:
    sets = [f for f in fields if f.is_set]
    untyped = [f for f in fields if not f.is_set and not f.data_type]
    if fields and len(untyped) == len(fields):
        return [
            f"Lead:      {_count(len(fields), 'field')}, none with a type: custom field sets are "
            "not told from fields (a mapping's are taken as given, their fields not checked), "
            "nor values checked against types"
        ]
    head = (
        f"Lead:      {_count(len(fields) - len(sets) - len(untyped), 'field')}, "
        f"{_count(len(sets), 'custom field set')}"
    )
    if untyped:  # a custom field set among them is not told from a field
        head += f", {len(untyped):,} of no type (field or custom field set): {_names(untyped)}"
    lines = [head]
    for spec in sets:
        listed = (
            _count(len(spec.fields), "field") if spec.fields is not None else "fields not listed"
        )
        lines.append(f"  {spec.label()}: {listed}")
    return lines


def _describe_fields(fields: tuple[FieldInfo, ...]) -> str:
    described = _count(len(fields), "field")
    plain = [f for f in fields if not f.is_set]
    if plain and all(f.mandatory is None for f in plain):
        described += " (none says whether it is mandatory)"
    return described


def _names(fields: Sequence[FieldInfo], limit: int = 4) -> str:
    shown = ", ".join(f.schema_name for f in fields[:limit])
    return shown + (f" and {len(fields) - limit} more" if len(fields) > limit else "")


# --- what a mapping was checked against ---------------------------------------------------------


def checked_against(account: Account, mapping: Mapping) -> str:
    """One line: the account a mapping was checked against, and what of it was (the lead fields,
    the event code, the activity type's fields) and what was not, the notes below saying why."""
    from importer.account.field_values import event_code

    org = account.user.org or "(not named)"
    code = event_code(mapping)
    activity = account.activity_type(code) if code is not None else None
    event = f"the event code {code}" if code is not None else "the event codes"
    checked: list[str] = []
    skipped: list[str] = []
    (checked if account.lead_fields_listed else skipped).append("the lead fields")
    (checked if account.activity_types_listed else skipped).append(event)
    if code is not None:
        what = f"the fields of activity {code}"
        (checked if activity is not None and activity.fields is not None else skipped).append(what)
    if not skipped:
        return f"Checked against the account {org} at {account.host}" + (
            f", {activity.label()}" if activity is not None else ""
        )
    if not checked:
        return (
            f"Not checked against the account {org} at {account.host}: its metadata shows "
            f"neither {_joined(skipped, 'nor')} (see below)"
        )
    return (
        f"Checked against the account {org} at {account.host}: {_joined(checked, 'and')}; "
        f"not {_joined(skipped, 'nor')} (see below)"
    )


def _joined(items: list[str], last: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


# --- the fields table -------------------------------------------------------------------------


UNKNOWN = "?"  # a flag or type the account's metadata does not say


def fields_table(fields: Sequence[FieldInfo]) -> list[str]:
    """The fields as a table: schema name (what a mapping uses), display name, data type,
    mandatory, unique, maximum length, options; a custom field set's own fields under it. What
    the metadata does not say shows as ``?``, explained under the table."""
    rows: list[list[str] | str] = []

    def add(spec: FieldInfo, indent: str) -> None:
        rows.append(
            [
                indent + spec.schema_name,
                spec.display_name,
                "custom field set" if spec.is_set else spec.data_type or UNKNOWN,
                _yes(spec.mandatory),
                _yes(spec.unique),
                str(spec.max_length or ""),
                _shorten(", ".join(spec.options), 60),
            ]
        )
        if spec.is_set and spec.fields is None:
            rows.append(f"{indent}  (its fields: not listed by the account's metadata)")
        for inner in spec.fields or ():
            add(inner, indent + "  ")

    for spec in fields:
        add(spec, "")
    headers = ["SCHEMA NAME", "DISPLAY NAME", "TYPE", "MANDATORY", "UNIQUE", "MAX", "OPTIONS"]
    lines = table(headers, rows)
    if any(UNKNOWN in row[2:5] for row in rows if isinstance(row, list)):
        lines.append(f"{UNKNOWN}: the account's metadata does not say")
    return lines


def table(headers: list[str], rows: Sequence[list[str] | str]) -> list[str]:
    """Columns as wide as their widest cell; a row that is one text is a note, shown as it is
    and left out of the widths."""
    cells = [row for row in rows if not isinstance(row, str)]
    widths = [max(len(c) for c in column) for column in zip(headers, *cells, strict=True)]
    return [
        row
        if isinstance(row, str)
        else "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]


def _yes(flag: bool | None) -> str:
    return UNKNOWN if flag is None else "yes" if flag else ""


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# --- files for the owner's eyes only --------------------------------------------------------


def unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written, checked before any call is made, or None."""
    folder = path.parent
    if path.is_dir():
        return f"{path} is a folder: give a file name"
    if not folder.exists():
        return f"the folder {folder} does not exist: create it, or give a file in another folder"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{path} cannot be written (permission denied): give a file you may write"
    return None


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
