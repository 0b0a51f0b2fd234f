"""What the sandbox refuses in a CreateCustom body, as LeadSquared does: each refusal is an
``MXError`` with LeadSquared's exception type and message (HTTP 500, or 400 for a body of the
wrong shape). A body that passes becomes a ``Call``: its lead fields and SearchBy, its event,
note, date-time and activity fields, every value checked against the schema. The bulk calls
(``bulk.py``) judge each record with the same parts: ``parse_lead_details``, ``parse_activity``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from importer.sandbox.schema import check_value, is_datetime
from importer.sandbox.state import State


class MXError(Exception):
    """An application error, answered as LeadSquared does: HTTP 500 and an MX body."""

    def __init__(self, exception_type: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.exception_type = exception_type
        self.message = message
        self.status = status


class Call:
    """A CreateCustom body, checked against the schema."""

    def __init__(self) -> None:
        self.lead_fields: dict[str, Any] = {}
        self.search_by = ""
        self.search_value = ""
        self.event = 0
        self.note: str | None = None
        self.activity_datetime: str | None = None
        self.activity_fields: dict[str, Any] = {}
        self.owner: str | None = None  # ActivityOwnerEmail (bulk activities)


def parse_create_custom(state: State, body: Any) -> Call:
    if not isinstance(body, dict) or not isinstance(body.get("LeadDetails"), list):
        raise MXError("MXInvalidInputException", "LeadDetails must be a list", status=400)
    activity = body.get("Activity")
    if not isinstance(activity, dict):
        raise MXError("MXInvalidInputException", "Activity must be an object", status=400)
    call = Call()
    parse_lead_details(state, body["LeadDetails"], call)
    parse_activity(state, activity, call)
    return call


def parse_lead_details(
    state: State, items: list[Any], call: Call, default_search_by: tuple[str, ...] = ()
) -> None:
    """The lead part of a call (CreateCustom's ``LeadDetails``, one record of the bulk upsert)
    into ``call``. Without a SearchBy item, the first of ``default_search_by`` that has a value
    is used (the bulk upsert matches by email, then phone); CreateCustom has no default."""
    schema = state.config.schema
    search_by = None
    for item in items:
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
        search_by = next((k for k in default_search_by if call.lead_fields.get(k)), None)
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


def parse_activity(state: State, activity: dict[str, Any], call: Call) -> None:
    """The activity part of a call (CreateCustom's ``Activity``, one item of the bulk activity
    call) into ``call``: its event, note, date-time and fields."""
    schema = state.config.schema
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


def check_mandatory_lead_fields(state: State, call: Call) -> None:
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
