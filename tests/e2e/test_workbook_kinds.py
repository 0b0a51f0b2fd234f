"""Every kind of workbook, end to end: the same sheet written as .xlsx (openpyxl), .xls (xlwt),
.xlsb (``xlsb_writer``) and .ods (odfpy), each with a hidden old copy first, a zero-padded code,
a percentage, a merged city and an error cell, run through the command line into the sandbox.
What the sandbox stores is what the sheet shows, whatever the kind."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import run_cli
from tests.unit.test_account import env_for

MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    mx_Customer_ID: Code
    mx_Display_Name: Share
    mx_City: City
activity:
  event: 201
  fields:
    mx_Custom_1: Project
"""
HEADER = ["Email", "Code", "Share", "City", "Project"]
#: Rows 2-4: (email, code shown 000000, share shown 0.0%, city). Row 2's city is merged down
#: over row 3; row 4's code is #N/A.
ROWS = [
    ("a@x.com", 604, 0.125, "Pune"),
    ("b@x.com", 12, 0.5, None),
    ("c@x.com", None, 0.25, "Delhi"),
]
PROJECT = "Skyline Towers"


def write_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    old = book.active
    old.title, old.sheet_state = "Old", "hidden"
    old.append(["Email"])
    old.append(["stale@x.com"])
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    for email, code, share, city in ROWS:
        sheet.append([email, code if code is not None else "#N/A", share, city, PROJECT])
    for row in (2, 3, 4):
        sheet.cell(row, 2).number_format = "000000"
        sheet.cell(row, 3).number_format = "0.0%"
    sheet["B4"].data_type = "e"
    sheet.merge_cells("D2:D3")
    book.save(path)
    return path


def write_xls(path: Path) -> Path:
    import xlwt

    book = xlwt.Workbook()
    old = book.add_sheet("Old")
    old.write(0, 0, "Email")
    old.write(1, 0, "stale@x.com")
    old.visibility = 1  # hidden
    sheet = book.add_sheet("Leads")
    book.active_sheet = 1
    code, share = xlwt.easyxf(num_format_str="000000"), xlwt.easyxf(num_format_str="0.0%")
    for column, name in enumerate(HEADER):
        sheet.write(0, column, name)
    for row, (email, number, part, city) in enumerate(ROWS, start=1):
        sheet.write(row, 0, email)
        if number is not None:
            sheet.write(row, 1, number, code)
        sheet.write(row, 2, part, share)
        if city is not None and row != 1:
            sheet.write(row, 3, city)
        sheet.write(row, 4, PROJECT)
    sheet.write_merge(1, 2, 3, 3, "Pune")
    sheet.row(3).set_cell_error(1, 0x2A)  # #N/A (xlwt's own table has its code wrong)
    book.save(str(path))
    return path


def write_xlsb(path: Path) -> Path:
    from tests.xlsb_writer import Sheet
    from tests.xlsb_writer import write_xlsb as write

    rows: list[list[object]] = [list(HEADER)]
    for email, code, share, city in ROWS:
        rows.append([email, code, share, city, PROJECT])
    sheet = Sheet(
        "Leads",
        rows,  # type: ignore[arg-type]
        formats={(r, 1): "000000" for r in (1, 2)} | {(r, 2): "0.0%" for r in (1, 2, 3)},
        errors={(3, 1): "#N/A"},
        merges=[(1, 3, 2, 3)],
    )
    return write(path, [Sheet("Old", [["Email"], ["stale@x.com"]], hidden=True), sheet])


