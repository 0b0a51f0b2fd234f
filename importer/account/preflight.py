"""The mapping against the account, before a row is sent.

``review_mapping`` finds what would make LeadSquared reject every row: an unknown lead
attribute, custom field set or activity field, a SearchBy that is not a unique field, an
unknown event code, a mandatory activity field left unmapped. It refuses only on evidence: a
name is unknown only when the account's metadata lists that kind of thing and not this one.
Where the metadata does not describe something (a custom field set's fields, the activity
types, a field's type or options), the check is skipped and ``Review.skipped`` says so.

``field_values`` judges the rows' values against the account's fields (``field_for``,
``value_problems``); ``value_skips`` here says which of those checks the metadata leaves no way
to make. Reading the account before a run is ``metadata.preflight``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from importer.account.field_values import (
    Target,
    event_code,
    field_for,
)
from importer.account.metadata import ACTIVITY_SETTING, ACTIVITY_TYPES, LEAD_FIELDS, unread
from importer.account.model import Account, ActivityType, FieldInfo
from importer.errors import Problem
from importer.mapping.config import Mapping
from importer.sending.client import WHOAMI


@dataclass(frozen=True)
class Review:
    """What the pre-flight found in a mapping: problems (each one evidence, from the account's
    own metadata, that every row would be rejected) and the checks it had to skip because the
    metadata does not describe what they need, one line each."""

    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skip:
    """A check the metadata leaves no way to make, and why, in one line."""

    line: str


#: What each part of the review finds, in order: evidence, or a check it skipped.
Finding = Problem | Skip


def review_mapping(mapping: Mapping, account: Account) -> Review:
    """Every problem the account's metadata proves in ``mapping``, and every check it skipped."""
    found = [*_review_user(account), *_review_lead(mapping, account)]
    found += _review_event(mapping, account)
    if not any(isinstance(f, Problem) and f.path == "activity.event" for f in found):
        found += _review_activity(mapping, account)  # the fields of a type that exists
    return Review(
        problems=[f for f in found if isinstance(f, Problem)],
        skipped=[f.line for f in found if isinstance(f, Skip)],
    )


_NO_TYPES = (
    "the account's metadata lists no activity types; LeadSquared rejects a row whose event code "
    "is unknown"
)
#: Always unique in LeadSquared, whatever the metadata says or leaves out.
_BUILT_IN_IDENTIFIERS = frozenset({"EmailAddress", "Phone", "Mobile"})


def _review_user(account: Account) -> Iterator[Finding]:
    """The user's own answer, when it could not be read (the other calls' are said where the
    check they would have made is skipped)."""
    missing = unread(account, WHOAMI)
    if missing is not None:
        yield Skip(f"could not read the account's {missing.line}")


def _why_not(account: Account, path: str, code: int | None, what: str, default: str) -> str:
    """Why a kind of thing is not listed: the call that could not be read (with the fix for a
    denial), or ``default`` when it answered with none."""
    missing = unread(account, path, code)
    if missing is None:
        return default
    return f"could not read the account's {what}: {missing.fixed()}"


def _review_lead(mapping: Mapping, account: Account) -> Iterator[Finding]:
    lead = mapping.lead
    if not account.lead_fields_listed:
        why = _why_not(
            account,
            LEAD_FIELDS,
            None,
            "lead fields",
            "the account's metadata lists no lead fields; LeadSquared rejects a row whose "
            "attribute is unknown",
        )
        yield Skip(f"cannot check the lead attributes and custom field sets: {why}")
        return
    for name in lead.attributes:
        spec = account.lead_field(name)
        if spec is None:
            yield _unknown(f"lead.attributes.{name}", name, account.lead_fields, "lead")
        elif spec.is_set:
            yield Problem(
                f"lead.attributes.{name}",
                f"{name} is a custom field set: map its fields under lead.custom_field_sets.{name}",
            )
    search = account.lead_field(lead.search_by)
    if search is not None and not search.is_set and lead.search_by not in _BUILT_IN_IDENTIFIERS:
        if search.unique is False:
            unique = ", ".join(f.schema_name for f in account.lead_fields if f.unique) or "none"
            yield Problem(
                "lead.search_by",
                f"{lead.search_by} is not a unique field of this account, so it cannot find a "
                f"lead; unique fields: {unique}",
            )
        elif search.unique is None:
            yield Skip(
                f"cannot check that the SearchBy field {lead.search_by} is unique: the account's "
                "metadata does not say; LeadSquared rejects a row whose SearchBy is not unique"
            )
    yield from _review_sets(
        "lead.custom_field_sets", lead.custom_field_sets, account.lead_field, account.lead_fields
    )


