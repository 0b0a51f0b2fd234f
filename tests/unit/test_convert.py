"""Each value type, converted a column at a time: exact outputs and exact reasons."""

from __future__ import annotations

import pyarrow as pa
import pytest

from importer.mapping.config import Rule
from importer.mapping.convert import CONVERTERS


def convert(kind: str, values: list[str], **options: str) -> list[str | None]:
    """Convert and return, per value, the output or 'ERROR: reason'."""
    zone = options.pop("zone", "UTC")
    rule = Rule(column="x", type=kind, **options)
    conversion = CONVERTERS[kind](pa.array(values, pa.string()), rule, zone, None)
    return [
        out if out is not None else f"ERROR: {conversion.explain(value)}"
        for value, out in zip(values, conversion.values.to_pylist(), strict=True)
    ]


def test_text_is_kept_verbatim():
    assert convert("text", ["00123", "NA", "+91-0712", " spaced "]) == [
        "00123",
        "NA",
        "+91-0712",
        " spaced ",
    ]


def test_numbers():
    assert convert(
        "number",
        [
            "1234",
            "1,234.50",
            "12,34,567.5",
            "1 234",
            "-0.5",
            ".5",
            "+3",
            "00123",
            "12,5",
            "12,5k",
            "1,23",
            "1e5",
            "--1",
        ],
    ) == [
        "1234",
        "1234.50",
        "1234567.5",
        "1234",
        "-0.5",
        "0.5",
        "3",
        "00123",
        "ERROR: '12,5' is not a number (for a decimal comma, set decimal: ',' on the rule)",
        "ERROR: '12,5k' is not a number",
        "ERROR: '1,23' is not a number (for a decimal comma, set decimal: ',' on the rule)",
        "ERROR: '1e5' is not a number",
        "ERROR: '--1' is not a number",
    ]


def test_numbers_with_a_decimal_comma():
    assert convert("number", ["1.234,50", "12,5", "-,5", "1.23"], decimal=",") == [
        "1234.50",
        "12.5",
        "-0.5",
        "ERROR: '1.23' is not a number",
    ]


def test_integers():
    assert convert("integer", ["12", "12.0", "1,000", "+7", "12.5", "seven"]) == [
        "12",
        "12",
        "1000",
        "7",
        "ERROR: '12.5' is not a whole number",
        "ERROR: 'seven' is not a whole number",
    ]


def test_booleans():
    assert convert("boolean", ["Yes", "no", "TRUE", "0", "1", "y", "maybe"]) == [
        "true",
        "false",
        "true",
        "false",
        "true",
        "true",
        "ERROR: 'maybe' is not true or false (use true/false, yes/no or 1/0)",
    ]


def test_emails():
    assert convert(
        "email",
        [
            "a.b+tag@example.co.in",
            "O'Brien@Example.COM",
            "no-at.example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
        ],
    ) == [
        "a.b+tag@example.co.in",
        "O'Brien@Example.COM",
        "ERROR: 'no-at.example.com' is not an email address",
        "ERROR: 'a@b' is not an email address",
        "ERROR: 'a@@b.com' is not an email address",
        "ERROR: 'a b@c.com' is not an email address",
    ]


def test_datetimes_with_a_format_become_utc():
    assert convert(
        "datetime",
        ["05/03/2026 14:30", "5/3/2026 09:05", "31/02/2026 10:00", "2026-03-05 14:30:00"],
        format="%d/%m/%Y %H:%M",
        zone="Asia/Kolkata",
    ) == [
        "2026-03-05 09:00:00",
        "2026-03-05 03:35:00",
        "ERROR: '31/02/2026 10:00' does not match the format '%d/%m/%Y %H:%M'",
        # an Excel date cell, as the reader writes it, whatever the format says
        "2026-03-05 09:00:00",
    ]


def test_datetime_rule_timezone_beats_the_source_zone():
    assert convert(
        "datetime", ["2026-07-01 12:00"], timezone="Europe/London", zone="Asia/Kolkata"
    ) == ["2026-07-01 11:00:00"]


