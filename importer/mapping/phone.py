"""Phone numbers to LeadSquared's ``+<country code>-<national number>``, a column at a time.

The ``phonenumbers`` library (Google's libphonenumber metadata) decides what a valid number is.
Calling it once per cell costs about 30 µs, or half a minute per million rows, so the common
shapes (``+91 98765 43210``, ``9876543210`` for the default country) are checked in bulk with
Arrow's regex kernels against that same library's per-country patterns and lengths, and only
the rest (trunk prefixes, ``00`` prefixes, letters, extensions, invalid numbers) go through
``phonenumbers.parse`` one by one. ``tests/test_phone.py`` holds the two paths to the same answers.

A number in scientific notation (``9.19876543210E+11``) is never a phone number to guess at: it is
what Excel writes for a phone column stored as a number, whose leading zeros, plus sign and digits
beyond the fifteenth are gone (and phonenumbers would read its ``e`` as a keypad 3). Such a value
fails with a reason that says how to keep the column as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
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
_SEPARATORS = r"[\s\-.()/\x{00a0}\x{2010}-\x{2015}]"
#: A number as Excel writes one it shows in scientific notation, with a decimal point or comma.
_SCIENTIFIC = r"^[+-]?\d+(?:[.,]\d*)?[eE][+-]?\d{1,3}$"
_CODES = pa.array(sorted(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE))

Desc = tuple[pa.Array | None, str]  # allowed lengths (None: any), pattern


def _desc(desc: object) -> Desc | None:
    pattern = getattr(desc, "national_number_pattern", None)
    if not pattern:
        return None
    lengths = [n for n in (getattr(desc, "possible_length", None) or ()) if n > 0]
    return (pa.array(lengths, pa.int32()) if lengths else None), f"^(?:{pattern})$"


@cache
def _region_rules(region: str) -> tuple[Desc, list[Desc]] | None:
    """What libphonenumber calls valid for a region: the general description, and then one of
    the number types (each a length check, then a pattern), as ``is_valid_number`` checks."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    general = _desc(metadata.general_desc)
    types = [d for kind in _NUMBER_TYPES if (d := _desc(getattr(metadata, kind, None)))]
    if general is None or not types:
        return None
    return general, types


def _matches(national: pa.Array, lengths: pa.Array, desc: Desc) -> pa.Array:
    allowed, pattern = desc
    ok = pc.match_substring_regex(national, pattern)
    if allowed is not None:
        ok = pc.and_(ok, pc.is_in(lengths, allowed))
    return ok


def _valid_for(national: pa.Array, regions: tuple[str, ...]) -> np.ndarray:
    lengths = pc.utf8_length(national)
    valid = np.zeros(len(national), dtype=bool)
    for region in regions:
        rules = _region_rules(region)
        if rules is None:
            continue
        general, types = rules
        ok = _matches(national, lengths, general)
        if not pc.any(ok).as_py():
            continue
        any_type = _matches(national, lengths, types[0])
        for desc in types[1:]:
            any_type = pc.or_(any_type, _matches(national, lengths, desc))
        valid |= pc.and_(ok, any_type).to_numpy(zero_copy_only=False)
    return valid


def normalize_phones(
    values: pa.Array, country: str | None, *, column: str | None = None
) -> tuple[pa.Array, Callable[[str], str]]:
    """Normalise stripped phone texts (null: nothing to do).

    Returns the numbers (null where the text is not a valid phone number) and ``explain(text)``,
    whose reasons name ``column`` where one is given.
    """
    size = len(values)
    scientific = pc.fill_null(pc.match_substring_regex(values, _SCIENTIFIC), False)
    if pc.any(scientific).as_py():  # not phone numbers any longer: left null, explained below
        values = pc.if_else(scientific, pa.scalar(None, pa.string()), values)
    out = np.full(size, None, dtype=object)
    clean = pc.replace_substring_regex(values, _SEPARATORS, "")
    international = pc.fill_null(pc.match_substring_regex(clean, r"^\+\d{4,17}$"), False)
    if pc.any(international).as_py():
        digits = pc.utf8_slice_codeunits(clean, 1)
        for width in (1, 2, 3):  # calling codes are prefix-free: at most one width fits
            head = pc.utf8_slice_codeunits(digits, 0, width)
            hit = pc.and_(international, pc.is_in(head, _CODES))
            if not pc.any(hit).as_py():
                continue
            for code in pc.unique(pc.filter(head, hit)).to_pylist():
                index = np.flatnonzero(
                    pc.and_(hit, pc.equal(head, code)).to_numpy(zero_copy_only=False)
                )
                national = pc.utf8_slice_codeunits(pc.take(digits, index), width)
                regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ())
                valid = _valid_for(national, tuple(regions))
                out[index[valid]] = [
                    f"+{code}-{n}" for n in national.filter(pa.array(valid)).to_pylist()
                ]

    if country is not None:
        local = pc.fill_null(pc.match_substring_regex(clean, r"^\d{3,17}$"), False)
        undecided = out == None  # noqa: E711 - elementwise, not identity
        index = np.flatnonzero(local.to_numpy(zero_copy_only=False) & undecided)
        if len(index):
            national = pc.take(clean, index)
            valid = _valid_for(national, (country,))
            code = phonenumbers.country_code_for_region(country)
            numbers = national.filter(pa.array(valid)).to_pylist()
            out[index[valid]] = [f"+{code}-{n}" for n in numbers]

    given = values.is_valid().to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(given & (out == None))  # noqa: E711 - elementwise, not identity
    for position, text in zip(rest, pc.take(values, rest).to_pylist(), strict=True):
        out[position] = normalize_phone(text, country)[0]

    def explain(text: str) -> str:
        if (reason := scientific_reason(text, column)) is not None:
            return reason
        return normalize_phone(text, country)[1] or f"{text!r} is not a phone number"

    return pa.array(out, type=pa.string()), explain


@cache
def normalize_phone(text: str, country: str | None) -> tuple[str | None, str | None]:
    """One phone text through phonenumbers: ``(number, None)`` or ``(None, reason)``."""
    if (reason := scientific_reason(text, None)) is not None:
        return None, reason
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


def scientific_reason(text: str, column: str | None) -> str | None:
    """Why a phone text in scientific notation (``9.19876543210E+11``) cannot be sent, naming
    the digits lost where the text shows that some are; None for any other text."""
    if not re.fullmatch(_SCIENTIFIC, text):
        return None
    where = f" in column {column!r}" if column is not None else ""
    _, digits, exponent = Decimal(text.replace(",", ".")).as_tuple()
    shown = len("".join(map(str, digits)).lstrip("0"))
    if isinstance(exponent, int) and exponent > 0 and shown > 0:
        lost = f"which kept {shown} of its {shown + exponent} digits: the rest are lost"
    else:
        lost = "so digits may be lost (a leading 0 or +, and any beyond the fifteenth)"
    return (
        f"{text!r}{where} is in scientific notation: the column was stored as a number in "
        f"Excel, {lost}. To keep phone numbers as text, format the column as Text before typing "
        "or pasting them (or start each with an apostrophe), or export the sheet with the "
        "column as text"
    )


def _reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "not a number")
