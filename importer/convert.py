"""Value conversions, a column at a time: text in, LeadSquared's text out, or a reason.

Each converter takes a Series of stripped, non-empty texts and returns ``(values, errors)``
aligned with it: the converted text where the input is good, else None with a message in
``errors``. They work on whole columns (pandas, numpy, compiled regexes), never row by row,
so a million-row file converts in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from importer.config import Rule
from importer.phone import normalize_phones

Converted = tuple[pd.Series, pd.Series]

_GROUPED = {  # plain, grouped by thousands (1,234,567), by lakhs (12,34,567) or by spaces
    ".": r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3}"
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:\.\d+)?|[+-]?\.\d+",
    ",": r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:,\d+)?|[+-]?,\d+",
}
_INTEGER = r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3})(?:\.0+)?"
_EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
#: How lsq-import writes an Excel date cell (and what it accepts whatever the rule's format).
_ISO_CELL = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_OFFSET = r".*(?:Z|[+-]\d{2}:?\d{2})"
_EXCEL_EPOCH = "1899-12-30"


def _errors_where(bad: pd.Series, values: pd.Series, message: Callable[[str], str]) -> pd.Series:
    errors = pd.Series(None, index=values.index, dtype=object)
    if bad.any():
        errors[bad] = [message(v) for v in values[bad]]
    return errors


def _keep_good(out: pd.Series, bad: pd.Series) -> pd.Series:
    out = out.astype(object)
    out[bad] = None
    return out


def to_text(values: pd.Series, rule: Rule) -> Converted:
    return values, pd.Series(None, index=values.index, dtype=object)


def to_number(values: pd.Series, rule: Rule) -> Converted:
    good = values.str.fullmatch(_GROUPED[rule.decimal])
    bad = ~good

    def message(value: str) -> str:
        if rule.decimal == "." and re.fullmatch(_GROUPED[","], value):
            return f"{value!r} is not a number (for a decimal comma, set decimal: ',' on the rule)"
        return f"{value!r} is not a number"

    group = "," if rule.decimal == "." else "."
    out = values.str.replace(rf"[{group} \u00a0\u202f]", "", regex=True)
    if rule.decimal == ",":
        out = out.str.replace(",", ".", regex=False)
    out = out.str.replace(r"^\+", "", regex=True).str.replace(r"^(-?)\.", r"\g<1>0.", regex=True)
    return _keep_good(out, bad), _errors_where(bad, values, message)


def to_integer(values: pd.Series, rule: Rule) -> Converted:
    bad = ~values.str.fullmatch(_INTEGER)
    out = values.str.replace(r"[,+]|\.0+$", "", regex=True)
    return _keep_good(out, bad), _errors_where(
        bad, values, lambda v: f"{v!r} is not a whole number"
    )


def to_boolean(values: pd.Series, rule: Rule) -> Converted:
    lower = values.str.lower()
    out = pd.Series(None, index=values.index, dtype=object)
    out[lower.isin(_TRUE)] = "true"
    out[lower.isin(_FALSE)] = "false"
    bad = out.isna()
    return out, _errors_where(
        bad, values, lambda v: f"{v!r} is not true or false (use true/false, yes/no or 1/0)"
    )


def to_email(values: pd.Series, rule: Rule) -> Converted:
    bad = ~values.str.fullmatch(_EMAIL)
    return _keep_good(values, bad), _errors_where(
        bad, values, lambda v: f"{v!r} is not an email address"
    )


def to_phone(values: pd.Series, rule: Rule, country: str | None = None) -> Converted:
    return normalize_phones(values, rule.country or country)


def parse_datetimes(values: pd.Series, fmt: str | None, zone: str) -> tuple[pd.Series, pd.Series]:
    """Parse texts to naive UTC datetimes. Returns ``(datetimes, why)``: NaT where unparsed,
    with ``why`` 'format' (does not match) or 'gap' (a local time skipped by daylight saving)."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    why = pd.Series(None, index=values.index, dtype=object)
    if fmt == "excel":
        serial = pd.to_numeric(
            values.where(values.str.fullmatch(r"\d+(?:\.\d+)?")), errors="coerce"
        )
        local = pd.to_datetime(serial, unit="D", origin=_EXCEL_EPOCH).dt.round("s")
        aware = _localize(local, zone)
    elif fmt is None or fmt == "iso":
        aware = _parse_iso(values, zone)
    elif "%z" in fmt or "%Z" in fmt:
        aware = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    else:
        local = pd.to_datetime(values, format=fmt, errors="coerce")
        cells = local.isna() & values.str.fullmatch(_ISO_CELL)  # Excel date cells, as read
        if cells.any():
            local[cells] = pd.to_datetime(values[cells], format="ISO8601", errors="coerce")
        aware = _localize(local, zone)
    parsed[:] = aware.dt.tz_convert("UTC") if len(aware) else aware
    failed = parsed.isna()
    why[failed] = "format"
    if fmt is None or fmt == "excel" or "%z" not in (fmt or ""):
        gap = failed & _would_parse(values, fmt)
        why[gap] = "gap"
    return parsed.dt.tz_localize(None), why


