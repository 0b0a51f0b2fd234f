"""Values: the tests that need the real command line
(the rest are in tests/unit/test_values.py)."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from importer.mapping.config import parse_mapping
from tests.conftest import run_cli
from tests.unit.test_values import (
    MAPPING,
    MAY_BE_LOST,
    OUT_OF_RANGE,
    init_mapping,
    read_csv,
    write_csv,
)


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
