"""Value conversions, a column at a time: text in, LeadSquared's text out, or a reason.

A converter takes an Arrow string array of stripped texts (null: nothing to convert) and returns
a ``Conversion``: the converted texts, null wherever the input was not null but could not be
converted, and ``explain(text)``, the reason for one such input. Work is done on whole columns
with Arrow compute kernels, never row by row, so a million-row file converts in seconds; only
the rows that fail are looked at one by one, to say why.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.mapping.config import Rule
from importer.mapping.phone import normalize_phones

_SPACES = " \u00a0\u202f"  # a plain, a no-break and a narrow no-break space
_GROUPED = {  # plain, grouped by thousands (1,234,567), by lakhs (12,34,567) or by spaces
    ".": rf"[+-]?(?:\d+|\d{{1,3}}(?:,\d{{3}})+|\d{{1,2}}(?:,\d{{2}})+,\d{{3}}"
    rf"|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+)(?:\.\d+)?|[+-]?\.\d+",
    ",": rf"[+-]?(?:\d+|\d{{1,3}}(?:\.\d{{3}})+|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+)"
    rf"(?:,\d+)?|[+-]?,\d+",
}
_INTEGER = r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3})(?:\.0+)?"
_EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_TRUE = ["true", "yes", "y", "1", "t"]
_FALSE = ["false", "no", "n", "0", "f"]
#: ISO shapes, tried in order; the last is also how lsq-import writes an Excel date cell.
_ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
_ISO_CELL = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
#: Excel's 1900 date system: serial 1 is 1900-01-01, the last is 9999-12-31 (serials below
#: 2958466). Serial 60 is 29 February 1900, a day that never was (Lotus 1-2-3's leap-year bug,
#: which Excel keeps), so the serials below it count from a day later than those above it.
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "s")
_EXCEL_SERIAL = r"\d+(?:\.\d+)?"
_EXCEL_END = 2958466
_EXCEL_LEAP_DAY = 60
#: The span of years a date is written in (four digits): beyond it Arrow writes five-digit years
#: or ``<value out of range: ...>``, neither of which is a date.
_FIRST = pa.scalar(dt.datetime(1, 1, 1), pa.timestamp("s"))
_LAST = pa.scalar(dt.datetime(9999, 12, 31, 23, 59, 59), pa.timestamp("s"))
#: Local times this close to either end may leave that span once in UTC (offsets reach 26 hours).
_EDGE_DAYS = (np.datetime64("0001-01-03", "s"), np.datetime64("9999-12-30", "s"))


@dataclass(frozen=True)
class Conversion:
    """Converted texts (null where the input could not be converted) and why, for one input."""

    values: pa.Array
    explain: Callable[[str], str]


def fullmatch(values: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(values, f"^(?:{pattern})$")


def _where(mask: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` where ``mask`` is true, null elsewhere."""
    return pc.if_else(mask, values, pa.nulls(len(values), pa.string()))


