"""What the account is: its user, host, time zone and country, its lead fields and activity types,
as one moment's metadata describes them, and what that metadata did not show (a flag or a list
it leaves out is None, "not said", never "false" or "empty").

The metadata answers are read by ``account.parsers``; ``fetch_account`` (in
``importer.account.metadata``) makes the calls. A run keeps what it found in its folder as
``account.json`` (``Account.save``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from importer.outdir import write_private

FILE_NAME = "account.json"
#: Single-choice data types whose values must be one of the options. A multi-select's value
#: joins several options, so it is not judged option by option.
DROPDOWNS = frozenset({"select", "dropdown", "searchabledropdown", "radiobutton", "combobox"})
#: The data types of a custom field set (``CustomObject``).
SET_TYPES = frozenset({"customobject", "customfieldset", "cfs"})


@dataclass(frozen=True)
class FieldInfo:
    """One lead or activity field, as the account's metadata describes it. A custom field set
    (``CustomObject``) has fields of its own; ``fields`` is None where the metadata does not list
    them. ``mandatory`` and ``unique`` are None where the metadata does not say."""

    schema_name: str
    display_name: str = ""
    data_type: str = ""
    mandatory: bool | None = None
    unique: bool | None = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    fields: tuple[FieldInfo, ...] | None = None

    @property
    def is_set(self) -> bool:
        return normal_type(self.data_type) in SET_TYPES or bool(self.fields)

    @property
    def takes_one_option(self) -> bool:
        """A single-choice dropdown (whether or not the metadata lists its options)."""
        return normal_type(self.data_type) in DROPDOWNS

    @property
    def is_dropdown(self) -> bool:
        """A single-choice dropdown whose options are known, so that a value can be judged."""
        return self.takes_one_option and bool(self.options)

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields or () if f.schema_name == name), None)

    def label(self) -> str:
        shown = f" ({self.display_name})" if self.display_name else ""
        return f"{self.schema_name}{shown}"


@dataclass(frozen=True)
class ActivityType:
    code: int
    name: str
    #: Its fields; None when they were not fetched (only the mapping's event type is) or when
    #: the metadata did not list them.
    fields: tuple[FieldInfo, ...] | None = None

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields or () if f.schema_name == name), None)

    def label(self) -> str:
        return f"activity {self.code} ({self.name})" if self.name else f"activity {self.code}"


@dataclass(frozen=True)
class User:
    """Who the keys belong to, and the account's own settings."""

    name: str
    email: str
    role: str
    org_id: str
    org_name: str
    api_host: str  # the account's API base URL, e.g. https://api-in21.leadsquared.com
    time_zone: str
    country_code: str  # the account's default calling code, digits only: "91"

    @property
    def country(self) -> str | None:
        """The default country as a region code (IN), from the calling code."""
        import phonenumbers

        digits = self.country_code
        if not digits.isdigit():
            return None
        region = phonenumbers.region_code_for_country_code(int(digits))
        return None if region == "ZZ" else region

    @property
    def org(self) -> str:
        return self.org_name or self.org_id


NO_USER = User("", "", "", "", "", "", "", "")


@dataclass
class Account:
    """Everything a pre-flight check needs, as fetched at one moment, and what it could not see.

    ``lead_fields_listed`` / ``activity_types_listed``: the metadata listed that kind of thing, so
    that a name missing from the list is evidence. ``unreadable`` says, for each metadata call
    that could not be read, why."""

    user: User
    lead_fields: tuple[FieldInfo, ...]
    activity_types: tuple[ActivityType, ...]
    fetched_at: str = ""
    host: str = ""  # the host the metadata came from
    lead_fields_listed: bool = True
    activity_types_listed: bool = True
    unreadable: tuple[str, ...] = ()

    def lead_field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.lead_fields if f.schema_name == name), None)

    def activity_type(self, code: int) -> ActivityType | None:
        return next((t for t in self.activity_types if t.code == code), None)

    def save(self, folder: Path) -> Path:
        """``folder/account.json``, its owner's only (0600), written whole or not at all.
        Raises OutputError if it cannot be written."""
        path = folder / FILE_NAME
        text = json.dumps(asdict(self), indent=2, ensure_ascii=False)
        write_private(path, text + "\n")
        return path


def normal_type(data_type: str) -> str:
    """A data type as compared: no case, nothing but letters and digits (``Custom Object``)."""
    return "".join(c for c in data_type.casefold() if c.isalnum())