def write_ods(path: Path) -> Path:
    from odf.number import Number, NumberStyle, PercentageStyle, Text
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableProperties
    from odf.table import CoveredTableCell, Table, TableCell, TableRow
    from odf.text import P

    from tests.unit.test_ods_extras import CALCEXT

    doc = OpenDocumentSpreadsheet()
    hidden = Style(name="hidden", family="table")
    hidden.addElement(TableProperties(display=False))
    doc.automaticstyles.addElement(hidden)
    padded = NumberStyle(name="N1")
    padded.addElement(Number(minintegerdigits=6, decimalplaces=0))
    percent = PercentageStyle(name="N2")
    percent.addElement(Number(minintegerdigits=1, decimalplaces=1))
    percent.addElement(Text(text="%"))
    for style in (padded, percent):
        doc.automaticstyles.addElement(style)
    for name, data in (("code", "N1"), ("share", "N2")):
        doc.automaticstyles.addElement(Style(name=name, family="table-cell", datastylename=data))

    def cell(value: object, style: str | None = None, **attrs: object) -> TableCell:
        if style:
            attrs["stylename"] = style
        if isinstance(value, str):
            made = TableCell(valuetype="string", **attrs)
        else:
            kind = "percentage" if style == "share" else "float"
            made = TableCell(valuetype=kind, value=str(value), **attrs)
        made.addElement(P(text=str(value)))
        return made

    old = Table(name="Old", stylename="hidden")
    for text in ("Email", "stale@x.com"):
        row = TableRow()
        row.addElement(cell(text))
        old.addElement(row)
    table = Table(name="Leads")
    header = TableRow()
    for name in HEADER:
        header.addElement(cell(name))
    table.addElement(header)
    for index, (email, code, share, city) in enumerate(ROWS):
        row = TableRow()
        row.addElement(cell(email))
        if code is None:
            error = TableCell(formula="of:=NA()", valuetype="float", value="0")
            error.setAttrNS(CALCEXT, "value-type", "error")
            error.addElement(P(text="#N/A"))
            row.addElement(error)
        else:
            row.addElement(cell(code, "code"))
        row.addElement(cell(share, "share"))
        if index == 0:
            row.addElement(cell(city, numberrowsspanned=2))
        elif city is None:
            row.addElement(CoveredTableCell())
        else:
            row.addElement(cell(city))
        row.addElement(cell(PROJECT))
        table.addElement(row)
    doc.spreadsheet.addElement(old)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "xlsx": write_xlsx,
    "xls": write_xls,
    "xlsb": write_xlsb,
    "ods": write_ods,
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_kind_sends_what_the_sheet_shows(kind: str, tmp_path: Path):
    path = WRITERS[kind](tmp_path / f"leads.{kind}")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    checked = run_cli("validate", path, "-m", mapping)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines()[0].endswith(
        ", sheet 'Leads' (the first visible one; hidden: 'Old'))"
    )
    assert checked.stdout.splitlines()[-1] == "3 rows: 2 map, 1 fail"
    out = tmp_path / "out"
    with serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0)) as box:
        result = run_cli(
            *("run", path, "-m", mapping, "--out", out, "--rate", "1000/1s"), env=env_for(box)
        )
        stored = {
            lead.fields["EmailAddress"]: (
                lead.fields.get("mx_Customer_ID"),
                lead.fields.get("mx_Display_Name"),
                lead.fields.get("mx_City"),
            )
            for lead in box.state.leads.values()
        }
    assert result.returncode == 1, result.stderr  # row 4's error cell
    assert "3 rows: 2 succeeded, 1 failed (BadRow 1)" in result.stdout
    assert (
        f"leads.{kind}: reading sheet 'Leads', the first visible one; hidden sheets passed over: "
        "'Old' (source.sheet picks another)"
    ) in result.stderr.splitlines()
    assert stored == {
        "a@x.com": ("000604", "12.5%", "Pune"),
        "b@x.com": ("000012", "50.0%", "Pune"),
    }
    with open(out / "failures.csv", encoding="utf-8-sig", newline="") as handle:
        [failure] = list(csv.DictReader(handle))
    assert failure["_row"] == "4" and failure["Email"] == "c@x.com"
    assert failure["Code"] == "#N/A" and failure["Share"] == "25.0%"
    assert failure["_error"] == (
        "cell B4 (column 'Code') shows the error #N/A: correct its formula or clear it in the "
        "workbook"
    )