def to_text(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    return Conversion(values, lambda v: "")


def to_number(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    good = fullmatch(values, _GROUPED[rule.decimal])
    group = "," if rule.decimal == "." else r"\."
    out = pc.replace_substring_regex(values, f"[{group}{_SPACES}]", "")
    if rule.decimal == ",":
        out = pc.replace_substring(out, ",", ".")
    out = pc.replace_substring_regex(out, r"^\+", "")
    out = pc.replace_substring_regex(out, r"^(-?)\.", r"\10.")  # RE2: group 1, then "0."

    def explain(value: str) -> str:
        if rule.decimal == "." and re.fullmatch(_GROUPED[","], value):
            return f"{value!r} is not a number (for a decimal comma, set decimal: ',' on the rule)"
        return f"{value!r} is not a number"

    return Conversion(_where(good, out), explain)


def to_integer(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    good = fullmatch(values, _INTEGER)
    out = pc.replace_substring_regex(values, r"[,+]|\.0+$", "")
    return Conversion(_where(good, out), lambda v: f"{v!r} is not a whole number")


def to_boolean(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    lower = pc.utf8_lower(values)
    out = pc.if_else(
        pc.is_in(lower, pa.array(_TRUE)),
        "true",
        pc.if_else(pc.is_in(lower, pa.array(_FALSE)), "false", pa.scalar(None, pa.string())),
    )
    return Conversion(out, lambda v: f"{v!r} is not true or false (use true/false, yes/no or 1/0)")


def to_email(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    good = fullmatch(values, _EMAIL)
    return Conversion(_where(good, values), lambda v: f"{v!r} is not an email address")


def to_phone(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    numbers, explain = normalize_phones(values, rule.country or country, column=rule.column)
    return Conversion(numbers, explain)


# --- dates and times ---------------------------------------------------------------------------


def to_datetime(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    zone = rule.timezone or zone
    utc = _within_years(parse_datetimes(values, rule.format, zone))
    explain = _explainer(rule.format, zone, "date-time", rule.column)
    return Conversion(pc.cast(utc, pa.string()), explain)


def to_date(values: pa.Array, rule: Rule, zone: str, country: str | None) -> Conversion:
    naive = _within_years(parse_datetimes(values, rule.format, None))
    midnight = pc.equal(pc.floor_temporal(naive, unit="day"), naive)
    dates = pc.cast(pc.cast(naive, pa.date32()), pa.string())
    plain = _explainer(rule.format, "UTC", "date", rule.column)

    def explain(value: str) -> str:
        parsed = _parse_one(value, rule.format)
        if parsed is not None and parsed.time() != dt.time(0):
            return f"{value!r} has a time of day; use type: datetime"
        return plain(value)

    return Conversion(_where(pc.fill_null(midnight, False), dates), explain)


def parse_datetimes(values: pa.Array, fmt: str | None, zone: str | None) -> pa.Array:
    """Texts to timestamps: in UTC when ``zone`` is given (the texts' own offsets win, else they
    are local times in ``zone``), naive as written when it is None. Null where unparsed."""
    if fmt == "excel":
        numeric = fullmatch(values, _EXCEL_SERIAL)
        days = pc.cast(_where(numeric, values), pa.float64()).to_numpy(zero_copy_only=False)
        leap_day = (days >= _EXCEL_LEAP_DAY) & (days < _EXCEL_LEAP_DAY + 1)
        days = np.where((days >= 1) & (days < _EXCEL_END) & ~leap_day, days, np.nan)
        days = np.where(days < _EXCEL_LEAP_DAY, days + 1, days)
        seconds = np.round(days * 86400)
        stamps = _EXCEL_EPOCH + np.where(np.isnan(seconds), 0, seconds).astype("timedelta64[s]")
        naive = pa.array(stamps, mask=np.isnan(days), type=pa.timestamp("s"))
        return naive if zone is None else _to_utc(naive, zone)
    formats = _ISO_FORMATS if fmt in (None, "iso") else (fmt, *_ISO_FORMATS)
    if fmt is not None and ("%z" in fmt or "%Z" in fmt):
        return _parse_slow(values, fmt, zone)
    naive = pa.nulls(len(values), pa.timestamp("s"))
    for candidate in formats:
        todo = pc.and_(naive.is_null(), values.is_valid())
        if not pc.any(todo).as_py():
            break
        parsed = pc.strptime(_where(todo, values), format=candidate, unit="s", error_is_null=True)
        naive = pc.coalesce(naive, parsed)
    # Arrow's strptime rolls 31/02 over to 03/03 and reads '26' as the year 26: send the days
    # that could be a roll-over, the short years, and what it could not parse to pandas, whose
    # parser is strict. That is about a tenth of the rows.
    doubtful = pc.or_kleene(
        pc.or_kleene(pc.less_equal(pc.day(naive), 3), pc.less(pc.year(naive), 1000)),
        pc.and_(naive.is_null(), values.is_valid()),
    )
    doubtful = pc.fill_null(doubtful, False)
    if pc.any(doubtful).as_py():
        index = np.flatnonzero(doubtful.to_numpy(zero_copy_only=False))
        strict = _parse_slow(pc.take(values, pa.array(index)), fmt, zone)
        if zone is not None:
            # _parse_slow already gave UTC: convert the fast rows, then put the strict ones in
            fast = _to_utc(_where_ts(pc.invert(doubtful), naive), zone)
            return _scatter(fast, index, strict)
        naive = _scatter(_where_ts(pc.invert(doubtful), naive), index, strict)
        return naive
    return naive if zone is None else _to_utc(naive, zone)


def swap_day_month(fmt: str | None) -> str | None:
    """The other reading of a format that starts with a day and a month: ``'%m/%d/%Y %H:%M'``
    for ``'%d/%m/%Y %H:%M'`` and the reverse; None for any other format."""
    text = fmt or ""
    found = re.match(r"%([dm])([/.\- ])%([dm])", text)
    if found is None or found.group(1) == found.group(3):
        return None
    first, between, second = found.groups()
    return f"%{second}{between}%{first}{text[found.end() :]}"


def count_readable(values: pa.Array, fmt: str) -> int:
    """How many of the texts (stripped; null: none) ``fmt`` reads as a date-time."""
    return len(values) - parse_datetimes(values, fmt, None).null_count


def _within_years(stamps: pa.Array) -> pa.Array:
    """The timestamps in years 1 to 9999, null elsewhere (explained by ``_explainer``)."""
    inside = pc.and_(pc.greater_equal(stamps, _FIRST), pc.less_equal(stamps, _LAST))
    return _where_ts(pc.fill_null(inside, False), stamps)


def _where_ts(mask: pa.Array, values: pa.Array) -> pa.Array:
    return pc.if_else(mask, values, pa.nulls(len(values), values.type))


def _scatter(base: pa.Array, index: np.ndarray, values: pa.Array) -> pa.Array:
    array = base.to_numpy(zero_copy_only=False).copy()
    array[index] = values.to_numpy(zero_copy_only=False)
    return pa.array(array, type=pa.timestamp("s"), from_pandas=True)


def _parse_slow(values: pa.Array, fmt: str | None, zone: str | None) -> pa.Array:
    """The strict parser (pandas) for the rows the fast one doubts."""
    series = pd.Series(values.to_pylist(), dtype=object)
    if fmt in (None, "iso"):
        offset = series.str.fullmatch(r".*(?:Z|[+-]\d{2}:?\d{2})").fillna(False)
        naive = pd.to_datetime(series.where(~offset), format="ISO8601", errors="coerce")
        aware = pd.to_datetime(series.where(offset), format="ISO8601", errors="coerce", utc=True)
    elif "%z" in fmt or "%Z" in fmt:
        naive = pd.Series(pd.NaT, index=series.index, dtype="datetime64[s]")
        aware = pd.to_datetime(series, format=fmt, errors="coerce", utc=True)
    else:
        naive = pd.to_datetime(series, format=fmt, errors="coerce")
        cells = naive.isna() & series.str.fullmatch(_ISO_CELL.pattern).fillna(False)
        if cells.any():  # Excel date cells, as the reader writes them
            naive[cells] = pd.to_datetime(series[cells], format="ISO8601", errors="coerce")
        aware = pd.Series(pd.NaT, index=series.index, dtype="datetime64[s, UTC]")
    naive_s = pa.array(naive.to_numpy().astype("datetime64[s]"), from_pandas=True)
    if zone is None:
        aware_naive = aware.dt.tz_convert("UTC").dt.tz_localize(None)
        return pc.coalesce(naive_s, _timestamps(aware_naive))
    local = _to_utc(naive_s, zone)
    return pc.coalesce(local, _timestamps(aware.dt.tz_convert("UTC").dt.tz_localize(None)))


def _timestamps(series: pd.Series) -> pa.Array:
    return pa.array(series.to_numpy().astype("datetime64[s]"), from_pandas=True)


def _to_utc(naive: pa.Array, zone: str) -> pa.Array:
    """Local times in ``zone`` to UTC. An hour that happens twice (clocks back) is taken at its
    first occurrence; an hour that never happens (clocks forward) becomes null and is reported."""
    if zone == "UTC" or len(naive) == 0:
        return naive
    stamps = naive.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    # pandas raises for a time whose UTC leaves years 1-9999: the calendar's first and last
    # days are converted one by one instead
    edge = ~np.isnat(stamps) & ((stamps < _EDGE_DAYS[0]) | (stamps >= _EDGE_DAYS[1]))
    local = pd.Series(np.where(edge, np.datetime64("NaT", "s"), stamps))
    first = np.ones(len(local), dtype=bool)
    aware = local.dt.tz_localize(zone, ambiguous=first, nonexistent="NaT")
    utc = _timestamps(aware.dt.tz_convert("UTC").dt.tz_localize(None))
    if edge.any():
        index = np.flatnonzero(edge)
        ends = [_edge_to_utc(stamps[i].astype(dt.datetime), zone) for i in index]
        utc = _scatter(utc, index, pa.array(ends, pa.timestamp("s")))
    return utc


def _edge_to_utc(local: dt.datetime, zone: str) -> dt.datetime | None:
    """A local time on the calendar's first or last days in UTC; None if it leaves years
    1-9999 there or never happens."""
    try:
        if _skipped(local, zone):
            return None
        return local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        return None


def _parse_one(value: str, fmt: str | None) -> dt.datetime | None:
    """One text as a naive date-time (or aware, for a format with an offset), or None: used only
    to explain a failure."""
    try:
        if fmt == "excel":
            return _serial_datetime(value)
        if fmt not in (None, "iso"):
            try:
                return dt.datetime.strptime(value, fmt)
            except ValueError:
                if not _ISO_CELL.fullmatch(value):
                    return None
        return dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        return None


def _serial_datetime(value: str) -> dt.datetime | None:
    """An Excel serial as the date-time Excel shows for it, or None outside Excel's dates."""
    if not re.fullmatch(_EXCEL_SERIAL, value):
        return None
    days = float(value)
    if not 1 <= days < _EXCEL_END or _EXCEL_LEAP_DAY <= days < _EXCEL_LEAP_DAY + 1:
        return None
    if days < _EXCEL_LEAP_DAY:
        days += 1
    return dt.datetime(1899, 12, 30) + dt.timedelta(seconds=round(days * 86400))


def _serial_problem(value: str, where: str) -> str | None:
    """Why a number of days is no Excel date, or None if it is one (or no number at all)."""
    if not re.fullmatch(_EXCEL_SERIAL, value):
        return None
    days = float(value)
    if _EXCEL_LEAP_DAY <= days < _EXCEL_LEAP_DAY + 1:
        return (
            f"{value!r}{where} is 29 February 1900 as an Excel serial date, a day Excel counts "
            "but that never was: correct the cell"
        )
    if not 1 <= days < _EXCEL_END:
        return (
            f"{value!r}{where} is out of range for an Excel serial date (1 to 2958465, that is "
            "1900-01-01 to 9999-12-31): correct the cell, or map a column that holds dates"
        )
    return None


def _beyond_years(parsed: dt.datetime, zone: str) -> bool:
    """Whether a date-time leaves years 1 to 9999 once it is in UTC."""
    try:
        (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))).astimezone(dt.UTC)
    except OverflowError:
        return True
    return False


def _explainer(fmt: str | None, zone: str, noun: str, column: str | None) -> Callable[[str], str]:
    where = f" in column {column!r}" if column is not None else ""

    def explain(value: str) -> str:
        parsed = _parse_one(value, fmt)
        if parsed is not None and _beyond_years(parsed, zone):
            return (
                f"{value!r}{where} is out of range: in UTC it falls outside the years 1 to 9999; "
                "correct the cell"
            )
        if parsed is not None and parsed.tzinfo is None and _skipped(parsed, zone):
            return f"{value!r} does not exist in {zone}: the clocks went forward over that hour"
        if fmt == "excel":
            if (problem := _serial_problem(value, where)) is not None:
                return problem
            return f"{value!r} is not an Excel serial date (a number of days such as 45357.5)"
        if fmt in (None, "iso"):
            if re.fullmatch(_EXCEL_SERIAL, value):  # a date cell Excel shows as ####, say
                if (problem := _serial_problem(value, where)) is not None:
                    return problem
                return (
                    f"{value!r}{where} is a number, not an ISO {noun}: if the column holds "
                    "Excel serial dates (days since 1900), set format: excel on the rule"
                )
            return (
                f"{value!r} is not an ISO {noun} (YYYY-MM-DD HH:MM:SS); if the file writes "
                "dates another way, set format: on the rule, e.g. '%d/%m/%Y %H:%M'"
            )
        return f"{value!r} does not match the format {fmt!r}"

    return explain


def _skipped(local: dt.datetime, zone: str) -> bool:
    """Whether a wall-clock time falls in a daylight-saving gap of ``zone``."""
    tz = ZoneInfo(zone)
    there = local.replace(tzinfo=tz)
    back = there.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    return back != local


Converter = Callable[[pa.Array, Rule, str, "str | None"], Conversion]

CONVERTERS: dict[str, Converter] = {
    "text": to_text,
    "number": to_number,
    "integer": to_integer,
    "boolean": to_boolean,
    "email": to_email,
    "phone": to_phone,
    "datetime": to_datetime,
    "date": to_date,
}
