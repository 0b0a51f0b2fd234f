"""The bulk endpoints, as LeadSquared serves them as far as its docs and public code say
(``shared/LEADSQUARED_API.md``):

``POST /v2/LeadManagement.svc/Lead/Bulk/CreateOrUpdate``
    a list of at most ``bulk_max_rows`` (25) records, each a list of ``{Attribute, Value}``
    items as CreateCustom's ``LeadDetails`` (custom field sets too). A record names its own
    ``SearchBy``; without one it is matched by EmailAddress, then Phone.
``POST /v2/ProspectActivity.svc/Bulk/CustomActivity/Add/ByLeadId``
    a list of at most 25 ``{RelatedProspectId, ActivityEvent, ActivityNote, ActivityOwnerEmail,
    ActivityDateTime, Fields}``, each judged as CreateCustom's ``Activity``, on a known lead
    and, if it names an owner, one of the account's users.

A record that fails (an invalid value, an unknown lead) fails alone, as a row of an HTTP 200
answer; the others are stored, exactly as CreateCustom stores them (``checks.py``, ``State``).
A body that is no list, a record of the wrong structure, an empty call or one with too many
records is refused whole, as CreateCustom's errors are (400 or 500 with an MX body). The
answer's shape is ``bulk_shape`` (``shapes.BULK_SHAPES``). The calls pass the gate in
``app.py`` with a rate window of their own (``bulk_rate_limit`` / ``bulk_rate_window``) and
suffer the same faults as CreateCustom (``app.write_with_faults``): one draw per call.

Leads are looked up as the call arrives and written as it completes, as CreateCustom does, so
a concurrent call can race; within one call the records are written in order, so two records
for one new lead create it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from importer.sandbox import shapes
from importer.sandbox.app import STATE, read_json, write_with_faults
from importer.sandbox.checks import (
    Call,
    MXError,
    check_mandatory_lead_fields,
    parse_activity,
    parse_lead_details,
)
from importer.sandbox.schema import check_value
from importer.sandbox.shapes import Row
from importer.sandbox.state import BULK_ACTIVITIES, BULK_LEADS, Lead, State

#: The bulk upsert matches a record without a SearchBy by these, in turn.
DEFAULT_SEARCH_BY = ("EmailAddress", "Phone")

Write = Callable[[float], Awaitable[list[Row]]]
# A record judged as the call arrives: its number and its call (with the lead it found), or
# the error it fails with.
Judged = tuple[int, Call | MXError, Lead | None]


async def bulk_leads(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json(request)

    def check() -> Write:
        records = _records(state, body, "leads")
        judged = [_judge_lead(state, n, record) for n, record in enumerate(records, 1)]
        return lambda delay: _write_leads(state, judged, delay)

    written = await write_with_faults(request, check)
    if isinstance(written, web.Response):
        return written
    return web.json_response(shapes.lead_rows(written, state.config.bulk))


async def bulk_activities(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json(request)

    def check() -> Write:
        records = _records(state, body, "activities")
        judged = [_judge_activity(state, n, record) for n, record in enumerate(records, 1)]
        return lambda delay: _write_activities(state, judged, delay)

    written = await write_with_faults(request, check)
    if isinstance(written, web.Response):
        return written
    return web.json_response(shapes.activity_rows(written, state.config.bulk))


ROUTES = [web.post(BULK_LEADS, bulk_leads), web.post(BULK_ACTIVITIES, bulk_activities)]


def _records(state: State, body: Any, kind: str) -> list[Any]:
    if not isinstance(body, list):
        raise MXError("MXInvalidInputException", f"The body must be a list of {kind}", 400)
    limit = state.config.bulk_max_rows
    if not body:
        raise MXError("MXInvalidInputException", f"The request holds no {kind}")
    if len(body) > limit:
        state.counters["bulk_refused_too_many"] += 1
        raise MXError(
            "MXInvalidInputException",
            f"A call may carry at most {limit} {kind}; this one carries {len(body)}",
        )
    return body


def _judge_lead(state: State, number: int, record: Any) -> Judged:
    if not isinstance(record, list):
        raise MXError("MXInvalidInputException", f"Lead {number} must be a list of items", 400)
    call = Call()
    try:
        parse_lead_details(state, record, call, DEFAULT_SEARCH_BY)
        found = state.find_leads(call.search_by, call.search_value)
        existing = found[0] if found else None
        if existing is None:
            check_mandatory_lead_fields(state, call)
    except MXError as exc:
        if exc.status == 400:  # the wrong structure: the whole call is refused
            raise
        return number, exc, None
    return number, call, existing


def _judge_activity(state: State, number: int, record: Any) -> Judged:
    if not isinstance(record, dict):
        raise MXError("MXInvalidInputException", f"Activity {number} must be an object", 400)
    call = Call()
    try:
        lead_id = record.get("RelatedProspectId")
        lead = state.leads.get(lead_id) if isinstance(lead_id, str) else None
        if lead is None:
            raise MXError("MXInvalidInputException", f"No lead with id {lead_id!r}")
        owner = record.get("ActivityOwnerEmail")
        if owner is not None and not _is_user(state, owner):
            raise MXError(
                "MXInvalidInputException",
                f"ActivityOwnerEmail {owner!r} is not a user of this account",
            )
        parse_activity(state, record, call)
        call.owner = owner
    except MXError as exc:
        if exc.status == 400:
            raise
        return number, exc, None
    return number, call, lead


def _is_user(state: State, owner: Any) -> bool:
    account = state.config.schema.account
    users = {str(account.get(k) or "").casefold() for k in ("PassPhrase", "EmailAddress")}
    email = state.config.schema.lead_field("EmailAddress")
    valid = email is not None and isinstance(owner, str) and not check_value(email, owner)
    return valid and owner.casefold() in users - {""}


def _failed(state: State, number: int, exc: MXError) -> Row:
    state.counters["bulk_rows_failed"] += 1
    state.counters[f"bulk_rows_failed:{exc.exception_type}"] += 1
    return Row(number, exception_type=exc.exception_type, message=exc.message)


async def _write_leads(state: State, judged: list[Judged], delay: float) -> list[Row]:
    await asyncio.sleep(delay)
    state.counters["bulk_rows"] += len(judged)
    rows = []
    created: set[str] = set()  # the leads this call created
    for number, call, existing in judged:
        if isinstance(call, MXError):
            rows.append(_failed(state, number, call))
            continue
        if existing is None:
            found = state.find_leads(call.search_by, call.search_value)
            mine = [lead for lead in found if lead.id in created]
            if mine:  # an earlier record of this call created it
                existing = mine[0]
            elif found and state.config.race == "error":
                duplicate = MXError(
                    "MXDuplicateEntryException",
                    f"A lead with the same {call.search_by} already exists",
                )
                rows.append(_failed(state, number, duplicate))
                continue
        lead, new = state.upsert(existing, call.lead_fields)
        if new:
            created.add(lead.id)
        state.counters["bulk_leads_created" if new else "bulk_leads_updated"] += 1
        rows.append(Row(number, lead.id, created=new))
    return rows


async def _write_activities(state: State, judged: list[Judged], delay: float) -> list[Row]:
    await asyncio.sleep(delay)
    state.counters["bulk_rows"] += len(judged)
    rows = []
    for number, call, lead in judged:
        if isinstance(call, MXError):
            rows.append(_failed(state, number, call))
            continue
        assert lead is not None  # a record that passed names a known lead
        activity = state.add_activity(
            lead, call.event, call.note, call.activity_datetime, call.activity_fields, call.owner
        )
        state.counters["bulk_activities_created"] += 1
        rows.append(Row(number, activity.id, created=True))
    return rows
