"""The shapes the sandbox's metadata answers come in (``--metadata-shape``).

LeadSquared documents the answer of ``UserByAccessKey.Get`` (a sample) and the outline of the
other metadata calls, but not how ``LeadsMetaData.Get`` describes a custom field set's own fields,
nor the exact form of its flags, options and lengths (``shared/LEADSQUARED_API.md``). Each shape
here is one plausible reading, so that tests run the importer's pre-flight against all of them
and not only against the one it was first written for:

    nested          a CFS lists its fields under ``Fields`` in its own entry; booleans; lead
                    options as ``[{Label, Value}]``, activity options as a JSON string
    custom-object   under ``CustomObjectMetaData.Fields``; flags and lengths as strings; lead
                    options as a JSON string; the lead list wrapped in an object; codes as strings
    parent-field    CFS fields as entries of their own naming ``ParentField`` (activity ones with
                    ``CustomObjectType`` too); flags as 1/0; options as plain strings
    tilde           CFS fields as entries of their own named ``parent~child``
    unlisted        a CFS entry says nothing of its fields
    sparse          as unlisted, and no field says its type, options, length, or whether it is
                    mandatory or unique
    restricted      keys whose user may not read the lead fields or the activity types:
                    those two calls answer HTTP 500 with an MX error

Every shape but ``nested`` adds keys the importer does not know. ``UserByAccessKey.Get`` answers
as the docs' sample in every shape.

The bulk calls' answers (``bulk_shape``, served by ``bulk.py``) are not documented either: the
docs show only that the activity answer begins ``{"Response": [{"ProspectActivityId": ...``;
public code shows the rest (``shared/LEADSQUARED_API.md``). Each shape is one reading of it; a
failed record is always a row of the HTTP 200 answer, never an error of the whole call:

    seen-in-code    (the default) leads: a bare list of ``{RowNumber, LeadId, LeadCreated,
                    LeadUpdated, AffectedRows}``, a failed row with ``ExceptionType`` and
                    ``ExceptionMessage`` and no ``LeadId``; activities: ``{"Response": [...]}``
                    of ``{RowNumber, ActivityCreated, ProspectActivityId, ExceptionMessage}``
                    (the documented wrapper around the items public code reads)
    error-message   as seen-in-code, but a failed row says only ``ErrorMessage`` (the other
                    error key public code reads)
    bare            both answers bare lists (the activity items without the wrapper)
    wrapped         both answers in ``{"Response": [...]}`` (the lead answer as the activity one)
    unnumbered      no ``RowNumber``: rows answer in the call's order, their only link to the
                    records (the documented activity answer begins with ``ProspectActivityId``)
    strings         flags, counts and row numbers as strings, a failed row's id as ``""``
                    (as the ``custom-object`` metadata shape writes its flags)
    reversed        rows answered last first: only ``RowNumber`` says which record each is
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from importer.sandbox.schema import ActivityType, FieldSpec, Schema


@dataclass(frozen=True)
class Shape:
    sets: str = "nested"  # nested, custom-object, parent-field, tilde, none
    flags: str = "bool"  # bool, string, number, absent
    lead_options: str = "labels"  # labels, json, strings, absent
    activity_options: str = "json"
    lengths: str = "number"  # number, string, absent
    types: bool = True  # plain fields say their DataType
    wrap_leads: bool = False  # LeadsMetaData.Get answers {"Fields": [...], ...}, not a list
    codes: str = "number"  # ActivityEvent as a number or a string
    extra_keys: bool = False
    denied: frozenset[str] = frozenset()  # metadata calls (by last path part) that fail


SHAPES: dict[str, Shape] = {
    "nested": Shape(),
    "custom-object": Shape(
        sets="custom-object",
        flags="string",
        lead_options="json",
        lengths="string",
        wrap_leads=True,
        codes="string",
        extra_keys=True,
    ),
    "parent-field": Shape(
        sets="parent-field",
        flags="number",
        lead_options="strings",
        activity_options="strings",
        extra_keys=True,
    ),
    "tilde": Shape(sets="tilde", extra_keys=True),
    "unlisted": Shape(sets="none", extra_keys=True),
    "sparse": Shape(
        sets="none",
        flags="absent",
        lead_options="absent",
        activity_options="absent",
        lengths="absent",
        types=False,
        extra_keys=True,
    ),
    "restricted": Shape(denied=frozenset({"LeadsMetaData.Get", "ActivityTypes.Get"})),
}


def user_answer(schema: Schema, api: str, app: str) -> dict[str, Any]:
    return {
        "Id": "00000000-0000-0000-0000-00000000a11e",
        **schema.account,
        "LSQCommonServiceURLs": {"api": api, "app": app},
    }


def leads_metadata(schema: Schema, shape: Shape) -> Any:
    entries = _entries(schema.lead_fields, shape, shape.lead_options, "lead")
    if shape.wrap_leads:
        return {"Count": len(entries), "Fields": entries}
    return entries


def activity_types(schema: Schema, shape: Shape) -> list[dict[str, Any]]:
    return [
        {
            "ActivityEvent": str(t.code) if shape.codes == "string" else t.code,
            "DisplayName": t.display_name,
            "Category": "Custom",
            **({"IsEditable": True, "Score": 0} if shape.extra_keys else {}),
        }
        for t in schema.activity_types
    ]


def activity_setting(activity: ActivityType, shape: Shape) -> dict[str, Any]:
    return {
        "ActivityEvent": activity.code,
        "DisplayName": activity.display_name,
        "Fields": _entries(activity.fields, shape, shape.activity_options, "activity"),
        **({"Direction": 0, "IsDefault": False} if shape.extra_keys else {}),
    }


def _entries(fields: list[FieldSpec], shape: Shape, options: str, kind: str) -> list[dict]:
    key = "OptionSet" if kind == "activity" else "Options"
    entries = []
    for spec in fields:
        entry = _entry(spec, shape, options, key)
        if spec.is_set and shape.sets == "nested":
            entry["Fields"] = [_entry(f, shape, options, key) for f in spec.fields]
        elif spec.is_set and shape.sets == "custom-object":
            entry["CustomObjectMetaData"] = {
                "Name": spec.display_name,
                "Fields": [_entry(f, shape, options, key) for f in spec.fields],
            }
        if shape.sets == "parent-field":
            entry["ParentField"] = ""  # a top-level field names no parent
        entries.append(entry)
        if spec.is_set and shape.sets in ("parent-field", "tilde"):
            for inner in spec.fields:
                child = _entry(inner, shape, options, key)
                if shape.sets == "tilde":
                    child["SchemaName"] = f"{spec.schema_name}~{inner.schema_name}"
                else:
                    child["ParentField"] = spec.schema_name
                    if kind == "activity":
                        child["CustomObjectType"] = spec.schema_name
                entries.append(child)
    return entries


def _entry(spec: FieldSpec, shape: Shape, options: str, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {"SchemaName": spec.schema_name, "DisplayName": spec.display_name}
    if shape.types or (spec.is_set and shape.sets != "none"):
        out["DataType"] = spec.data_type
    if shape.flags != "absent":
        out["IsMandatory"] = _flag(spec.mandatory, shape)
        out["IsLeadIdentifier"] = _flag(spec.unique, shape)
    if shape.lengths != "absent" and spec.max_length is not None:
        out["MaxLength"] = str(spec.max_length) if shape.lengths == "string" else spec.max_length
    if options != "absent" and not spec.is_set:
        if options == "labels":
            out[key] = [{"Label": o, "Value": o} for o in spec.options]
        elif options == "json":
            out[key] = json.dumps([{"Text": o, "Value": o} for o in spec.options])
        else:
            out[key] = list(spec.options)
    if shape.extra_keys:
        out.update({"IsSortable": True, "RenderType": 0, "Tags": None})
    return out


def _flag(value: bool, shape: Shape) -> Any:
    if shape.flags == "string":
        return "True" if value else "False"
    if shape.flags == "number":
        return 1 if value else 0
    return value


# --- the bulk calls' answers --------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One record's outcome in a bulk call, before it is shaped: the id it got (the lead's or
    the activity's), or the MX error it failed with."""

    number: int  # 1-based in the call
    id: str | None = None
    created: bool = False  # a new lead (the lead call)
    exception_type: str = ""
    message: str = ""


