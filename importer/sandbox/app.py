"""The sandbox's web application: LeadSquared's paths and answers, awkward parts included.

Every ``/v2/`` call is authenticated (headers or query string) and counted against a strict
sliding window per access key; throttles come back as HTTP 429 or, for a share of them, as
HTTP 200 with ``MXAPIRateLimitExceededException``. Application errors are HTTP 500 with an MX
body. CreateCustom looks its lead up when the call arrives and writes when it completes, so two
concurrent calls for one new lead create two. Faults (latency, non-MX 500s, answers lost after
the write, calls slower than a client's timeout) are drawn from a seeded generator. With
``echo_keys``, every call that passes the keys and the rate limit is answered with a page that
echoes the keys, as some proxies do (``echo.py``).

``/_sandbox/state`` (GET) and ``/_sandbox/reset`` (POST) are the sandbox's own, outside the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from importer.sandbox import echo, shapes
from importer.sandbox.schema import check_value, is_datetime
from importer.sandbox.state import Lead, SandboxConfig, State

STATE = web.AppKey("state", State)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_API = "/v2/"


class MXError(Exception):
    """An application error, answered as LeadSquared does: HTTP 500 and an MX body."""

    def __init__(self, exception_type: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.exception_type = exception_type
        self.message = message
        self.status = status


def mx_body(exception_type: str, message: str) -> dict[str, str]:
    return {"Status": "Error", "ExceptionType": exception_type, "ExceptionMessage": message}


def create_app(config: SandboxConfig | None = None, state: State | None = None) -> web.Application:
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
    if not state.window.admit(access, request.path):
        state.counters["throttled"] += 1
        body = mx_body(
            "MXAPIRateLimitExceededException",
            f"API calls exceeded the limit of {config.rate_limit} in "
            f"{config.rate_window:g} second(s)",
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


async def _read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise MXError(
            "MXInvalidInputException", "Content-Type must be application/json", status=400
        )
    try:
        return json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MXError("MXInvalidInputException", "The request body is not JSON", 400) from None


# --- CreateCustom ---------------------------------------------------------------------------


async def create_custom(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await _read_json(request)
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
        call = _parse_create_custom(state, body)
        # The lead is looked up as the call arrives and written as it completes: two concurrent
        # calls for one new SearchBy value both find nothing and both create a lead.
        found = state.find_leads(call.search_by, call.search_value)
        existing = found[0] if found else None
        if existing is None:
            _check_mandatory_lead_fields(state, call)
    except MXError:
        await asyncio.sleep(state.latency())
        raise
    delay = state.config.slow_seconds if fault == "slow" else state.latency()
    if fault == "slow":
        state.counters["faults_slow"] += 1
    # Shielded: a client that gives up does not stop the server from writing.
    lead, activity_id = await asyncio.shield(_complete(state, call, existing, delay))
    if fault == "drop":
        state.counters["faults_dropped"] += 1
        if request.transport is not None:
            request.transport.abort()  # written, but the answer never leaves
        raise asyncio.CancelledError
    return web.json_response(
        {"Status": "Success", "Message": {"Id": activity_id, "RelatedId": lead.id}}
    )


def _check_mandatory_lead_fields(state: State, call: _Call) -> None:
    missing = [
        f.schema_name
        for f in state.config.schema.lead_fields
        if f.mandatory and not call.lead_fields.get(f.schema_name)
    ]
    if missing:
        raise MXError(
            "MXMandatoryAttributeMissingException",
            f"Mandatory lead fields are missing: {', '.join(missing)}",
        )


async def _complete(
    state: State, call: _Call, existing: Lead | None, delay: float
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


class _Call:
    """A CreateCustom body, checked against the schema."""

    def __init__(self) -> None:
        self.lead_fields: dict[str, Any] = {}
        self.search_by = ""
        self.search_value = ""
        self.event = 0
        self.note: str | None = None
        self.activity_datetime: str | None = None
        self.activity_fields: dict[str, Any] = {}


def _parse_create_custom(state: State, body: Any) -> _Call:
    schema = state.config.schema
    if not isinstance(body, dict) or not isinstance(body.get("LeadDetails"), list):
        raise MXError("MXInvalidInputException", "LeadDetails must be a list", status=400)
    activity = body.get("Activity")
    if not isinstance(activity, dict):
        raise MXError("MXInvalidInputException", "Activity must be an object", status=400)
    call = _Call()
    search_by = None
    for item in body["LeadDetails"]:
        name, value = _pair(item, "Attribute")
        if name == "SearchBy":
            search_by = value
            continue
        spec = schema.lead_field(name)
        if spec is None or spec.system:
            raise MXError("MXUnknownAttributeException", f"Unknown lead attribute: {name}")
        if spec.is_set:
            call.lead_fields[name] = _set_fields(item, spec, "Attribute", True, lead=True)
            continue
        problem = check_value(spec, value)
        if problem:
            raise MXError("MXInvalidInputException", problem)
        call.lead_fields[name] = value

    if not search_by:
        raise MXError("MXInvalidInputException", "SearchBy is missing from LeadDetails")
    spec = schema.lead_field(search_by)
    if spec is None or not spec.unique:
        raise MXError(
            "MXInvalidInputException",
            f"SearchBy must name a unique lead field, not {search_by}",
        )
    if not call.lead_fields.get(search_by):
        raise MXError("MXInvalidInputException", f"SearchBy {search_by} has no value")
    call.search_by, call.search_value = search_by, call.lead_fields[search_by]

    event = activity.get("ActivityEvent")
    code = None
    if isinstance(event, int | float | str) and not isinstance(event, bool):
        with contextlib.suppress(ValueError, OverflowError):
            code = int(event)
    activity_type = schema.activity_type(code) if code is not None else None
    if activity_type is None:
        raise MXError("MXInvalidActivityException", f"Invalid activity event code: {event!r}")
    call.event = activity_type.code
    note = activity.get("ActivityNote")
    if note is not None and not isinstance(note, str):
        raise MXError("MXInvalidInputException", "ActivityNote must be a string")
    call.note = note
    when = activity.get("ActivityDateTime")
    if when is not None:
        if not isinstance(when, str) or not is_datetime(when, "%Y-%m-%d %H:%M:%S"):
            raise MXError(
                "MXInvalidInputException",
                f"ActivityDateTime '{when}' is not in the format yyyy-MM-dd HH:mm:ss (UTC)",
            )
        call.activity_datetime = when
    skip_options = activity.get("ValidateDropDownOptions") is True
    fields = activity.get("Fields") or []
    if not isinstance(fields, list):
        raise MXError("MXInvalidInputException", "Activity.Fields must be a list", status=400)
    for item in fields:
        name, value = _pair(item, "SchemaName", "Attribute")
        spec = activity_type.field(name)
        if spec is None:
            raise MXError(
                "MXInvalidActivityFieldsException",
                f"{name} is not a field of activity {activity_type.display_name}",
            )
        if spec.is_set:
            call.activity_fields[name] = _set_fields(item, spec, "SchemaName", not skip_options)
            continue
        problem = check_value(spec, value, check_options=not skip_options)
        if problem:
            raise MXError("MXInvalidActivityFieldsException", problem)
        call.activity_fields[name] = value
    missing = [
        f.schema_name
        for f in activity_type.fields
        if f.mandatory and not call.activity_fields.get(f.schema_name)
    ]
    if missing:
        raise MXError(
            "MXInvalidActivityFieldsException",
            f"Mandatory activity fields are missing: {', '.join(missing)}",
        )
    return call


def _pair(item: Any, *keys: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise MXError("MXInvalidInputException", "Each item must be an object", status=400)
    name = next((item[k] for k in keys if k in item), None)
    value = item.get("Value")
    if not isinstance(name, str) or not name:
        raise MXError("MXInvalidInputException", f"An item has no {keys[0]}", status=400)
    if not isinstance(value, str):
        raise MXError("MXInvalidInputException", f"The value of {name} must be a string")
    return name, value


def _set_fields(
    item: dict[str, Any], spec: Any, key: str, check_options: bool, lead: bool = False
) -> dict[str, str]:
    inner = item.get("Fields")
    if not isinstance(inner, list):
        raise MXError("MXInvalidInputException", f"{spec.schema_name} needs a Fields list")
    kind = "MXUnknownAttributeException" if lead else "MXInvalidActivityFieldsException"
    values: dict[str, str] = {}
    for entry in inner:
        name, value = _pair(entry, key, "Attribute", "SchemaName")
        field = spec.field(name)
        if field is None:
            raise MXError(kind, f"Unknown field {name} in {spec.schema_name}")
        problem = check_value(field, value, check_options=check_options)
        if problem:
            raise MXError("MXInvalidInputException" if lead else kind, problem)
        values[name] = value
    return values


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
    body = await _read_json(request)
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
    return web.json_response(snapshot)


async def sandbox_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"Status": "Success"})


__all__ = ["STATE", "MXError", "SandboxConfig", "State", "create_app"]
