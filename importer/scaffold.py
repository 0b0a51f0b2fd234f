"""A starter mapping for a spreadsheet: ``lsq-import init-mapping``.

Each column is matched to the most likely lead field, custom field set field, activity field,
the activity's note or its date-time, by schema name, display name and common synonyms (the
account's fields when keys are available, LeadSquared's standard lead fields otherwise). Types
come from the fields' data types; date formats are guessed from the column's values; the
SearchBy is the best unique field found. Columns left unmatched are listed as comments. The
text is written by hand (not by a YAML dumper) so that it can carry those comments.

A date column whose every value reads both day-first and month-first (03/04/2024) cannot be told
from its values: the day-first format is written, with a comment naming the month-first one, and
a note says so.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from importer.account import Account, ActivityType, FieldInfo
from importer.convert import swap_day_month
from importer.errors import ConfigError, Problem
from importer.source import Source

#: LeadSquared's standard lead fields, for a scaffold made without keys.
STANDARD_LEAD_FIELDS = (
    FieldInfo("EmailAddress", "Email", "Email", unique=True),
    FieldInfo("FirstName", "First Name", "Text"),
    FieldInfo("LastName", "Last Name", "Text"),
    FieldInfo("Phone", "Phone Number", "Phone", unique=True),
    FieldInfo("Mobile", "Mobile Number", "Phone", unique=True),
    FieldInfo("Company", "Company", "Text"),
    FieldInfo("JobTitle", "Job Title", "Text"),
    FieldInfo("Website", "Website", "Website"),
    FieldInfo("Source", "Lead Source", "Text"),
    FieldInfo("ProspectStage", "Lead Stage", "Select"),
)
_SYNONYMS = {
    "lead.attributes.EmailAddress": ("email", "emailid", "mail", "emailaddress"),
    "lead.attributes.FirstName": ("firstname", "fname", "givenname", "name"),
    "lead.attributes.LastName": ("lastname", "surname", "lname", "familyname"),
    "lead.attributes.Mobile": ("mobile", "mobileno", "mobilenumber", "cell", "cellphone"),
    "lead.attributes.Phone": ("phone", "phoneno", "telephone", "tel", "contactnumber"),
    "activity.note": ("note", "notes", "remarks", "remark", "comments", "comment", "description"),
    "activity.datetime": ("date", "datetime", "activitydate", "when", "time", "timestamp"),
}
_SEARCH_ORDER = ("EmailAddress", "Mobile", "Phone")
_THRESHOLD = 0.8
_TYPES = {
    "Email": "email",
    "Phone": "phone",
    "Number": "number",
    "Date": "date",
    "DateTime": "datetime",
    "Boolean": "boolean",
}
_DATE_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%y",
)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class _Candidate:
    path: str
    spec: FieldInfo | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class _DateGuess:
    """The date format a column's values are in, and the other order of day and month where
    every value reads that way too (None: the values tell the two apart)."""

    format: str
    other: str | None = None

    def comment(self) -> str:
        """The YAML comment for a rule whose format is this guess ('' when it is certain)."""
        if self.other is None:
            return ""
        order = "month" if self.other.startswith("%m") else "day"
        return (
            f"  # every value also reads {order}-first, {_quote(self.other)}: "
            "check which the sheet means"
        )


@dataclass
class Scaffold:
    """What init-mapping found: the mapping's text and what it left out."""

    text: str
    matched: dict[str, str] = field(default_factory=dict)  # column -> path
    unmatched: list[str] = field(default_factory=list)
    #: What the account's metadata does not describe, so that no column could be matched to it.
    skipped: list[str] = field(default_factory=list)
    #: Guesses to check: date columns that read both day-first and month-first.
    notes: list[str] = field(default_factory=list)


