"""The column-mapping config: load a YAML mapping, check it as a whole, hand back typed models.

Every scalar in the YAML file is read as text (``00123``, ``Yes`` and ``1.10`` stay as written;
YAML 1.1 would turn them into 123, True and 1.1). Fields that are numbers or flags are then
parsed by pydantic from that text. All problems are collected and raised together as one
``ConfigError`` whose items carry the path in the file (``activity.fields.mx_Custom_2.format``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from importer.errors import ConfigError, Problem
from importer.readers.source import clean_name

ValueType = Literal["text", "number", "integer", "date", "datetime", "phone", "email", "boolean"]
VALUE_TYPES: tuple[str, ...] = ValueType.__args__  # type: ignore[attr-defined]

#: Formats that are not strptime patterns: Excel serial day numbers, and ISO 8601.
SPECIAL_FORMATS = ("excel", "iso")

TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_CUSTOM_FIELD = re.compile(r"mx_Custom_(\d+)")


def template_columns(template: str) -> list[str]:
    """The column names a template refers to, in order (``{{`` and ``}}`` are literal braces)."""
    return [m.group(1) for m in TEMPLATE_PART.finditer(template) if m.group(1) is not None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    """How one payload value is made from a row: a column, a constant or a template, converted."""

    column: str | None = None
    value: str | None = None
    template: str | None = None
    type: ValueType = "text"
    format: str | None = None
    timezone: str | None = None
    country: str | None = None
    decimal: Literal[".", ","] = "."
    map: dict[str, str] | None = None
    default: str | None = None
    required: bool = False
    on_empty: Literal["omit", "clear", "fail"] = "omit"

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data}
        if data is None:
            raise ValueError(
                "is empty: give a column name, or a table with column, value or template"
            )
        if not isinstance(data, dict):
            raise ValueError("must be a column name or a table with column, value or template")
        return data

    @field_validator("column")
    @classmethod
    def _column_name(cls, column: str | None) -> str | None:
        """Compared as header names are: trimmed, in Unicode NFC form."""
        return clean_name(column) if column is not None else None

    @field_validator("template")
    @classmethod
    def _template_names(cls, template: str | None) -> str | None:
        return unicodedata.normalize("NFC", template) if template is not None else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        return check_timezone(zone)

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str | None) -> str | None:
        return check_country(country)

    @field_validator("format")
    @classmethod
    def _usable_format(cls, fmt: str | None) -> str | None:
        if fmt is None or fmt.lower() in SPECIAL_FORMATS:
            return fmt.lower() if fmt else fmt
        if "%" not in fmt:
            raise ValueError(
                f"{fmt!r} has no % directives; write it as a strptime pattern such as "
                "'%d/%m/%Y %H:%M', or use 'iso' or 'excel'"
            )
        sample = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
        try:
            datetime.strptime(sample.strftime(fmt), fmt)
        except ValueError as exc:
            raise ValueError(f"{fmt!r} is not a usable strptime pattern ({exc})") from None
        return fmt

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        sources = [k for k in ("column", "value", "template") if getattr(self, k) is not None]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ValueError(f"needs exactly one of column, value, template (found {found})")
        if self.format is not None and self.type not in ("date", "datetime"):
            raise ValueError(f"format applies to type date or datetime, not {self.type}")
        if self.timezone is not None and self.type != "datetime":
            raise ValueError(f"timezone applies to type datetime, not {self.type}")
        if self.country is not None and self.type != "phone":
            raise ValueError(f"country applies to type phone, not {self.type}")
        if self.decimal != "." and self.type != "number":
            raise ValueError(f"decimal applies to type number, not {self.type}")
        if self.template is not None and not template_columns(self.template):
            raise ValueError(
                "template names no column: write columns in braces, e.g. '{First Name}'"
            )
        return self

    @property
    def columns(self) -> list[str]:
        """The input columns this rule reads."""
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return template_columns(self.template)
        return []

    @property
    def fails_when_empty(self) -> bool:
        return self.required or self.on_empty == "fail"


def check_timezone(zone: str | None) -> str | None:
    if zone is None:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {zone!r}; use an IANA name such as 'Asia/Kolkata' or 'UTC'"
        ) from None
    return zone


def check_country(country: str | None) -> str | None:
    if country is None:
        return None
    code = country.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country {country!r}; use a two-letter code such as 'IN' or 'US'")
    return code


CustomFieldSets = dict[str, dict[str, Rule]]


class SourceOptions(_Model):
    """How to read the input file."""

    sheet: str | None = None
    encoding: str = "auto"
    delimiter: str = "auto"
    #: CSV: the row that holds the column names, when title rows sit above it (1 = the first).
    header_row: int = Field(default=1, ge=1)
    #: CSV: cells may hold line breaks and delimiters (else such a cell is taken for a stray
    #: quote and its row fails).
    multiline_cells: bool = False
    timezone: str = "UTC"
    country: str | None = None
    #: Excel: number cells as the sheet shows them (``000604``, ``12.5%``) or as stored (``604``).
    excel_values: Literal["shown", "raw"] = "shown"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return check_timezone(zone) or "UTC"

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str | None) -> str | None:
        return check_country(country)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        if encoding.lower() == "auto":
            return "auto"
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r}; use auto, utf-8, utf-16, cp1252 or latin-1"
            ) from None
        return encoding

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter: str) -> str:
        named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
        delimiter = named.get(delimiter.lower(), delimiter)
        if delimiter != "auto" and len(delimiter) != 1:
            raise ValueError(f"{delimiter!r} is not one character; use auto, ',', ';', '|' or tab")
        return delimiter


class LeadSection(_Model):
    search_by: str
    attributes: dict[str, Rule]
    custom_field_sets: CustomFieldSets = Field(default_factory=dict)


class ActivitySection(_Model):
    event: Rule
    note: Rule | None = None
    datetime: Rule | None = None
    fields: dict[str, Rule] = Field(default_factory=dict)
    custom_field_sets: CustomFieldSets = Field(default_factory=dict)
    validate_dropdown_options: bool = False

    @field_validator("event", mode="before")
    @classmethod
    def _event_code(cls, data: Any) -> Any:
        if isinstance(data, str) and data.strip().isdigit():
            return {"value": data.strip(), "type": "integer"}
        if isinstance(data, str):
            raise ValueError(
                f"{data!r} is not an event code; give a number such as 105, or {{column: ...}}"
            )
        if isinstance(data, dict) and "type" not in data:
            return {**data, "type": "integer"}
        return data

    @field_validator("datetime", mode="before")
    @classmethod
    def _datetime_type(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data, "type": "datetime"}
        if isinstance(data, dict) and "type" not in data:
            return {**data, "type": "datetime"}
        return data

    @field_validator("event")
    @classmethod
    def _event_is_integer(cls, rule: Rule) -> Rule:
        if rule.type != "integer":
            raise ValueError("an event code is a whole number: leave out type, or use integer")
        return rule

    @field_validator("datetime")
    @classmethod
    def _datetime_is_datetime(cls, rule: Rule | None) -> Rule | None:
        if rule is not None and rule.type != "datetime":
            raise ValueError("the activity date-time must be of type datetime")
        return rule


class Mapping(_Model):
    """A whole mapping file."""

    source: SourceOptions = Field(default_factory=SourceOptions)
    lead: LeadSection
    activity: ActivitySection

    def rules(self) -> list[tuple[str, Rule]]:
        """Every rule with its path in the file, in payload order."""
        found: list[tuple[str, Rule]] = []
        for name, rule in self.lead.attributes.items():
            found.append((f"lead.attributes.{name}", rule))
        for cfs, fields in self.lead.custom_field_sets.items():
            for name, rule in fields.items():
                found.append((f"lead.custom_field_sets.{cfs}.{name}", rule))
        found.append(("activity.event", self.activity.event))
        if self.activity.note is not None:
            found.append(("activity.note", self.activity.note))
        if self.activity.datetime is not None:
            found.append(("activity.datetime", self.activity.datetime))
        for name, rule in self.activity.fields.items():
            found.append((f"activity.fields.{name}", rule))
        for cfs, fields in self.activity.custom_field_sets.items():
            for name, rule in fields.items():
                found.append((f"activity.custom_field_sets.{cfs}.{name}", rule))
        return found


# --- loading -------------------------------------------------------------------------------


class _TextLoader(yaml.SafeLoader):
    """A YAML loader that leaves every plain scalar as text, except null."""


_TextLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _no_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} appears twice in the same table", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_TextLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError([Problem("", f"mapping file {str(path)!r} not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem("", f"cannot read mapping file {str(path)!r}: {exc}")]) from None
    return parse_mapping(text, source=str(path))


def parse_mapping(text: str, source: str | None = None) -> Mapping:
    """Check mapping text; raise ConfigError listing every problem with its path."""
    try:
        data = yaml.load(text, Loader=_TextLoader)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem("", f"{where}not valid YAML: {problem}")], source) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [Problem("", "the mapping must be a YAML table with lead: and activity: sections")],
            source,
        )
    problems = _cross_checks(data)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc) + problems
    if problems:
        raise ConfigError(problems, source)
    return mapping


def _cross_checks(data: dict[str, Any]) -> list[Problem]:
    """Checks that span keys, run on the raw data so they are reported beside field errors."""
    problems: list[Problem] = []
    lead = data.get("lead")
    if isinstance(lead, dict) and isinstance(lead.get("attributes"), dict):
        attributes = lead["attributes"]
        if "SearchBy" in attributes:
            problems.append(
                Problem(
                    "lead.attributes.SearchBy",
                    "SearchBy is added by the importer; name the attribute in lead.search_by",
                )
            )
        search_by = lead.get("search_by")
        if isinstance(search_by, str) and search_by not in attributes:
            mapped = ", ".join(map(str, attributes)) or "none"
            problems.append(
                Problem(
                    "lead.search_by",
                    f"{search_by!r} is not among lead.attributes (mapped: {mapped}); "
                    f"map it there, e.g. '{search_by}: <column>'",
                )
            )
    activity = data.get("activity")
    if isinstance(activity, dict) and isinstance(activity.get("fields"), dict):
        for name in activity["fields"]:
            match = _CUSTOM_FIELD.fullmatch(str(name))
            if match and not 1 <= int(match.group(1)) <= 50:
                problems.append(
                    Problem(
                        f"activity.fields.{name}",
                        "custom activity fields run from mx_Custom_1 to mx_Custom_50",
                    )
                )
    return problems


def _problems(exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        kind = error["type"]
        message = error["msg"]
        if kind == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(loc[:-1])
            message = f"unknown key {key!r}"
            close = difflib.get_close_matches(key, allowed, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
            elif allowed:
                message += f"; allowed here: {', '.join(allowed)}"
        elif kind == "missing":
            message = "is missing"
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            message = "must be a table of name: rule entries"
        elif kind == "string_type":
            message = "must be text, not a table or a list"
        elif kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"{error['input']!r} is not allowed; use one of {expected}"
        elif kind == "bool_parsing":
            message = f"{error['input']!r} is not true or false"
        path = ".".join(loc)
        # A model-level error of a Rule in a table is reported at the rule's path, once.
        problem = Problem(path, message)
        if problem not in problems:
            problems.append(problem)
    return problems


_RULE_KEYS = list(Rule.model_fields)
_SECTION_KEYS: dict[tuple[str, ...], list[str]] = {
    (): list(Mapping.model_fields),
    ("source",): list(SourceOptions.model_fields),
    ("lead",): list(LeadSection.model_fields),
    ("activity",): list(ActivitySection.model_fields),
}


def _allowed_keys(parent: list[str]) -> list[str]:
    return _SECTION_KEYS.get(tuple(parent), _RULE_KEYS)
