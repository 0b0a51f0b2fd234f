"""Phone numbers to LeadSquared's ``+<country code>-<national number>``, a column at a time.

The ``phonenumbers`` library (Google's libphonenumber metadata) decides what a valid number is.
Calling it once per cell costs about 30 µs, or half a minute per million rows, so the common
shapes (``+91 98765 43210``, ``9876543210`` for the default country) are checked in bulk against
that same library's per-country patterns, and only the rest (trunk prefixes, ``00`` prefixes,
letters, extensions) go through ``phonenumbers.parse`` one by one. ``tests/test_phone.py`` holds
the two paths to the same answers.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

_NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
_SEPARATORS = r"[\s\-.()/\u00a0\u2010-\u2015]"
_COUNTRY_CODES = {str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


def _desc_pattern(desc: object) -> str | None:
    """A number description as one regex: its possible lengths, then its pattern."""
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = [n for n in (getattr(desc, "possible_length", None) or ()) if n > 0]
    if lengths:  # libphonenumber checks the length before the pattern; so do we
        alternatives = "|".join(rf"\d{{{n}}}" for n in sorted(lengths))
        return rf"(?=(?:{alternatives})$)(?:{pattern})"
    return f"(?:{pattern})"


@cache
def _region_pattern(region: str) -> re.Pattern[str] | None:
    """What libphonenumber calls valid for a region: the general pattern and one number type."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    general = _desc_pattern(metadata.general_desc)
    types = [p for kind in _NUMBER_TYPES if (p := _desc_pattern(getattr(metadata, kind, None)))]
    if general is None or not types:
        return None
    return re.compile(rf"(?=(?:{general})$)(?:{'|'.join(types)})")


@cache
def _code_pattern(code: str) -> str | None:
    """One pattern for every region that shares a country calling code (1: US, CA, ...)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ())
    patterns = [p.pattern for r in regions if (p := _region_pattern(r)) is not None]
    return "|".join(f"(?:{p})" for p in patterns) or None


def normalize_phones(values: pd.Series, country: str | None) -> tuple[pd.Series, pd.Series]:
    """Normalise stripped, non-empty phone texts.

    Returns ``(numbers, errors)`` aligned with ``values``: a number where the text is a valid
    phone number, else None with the reason in ``errors``.
    """
    numbers = pd.Series(None, index=values.index, dtype=object)
    clean = values.str.replace(_SEPARATORS, "", regex=True)

    international = clean.str.fullmatch(r"\+\d{4,17}")
    if international.any():
        digits = clean[international].str[1:]
        code = pd.Series(None, index=digits.index, dtype=object)
        for size in (1, 2, 3):
            head = digits.str[:size]
            hit = code.isna() & head.isin(_COUNTRY_CODES)
            code[hit] = head[hit]
        for cc in code.dropna().unique():
            pattern = _code_pattern(cc)
            if pattern is None:
                continue
            these = code == cc
            national = digits[these].str[len(cc) :]
            valid = national.str.fullmatch(pattern)
            numbers[valid[valid].index] = "+" + cc + "-" + national[valid]

    if country is not None:
        pattern = _region_pattern(country)
        local = clean.str.fullmatch(r"\d{3,17}") & numbers.isna()
        if pattern is not None and local.any():
            cc = str(phonenumbers.country_code_for_region(country))
            national = clean[local]
            valid = national.str.fullmatch(pattern.pattern)
            numbers[valid[valid].index] = "+" + cc + "-" + national[valid]

    errors = pd.Series(None, index=values.index, dtype=object)
    rest = numbers.isna()
    if rest.any():
        for index, text in values[rest].items():
            number, error = normalize_phone(text, country)
            numbers[index] = number
            errors[index] = error
    return numbers, errors


@cache
def normalize_phone(text: str, country: str | None) -> tuple[str | None, str | None]:
    """One phone text through phonenumbers: ``(number, None)`` or ``(None, reason)``."""
    try:
        parsed = phonenumbers.parse(text, country)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and country is None:
            return None, (
                f"{text!r} has no country code (+..) and no default country is set; "
                "set country: on the rule or source.country in the mapping"
            )
        return None, f"{text!r} is not a phone number ({_reason(exc)})"
    if parsed.extension:
        return None, f"{text!r} has an extension; LeadSquared phone fields take the number only"
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or country or "its country"
        return None, f"{text!r} is not a valid phone number for {where}"
    national = phonenumbers.national_significant_number(parsed)
    return f"+{parsed.country_code}-{national}", None


def _reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "not a number")