def scaffold(
    source: Source,
    sample: list[list[str]],
    activity: ActivityType,
    account: Account | None,
    sheet: str | None = None,
) -> Scaffold:
    """The starter mapping for ``source``, judged on ``sample`` rows."""
    listed = account is not None and account.lead_fields_listed
    lead_fields = account.lead_fields if account is not None and listed else STANDARD_LEAD_FIELDS
    candidates = _candidates(lead_fields, activity)
    columns = {
        name: [row[i] for row in sample if i < len(row)] for i, name in enumerate(source.header)
    }
    scores = []
    for column in source.header:
        for candidate in candidates:
            score = _score(column, candidate)
            if score >= _THRESHOLD:
                scores.append((score, column, candidate))
    formats: dict[str, _DateGuess | None] = {}

    def date_format(column: str) -> _DateGuess | None:
        if column not in formats:  # strptime over the sample for each format: once a column
            formats[column] = _date_format(columns[column])
        return formats[column]

    matched: dict[str, _Candidate] = {}
    taken: set[str] = set()
    for _, column, candidate in sorted(scores, key=lambda s: -s[0]):
        if column in matched or candidate.path in taken:
            continue
        if candidate.path == "activity.datetime" and date_format(column) is None:
            continue
        matched[column] = candidate
        taken.add(candidate.path)
    if "activity.datetime" not in taken:  # a column whose values are dates, named otherwise
        for column in source.header:
            if (
                column not in matched
                and re.search(r"date|time|when|on$", column, re.IGNORECASE)
                and date_format(column) is not None
            ):
                matched[column] = _Candidate("activity.datetime", None, ())
                taken.add("activity.datetime")
                break
    search_by = next(
        (name for name in _SEARCH_ORDER if f"lead.attributes.{name}" in taken),
        next(
            (
                c.spec.schema_name
                for c in matched.values()
                if c.spec is not None and c.spec.unique and c.path.startswith("lead.attributes.")
            ),
            None,
        ),
    )
    if search_by is None:
        raise ConfigError(
            [
                Problem(
                    "lead.search_by",
                    "no column looks like an email address, a phone number or another unique "
                    f"lead field (columns: {', '.join(source.header)}); a mapping needs one to "
                    "find each row's lead: write the mapping by hand from the fields listed by "
                    "lsq-import fields",
                )
            ]
        )
    skipped = _unseen(account, lead_fields, activity)
    text = _render(
        source, matched, columns, date_format, activity, account, search_by, sheet, skipped
    )
    unmatched = [c for c in source.header if c not in matched]
    notes = []
    for column, candidate in matched.items():
        guess = date_format(column) if _kind(candidate) in ("date", "datetime") else None
        if guess is not None and guess.other is not None:
            notes.append(
                f"column {column!r}: every value reads both as {guess.format!r} and as "
                f"{guess.other!r} (no day is above 12); the mapping says {guess.format!r}: "
                "check which the sheet means, and change its format: if need be"
            )
    return Scaffold(text, {c: m.path for c, m in matched.items()}, unmatched, skipped, notes)


def _unseen(
    account: Account | None, lead_fields: tuple[FieldInfo, ...], activity: ActivityType
) -> list[str]:
    """What the account's metadata leaves out, so that the mapping must be finished by hand."""
    if account is None:
        return []
    found = []
    if not account.lead_fields_listed:
        found.append(
            "the account's metadata lists no lead fields: columns were matched to LeadSquared's "
            "standard ones"
        )
    for spec in lead_fields:
        if spec.is_set and spec.fields is None:
            found.append(
                f"the account's metadata does not list the fields of custom field set "
                f"{spec.schema_name}: map them by hand under lead.custom_field_sets."
                f"{spec.schema_name}"
            )
    if activity.fields is None:
        found.append(
            f"the account's metadata does not list the fields of {activity.label()}: map them "
            "by hand under activity.fields"
        )
    for spec in activity.fields or ():
        if spec.is_set and spec.fields is None:
            found.append(
                f"the account's metadata does not list the fields of custom field set "
                f"{spec.schema_name}: map them by hand under activity.custom_field_sets."
                f"{spec.schema_name}"
            )
    return found


def _candidates(lead_fields: tuple[FieldInfo, ...], activity: ActivityType) -> list[_Candidate]:
    found = []
    for spec in lead_fields:
        if spec.schema_name in ("ProspectID", "ProspectAutoId"):
            continue
        if spec.is_set:
            found += _set_candidates("lead.custom_field_sets", spec)
            continue
        path = f"lead.attributes.{spec.schema_name}"
        names = (spec.schema_name, spec.display_name, *_SYNONYMS.get(path, ()))
        found.append(_Candidate(path, spec, names))
    for spec in activity.fields or ():
        if spec.is_set:
            found += _set_candidates("activity.custom_field_sets", spec)
            continue
        found.append(_Candidate(f"activity.fields.{spec.schema_name}", spec, (spec.display_name,)))
    for path in ("activity.note", "activity.datetime"):
        found.append(_Candidate(path, None, _SYNONYMS[path]))
    return found


