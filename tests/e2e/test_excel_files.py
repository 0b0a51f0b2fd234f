"""Excel files: the tests that need the real command line
(the rest are in tests/unit/test_excel_files.py)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from importer.readers.registry import open_source
from tests.conftest import MINIMAL_MAPPING, run_cli
from tests.unit.test_excel_files import (
    titled_book,
)


def test_validate_reports_error_cells_and_sends_shown_digits(tmp_path: Path):
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    hidden.title = "Old"
    hidden.sheet_state = "hidden"
    hidden.append(["Email", "Name"])
    sheet = workbook.create_sheet("Leads")
    sheet.append(["Email", "Name", "Code"])
    sheet.append(["a@example.com", "Ann", 604])
    sheet.append(["b@example.com", "#N/A", 5])
    sheet["C2"].number_format = "000000"
    sheet["B3"].data_type = "e"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    mapping = MINIMAL_MAPPING.replace("FirstName: Name", "FirstName: Name\n    mx_Code: Code")
    (tmp_path / "m.yaml").write_text(mapping)
    result = run_cli("validate", path, "-m", tmp_path / "m.yaml", "--show", "1")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Read {path} (Excel, sheet 'Leads' (the first visible one; hidden: 'Old'))"
    )
    payload = json.loads(result.stdout.split("# row 2\n", 1)[1].split("\nFirst", 1)[0])
    assert payload["LeadDetails"][2] == {"Attribute": "mx_Code", "Value": "000604"}
    assert (
        "cell B3 (column 'Name') shows the error #N/A: correct its formula or clear it in the "
        "workbook" in result.stdout
    )
    (tmp_path / "raw.yaml").write_text("source:\n  excel_values: raw\n" + mapping)
    result = run_cli("validate", path, "-m", tmp_path / "raw.yaml", "--show", "1")
    payload = json.loads(result.stdout.split("# row 2\n", 1)[1].split("\nFirst", 1)[0])
    assert payload["LeadDetails"][2] == {"Attribute": "mx_Code", "Value": "604"}


def test_title_rows_above_a_workbooks_header_hint_at_header_row(tmp_path: Path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MINIMAL_MAPPING, encoding="utf-8")
    done = run_cli("validate", titled_book(tmp_path / "in.xlsx"), "-m", mapping)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[1:] == [
        "  lead.attributes.EmailAddress: column 'Email' is mapped but not in the file; columns "
        "are: 'Site visits export'",
        "  lead.attributes.FirstName: column 'Name' is mapped but not in the file; columns are: "
        "'Site visits export'",
        "  source.header_row: the mapped columns are in row 3 of the file, below the header row "
        "read: set source.header_row: 3 in the mapping (rows above it are then skipped as "
        "titles)",
    ]


def test_column_names_match_whatever_unicode_form_each_side_was_typed_in(tmp_path: Path):
    decomposed, composed = "Cafe\u0301", "Caf\u00e9"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Email", f" {decomposed} "])
    workbook.active.append(["ann@example.com", "Latte"])
    workbook.save(tmp_path / "in.xlsx")
    assert open_source(tmp_path / "in.xlsx").header == ["Email", composed]
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        MINIMAL_MAPPING.replace("FirstName: Name", f"FirstName: {composed}")
        + f"  note: {{template: 'Order: {{{decomposed}}}'}}\n",
        encoding="utf-8",
    )
    done = run_cli("validate", tmp_path / "in.xlsx", "-m", mapping)
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.endswith("1 row: 1 map, 0 fail\n"), done.stdout
