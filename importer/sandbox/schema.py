"""The sandbox account's schema: lead fields, custom field sets, activity types and their fields.

The default (``default_schema.yaml``) fits ``data_samples/`` and ``mappings/``; ``load_schema``
reads another from a YAML or JSON file of the same shape. ``check_value`` is how the sandbox
judges a value against a field, as strictly as LeadSquared does.
"""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from importer.errors import ConfigError, Problem

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PHONE = re.compile(r"(?:\+\d{1,4}-)?\d{4,15}")
_BOOLEAN = {"true", "false", "1", "0"}
DROPDOWNS = {"Select", "Dropdown", "SearchableDropdown"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldSpec(_Model):
    """One lead or activity field. A ``CustomObject`` field is a custom field set."""

    schema_name: str = Field(alias="SchemaName")
    display_name: str = Field(alias="DisplayName")
    data_type: str = Field(alias="DataType")
    mandatory: bool = Field(False, alias="IsMandatory")
    unique: bool = Field(False, alias="IsLeadIdentifier")
    max_length: int | None = Field(None, alias="MaxLength")
    options: list[str] = Field(default_factory=list, alias="Options")
    system: bool = Field(False, alias="System")
    fields: list[FieldSpec] = Field(default_factory=list)

    @property
    def is_set(self) -> bool:
        return self.data_type == "CustomObject"

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.schema_name == name), None)


class ActivityType(_Model):
    code: int = Field(alias="ActivityEvent")
    display_name: str = Field(alias="DisplayName")
    fields: list[FieldSpec] = Field(default_factory=list)

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.schema_name == name), None)


class Schema(_Model):
    #: The UserByAccessKey.Get answer, less Id and LSQCommonServiceURLs (the sandbox adds them).
    account: dict[str, Any]
    lead_fields: list[FieldSpec]
    activity_types: list[ActivityType]

    def lead_field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.lead_fields if f.schema_name == name), None)

    def activity_type(self, code: int) -> ActivityType | None:
        return next((t for t in self.activity_types if t.code == code), None)


def default_schema() -> Schema:
    text = resources.files("importer.sandbox").joinpath("default_schema.yaml").read_text("utf-8")
    return Schema.model_validate(yaml.safe_load(text))


def load_schema(path: str | Path) -> Schema:
    """A schema from a YAML or JSON file shaped like ``default_schema.yaml``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([Problem("", f"cannot read the schema file: {exc}")], str(path)) from None
    try:
        return Schema.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors(include_url=False)
        ]
        raise ConfigError(problems, str(path)) from None


def check_value(spec: FieldSpec, value: str, *, check_options: bool = True) -> str | None:
    """Why ``value`` does not fit the field, or None."""
    kind = spec.data_type
    if value == "":
        return None
    if kind in ("Text", "String") and spec.max_length and len(value) > spec.max_length:
        return f"{spec.schema_name}: value longer than its maximum length of {spec.max_length}"
    if kind == "Number" and not _NUMBER.fullmatch(value):
        return f"{spec.schema_name}: '{value}' is not a number"
    if kind == "Email" and not _EMAIL.fullmatch(value):
        return f"{spec.schema_name}: '{value}' is not a valid email address"
    if kind == "Phone" and not _PHONE.fullmatch(value):
        return f"{spec.schema_name}: '{value}' is not a valid phone number"
    if kind == "Boolean" and value.lower() not in _BOOLEAN:
        return f"{spec.schema_name}: '{value}' is not a boolean"
    if kind == "DateTime" and not is_datetime(value, "%Y-%m-%d %H:%M:%S"):
        return f"{spec.schema_name}: '{value}' is not a date-time in the format yyyy-MM-dd HH:mm:ss"
    if kind == "Date" and not (
        is_datetime(value, "%Y-%m-%d") or is_datetime(value, "%Y-%m-%d %H:%M:%S")
    ):
        return f"{spec.schema_name}: '{value}' is not a date in the format yyyy-MM-dd"
    if kind in DROPDOWNS and check_options and value not in spec.options:
        return f"{spec.schema_name}: '{value}' is not one of the options of {spec.display_name}"
    return None


def is_datetime(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True