def _set_candidates(prefix: str, spec: FieldInfo) -> list[_Candidate]:
    """A custom field set's fields, known by their own display name or the set's and theirs."""
    return [
        _Candidate(
            f"{prefix}.{spec.schema_name}.{inner.schema_name}",
            inner,
            (inner.display_name, f"{spec.display_name} {inner.display_name}"),
        )
        for inner in spec.fields or ()
    ]


def _normal(text: str) -> str:
    text = text.casefold()
    text = text.removeprefix("mx_")
    return re.sub(r"[^0-9a-z]", "", text)


def _score(column: str, candidate: _Candidate) -> float:
    wanted = _normal(column)
    best = 0.0
    for name in candidate.names:
        name = _normal(name)
        if not name:
            continue
        if name == wanted:
            return 1.0
        best = max(best, difflib.SequenceMatcher(None, wanted, name).ratio())
    return best * 0.95  # an exact name always wins over a close one


def _date_format(values: list[str]) -> _DateGuess | None:
    """The strptime format most of the column's values are in ('iso' for ISO text, as Excel
    date cells are read), or None if they are not dates. Where every value it reads also reads
    with day and month swapped, the guess names that format too: the values cannot decide."""
    filled = [v.strip() for v in values if v.strip()][:500]
    if not filled:
        return None
    if sum(bool(_ISO.fullmatch(v)) for v in filled) >= 0.9 * len(filled):
        return _DateGuess("iso")
    best, best_fits = None, [False] * len(filled)
    for fmt in _DATE_FORMATS:
        fits = _fits(filled, fmt)
        if sum(fits) > sum(best_fits):
            best, best_fits = fmt, fits
    if best is None or sum(best_fits) < 0.9 * len(filled):
        return None
    other = swap_day_month(best)
    if other is not None:
        other_fits = _fits(filled, other)
        if not all(o for b, o in zip(best_fits, other_fits, strict=True) if b):
            other = None  # some value has a day above 12: the order is certain
    return _DateGuess(best, other)


def _fits(values: list[str], fmt: str) -> list[bool]:
    """Whether each text reads with the strptime format ``fmt``."""
    found = []
    for value in values:
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            found.append(False)
        else:
            found.append(True)
    return found


def _kind(candidate: _Candidate) -> str | None:
    """The value type a matched column converts to (None: text)."""
    if candidate.path == "activity.datetime":
        return "datetime"
    return _TYPES.get(candidate.spec.data_type) if candidate.spec is not None else None