def _would_parse(values: pd.Series, fmt: str | None) -> pd.Series:
    """Which texts parse as naive local times (so a failure was the zone's, not the format's)."""
    if fmt == "excel":
        return values.str.fullmatch(r"\d+(?:\.\d+)?")
    naive = (
        pd.to_datetime(values, format=fmt, errors="coerce")
        if fmt not in (None, "iso")
        else pd.Series(pd.NaT, index=values.index)
    )
    iso = values.str.fullmatch(_ISO_CELL)
    return naive.notna() | iso


def _parse_iso(values: pd.Series, zone: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    offset = values.str.fullmatch(_OFFSET)
    if offset.any():
        out[offset] = pd.to_datetime(values[offset], format="ISO8601", errors="coerce", utc=True)
    local = ~offset
    if local.any():
        naive = pd.to_datetime(values[local], format="ISO8601", errors="coerce")
        out[local] = _localize(naive, zone).dt.tz_convert("UTC")
    return out


def _localize(local: pd.Series, zone: str) -> pd.Series:
    """Attach a zone. An hour that happens twice (clocks back) is taken at its first occurrence;
    an hour that never happens (clocks forward) becomes NaT and is reported."""
    if local.dt.tz is not None:
        return local
    first = np.ones(len(local), dtype=bool)
    return local.dt.tz_localize(zone, ambiguous=first, nonexistent="NaT")


def _format_utc(parsed: pd.Series, unit: str) -> pd.Series:
    stamps = parsed.to_numpy().astype(f"datetime64[{unit}]")
    text = np.datetime_as_string(stamps, unit=unit).astype(object)
    out = pd.Series(text, index=parsed.index, dtype=object)
    if unit == "s":
        out = out.str.replace("T", " ", regex=False)
    out[parsed.isna()] = None
    return out


def _date_errors(
    values: pd.Series, why: pd.Series, fmt: str | None, zone: str, noun: str
) -> pd.Series:
    errors = pd.Series(None, index=values.index, dtype=object)
    for index in why[why.notna()].index:
        value = values[index]
        if why[index] == "gap":
            message = f"{value!r} does not exist in {zone}: the clocks went forward over that hour"
        elif fmt == "excel":
            message = f"{value!r} is not an Excel serial date (a number of days such as 45357.5)"
        elif fmt in (None, "iso"):
            message = (
                f"{value!r} is not an ISO {noun} (YYYY-MM-DD HH:MM:SS); if the file writes "
                "dates another way, set format: on the rule, e.g. '%d/%m/%Y %H:%M'"
            )
        else:
            message = f"{value!r} does not match the format {fmt!r}"
        errors[index] = message
    return errors


def to_datetime(values: pd.Series, rule: Rule, zone: str = "UTC") -> Converted:
    zone = rule.timezone or zone
    parsed, why = parse_datetimes(values, rule.format, zone)
    return _format_utc(parsed, "s"), _date_errors(values, why, rule.format, zone, "date-time")


def to_date(values: pd.Series, rule: Rule) -> Converted:
    parsed, why = parse_datetimes(values, rule.format, "UTC")
    out = _format_utc(parsed, "D")
    timed = parsed.notna() & (parsed != parsed.dt.normalize())
    errors = _date_errors(values, why, rule.format, "UTC", "date")
    if timed.any():
        out[timed] = None
        errors[timed] = [f"{v!r} has a time of day; use type: datetime" for v in values[timed]]
    return out, errors


CONVERTERS: dict[str, Callable[..., Converted]] = {
    "text": to_text,
    "number": to_number,
    "integer": to_integer,
    "boolean": to_boolean,
    "email": to_email,
    "phone": to_phone,
    "datetime": to_datetime,
    "date": to_date,
}
