"""What init-mapping guesses about a column: the field it most likely names, and the date
format its values are in.

A column is matched by schema name, display name and common synonyms, scored on their
normalised text (an exact name always wins over a close one). A date column's format is the
strptime format most of its values read with; where every value also reads with day and month
swapped (03/04/2024), the guess names that other format too: the values cannot decide.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

from importer.account.model import ActivityType, FieldInfo
from importer.mapping.convert import swap_day_month

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
THRESHOLD = 0.8
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
class Candidate:
    """A rule path a column may be mapped to, its field (None: the activity's note or date-time)
    and the names it goes by."""

    path: str
    spec: FieldInfo | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class DateGuess:
    """The date format a column's values are in, and the other order of day and month where
    every value reads that way too (None: the values tell the two apart)."""

    format: str
    other: str | None = None


def field_candidates(lead_fields: tuple[FieldInfo, ...], activity: ActivityType) -> list[Candidate]:
    found = []
    for spec in lead_fields:
        if spec.schema_name in ("ProspectID", "ProspectAutoId"):
            continue
        if spec.is_set:
            found += _set_candidates("lead.custom_field_sets", spec)
            continue
        path = f"lead.attributes.{spec.schema_name}"
        names = (spec.schema_name, spec.display_name, *_SYNONYMS.get(path, ()))
        found.append(Candidate(path, spec, names))
    for spec in activity.fields or ():
        if spec.is_set:
            found += _set_candidates("activity.custom_field_sets", spec)
            continue
        found.append(Candidate(f"activity.fields.{spec.schema_name}", spec, (spec.display_name,)))
    for path in ("activity.note", "activity.datetime"):
        found.append(Candidate(path, None, _SYNONYMS[path]))
    return found


def _set_candidates(prefix: str, spec: FieldInfo) -> list[Candidate]:
    """A custom field set's fields, known by their own display name or the set's and theirs."""
    return [
        Candidate(
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


def match_score(column: str, candidate: Candidate) -> float:
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


def guess_date_format(values: list[str]) -> DateGuess | None:
    """The strptime format most of the column's values are in ('iso' for ISO text, as Excel
    date cells are read), or None if they are not dates. Where every value it reads also reads
    with day and month swapped, the guess names that format too: the values cannot decide."""
    filled = [v.strip() for v in values if v.strip()][:500]
    if not filled:
        return None
    if sum(bool(_ISO.fullmatch(v)) for v in filled) >= 0.9 * len(filled):
        return DateGuess("iso")
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
    return DateGuess(best, other)


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