def _review_event(mapping: Mapping, account: Account) -> Iterator[Finding]:
    code = event_code(mapping)
    column = mapping.activity.event.column
    if not account.activity_types_listed:
        why = _why_not(account, ACTIVITY_TYPES, None, "activity types", _NO_TYPES)
        if code is not None:
            yield Skip(f"cannot check the event code {code}: {why}")
        elif column is not None:
            yield Skip(f"cannot check the event codes in column {column!r}: {why}")
        return
    if code is not None and account.activity_type(code) is None:
        known = "; ".join(f"{t.code} {t.name}" for t in account.activity_types) or "none"
        yield Problem(
            "activity.event",
            f"{code} is not an activity type of this account; its types are: {known} "
            "(lsq-import activity-types lists them)",
        )


def _review_activity(mapping: Mapping, account: Account) -> Iterator[Finding]:
    code = event_code(mapping)
    if code is None:  # the codes come from a column: whose fields is for each row to say
        return
    activity = account.activity_type(code)
    what = activity.label() if activity is not None else f"activity {code}"
    if activity is None or activity.fields is None:
        why = _why_not(
            account,
            ACTIVITY_SETTING,
            code,
            f"fields of activity {code}",
            "the account's metadata does not list them; LeadSquared rejects a row whose "
            "activity field is unknown or whose mandatory field is missing",
        )
        yield Skip(f"cannot check the fields of {what}: {why}")
        return
    fields = activity.fields
    for name in mapping.activity.fields:
        spec = activity.field(name)
        if spec is None:
            yield _unknown(f"activity.fields.{name}", name, fields, what)
        elif spec.is_set:
            yield Problem(
                f"activity.fields.{name}",
                f"{name} is a custom field set: map its fields under "
                f"activity.custom_field_sets.{name}",
            )
    yield from _review_sets(
        "activity.custom_field_sets", mapping.activity.custom_field_sets, activity.field, fields
    )
    yield from _review_mandatory(mapping, activity)


def _review_mandatory(mapping: Mapping, activity: ActivityType) -> Iterator[Finding]:
    """A mandatory activity field left unmapped is a problem; one whose flag the metadata leaves
    out cannot be judged, and is said only where it matters: a field left unmapped."""
    what = activity.label()
    mapped = set(mapping.activity.fields)
    plain = [spec for spec in activity.fields or () if not spec.is_set]
    for spec in plain:
        if spec.mandatory and spec.schema_name not in mapped:
            yield Problem(
                "activity.fields",
                f"{spec.label()} is mandatory for {what} but not mapped: every row would "
                f"be rejected; add activity.fields.{spec.schema_name}",
            )
    unsaid = [s for s in plain if s.mandatory is None and s.schema_name not in mapped]
    if not unsaid:
        return
    if all(spec.mandatory is None for spec in plain):
        yield Skip(
            f"cannot check that the mandatory fields of {what} are mapped: the account's "
            "metadata does not say which are mandatory"
        )
    else:
        yield Skip(
            f"cannot check whether {_some([s.label() for s in unsaid])}, not mapped, "
            f"{'is' if len(unsaid) == 1 else 'are'} mandatory for {what}: the account's "
            "metadata does not say"
        )


