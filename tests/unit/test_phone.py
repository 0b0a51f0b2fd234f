"""Phone numbers: LeadSquared's +<code>-<number>, and the bulk path agreeing with phonenumbers."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from importer.mapping.phone import normalize_phone, normalize_phones


def phones(values: list[str], country: str | None) -> list[str]:
    numbers, explain = normalize_phones(pa.array(values, pa.string()), country)
    return [
        n if n is not None else f"ERROR: {explain(v)}"
        for v, n in zip(values, numbers.to_pylist(), strict=True)
    ]


def test_indian_numbers_in_the_shapes_sheets_hold_them():
    assert phones(
        [
            "9876543210",
            "+91 98765 43210",
            "+91-9876543210",
            "098765 43210",
            "(0712) 2234567",
            "0091 98765 43210",
            "919876543210",
            "+44 20 7946 0958",
        ],
        "IN",
    ) == [
        "+91-9876543210",
        "+91-9876543210",
        "+91-9876543210",
        "+91-9876543210",
        "+91-7122234567",
        "+91-9876543210",
        "+91-9876543210",
        "+44-2079460958",
    ]


def test_what_is_not_a_phone_number_is_rejected_with_a_reason():
    assert phones(["98765", "abc", "N/A", "+999 1234567", "98765 43210 ext 5"], "IN") == [
        "ERROR: '98765' is not a valid phone number for IN",
        "ERROR: 'abc' is not a phone number (not a number)",
        "ERROR: 'N/A' is not a phone number (not a number)",
        "ERROR: '+999 1234567' is not a phone number (unknown country code)",
        "ERROR: '98765 43210 ext 5' has an extension; LeadSquared phone fields take the number "
        "only",
    ]


def test_without_a_country_only_international_numbers_pass():
    assert phones(["+1 (415) 555-2671", "4155552671"], None) == [
        "+1-4155552671",
        "ERROR: '4155552671' has no country code (+..) and no default country is set; set "
        "country: on the rule or source.country in the mapping",
    ]


def test_italian_numbers_keep_their_leading_zero():
    assert phones(["+39 06 6982 0000"], "IN") == ["+39-0669820000"]


def _random_numbers(rng: random.Random, count: int) -> list[str]:
    shapes = [
        lambda: f"9{rng.randrange(10**9):09d}",
        lambda: f"+91 {rng.randrange(10**10):010d}",
        lambda: (
            f"+{rng.choice([1, 44, 33, 49, 39, 61, 971, 7, 86, 55, 234, 65])}"
            f"{rng.randrange(10 ** rng.randint(6, 11))}"
        ),
        lambda: f"0{rng.randrange(10**10):010d}",
        lambda: f"{rng.randrange(10 ** rng.randint(3, 13))}",
        lambda: (
            f"+1 ({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(10**4):04d}"
        ),
        lambda: f"00{rng.randrange(10**12)}",
        lambda: rng.choice(["abc", "+91-0712-2234567", "020 7946 0958", "1-800-FLOWERS"]),
    ]
    return [rng.choice(shapes)() for _ in range(count)]


@pytest.mark.parametrize("country", ["IN", "US", "GB", "DE", None])
def test_bulk_path_gives_the_same_answers_as_phonenumbers(country: str | None):
    values = _random_numbers(random.Random(country or "none"), 3000)
    normalize_phone.cache_clear()  # so that the bulk path, not a cached answer, is tested
    numbers, _ = normalize_phones(pa.array(values, pa.string()), country)
    for value, number in zip(values, numbers.to_pylist(), strict=True):
        assert number == normalize_phone(value, country)[0], value