def _rule(
    column: str,
    candidate: _Candidate,
    values: list[str],
    country: str | None,
    guess: _DateGuess | None,
) -> str:
    """The rule for one column; ``guess`` is its values' date format (None: not dates)."""
    spec = candidate.spec
    parts = [f"column: {_quote(column)}"]
    comment = ""
    kind = _kind(candidate)
    if kind in ("date", "datetime"):
        parts.append(f"type: {kind}")
        if guess is None:
            comment = "  # no date format fits every value: check the column"
        elif guess.format != "iso":
            parts.append(f"format: {_quote(guess.format)}")
            comment = guess.comment()
    elif kind == "number":
        parts.append("type: number")
        if any(re.fullmatch(r"-?\d{1,3}(?:\.\d{3})+,\d+|-?\d+,\d{1,2}", v.strip()) for v in values):
            parts.append('decimal: ","')
    elif kind is not None:
        parts.append(f"type: {kind}")
        if kind == "phone" and country is None:
            comment = "  # numbers without +<code> need source.country"
    if spec is not None and spec.is_dropdown:
        more = " ..." if len(spec.options) > 8 else ""
        comment = f"  # options: {', '.join(spec.options[:8])}{more}"
        seen = sorted({v.strip() for v in values if v.strip()} - set(spec.options))
        by_case = {o.casefold(): o for o in spec.options}
        fixes = {v: by_case[v.casefold()] for v in seen if v.casefold() in by_case}
        if fixes:  # the sheet writes options in another case: map them
            pairs = ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in fixes.items())
            parts.append(f"map: {{{pairs}}}")
        if others := [v for v in seen if v not in fixes]:
            listed = ", ".join(_quote(v) for v in others[:8])
            comment = f"  # not options: {listed}: map them or set a default ({comment[4:]})"
    rule = parts[0].removeprefix("column: ") if len(parts) == 1 else "{" + ", ".join(parts) + "}"
    return rule + comment


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _render(
    source: Source,
    matched: dict[str, _Candidate],
    columns: dict[str, list[str]],
    date_format: Callable[[str], _DateGuess | None],
    activity: ActivityType,
    account: Account | None,
    search_by: str,
    sheet: str | None,
    skipped: list[str],
) -> str:
    user = account.user if account is not None else None
    zone = user.time_zone if user is not None and user.time_zone else None
    country = user.country if user is not None else None
    origin = (
        f"# the fields of the account {user.org or 'whose keys are set'}."
        if user is not None
        else "# LeadSquared's standard lead fields (run it with keys to match the account's own)."
    )
    lines = [
        f"# A starter mapping for {source.path.name}, made by lsq-import init-mapping from",
        origin,
        "# Check every line, then: lsq-import validate INPUT -m THIS_FILE --check-account",
        *(f"# Note: {line}" for line in skipped),
        "",
        "source:",
    ]
    if sheet is not None:
        lines.append(f"  sheet: {_quote(sheet)}")
    lines.append(
        f"  timezone: {zone}  # the account's time zone"
        if zone
        else "  timezone: UTC  # the zone the sheet's times are in"
    )
    if country:
        lines.append(f"  country: {country}  # the account's default country, for phone numbers")
    lines += ["", "lead:", f"  search_by: {search_by}", "  attributes:"]

    def section(prefix: str) -> list[tuple[str, str]]:
        return [
            (column, c.path.removeprefix(prefix))
            for column, c in matched.items()
            if c.path.startswith(prefix)
        ]

    def rule_for(column: str) -> str:
        return _rule(column, matched[column], columns[column], country, date_format(column))

    for column, name in section("lead.attributes."):
        lines.append(f"    {name}: {rule_for(column)}")
    lead_sets = _sets(section("lead.custom_field_sets."))
    if lead_sets:
        lines.append("  custom_field_sets:")
        for name, fields in lead_sets.items():
            lines.append(f"    {name}:")
            lines += [f"      {inner}: {rule_for(column)}" for column, inner in fields]
    lines += [
        "",
        "activity:",
        f"  event: {activity.code}" + (f"  # {activity.name}" if activity.name else ""),
    ]
    for key in ("note", "datetime"):
        found = next((c for c, m in matched.items() if m.path == f"activity.{key}"), None)
        if found is not None:
            lines.append(f"  {key}: {rule_for(found)}")
    plain = section("activity.fields.")
    if plain:
        lines.append("  fields:")
        lines += [f"    {name}: {rule_for(column)}" for column, name in plain]
    activity_sets = _sets(section("activity.custom_field_sets."))
    if activity_sets:
        lines.append("  custom_field_sets:")
        for name, fields in activity_sets.items():
            lines.append(f"    {name}:")
            lines += [f"      {inner}: {rule_for(column)}" for column, inner in fields]
    mandatory = [
        f
        for f in activity.fields or ()
        if f.mandatory
        and not f.is_set
        and f"activity.fields.{f.schema_name}" not in {m.path for m in matched.values()}
    ]
    for spec in mandatory:
        lines.append(f"  # {spec.label()} is mandatory for this activity and no column matched it")
    unmatched = [c for c in source.header if c not in matched]
    if unmatched:
        lines += ["", "# Columns not matched to a field (map them by hand, or leave them out):"]
        lines += [f"#   {_quote(c)}" for c in unmatched]
    return "\n".join(lines) + "\n"


def _sets(items: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    for column, rest in items:
        name, inner = rest.split(".", 1)
        sets.setdefault(name, []).append((column, inner))
    return sets


def pick_sheet(path: Path) -> str | None:
    """For a workbook (of any kind the readers take): the visible sheet with the widest header
    in its first five rows (a notes sheet first is common); a hidden sheet is never chosen."""
    from importer.source import KIND_SUFFIX, sniff

    if sniff(path) not in KIND_SUFFIX:
        return None
    import python_calamine as calamine

    try:
        book = calamine.CalamineWorkbook.from_path(str(path))
    except Exception:  # the reader that opens it next says what is wrong
        return None
    try:
        best, width = None, 0
        for meta in book.sheets_metadata:
            if meta.visible != calamine.SheetVisibleEnum.Visible:
                continue
            rows = book.get_sheet_by_name(meta.name).to_python(nrows=5)
            filled = max((sum(1 for v in row if v not in (None, "")) for row in rows), default=0)
            if filled > width:
                best, width = meta.name, filled
        return best
    finally:
        book.close()