def _review_sets(
    path: str,
    sets: dict[str, dict],
    find: Callable[[str], FieldInfo | None],
    siblings: tuple[FieldInfo, ...],
) -> Iterator[Finding]:
    for name, fields in sets.items():
        spec = find(name)
        if spec is None:
            yield _unknown(f"{path}.{name}", name, siblings, "custom field sets")
            continue
        if not spec.is_set and spec.data_type:
            yield Problem(f"{path}.{name}", f"{name} is a field, not a custom field set")
            continue
        if spec.fields is None:  # a set whose fields are not listed, or a field of no type
            yield Skip(
                f"cannot check the fields of custom field set {name}: the account's metadata "
                "does not list them; LeadSquared rejects a row whose CFS field is unknown"
            )
            continue
        for inner in fields:
            if spec.field(inner) is None:
                yield _unknown(f"{path}.{name}.{inner}", inner, spec.fields, name)


def value_skips(targets: dict[str, Target]) -> list[str]:
    """One line for each kind of value check that the metadata leaves no way to make."""
    untyped = [path for path, t in targets.items() if not t.spec.data_type]
    no_options = [
        path
        for path, t in targets.items()
        if t.check_options and t.spec.takes_one_option and not t.spec.options
    ]
    skipped = []
    if untyped:
        skipped.append(
            f"cannot check the values of {_some(untyped)} against a data type: the account's "
            "metadata gives none"
        )
    if no_options:
        skipped.append(
            f"cannot check the values of {_some(no_options)} against the dropdown's options: "
            "the account's metadata lists none"
        )
    return skipped


@dataclass(frozen=True)
class AccountFit:
    """What the account says about a mapping, for ``Plan`` to be built with: the field behind
    each rule path (each row's values are checked against it), the activity type's name, the
    account's time zone and phone country where the mapping sets none; the notes to tell (each
    check the metadata left no way to make, the defaults taken) and the problems that stop the
    run before a row is sent."""

    account: Account
    fields: dict[str, Target]
    activity: str = ""
    timezone: str | None = None
    country: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def fit_account(mapping: Mapping, account: Account) -> AccountFit:
    """The mapping against the account's fields and activity types: every problem its
    metadata proves, the checks it could not make, and what the rows' values will be checked
    against."""
    from importer.account.metadata import DUMP_HINT
    from importer.mapping.config import check_timezone

    review = review_mapping(mapping, account)
    notes = []
    unmapped = [
        f.label()
        for f in account.lead_fields
        if f.mandatory and not f.is_set and f.schema_name not in mapping.lead.attributes
    ]
    if unmapped:  # updates go through; only rows that create a lead fail
        notes.append(
            f"mandatory lead fields not mapped: {', '.join(unmapped)}: rows whose lead does "
            "not exist yet will be rejected (MXMandatoryAttributeMissingException)"
        )
    source = mapping.source
    zone = account.user.time_zone
    timezone = None
    if "timezone" not in source.model_fields_set and zone:
        try:
            timezone = check_timezone(zone)
        except ValueError:
            notes.append(
                f"the account's time zone {zone!r} is not a tz database name: times are "
                "read as UTC; set source.timezone"
            )
        else:
            notes.append(f"times are read in the account's time zone, {zone}")
    country = None
    if source.country is None and account.user.country:
        country = account.user.country
        notes.append(f"phone numbers default to the account's country, {country}")
    fields = {
        path: found
        for path, _ in mapping.rules()
        if (found := field_for(path, mapping, account)) is not None
    }
    skipped = review.skipped + value_skips(fields)
    code = event_code(mapping)
    activity = account.activity_type(code) if code is not None else None
    return AccountFit(
        account,
        fields,
        activity.label().removeprefix("activity ") if activity else "",
        timezone,
        country,
        skipped + ([DUMP_HINT] if skipped else []) + notes,
        review.problems,
    )


def _some(paths: list[str], limit: int = 4) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _unknown(path: str, name: str, known: tuple[FieldInfo, ...], where: str) -> Problem:
    message = f"{name!r} is not a field of {where} in this account"
    by_display = [f for f in known if f.display_name.casefold() == name.casefold()]
    if by_display:
        message += f": {name!r} is the display name of {by_display[0].schema_name}; use that"
    else:
        close = difflib.get_close_matches(name, [f.schema_name for f in known], n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        else:
            message += " (lsq-import fields lists them)"
    return Problem(path, message)