def test_daylight_saving_edges_in_london():
    values = [
        "2026-03-29 00:59",  # GMT, the last minute before the change
        "2026-03-29 01:30",  # never happens: clocks go from 01:00 to 02:00
        "2026-03-29 02:00",  # BST
        "2026-10-25 00:30",  # BST
        "2026-10-25 01:30",  # happens twice; taken at its first (BST) occurrence
        "2026-10-25 02:00",  # GMT again
    ]
    assert convert("datetime", values, timezone="Europe/London") == [
        "2026-03-29 00:59:00",
        "ERROR: '2026-03-29 01:30' does not exist in Europe/London: the clocks went forward "
        "over that hour",
        "2026-03-29 01:00:00",
        "2026-10-24 23:30:00",
        "2026-10-25 00:30:00",
        "2026-10-25 02:00:00",
    ]


def test_daylight_saving_gap_with_a_format():
    assert convert(
        "datetime",
        ["08/03/2026 02:30", "08/03/2026 03:30"],
        format="%d/%m/%Y %H:%M",
        timezone="America/New_York",
    ) == [
        "ERROR: '08/03/2026 02:30' does not exist in America/New_York: the clocks went "
        "forward over that hour",
        "2026-03-08 07:30:00",
    ]


def test_iso_datetimes_with_offsets_keep_them():
    assert convert(
        "datetime",
        [
            "2026-03-05T10:00:00+05:30",
            "2026-03-05 10:00Z",
            "2026-03-05 10:00",
            "2026-03-05",
            "05/03/2026",
        ],
        zone="Asia/Kolkata",
    ) == [
        "2026-03-05 04:30:00",
        "2026-03-05 10:00:00",
        "2026-03-05 04:30:00",
        "2026-03-04 18:30:00",
        "ERROR: '05/03/2026' is not an ISO date-time (YYYY-MM-DD HH:MM:SS); if the file writes "
        "dates another way, set format: on the rule, e.g. '%d/%m/%Y %H:%M'",
    ]


def test_format_with_an_offset_directive():
    assert convert(
        "datetime", ["05/03/2026 10:00 +0530"], format="%d/%m/%Y %H:%M %z", zone="Europe/London"
    ) == ["2026-03-05 04:30:00"]


def test_excel_serial_dates():
    # 46086 is 2026-03-05 in Excel's 1900 date system; .5 is noon
    assert convert(
        "datetime",
        ["46086", "46086.5", "46086.000011574", "March"],
        format="excel",
        zone="Asia/Kolkata",
    ) == [
        "2026-03-04 18:30:00",
        "2026-03-05 06:30:00",
        "2026-03-04 18:30:01",
        "ERROR: 'March' is not an Excel serial date (a number of days such as 45357.5)",
    ]


def test_dates():
    assert convert(
        "date", ["2026-03-05", "2026-03-05 00:00:00", "2026-03-05 10:00", "5.3.2026"]
    ) == [
        "2026-03-05",
        "2026-03-05",
        "ERROR: '2026-03-05 10:00' has a time of day; use type: datetime",
        "ERROR: '5.3.2026' is not an ISO date (YYYY-MM-DD HH:MM:SS); if the file writes dates "
        "another way, set format: on the rule, e.g. '%d/%m/%Y %H:%M'",
    ]
    assert convert("date", ["05/03/2026", "2026-03-05"], format="%d/%m/%Y") == [
        "2026-03-05",
        "2026-03-05",
    ]


@pytest.mark.parametrize("kind", sorted(CONVERTERS))
def test_every_converter_passes_nulls_through(kind: str):
    rule = Rule(column="x", type=kind)
    values = pa.array([None, "x", None], pa.string())
    out = CONVERTERS[kind](values, rule, "Asia/Kolkata", "IN").values.to_pylist()
    assert out[::2] == [None, None]


def test_doubtful_days_go_to_the_strict_parser():
    # Arrow's strptime would read 31/02 as 03/03 and '26' as year 26; the result must not
    values = ["31/02/2026 10:00", "29/02/2028 10:00", "01/03/2026 10:00", "05/03/26 10:00"]
    assert convert("datetime", values, format="%d/%m/%Y %H:%M") == [
        "ERROR: '31/02/2026 10:00' does not match the format '%d/%m/%Y %H:%M'",
        "2028-02-29 10:00:00",
        "2026-03-01 10:00:00",
        "ERROR: '05/03/26 10:00' does not match the format '%d/%m/%Y %H:%M'",
    ]


def test_every_value_type_a_rule_may_name_has_its_converter():
    """A value type is its converter in ``CONVERTERS`` and its name in ``config.ValueType``:
    the two stay the same set, or a rule passes the config and fails on its first row."""
    from importer.mapping.config import VALUE_TYPES
    from importer.mapping.convert import CONVERTERS

    assert set(VALUE_TYPES) == set(CONVERTERS)
