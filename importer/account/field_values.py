"""A column's values against the account's field behind its rule, before a row is sent.

``field_for`` gives the account's field behind a rule's path, and ``value_problems`` judges a
column of converted values against it (a dropdown value that is not an option, a value too long,
a value not of the field's type, a mandatory activity field left empty): those rows fail without
a call, with the error types named here. ``event_problems`` does the same for event codes that
come from a column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from importer.account.model import Account, FieldInfo
from importer.mapping.config import Mapping

NOT_AN_OPTION, TOO_LONG, WRONG_TYPE, UNKNOWN_EVENT = (
    "NotAnOption",
    "TooLong",
    "WrongType",
    "UnknownEvent",
)
MISSING_VALUE = "MissingValue"

#: What LeadSquared takes for each data type, as the API documents its formats (Arrow's regular
#: expressions, RE2).
_SHAPES: dict[str, tuple[str, str]] = {
    "Number": (r"-?\d+(?:\.\d+)?", "a number such as 1234.5"),
    "Date": (r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?", "a date as yyyy-MM-dd"),
    "DateTime": (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "a date-time as yyyy-MM-dd HH:mm:ss"),
    "Boolean": (r"(?i:true|false|1|0)", "true or false"),
    "Email": (r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,63}", "an email address"),
    "Phone": (r"(?:\+\d{1,4}-)?\d{4,15}", "a phone number such as +91-9876543210"),
}
_TEXT_TYPES = frozenset({"Text", "String", "LargeOptionSet", "Website", "Email", "Phone"})


@dataclass(frozen=True)
class Target:
    """The account's field behind one rule path, and how to judge its values."""

    spec: FieldInfo
    check_options: bool
    mandatory: bool  # a mandatory activity field: empty fails the row


def event_code(mapping: Mapping) -> int | None:
    """The mapping's activity event code when it is one constant, else None."""
    rule = mapping.activity.event
    text = (rule.value or "").strip()
    if rule.column is None and rule.template is None and text.lstrip("-").isdigit():
        return int(text)
    return None


def field_for(path: str, mapping: Mapping, account: Account) -> Target | None:
    """The account's field behind a rule path, if it has one."""
    parts = path.split(".")
    skip_activity_options = mapping.activity.validate_dropdown_options
    if parts[0] == "lead":
        spec = account.lead_field(parts[2])
        if parts[1] == "custom_field_sets" and spec is not None:
            spec = spec.field(parts[3])
        return Target(spec, True, False) if spec is not None and not spec.is_set else None
    code = event_code(mapping)
    activity = account.activity_type(code) if code is not None else None
    if activity is None or parts[1] not in ("fields", "custom_field_sets"):
        return None
    spec = activity.field(parts[2])
    if parts[1] == "custom_field_sets" and spec is not None:
        spec = spec.field(parts[3])
    if spec is None or spec.is_set:
        return None
    return Target(spec, not skip_activity_options, bool(spec.mandatory) and parts[1] == "fields")


def value_problems(
    target: Target, values: pa.Array, activity: str = ""
) -> list[tuple[int, str, str]]:
    """``(position, error type, message)`` for each value that the field will not take."""
    spec = target.spec
    found: list[tuple[int, str, str]] = []
    present = values.is_valid()
    if target.mandatory:
        for i in _positions(pc.invert(present)):
            found.append(
                (i, MISSING_VALUE, f"{spec.label()} is mandatory for {activity}: it needs a value")
            )
    filled = pc.and_(present, pc.not_equal(pc.fill_null(values, ""), ""))
    if not pc.any(filled).as_py():
        return found
    if spec.is_dropdown and target.check_options:
        outside = pc.and_(filled, pc.invert(pc.is_in(values, pa.array(spec.options, pa.string()))))
        for i in _positions(outside):
            value = values[i].as_py()
            message = f"{value!r} is not an option of {spec.label()}"
            close = difflib.get_close_matches(value, spec.options, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
            else:
                message += f"; options: {_listed(spec.options)}"
            found.append((i, NOT_AN_OPTION, message))
        return found
    if spec.max_length and (spec.data_type in _TEXT_TYPES or not spec.data_type):
        lengths = pc.utf8_length(values)
        for i in _positions(pc.and_(filled, pc.greater(lengths, spec.max_length))):
            found.append(
                (
                    i,
                    TOO_LONG,
                    f"{lengths[i].as_py()} characters, and {spec.label()} takes at most "
                    f"{spec.max_length}",
                )
            )
    shape = _SHAPES.get(spec.data_type)
    if shape is not None:
        pattern, wanted = shape
        wrong = pc.and_(filled, pc.invert(pc.match_substring_regex(values, f"^(?:{pattern})$")))
        for i in _positions(wrong):
            found.append(
                (
                    i,
                    WRONG_TYPE,
                    f"{values[i].as_py()!r} is not {wanted}, as {spec.label()} "
                    f"({spec.data_type}) needs; give the rule a type that converts it",
                )
            )
    return found


def check_constant(target: Target, text: str) -> str | None:
    """Why one constant value does not fit its field, or None."""
    problems = value_problems(target, pa.array([text], pa.string()))
    return problems[0][2] if problems else None


def event_problems(values: pa.Array, account: Account) -> list[tuple[int, str, str]]:
    """Rows whose event code (from a column) is not one of the account's activity types."""
    if not account.activity_types_listed:
        return []
    known = pa.array([str(t.code) for t in account.activity_types], pa.string())
    unknown = pc.and_(values.is_valid(), pc.invert(pc.is_in(values, known)))
    listed = "; ".join(f"{t.code} {t.name}" for t in account.activity_types)
    return [
        (i, UNKNOWN_EVENT, f"{values[i].as_py()} is not an activity type of this account: {listed}")
        for i in _positions(unknown)
    ]


def _positions(mask: pa.Array) -> list[int]:
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()


def _listed(options: tuple[str, ...], limit: int = 12) -> str:
    shown = ", ".join(repr(o) for o in options[:limit])
    return shown + (f" and {len(options) - limit} more" if len(options) > limit else "")
