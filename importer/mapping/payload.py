"""The CreateCustom body of one mapped row, exactly as LeadSquared takes it: the lead's
attributes (custom field sets holding their own fields under ``Fields``) and the SearchBy, then
the activity's event, note, date-time and fields. A value that is None is left out.
"""

from __future__ import annotations

from typing import Any

from importer.mapping.config import Mapping


def build_payload(mapping: Mapping, values: dict[str, str | None]) -> dict[str, Any]:
    """The CreateCustom body from converted values keyed by rule path (None: left out)."""
    lead = _entries(
        "Attribute",
        values,
        ("lead.attributes", list(mapping.lead.attributes)),
        {cfs: list(fields) for cfs, fields in mapping.lead.custom_field_sets.items()},
        "lead.custom_field_sets",
    )
    lead.append({"Attribute": "SearchBy", "Value": mapping.lead.search_by})

    activity: dict[str, Any] = {"ActivityEvent": int(values["activity.event"] or 0)}
    for key, path in (("ActivityNote", "activity.note"), ("ActivityDateTime", "activity.datetime")):
        if values.get(path) is not None:
            activity[key] = values[path]
    fields = _entries(
        "SchemaName",
        values,
        ("activity.fields", list(mapping.activity.fields)),
        {cfs: list(fields) for cfs, fields in mapping.activity.custom_field_sets.items()},
        "activity.custom_field_sets",
    )
    if fields:
        activity["Fields"] = fields
    if mapping.activity.validate_dropdown_options:
        activity["ValidateDropDownOptions"] = True
    return {"LeadDetails": lead, "Activity": activity}


def _entries(
    key: str,
    values: dict[str, str | None],
    plain: tuple[str, list[str]],
    sets: dict[str, list[str]],
    sets_path: str,
) -> list[dict[str, Any]]:
    """``{key: name, "Value": value}`` for each mapped field that has a value, then one entry
    per custom field set that has any, holding its own fields under ``Fields``."""

    def pairs(prefix: str, names: list[str]) -> list[dict[str, Any]]:
        return [
            {key: name, "Value": value}
            for name in names
            if (value := values[f"{prefix}.{name}"]) is not None
        ]

    entries = pairs(*plain)
    for cfs, names in sets.items():
        if inner := pairs(f"{sets_path}.{cfs}", names):
            entries.append({key: cfs, "Value": "", "Fields": inner})
    return entries
