"""Values as the spreadsheet meant them (issue 13): Excel serials outside Excel's dates, phones
that Excel turned into numbers, and day/month orders a file cannot settle by itself. Exact values
and exact messages, offline, through validate, through a run against the sandbox and through
init-mapping."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow as pa
import pytest

from importer.mapping.config import Rule
from importer.mapping.convert import CONVERTERS, swap_day_month
from importer.mapping.phone import normalize_phone, normalize_phones
from tests.conftest import run_cli

OUT_OF_RANGE = (
    "is out of range for an Excel serial date (1 to 2958465, that is 1900-01-01 to 9999-12-31): "
    "correct the cell, or map a column that holds dates"
)
KEEP_AS_TEXT = (
    "To keep phone numbers as text, format the column as Text before typing or pasting them (or "
    "start each with an apostrophe), or export the sheet with the column as text"
)
MAY_BE_LOST = (
    "is in scientific notation: the column was stored as a number in Excel, so digits may be "
    f"lost (a leading 0 or +, and any beyond the fifteenth). {KEEP_AS_TEXT}"
)


def convert(kind: str, values: list[str], zone: str = "UTC", **options: str) -> list[str]:
    """Convert and return, per value, the output or 'ERROR: reason'."""
    rule = Rule(type=kind, **{"column": "Visit Date", **options})
    conversion = CONVERTERS[kind](pa.array(values, pa.string()), rule, zone, "IN")
    return [
        out if out is not None else f"ERROR: {conversion.explain(value)}"
        for value, out in zip(values, conversion.values.to_pylist(), strict=True)
    ]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- Excel serial dates ------------------------------------------------------------------------


def test_serials_outside_excels_dates_fail_naming_the_value_and_the_column():
    values = ["3000000", "99999999999", "2958466", "0", "0.5", "1" * 400]
    expected = [f"ERROR: {v!r} in column 'Visit Date' {OUT_OF_RANGE}" for v in values]
    assert convert("date", values, format="excel") == expected
    assert convert("datetime", values, format="excel", zone="Asia/Kolkata") == expected


def test_serials_at_the_ends_of_excels_calendar_and_around_its_leap_day():
    # Excel counts a 29 February 1900 (serial 60): the serials below it start a day later
    assert convert("date", ["1", "59", "61", "46086", "2958465"], format="excel") == [
        "1900-01-01",
        "1900-02-28",
        "1900-03-01",
        "2026-03-05",
        "9999-12-31",
    ]
    assert convert("date", ["60", "60.25"], format="excel") == [
        f"ERROR: {v!r} in column 'Visit Date' is 29 February 1900 as an Excel serial date, a day "
        "Excel counts but that never was: correct the cell"
        for v in ("60", "60.25")
    ]
    assert convert("datetime", ["2958465.5", "1.75"], format="excel") == [
        "9999-12-31 12:00:00",
        "1900-01-01 18:00:00",
    ]


def test_a_local_time_that_leaves_years_1_to_9999_in_utc_fails_instead_of_a_placeholder():
    # Arrow writes such a time as '10000-01-01 ...' or '<value out of range: ...>'
    assert convert(
        "datetime",
        ["9999-12-31 23:30:00", "9999-12-31 10:00:00"],
        zone="America/New_York",
        format="%Y-%m-%d %H:%M:%S",
    ) == [
        "ERROR: '9999-12-31 23:30:00' in column 'Visit Date' is out of range: in UTC it falls "
        "outside the years 1 to 9999; correct the cell",
        "9999-12-31 15:00:00",
    ]
    assert convert("datetime", ["2958465.99"], zone="America/New_York", format="excel") == [
        "ERROR: '2958465.99' in column 'Visit Date' is out of range: in UTC it falls outside "
        "the years 1 to 9999; correct the cell"
    ]
    assert convert("datetime", ["0001-01-01 00:10:00"], zone="Asia/Kolkata") == [
        "ERROR: '0001-01-01 00:10:00' in column 'Visit Date' is out of range: in UTC it falls "
        "outside the years 1 to 9999; correct the cell"
    ]


# --- phones in scientific notation -------------------------------------------------------------


def test_a_phone_in_scientific_notation_fails_saying_how_to_keep_it_as_text():
    assert convert(
        "phone", ["9.19876543210E+11", "9.19877E+11", "9,19876543210E+11", "9876543210"]
    ) == [
        f"ERROR: '9.19876543210E+11' in column 'Visit Date' {MAY_BE_LOST}",
        "ERROR: '9.19877E+11' in column 'Visit Date' is in scientific notation: the column was "
        "stored as a number in Excel, which kept 6 of its 12 digits: the rest are lost. "
        f"{KEEP_AS_TEXT}",
        f"ERROR: '9,19876543210E+11' in column 'Visit Date' {MAY_BE_LOST}",
        "+91-9876543210",
    ]


def test_scientific_notation_is_never_read_as_a_keypad_number():
    # phonenumbers alone reads the 'e' as the keypad's 3: '+91-9876543219', a wrong number
    normalize_phone.cache_clear()
    assert normalize_phone("9.87654321e9", "IN") == (
        None,
        "'9.87654321e9' is in scientific notation: the column was stored as a number in Excel, "
        f"which kept 9 of its 10 digits: the rest are lost. {KEEP_AS_TEXT}",
    )
    texts = ["9.87654321e9", "+9.1E+11", "919876543210E+00"]
    numbers, explain = normalize_phones(pa.array(texts), "IN")
    assert numbers.to_pylist() == [None, None, None]
    assert explain("+9.1E+11") == (
        "'+9.1E+11' is in scientific notation: the column was stored as a number in Excel, which "
        f"kept 2 of its 12 digits: the rest are lost. {KEEP_AS_TEXT}"
    )
    assert explain("919876543210E+00") == f"'919876543210E+00' {MAY_BE_LOST}"


# --- day first or month first ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "other"),
    [
        ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"),
        ("%m/%d/%y", "%d/%m/%y"),
        ("%d-%m-%Y", "%m-%d-%Y"),
        ("%d.%m.%Y", "%m.%d.%Y"),
        ("%Y/%m/%d", None),
        ("%d %b %Y", None),
        ("excel", None),
        (None, None),
    ],
)
def test_the_other_order_of_day_and_month(fmt: str | None, other: str | None):
    assert swap_day_month(fmt) == other


MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    Mobile: {column: Mobile, type: phone, country: IN}
activity:
  event: 201
  note: Note
  datetime: {column: When, format: "%s"}
"""


# --- the run: such rows fail as a reason and never reach the sandbox ----------------------------


# --- init-mapping: a date column that reads both ways -----------------------------------------


def init_mapping(tmp_path: Path, dates: list[str]) -> tuple[str, str]:
    """init-mapping without keys on a file of emails and dates: (the mapping, stderr)."""
    data = write_csv(
        tmp_path / "in.csv",
        ["Email", "Visit Date"],
        [[f"u{i}@example.com", d] for i, d in enumerate(dates)],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    out = tmp_path / "m.yaml"
    made = run_cli(
        "init-mapping", data, "--activity", "201", "-o", out, "--force", env=env, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    return out.read_text(encoding="utf-8"), made.stderr
