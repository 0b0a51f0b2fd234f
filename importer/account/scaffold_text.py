"""The text of a starter mapping: the YAML that init-mapping writes, by hand (not by a YAML
dumper) so that it can carry comments: the options of a dropdown, the values that are not
options, the other reading of an ambiguous date, the columns left unmatched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from importer.account.model import Account, ActivityType
from importer.account.scaffold_guess import Candidate, DateGuess
from importer.readers.source import Source

_TYPES = {
    "Email": "email",
    "Phone": "phone",
    "Number": "number",
    "Date": "date",
    "DateTime": "datetime",
    "Boolean": "boolean",
}


def value_kind(candidate: Candidate) -> str | None:
    """The value type a matched column converts to (None: text)."""
    if candidate.path == "activity.datetime":
        return "datetime"
    return _TYPES.get(candidate.spec.data_type) if candidate.spec is not None else None


def _rule(
    column: str,
    candidate: Candidate,
    values: list[str],
    country: str | None,
    guess: DateGuess | None,
) -> str:
    """The rule for one column; ``guess`` is its values' date format (None: not dates)."""
    spec = candidate.spec
    parts = [f"column: {_quote(column)}"]
    comment = ""
    kind = value_kind(candidate)
    if kind in ("date", "datetime"):
        parts.append(f"type: {kind}")
        if guess is None:
            comment = "  # no date format fits every value: check the column"
        elif guess.format != "iso":
            parts.append(f"format: {_quote(guess.format)}")
            comment = _date_comment(guess)
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


def _date_comment(guess: DateGuess) -> str:
    """The YAML comment for a rule whose format is ``guess`` ('' when it is certain)."""
    if guess.other is None:
        return ""
    order = "month" if guess.other.startswith("%m") else "day"
    return (
        f"  # every value also reads {order}-first, {_quote(guess.other)}: "
        "check which the sheet means"
    )


def render_mapping(
    source: Source,
    matched: dict[str, Candidate],
    columns: dict[str, list[str]],
    date_format: Callable[[str], DateGuess | None],
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
