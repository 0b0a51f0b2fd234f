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

The pieces: ``scaffold_guess`` guesses what each column is (the field it names, the format of
its dates), ``scaffold_text`` writes the mapping's text; this module chooses among the guesses
(each field for one column, the SearchBy) and says what it left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from importer.account.model import Account, ActivityType, FieldInfo
from importer.account.scaffold_guess import (
    STANDARD_LEAD_FIELDS,
    THRESHOLD,
    Candidate,
    DateGuess,
    field_candidates,
    guess_date_format,
    match_score,
)
from importer.account.scaffold_text import render_mapping, value_kind
from importer.errors import ConfigError, Problem
from importer.readers.source import Source

_SEARCH_ORDER = ("EmailAddress", "Mobile", "Phone")


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
    candidates = field_candidates(lead_fields, activity)
    columns = {
        name: [row[i] for row in sample if i < len(row)] for i, name in enumerate(source.header)
    }
    scores = []
    for column in source.header:
        for candidate in candidates:
            score = match_score(column, candidate)
            if score >= THRESHOLD:
                scores.append((score, column, candidate))
    formats: dict[str, DateGuess | None] = {}

    def date_format(column: str) -> DateGuess | None:
        if column not in formats:  # strptime over the sample for each format: once a column
            formats[column] = guess_date_format(columns[column])
        return formats[column]

    matched: dict[str, Candidate] = {}
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
                matched[column] = Candidate("activity.datetime", None, ())
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
    text = render_mapping(
        source, matched, columns, date_format, activity, account, search_by, sheet, skipped
    )
    unmatched = [c for c in source.header if c not in matched]
    notes = []
    for column, candidate in matched.items():
        guess = date_format(column) if value_kind(candidate) in ("date", "datetime") else None
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


def pick_sheet(path: Path) -> str | None:
    """For a workbook (of any kind the readers take): the visible sheet with the widest header
    in its first five rows (a notes sheet first is common); a hidden sheet is never chosen."""
    from importer.readers.kinds import KIND_SUFFIX, sniff

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
