"""LeadSquared's metadata answers read into the account's model (``importer.account.model``), in
every shape they are known or likely to take.

Much of the metadata is undocumented (``shared/LEADSQUARED_API.md``), so the parsers read every
plausible shape and record what they could not see instead of guessing:

- a list of fields comes bare, or wrapped in an object under any key whose items carry a
  ``SchemaName``;
- a custom field set (CFS) lists its own fields nested in its entry under any such key, at any
  depth (``Fields``, ``CustomObjectMetaData.Fields``, a JSON-encoded string of either), or as
  entries of their own that name their parent (``ParentField``, or a ``parent~child`` schema
  name), or not at all: then ``FieldInfo.fields`` is None, "not listed", never "empty";
- options come as a list of strings, a list of ``{Text|Label|Value}`` objects, a JSON-encoded
  string of either, a comma-separated string or a ``{value: label}`` object;
- flags come as booleans, numbers or strings; a flag that is absent is None ("not said"), so that
  a check which needs it is skipped rather than taken as false;
- keys are matched without regard to case, and unknown keys are ignored.

``fetch_account`` (in ``importer.account.metadata``) makes the calls; this module does no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from importer.account.model import SET_TYPES, ActivityType, FieldInfo, User, normal_type
from importer.sending.connection import is_loopback

_PARENT_KEYS = ("ParentField", "ParentSchemaName", "ParentFieldSchemaName")


# --- UserByAccessKey.Get ---------------------------------------------------------------------


def parse_user(data: Any) -> User | None:
    """The documented sample's names (``Name``, ``OrgDisplayName``, ``PassPhrase`` for the
    login email, ``DefaultCountryCode`` as digits), with older and likely names as fallbacks;
    None when the answer is not an object."""
    if not isinstance(data, dict):
        return None
    urls = _get(data, "LSQCommonServiceURLs")
    api = _text(_get(urls, "api")) if isinstance(urls, dict) else ""
    first, last = _text(_get(data, "FirstName")), _text(_get(data, "LastName"))
    name = _text(_get(data, "Name", "FullName", "UserName")) or " ".join(
        p for p in (first, last) if p
    )
    email = _text(_get(data, "EmailAddress", "Email"))
    login = _text(_get(data, "PassPhrase"))
    if not email and "@" in login:  # the sample's login email; never a secret
        email = login
    code = _text(_get(data, "DefaultCountryCode", "CountryCode"))
    return User(
        name=name,
        email=email,
        role=_text(_get(data, "Role", "RoleName")),
        org_id=_text(_get(data, "OrgId", "OrgID")),
        org_name=_text(_get(data, "OrgDisplayName", "OrgName", "Organization", "OrgUniqueName")),
        api_host=api_url(api) if api else "",
        time_zone=_text(_get(data, "TimeZone")),
        country_code="".join(c for c in code if c.isdigit()),
    )


def api_url(reported: str) -> str:
    """The base URL for a host as ``UserByAccessKey.Get`` reports it (often without a scheme)."""
    reported = reported.strip().rstrip("/")
    if "://" in reported:
        return reported
    hostname = urlsplit(f"//{reported}").hostname or ""
    return f"{'http' if is_loopback(hostname) else 'https'}://{reported}"


# --- LeadsMetaData.Get and GetActivitySetting --------------------------------------------------


def parse_fields(answer: Any) -> tuple[FieldInfo, ...] | None:
    """The fields in a metadata answer, custom field sets holding their own; None when the
    answer holds no list of fields in any shape this reads."""
    items = _field_list(answer)
    if items is None:
        return None
    items = [item for item in items if _schema_name(item)]
    names = {
        _schema_name(i)
        for i in items
        if not _text(_get(i, *_PARENT_KEYS)) and "~" not in _schema_name(i)
    }
    top: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        name = _schema_name(item)
        parent = _text(_get(item, *_PARENT_KEYS))
        if not parent and "~" in name:
            parent, _, child = name.partition("~")
            if parent not in names and child in names:  # written child~parent
                parent, child = child, parent
            item = {**item, "SchemaName": child}
        if parent and parent != name:
            children.setdefault(parent, []).append(item)
        else:
            top.append(item)
    found = [_parse_field(item, children.pop(_schema_name(item), [])) for item in top]
    for parent, orphans in children.items():  # a set known only through its fields
        inner = tuple(_parse_field(o) for o in orphans)
        found.append(FieldInfo(parent, data_type="CustomObject", fields=inner))
    return tuple(found)


def _parse_field(
    data: dict[str, Any], flat_children: list[dict[str, Any]] | None = None
) -> FieldInfo:
    nested = _nested_fields(data)
    children = [*(nested or ()), *(flat_children or ())]
    data_type = _text(_get(data, "DataType", "Type", "FieldType"))
    is_set = normal_type(data_type) in SET_TYPES or bool(children)
    return FieldInfo(
        schema_name=_schema_name(data),
        display_name=_text(_get(data, "DisplayName", "Label", "Name")),
        data_type=data_type,
        mandatory=_flag(data, "IsMandatory", "Mandatory", "IsRequired"),
        unique=_flag(data, "IsLeadIdentifier", "IsUnique", "Unique"),
        max_length=_length(_get(data, "MaxLength", "Length")),
        options=parse_options(_get(data, "Options", "OptionSet", "OptionValues")),
        fields=tuple(_parse_field(c) for c in children if _schema_name(c)) or None
        if is_set
        else None,
    )


def _nested_fields(data: dict[str, Any], depth: int = 0) -> list[dict[str, Any]] | None:
    """A CFS entry's own fields: the first list under any key (at any depth up to three) whose
    items carry a SchemaName; JSON-encoded strings are decoded on the way."""
    if depth > 3:
        return None
    for key, value in data.items():
        if key.casefold() in ("options", "optionset"):
            continue
        value = _decoded(value)
        if _is_field_list(value):
            return value
        if isinstance(value, dict):
            found = _nested_fields(value, depth + 1)
            if found is not None:
                return found
    return None


def _field_list(answer: Any) -> list[dict[str, Any]] | None:
    """A list of field entries: the answer itself, or under any key of an object answer."""
    answer = _decoded(answer)
    if _is_field_list(answer):
        return answer
    if isinstance(answer, list) and not answer:
        return []
    if isinstance(answer, dict):
        for value in answer.values():
            value = _decoded(value)
            if _is_field_list(value):
                return value
        for value in answer.values():
            if isinstance(value, dict) and (found := _field_list(value)) is not None:
                return found
    return None


def _is_field_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and any(isinstance(item, dict) and _schema_name(item) for item in value)
    )


# --- ActivityTypes.Get -----------------------------------------------------------------------


def parse_activity_types(answer: Any) -> tuple[ActivityType, ...] | None:
    """The activity types in an ``ActivityTypes.Get`` answer (codes as numbers or strings);
    None when it holds no list of types in any shape this reads."""
    items = _decoded(answer)
    if isinstance(items, dict):
        items = next((v for v in items.values() if isinstance(v, list)), None)
    if not isinstance(items, list):
        return None
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        code = _code(item)
        if code is not None:
            found.append(ActivityType(code, _text(_get(item, "DisplayName", "EventName", "Name"))))
    if items and not found:
        return None
    return tuple(found)


def _code(item: Any) -> int | None:
    return _whole(_get(item, "ActivityEvent", "EventCode", "Code", "ActivityEventCode"))


# --- values ----------------------------------------------------------------------------------


def parse_options(raw: Any) -> tuple[str, ...]:
    raw = _decoded(raw)
    if isinstance(raw, str):
        return tuple(o.strip() for o in raw.split(",") if o.strip())
    if isinstance(raw, dict):
        inner = next((v for v in raw.values() if isinstance(v, list)), None)
        raw = inner if inner is not None else [{"Value": k} for k in raw]
    if not isinstance(raw, list):
        return ()
    found = []
    for option in raw:
        value = _get(option, "Value", "Text", "Label") if isinstance(option, dict) else option
        if value is not None and not isinstance(value, (dict, list)) and str(value) != "":
            found.append(str(value))
    return tuple(found)


def _flag(data: Any, *names: str) -> bool | None:
    """A flag under any of ``names``; None when none of them says, or when they disagree
    (``IsMandatory: true`` beside ``Mandatory: false``)."""
    said = {_truth(raw) for raw in _values(data, names)} - {None}
    return said.pop() if len(said) == 1 else None


def _truth(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return raw == 1
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
    return None


def _length(raw: Any) -> int | None:
    length = _whole(raw)
    return length if length is not None and length > 0 else None


#: A whole number as text: ASCII digits, at most ten, and perhaps a ".0" (``"50"``, ``"50.0"``).
_WHOLE = re.compile(r"(-?[0-9]{1,10})(?:\.0*)?")
#: Larger than any length or event code; keeps int() clear of numbers too long to convert.
_LARGEST = 2**31


def _whole(raw: Any) -> int | None:
    """A whole number written as a number or as text; None for anything else (a fraction,
    infinity, NaN, a boolean, a number too large to be a length or a code)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        number = int(raw) if raw.is_integer() else None  # False for inf and NaN
    elif isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and (match := _WHOLE.fullmatch(raw.strip())):
        number = int(match[1])
    else:
        return None
    return number if number is not None and abs(number) < _LARGEST else None


def _get(data: Any, *names: str) -> Any:
    """The first of ``names`` in ``data`` whose value is not null."""
    return next(_values(data, names), None)


def _values(data: Any, names: tuple[str, ...]) -> Iterator[Any]:
    """The values under ``names`` that are not null, name by name; keys are compared without
    regard to case, the exact spelling first."""
    if not isinstance(data, dict):
        return
    for name in names:
        if data.get(name) is not None:
            yield data[name]
        folded = name.casefold()
        yield from (
            value
            for key, value in data.items()
            if isinstance(key, str)
            and key != name
            and key.casefold() == folded
            and value is not None
        )


def _schema_name(item: Any) -> str:
    return _text(_get(item, "SchemaName", "Attribute")) if isinstance(item, dict) else ""


def _text(raw: Any) -> str:
    if raw is None or isinstance(raw, (dict, list)):
        return ""
    try:
        return str(raw).strip()
    except ValueError:  # an int too long to print
        return ""


def _decoded(value: Any) -> Any:
    """A JSON-encoded object or list, decoded; anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value
