"""What the account is: its user, host, time zone and country, its lead fields and activity types.

``fetch_account`` reads LeadSquared's metadata endpoints through the run's client (so the calls
count against the rate limit like any other) and returns an ``Account``: plain data that is
saved as ``account.json`` in the run folder and that ``Plan.use_account`` checks a mapping and
its values against. The parsers accept every shape the endpoints are known to return: options
as a list of strings, a list of ``{Text|Label, Value}`` objects, or a JSON-encoded string of
either (``OptionSet``); flags as booleans or strings; lengths as numbers or strings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from importer.client import LeadSquaredClient, LookupFailed
from importer.connection import is_loopback
from importer.errors import AccountError

WHOAMI = "/v2/Authentication.svc/UserByAccessKey.Get"
ACTIVITY_TYPES = "/v2/ProspectActivity.svc/ActivityTypes.Get"
ACTIVITY_SETTING = "/v2/ProspectActivity.svc/CustomActivity/GetActivitySetting"
LEAD_FIELDS = "/v2/LeadManagement.svc/LeadsMetaData.Get"
FILE_NAME = "account.json"
DROPDOWNS = frozenset({"Select", "Dropdown", "SearchableDropdown", "MultiSelect"})
SET = "CustomObject"


@dataclass(frozen=True)
class FieldInfo:
    """One lead or activity field; a ``CustomObject`` field is a custom field set."""

    schema_name: str
    display_name: str = ""
    data_type: str = ""
    mandatory: bool = False
    unique: bool = False
    max_length: int | None = None
    options: tuple[str, ...] = ()
    fields: tuple[FieldInfo, ...] = ()

    @property
    def is_set(self) -> bool:
        return self.data_type == SET

    @property
    def is_dropdown(self) -> bool:
        return self.data_type in DROPDOWNS and bool(self.options)

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.schema_name == name), None)

    def label(self) -> str:
        shown = f" ({self.display_name})" if self.display_name else ""
        return f"{self.schema_name}{shown}"

    @classmethod
    def parse(cls, data: dict[str, Any]) -> FieldInfo:
        options = _options(data.get("Options", data.get("OptionSet")))
        children = data.get("Fields") or data.get("fields") or []
        return cls(
            schema_name=str(data.get("SchemaName") or ""),
            display_name=str(data.get("DisplayName") or ""),
            data_type=str(data.get("DataType") or ""),
            mandatory=_flag(data.get("IsMandatory")),
            unique=_flag(data.get("IsLeadIdentifier") or data.get("IsUnique")),
            max_length=_length(data.get("MaxLength")),
            options=options,
            fields=tuple(cls.parse(c) for c in children if isinstance(c, dict)),
        )


@dataclass(frozen=True)
class ActivityType:
    code: int
    name: str
    #: Its fields; None when they were not fetched (only the mapping's event type is).
    fields: tuple[FieldInfo, ...] | None = None

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields or () if f.schema_name == name), None)


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
    country_code: str  # the account's default calling code, e.g. "+91"

    @property
    def country(self) -> str | None:
        """The default country as a region code (IN), from the calling code."""
        import phonenumbers

        digits = self.country_code.lstrip("+").strip()
        if not digits.isdigit():
            return None
        region = phonenumbers.region_code_for_country_code(int(digits))
        return None if region == "ZZ" else region

    @classmethod
    def parse(cls, data: Any) -> User:
        if not isinstance(data, dict):
            raise AccountError(f"{WHOAMI} answered with {type(data).__name__}, not an object")
        urls = data.get("LSQCommonServiceURLs") or {}
        api = str(urls.get("api") or "") if isinstance(urls, dict) else ""
        first, last = data.get("FirstName") or "", data.get("LastName") or ""
        return cls(
            name=" ".join(str(p) for p in (first, last) if p) or str(data.get("FullName") or ""),
            email=str(data.get("EmailAddress") or ""),
            role=str(data.get("Role") or data.get("RoleName") or ""),
            org_id=str(data.get("OrgId") or data.get("OrgID") or ""),
            org_name=str(data.get("OrgName") or data.get("Organization") or ""),
            api_host=api_url(api) if api else "",
            time_zone=str(data.get("TimeZone") or ""),
            country_code=str(data.get("DefaultCountryCode") or ""),
        )


@dataclass
class Account:
    """Everything a pre-flight check needs, as fetched at one moment."""

    user: User
    lead_fields: tuple[FieldInfo, ...]
    activity_types: tuple[ActivityType, ...]
    fetched_at: str = ""
    host: str = ""  # the host the metadata came from

    def lead_field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.lead_fields if f.schema_name == name), None)

    def activity_type(self, code: int) -> ActivityType | None:
        return next((t for t in self.activity_types if t.code == code), None)

    def save(self, folder: Path) -> Path:
        path = folder / FILE_NAME
        text = json.dumps(asdict(self), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", "utf-8")
        return path


async def whoami(client: LeadSquaredClient) -> User:
    return User.parse(await _get(client, WHOAMI))


async def activity_types(client: LeadSquaredClient) -> list[ActivityType]:
    answer = await _get(client, ACTIVITY_TYPES)
    if not isinstance(answer, list):
        raise AccountError(f"{ACTIVITY_TYPES} answered with {type(answer).__name__}, not a list")
    found = []
    for item in answer:
        code = str(item.get("ActivityEvent", "")) if isinstance(item, dict) else ""
        if code.lstrip("-").isdigit():
            found.append(ActivityType(int(code), str(item.get("DisplayName") or "")))
    return found


async def activity_fields(client: LeadSquaredClient, code: int) -> tuple[FieldInfo, ...]:
    answer = await _get(client, ACTIVITY_SETTING, params={"code": str(code)})
    fields = answer.get("Fields") if isinstance(answer, dict) else answer
    if not isinstance(fields, list):
        raise AccountError(f"{ACTIVITY_SETTING} for {code} answered without a list of fields")
    return tuple(FieldInfo.parse(f) for f in fields if isinstance(f, dict))


async def lead_fields(client: LeadSquaredClient) -> tuple[FieldInfo, ...]:
    answer = await _get(client, LEAD_FIELDS)
    if not isinstance(answer, list):
        raise AccountError(f"{LEAD_FIELDS} answered with {type(answer).__name__}, not a list")
    return tuple(FieldInfo.parse(f) for f in answer if isinstance(f, dict))


async def fetch_account(client: LeadSquaredClient, events: list[int]) -> Account:
    """The user, the lead fields, the activity types and the fields of the types in ``events``
    (four calls for one event type)."""
    import datetime as dt

    user = await whoami(client)
    leads = await lead_fields(client)
    types = await activity_types(client)
    with_fields = []
    for activity in types:
        fields = await activity_fields(client, activity.code) if activity.code in events else None
        with_fields.append(ActivityType(activity.code, activity.name, fields))
    return Account(
        user,
        leads,
        tuple(with_fields),
        fetched_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        host=client.connection.base_url,
    )


async def _get(client: LeadSquaredClient, path: str, params: dict[str, str] | None = None) -> Any:
    try:
        return await client.lookup("GET", path, params=params)
    except LookupFailed as exc:
        if exc.fatal:  # bad keys or host: what LeadSquared said is the whole story
            raise AccountError(exc.detail, refused=True) from None
        raise AccountError(f"{path.rsplit('/', 1)[-1]}: {exc}") from None


def api_url(reported: str) -> str:
    """The base URL for a host as ``UserByAccessKey.Get`` reports it (often without a scheme)."""
    reported = reported.strip().rstrip("/")
    if "://" in reported:
        return reported
    hostname = urlsplit(f"//{reported}").hostname or ""
    return f"{'http' if is_loopback(hostname) else 'https'}://{reported}"


def _options(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        if not raw.strip():
            return ()
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return tuple(o.strip() for o in raw.split(",") if o.strip())
    if not isinstance(raw, list):
        return ()
    found = []
    for option in raw:
        if isinstance(option, dict):
            value = option.get("Value", option.get("Text", option.get("Label")))
        else:
            value = option
        if value is not None and str(value) != "":
            found.append(str(value))
    return tuple(found)


def _flag(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("true", "1", "yes")
    return bool(raw)


def _length(raw: Any) -> int | None:
    try:
        length = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return length if length > 0 else None
