"""Values as the spreadsheet meant them (issue 13): Excel serials outside Excel's dates, phones
that Excel turned into numbers, and day/month orders a file cannot settle by itself. Exact values
and exact messages, offline, through validate, through a run against the sandbox and through
init-mapping."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from importer.config import Rule, parse_mapping
from importer.connection import Connection
from importer.convert import CONVERTERS, swap_day_month
from importer.delivery import RetryPolicy
from importer.limiter import Rate
from importer.phone import normalize_phone, normalize_phones
from importer.pipeline import RunOptions, run_import
from importer.progress import SilentProgress
from importer.sandbox import SandboxConfig, serve
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


def test_validate_fails_the_rows_and_writes_why(tmp_path: Path):
    data = write_csv(
        tmp_path / "in.csv",
        ["Email", "Mobile", "Note", "When"],
        [
            ["a@example.com", "9876543210", "good", "46086.5"],
            ["b@example.com", "9876543210", "far", "3000000"],
            ["c@example.com", "9.19876543210E+11", "sci", "46086"],
        ],
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING % "excel", encoding="utf-8")
    done = run_cli("validate", data, "-m", mapping, "--out", tmp_path / "out", "--show", "1")
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    far = f"activity.datetime: '3000000' in column 'When' {OUT_OF_RANGE}"
    sci = f"lead.attributes.Mobile: '9.19876543210E+11' in column 'Mobile' {MAY_BE_LOST}"
    assert f"  row 3  InvalidValue  {far}\n" in done.stdout
    assert f"  row 4  InvalidValue  {sci}\n" in done.stdout
    assert '"ActivityDateTime": "2026-03-05 12:00:00"' in done.stdout
    assert "3 rows: 1 map, 2 fail" in done.stdout
    assert "<value out of range" not in done.stdout
    failures = read_csv(tmp_path / "out" / "failures.csv")
    assert [(f["_row"], f["_error_type"], f["_error"]) for f in failures] == [
        ("3", "InvalidValue", far),
        ("4", "InvalidValue", sci),
    ]


def test_validate_fails_an_out_of_range_serial_read_from_a_workbook(tmp_path: Path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email", "Mobile", "Note", "When"])
    sheet.append(["a@example.com", "9876543210", "good", 46086.5])
    sheet.append(["b@example.com", 9876543210, "far", 3000000])  # numbers, General format
    book.save(tmp_path / "in.xlsx")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING % "excel", encoding="utf-8")
    done = run_cli("validate", tmp_path / "in.xlsx", "-m", mapping)
    assert done.returncode == 1, done.stderr
    assert (
        f"  row 3  InvalidValue  activity.datetime: '3000000' in column 'When' {OUT_OF_RANGE}\n"
        in done.stdout
    )
    assert "2 rows: 1 map, 1 fail" in done.stdout


def test_a_date_cell_excel_shows_as_hashes_fails_as_out_of_range_not_as_no_iso_date(
    tmp_path: Path,
):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Email", "Mobile", "Note", "When"])
    sheet.append(["a@example.com", "9876543210", "good", 46086.5])
    sheet.append(["b@example.com", "9876543210", "far", 3000000])  # Excel shows ########
    sheet.append(["c@example.com", "9876543210", "general", 46086])
    for row in (2, 3):
        sheet.cell(row=row, column=4).number_format = "dd/mm/yyyy hh:mm"
    book.save(tmp_path / "in.xlsx")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING % "iso", encoding="utf-8")
    done = run_cli("validate", tmp_path / "in.xlsx", "-m", mapping)
    assert done.returncode == 1, done.stderr
    assert (
        f"  row 3  InvalidValue  activity.datetime: '3000000' in column 'When' {OUT_OF_RANGE}\n"
        in done.stdout
    )
    assert (
        "  row 4  InvalidValue  activity.datetime: '46086' in column 'When' is a number, not an "
        "ISO date-time: if the column holds Excel serial dates (days since 1900), set format: "
        "excel on the rule\n" in done.stdout
    )
    assert "3 rows: 1 map, 2 fail" in done.stdout


def test_validate_hints_at_month_first_when_most_failing_rows_read_that_way(tmp_path: Path):
    rows = [
        ["a@example.com", "", "", "01/02/2026 10:00"],  # maps either way
        ["b@example.com", "", "", "12/25/2026 10:00"],
        ["c@example.com", "", "", "03/15/2026 09:30"],
        ["d@example.com", "", "", "soon"],
    ]
    data = write_csv(tmp_path / "in.csv", ["Email", "Mobile", "Note", "When"], rows)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING % "%d/%m/%Y %H:%M", encoding="utf-8")
    done = run_cli("validate", data, "-m", mapping)
    assert done.returncode == 1, done.stderr
    hints = [line for line in done.stdout.splitlines() if line.startswith("hint:")]
    assert hints == [
        "hint: activity.datetime: 2 of the 3 rows that fail format '%d/%m/%Y %H:%M' read as "
        "month-first '%m/%d/%Y %H:%M': if column 'When' writes the month first, set format: "
        "'%m/%d/%Y %H:%M' on the rule"
    ]
    # and the reverse: day-first dates under a month-first format
    mapping.write_text(MAPPING % "%m/%d/%Y %H:%M", encoding="utf-8")
    rows = [["a@example.com", "", "", "25/12/2026 10:00"]]
    data = write_csv(tmp_path / "in.csv", ["Email", "Mobile", "Note", "When"], rows)
    done = run_cli("validate", data, "-m", mapping)
    assert (
        "hint: activity.datetime: 1 of the 1 row that fails format '%m/%d/%Y %H:%M' read as "
        "day-first '%d/%m/%Y %H:%M': if column 'When' writes the day first, set format: "
        "'%d/%m/%Y %H:%M' on the rule\n"
    ) in done.stdout


def test_no_hint_when_the_failing_rows_do_not_read_the_other_way_either(tmp_path: Path):
    rows = [
        ["a@example.com", "", "", "12/25/2026 10:00"],
        ["b@example.com", "", "", "2026.03.05"],
        ["c@example.com", "", "", "31/31/2026 10:00"],
    ]
    data = write_csv(tmp_path / "in.csv", ["Email", "Mobile", "Note", "When"], rows)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING % "%d/%m/%Y %H:%M", encoding="utf-8")
    done = run_cli("validate", data, "-m", mapping)
    assert done.returncode == 1, done.stderr
    assert "0 map, 3 fail" in done.stdout
    assert "hint:" not in done.stdout


# --- the run: such rows fail as a reason and never reach the sandbox ----------------------------


async def test_a_run_fails_these_rows_in_failures_csv_and_sends_the_rest(tmp_path: Path):
    data = write_csv(
        tmp_path / "in.csv",
        ["Email", "Mobile", "Note", "When"],
        [
            ["a@example.com", "9876543210", "good", "46086.5"],
            ["b@example.com", "9876543210", "far", "3000000"],
            ["c@example.com", "9.19876543210E+11", "sci", "46086"],
            ["d@example.com", "+91 98765 43211", "also good", "1"],
        ],
    )
    # activity 201 needs its project, a dropdown of the sandbox's
    text = MAPPING % "excel" + "  fields:\n    mx_Custom_1: {value: Skyline Towers}\n"
    mapping_path = tmp_path / "m.yaml"
    mapping_path.write_text(text, encoding="utf-8")
    config = SandboxConfig(seed=11, rate_limit=1000, rate_window=1.0)
    async with serve(config) as running:
        summary = await run_import(
            data,
            parse_mapping(text),
            mapping_path,
            tmp_path / "out",
            Connection(running.url, running.access_key, running.secret_key),
            RunOptions(
                rate=Rate(1000, 1.0),
                timeout=5.0,
                policy=RetryPolicy(transient_retries=2, backoff_base=0.02, backoff_cap=0.2),
                margin=0.02,
                check_account=False,
            ),
            SilentProgress(),
        )
        state = running.state.snapshot()
    assert summary.exit_code == 1
    assert (summary.succeeded, summary.failed) == (2, 2)
    sent = {a["ActivityNote"]: a["ActivityDateTime"] for a in state["activities"]}
    assert sent == {"good": "2026-03-05 12:00:00", "also good": "1900-01-01 00:00:00"}
    mobiles = sorted(lead.get("Mobile") for lead in state["leads"])
    assert mobiles == ["+91-9876543210", "+91-9876543211"]
    failures = read_csv(tmp_path / "out" / "failures.csv")
    assert [(f["_row"], f["_error_type"], f["_error"], f["Mobile"]) for f in failures] == [
        (
            "3",
            "InvalidValue",
            f"activity.datetime: '3000000' in column 'When' {OUT_OF_RANGE}",
            "9876543210",
        ),
        (
            "4",
            "InvalidValue",
            f"lead.attributes.Mobile: '9.19876543210E+11' in column 'Mobile' {MAY_BE_LOST}",
            "9.19876543210E+11",
        ),
    ]


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


def test_init_mapping_says_when_a_date_column_reads_both_ways(tmp_path: Path):
    text, stderr = init_mapping(tmp_path, ["03/04/2024", "12/01/2024", "05/06/2024"])
    assert (
        '  datetime: {column: "Visit Date", type: datetime, format: "%d/%m/%Y"}  # every value '
        'also reads month-first, "%m/%d/%Y": check which the sheet means\n'
    ) in text
    assert (
        "note: column 'Visit Date': every value reads both as '%d/%m/%Y' and as '%m/%d/%Y' (no "
        "day is above 12); the mapping says '%d/%m/%Y': check which the sheet means, and change "
        "its format: if need be\n"
    ) in stderr
    parse_mapping(text)  # the comment leaves the YAML valid


def test_init_mapping_is_quiet_when_one_value_settles_the_order(tmp_path: Path):
    text, stderr = init_mapping(tmp_path, ["03/04/2024", "12/01/2024", "05/06/2024", "04/25/2024"])
    assert '  datetime: {column: "Visit Date", type: datetime, format: "%m/%d/%Y"}\n' in text
    assert "note: column" not in stderr
    text, stderr = init_mapping(tmp_path, ["03/04/2024", "25/01/2024", "05/06/2024"])
    assert '  datetime: {column: "Visit Date", type: datetime, format: "%d/%m/%Y"}\n' in text
    assert "note: column" not in stderr
