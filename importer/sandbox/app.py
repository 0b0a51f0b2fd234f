"""The sandbox's web application: LeadSquared's paths and answers, awkward parts included.

Every ``/v2/`` call is authenticated (headers or query string) and counted against a strict
sliding window per access key; throttles come back as HTTP 429 or, for a share of them, as
HTTP 200 with ``MXAPIRateLimitExceededException``. Application errors are HTTP 500 with an MX
body. CreateCustom looks its lead up when the call arrives and writes when it completes, so two
concurrent calls for one new lead create two. Faults (latency, non-MX 500s, answers lost after
the write, calls slower than a client's timeout) are drawn from a seeded generator. With
``echo_keys``, every call that passes the keys and the rate limit is answered with a page that
echoes the keys, as some proxies do (``echo.py``).

The bulk endpoints (``bulk.py``) pass the same gate, with a rate window of their own, and
suffer the same faults (``write_with_faults``).

``/_sandbox/state`` (GET) and ``/_sandbox/reset`` (POST) are the sandbox's own, outside the API.
What a CreateCustom body must be, and the errors it is refused with, are in ``checks.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from importer.sandbox import echo, shapes
from importer.sandbox.checks import Call, MXError, check_mandatory_lead_fields, parse_create_custom
from importer.sandbox.state import Lead, SandboxConfig, State

STATE = web.AppKey("state", State)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
_API = "/v2/"


def mx_body(exception_type: str, message: str) -> dict[str, str]:
    return {"Status": "Error", "ExceptionType": exception_type, "ExceptionMessage": message}


def create_app(config: SandboxConfig | None = None, state: State | None = None) -> web.Application:
    from importer.sandbox import bulk  # it builds on this module

    state = state or State(config or SandboxConfig())
    app = web.Application(middlewares=[_api_gate])
    app[STATE] = state
    app.add_routes(
        [
            web.post("/v2/ProspectActivity.svc/CreateCustom", create_custom),
            web.get("/v2/Authentication.svc/UserByAccessKey.Get", user_by_access_key),
            web.get("/v2/ProspectActivity.svc/ActivityTypes.Get", activity_types),
            web.get("/v2/ProspectActivity.svc/CustomActivity/GetActivitySetting", activity_setting),
            web.get("/v2/LeadManagement.svc/LeadsMetaData.Get", leads_metadata),
            web.get("/v2/LeadManagement.svc/Leads.GetByEmailaddress", lead_by_email),
            web.get("/v2/LeadManagement.svc/RetrieveLeadByPhoneNumber", lead_by_phone),
            web.post("/v2/ProspectActivity.svc/Retrieve", lead_activities),
            web.get("/_sandbox/state", sandbox_state),
            web.post("/_sandbox/reset", sandbox_reset),
            *bulk.ROUTES,
        ]
    )
    return app


# --- the gate every API call passes --------------------------------------------------------


@web.middleware
async def _api_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(_API):
        return await handler(request)
    state = request.app[STATE]
    if request.match_info.http_exception is not None:  # unknown path or method
        state.counters["not_found"] += 1
        return web.json_response(
            mx_body("MXNotFoundException", "The API could not be found."), status=404
        )
    state.counters["requests"] += 1
    state.counters[f"calls:{request.path.rsplit('/', 1)[-1]}"] += 1  # per endpoint
    config = state.config
    access = request.headers.get("x-LSQ-AccessKey") or request.query.get("accessKey")
    secret = request.headers.get("x-LSQ-SecretKey") or request.query.get("secretKey")
    if access != config.access_key or secret != config.secret_key:
        state.rejected["MXInvalidUserDetailsException"] += 1
        return web.json_response(
            mx_body("MXInvalidUserDetailsException", "Invalid access key or secret key."),
            status=401,
        )
    exceeded = state.admit(access, request.path)
    if exceeded is not None:
        state.counters["throttled"] += 1
        body = mx_body(
            "MXAPIRateLimitExceededException",
            f"API calls exceeded the limit of {exceeded[0]} in {exceeded[1]:g} second(s)",
        )
        if state.chance(config.throttle_200_share):
            state.counters["throttled_200"] += 1
            return web.json_response(body, status=200)
        state.counters["throttled_429"] += 1
        return web.json_response(body, status=429)
    if config.echo_keys:
        page = echo.echo(config.echo_keys, state.echo_form(), config.access_key, config.secret_key)
        return web.Response(status=page.status, text=page.text, content_type=page.content_type)
    try:
        return await handler(request)
    except MXError as exc:
        state.rejected[exc.exception_type] += 1
        return web.json_response(mx_body(exc.exception_type, exc.message), status=exc.status)


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise MXError(
            "MXInvalidInputException", "Content-Type must be application/json", status=400
        )
    try:
        return json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MXError("MXInvalidInputException", "The request body is not JSON", 400) from None


# --- CreateCustom ---------------------------------------------------------------------------


async def write_with_faults(
    request: web.Request, check: Callable[[], Callable[[float], Awaitable[T]]]
) -> T | web.Response:
    """Run a writing call through the faults: one draw decides whether it fails (a non-MX 500,
    nothing written), is slow, or is written and its answer dropped. ``check()`` judges the
    call as it arrives (an ``MXError`` is answered after the latency) and returns the write,
    which is given its delay and shielded: a client that gives up does not stop it."""
    state = request.app[STATE]
    fault = state.fault()
    if fault == "fail":
        state.counters["faults_500"] += 1
        await asyncio.sleep(state.latency())
        return web.Response(
            status=500,
            text="<html><body><h1>500 Internal Server Error</h1></body></html>",
            content_type="text/html",
        )
    try:
        write = check()
    except MXError:
        await asyncio.sleep(state.latency())
        raise
    delay = state.config.slow_seconds if fault == "slow" else state.latency()
    if fault == "slow":
        state.counters["faults_slow"] += 1
    written = await asyncio.shield(write(delay))
    if fault == "drop":
        state.counters["faults_dropped"] += 1
        if request.transport is not None:
            request.transport.abort()  # written, but the answer never leaves
        raise asyncio.CancelledError
    return written


async def create_custom(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await read_json(request)

    def check() -> Callable[[float], Awaitable[tuple[Lead, str]]]:
        call = parse_create_custom(state, body)
        # The lead is looked up as the call arrives and written as it completes: two concurrent
        # calls for one new SearchBy value both find nothing and both create a lead.
        found = state.find_leads(call.search_by, call.search_value)
        existing = found[0] if found else None
        if existing is None:
            check_mandatory_lead_fields(state, call)
        return lambda delay: _complete(state, call, existing, delay)

    written = await write_with_faults(request, check)
    if isinstance(written, web.Response):
        return written
    lead, activity_id = written
    return web.json_response(
        {"Status": "Success", "Message": {"Id": activity_id, "RelatedId": lead.id}}
    )


async def _complete(
    state: State, call: Call, existing: Lead | None, delay: float
) -> tuple[Lead, str]:
    await asyncio.sleep(delay)
    race = existing is None and state.config.race == "error"
    if race and state.find_leads(call.search_by, call.search_value):
        raise MXError(
            "MXDuplicateEntryException",
            f"A lead with the same {call.search_by} already exists",
        )
    lead, _ = state.upsert(existing, call.lead_fields)
    activity = state.add_activity(
        lead, call.event, call.note, call.activity_datetime, call.activity_fields
    )
    return lead, activity.id


# --- metadata and lookups ------------------------------------------------------------------


async def _answer(request: web.Request, data: Any) -> web.Response:
    state = request.app[STATE]
    await asyncio.sleep(state.latency())
    if request.path.rsplit("/", 1)[-1] in state.config.shape.denied:
        raise MXError(
            "MXUnAuthorizedAccessException", "You do not have permission to access this API."
        )
    return web.json_response(data)


async def user_by_access_key(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    api = config.api_host or request.host
    return await _answer(request, shapes.user_answer(config.schema, api, request.host))


async def activity_types(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    return await _answer(request, shapes.activity_types(config.schema, config.shape))


async def activity_setting(request: web.Request) -> web.Response:
    schema = request.app[STATE].config.schema
    code = request.query.get("code", "")
    activity = schema.activity_type(int(code)) if code.isdigit() else None
    if activity is None:
        raise MXError("MXInvalidActivityException", f"Invalid activity event code: {code!r}")
    return await _answer(
        request, shapes.activity_setting(activity, request.app[STATE].config.shape)
    )


async def leads_metadata(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    return await _answer(request, shapes.leads_metadata(config.schema, config.shape))


async def lead_by_email(request: web.Request) -> web.Response:
    email = request.query.get("emailaddress", "")
    if not email:
        raise MXError("MXInvalidInputException", "emailaddress is required")
    leads = request.app[STATE].find_leads("EmailAddress", email)
    return await _answer(request, [lead.json() for lead in leads])


async def lead_by_phone(request: web.Request) -> web.Response:
    phone = request.query.get("phone", "")
    if not phone:
        raise MXError("MXInvalidInputException", "phone is required")
    return await _answer(request, [lead.json() for lead in request.app[STATE].find_by_phone(phone)])


async def lead_activities(request: web.Request) -> web.Response:
    state = request.app[STATE]
    lead_id = request.query.get("leadId", "")
    if lead_id not in state.leads:
        raise MXError("MXInvalidInputException", f"No lead with id {lead_id!r}")
    body = await read_json(request)
    parameter = body.get("Parameter") or {} if isinstance(body, dict) else {}
    paging = body.get("Paging") or {} if isinstance(body, dict) else {}
    try:
        event = parameter.get("ActivityEvent")
        event = int(event) if event not in (None, "") else None
        offset = int(paging.get("Offset", 0))
        count = int(paging.get("RowCount", 25))
    except (TypeError, ValueError, AttributeError):
        raise MXError("MXInvalidInputException", "Parameter or Paging is malformed") from None
    found = state.activities_of(lead_id, event)
    schema = state.config.schema
    page = found[offset : offset + count]
    return await _answer(
        request,
        {
            "RecordCount": len(found),
            "ProspectActivities": [
                {
                    "Id": a.id,
                    "EventCode": a.event,
                    "EventName": (t.display_name if (t := schema.activity_type(a.event)) else ""),
                    "CreatedOn": a.activity_datetime,
                    "ModifiedOn": a.created_on,
                    "Data": {"ActivityEvent_Note": a.note, **a.fields},
                }
                for a in page
            ],
        },
    )


# --- the sandbox's own routes --------------------------------------------------------------


async def sandbox_state(request: web.Request) -> web.Response:
    state = request.app[STATE]
    snapshot = state.snapshot()
    if request.query.get("times"):  # every admission and throttle, on the server's clock
        snapshot["admitted_times"] = list(state.window.admitted)
        snapshot["admitted_paths"] = list(state.window.admitted_paths)
        snapshot["throttled_times"] = list(state.window.refused)
        snapshot["bulk_admitted_times"] = list(state.bulk_window.admitted)
    return web.json_response(snapshot)


async def sandbox_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"Status": "Success"})


__all__ = ["STATE", "MXError", "SandboxConfig", "State", "create_app"]