@dataclass(frozen=True)
class BulkShape:
    wrap_leads: bool = False  # the lead answer as {"Response": [...]}, not a bare list
    wrap_activities: bool = True
    errors: str = "exception"  # exception (ExceptionType/ExceptionMessage), error-message
    numbered: bool = True  # rows carry RowNumber
    strings: bool = False  # flags, counts and numbers as strings; a failed id as ""
    reversed: bool = False  # rows answered last first


BULK_SHAPES: dict[str, BulkShape] = {
    "seen-in-code": BulkShape(),
    "error-message": BulkShape(errors="error-message"),
    "bare": BulkShape(wrap_activities=False),
    "wrapped": BulkShape(wrap_leads=True),
    "unnumbered": BulkShape(numbered=False),
    "strings": BulkShape(strings=True),
    "reversed": BulkShape(reversed=True),
}


def lead_rows(rows: list[Row], shape: BulkShape) -> Any:
    """The answer of ``Lead/Bulk/CreateOrUpdate``."""
    out = []
    for row in rows:
        ok = row.id is not None
        item = _numbered(row, shape)
        if ok or shape.strings:
            item["LeadId"] = row.id or ""
        item["LeadCreated"] = _scalar(row.created, shape)
        item["LeadUpdated"] = _scalar(ok and not row.created, shape)
        item["AffectedRows"] = _scalar(1 if ok else 0, shape)
        if not ok:
            if shape.errors == "exception":
                item["ExceptionType"] = row.exception_type
                item["ExceptionMessage"] = row.message
            else:
                item["ErrorMessage"] = row.message
        out.append(item)
    return _wrap(out, shape.wrap_leads, shape)


def activity_rows(rows: list[Row], shape: BulkShape) -> Any:
    """The answer of ``Bulk/CustomActivity/Add/ByLeadId``."""
    out = []
    for row in rows:
        ok = row.id is not None
        item = _numbered(row, shape)
        item["ActivityCreated"] = _scalar(ok, shape)
        item["ProspectActivityId"] = row.id if ok else ("" if shape.strings else None)
        key = "ExceptionMessage" if shape.errors == "exception" else "ErrorMessage"
        item[key] = None if ok else row.message
        out.append(item)
    return _wrap(out, shape.wrap_activities, shape)


def _numbered(row: Row, shape: BulkShape) -> dict[str, Any]:
    return {"RowNumber": _scalar(row.number, shape)} if shape.numbered else {}


def _scalar(value: bool | int, shape: BulkShape) -> Any:
    if not shape.strings:
        return value
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _wrap(items: list[dict[str, Any]], wrap: bool, shape: BulkShape) -> Any:
    if shape.reversed:
        items = items[::-1]
    return {"Response": items} if wrap else items
