"""Workbooks as CRM admins have them: hidden and empty sheets, error cells, number formats,
merged cells, formulas never calculated, mislabelled, encrypted and damaged files, .xls and .ods.

Every file is made by the test: .xlsx with openpyxl, .xls with xlwt, .ods with odfpy."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from importer.errors import SourceError
from importer.readers.registry import open_source
from importer.readers.xlsx_extras import number_renderer
from tests.conftest import MINIMAL_MAPPING


def read_all(path: Path, **options: str) -> tuple[list[tuple[int, list[str]]], list]:
    source = open_source(path, **options)
    rows, bad = [], []
    for chunk in source.chunks(size=2):
        rows += list(zip(chunk.rows, [chunk.record(i) for i in range(len(chunk))], strict=True))
        bad += [(b.row, b.cells, b.message) for b in chunk.bad]
    return rows, bad


def message(path: Path, **options: str) -> str:
    with pytest.raises(SourceError) as caught:
        read_all(path, **options)
    return str(caught.value)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A hidden old copy first, then the sheet to read, then a notes sheet."""
    workbook = openpyxl.Workbook()
    old = workbook.active
    old.title = "Old copy"
    old.sheet_state = "hidden"
    old.append(["Email", "Name"])
    old.append(["stale@x.com", "Stale"])
    leads = workbook.create_sheet("Leads")
    leads.append(["Email", "Code", "Share", "Amount", "City"])
    leads.append(["a@x.com", 604, 0.125, 2.675, "Pune"])
    leads.append(["b@x.com", 12, 1, 1234.5, "Delhi"])
    for row in (2, 3):
        leads.cell(row=row, column=2).number_format = "000000"
        leads.cell(row=row, column=3).number_format = "0.0%"
        leads.cell(row=row, column=4).number_format = "#,##0.00"
    workbook.create_sheet("Notes").append(["read me"])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    return path


def test_the_first_visible_sheet_is_read_and_the_hidden_one_named(book: Path):
    source = open_source(book)
    assert source.sheet_name == "Leads"
    assert source.description == "Excel, sheet 'Leads' (the first visible one; hidden: 'Old copy')"
    assert source.notes == [
        "book.xlsx: reading sheet 'Leads', the first visible one; hidden sheets passed over: "
        "'Old copy' (source.sheet picks another)"
    ]
    # asked for by name, a hidden sheet is read, and a named sheet is just itself
    assert read_all(book, sheet="Old copy")[0] == [(2, ["stale@x.com", "Stale"])]
    named = open_source(book, sheet="Notes")
    assert (named.description, named.notes) == ("Excel, sheet 'Notes'", [])
    assert message(book, sheet="Leeds") == (
        "book.xlsx: no sheet 'Leeds'; its sheets are 'Old copy' (hidden), 'Leads', 'Notes'. Set "
        "source.sheet to one of them, or to a 0-based index"
    )


def test_number_formats_send_what_the_sheet_shows_or_the_raw_value(book: Path):
    assert read_all(book)[0] == [
        (2, ["a@x.com", "000604", "12.5%", "2.68", "Pune"]),
        (3, ["b@x.com", "000012", "100.0%", "1234.50", "Delhi"]),
    ]
    assert read_all(book, excel_values="raw")[0] == [
        (2, ["a@x.com", "604", "0.125", "2.675", "Pune"]),
        (3, ["b@x.com", "12", "1", "1234.5", "Delhi"]),
    ]


@pytest.mark.parametrize(
    ("code", "value", "shown"),
    [
        ("000000", 604, "000604"),
        ("0.0%", 0.125, "12.5%"),
        ("0%", 0.5, "50%"),
        ("0.00", 2.675, "2.68"),
        ("0.00", -0.001, "0.00"),
        ("#,##0.00", -1234.5, "-1234.50"),
        ("0.00;(0.00)", -3.456, "-3.46"),
        ('"Rs "0.00', 7, "7.00"),
        ("0.0#", 1.5, "1.5"),
        ("0,", 12345, "12"),
        ("[$₹-4009] #,##0.00", 99.999, "100.00"),
    ],
)
def test_number_format_digits(code: str, value: float, shown: str):
    render = number_renderer(code)
    assert render is not None
    assert render(value) == shown


@pytest.mark.parametrize(
    "code", ["General", "@", "dd/mm/yyyy", "hh:mm", "0.00E+00", "# ?/?", "0", "#,##0", "#"]
)
def test_formats_that_keep_the_digits_are_not_applied(code: str):
    assert number_renderer(code) is None


def test_an_empty_first_sheet_names_the_others(tmp_path: Path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Blank"
    hidden = workbook.create_sheet("Archive")
    hidden.sheet_state = "hidden"
    hidden.append(["x"])
    workbook.create_sheet("Data").append(["Email"])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    assert message(path) == (
        "book.xlsx: sheet 'Blank' is empty; the other sheets are 'Archive' (hidden), 'Data'. Set "
        "source.sheet to the one to read"
    )
    alone = openpyxl.Workbook()
    alone.save(tmp_path / "alone.xlsx")
    assert message(tmp_path / "alone.xlsx") == (
        "alone.xlsx: sheet 'Sheet' is empty, and it is the only sheet; it needs a header row"
    )


def test_every_sheet_hidden(tmp_path: Path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Shown"
    workbook.active.append(["x"])
    workbook.create_sheet("Secret").append(["Email"])
    workbook["Secret"].sheet_state = "hidden"
    workbook.active = 0
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    # make the last visible sheet hidden too, in the XML, as Excel allows with VBA
    rewrite(path, "xl/workbook.xml", lambda xml: xml.replace(b'state="visible"', b'state="hidden"'))
    assert message(path) == (
        "book.xlsx: every sheet is hidden ('Shown' (hidden), 'Secret' (hidden)); set source.sheet "
        "to the one to read"
    )


def test_error_cells_and_unsaved_formulas_fail_their_rows(tmp_path: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Email", "City", "Amount", "Total"])
    sheet.append(["a@x.com", "#N/A", "#DIV/0!", 5])
    sheet.append(["b@x.com", "Pune", 3, "=C3*2"])  # openpyxl saves no result for a formula
    sheet.append(["c@x.com", "Delhi", 4, 8])
    for name in ("B2", "C2"):
        sheet[name].data_type = "e"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    rows, bad = read_all(path)
    assert rows == [(4, ["c@x.com", "Delhi", "4", "8"])]
    assert bad == [
        (
            2,
            ["a@x.com", "#N/A", "#DIV/0!", "5"],
            "cell B2 (column 'City') shows the error #N/A: correct its formula or clear it in the "
            "workbook; cell C2 (column 'Amount') shows the error #DIV/0!: correct its formula or "
            "clear it in the workbook",
        ),
        (
            3,
            ["b@x.com", "Pune", "3", ""],
            "cell D3 (column 'Total') is a formula with no saved result (the program that wrote "
            "the file did not calculate it): open the file in Excel or LibreOffice and save it, "
            "or type the value in",
        ),
    ]


@pytest.mark.parametrize("error", ["#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
def test_every_error_value(tmp_path: Path, error: str):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Email", "X"])
    workbook.active.append(["a@x.com", error])
    workbook.active["B2"].data_type = "e"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    assert read_all(path)[1] == [
        (
            2,
            ["a@x.com", error],
            f"cell B2 (column 'X') shows the error {error}: correct its formula or clear it in the "
            "workbook",
        )
    ]


def test_merged_cells_give_their_value_to_every_row(tmp_path: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Project", "Email", "Stage"])
    sheet.append(["Tower A", "a@x.com", "New"])
    sheet.append([None, "b@x.com", None])
    sheet.append([None, "c@x.com", None])
    sheet.append(["Tower B", "d@x.com", "Won"])
    sheet.merge_cells("A2:A4")
    sheet.merge_cells("C2:C3")
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    assert read_all(path)[0] == [
        (2, ["Tower A", "a@x.com", "New"]),
        (3, ["Tower A", "b@x.com", "New"]),
        (4, ["Tower A", "c@x.com", ""]),
        (5, ["Tower B", "d@x.com", "Won"]),
    ]


def rewrite(path: Path, member: str, change) -> None:
    """Rewrite one part of a zip in place (``change`` None: leave the part out)."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            if info.filename == member:
                if change is None:
                    continue
                data = change(data)
            target.writestr(info, data)


def test_a_workbook_named_csv_is_read_as_one_and_says_so(book: Path, tmp_path: Path):
    named = tmp_path / "export.csv"
    named.write_bytes(book.read_bytes())
    source = open_source(named)
    assert source.header == ["Email", "Code", "Share", "Amount", "City"]
    assert source.description == (
        "Excel workbook (.xlsx), though named .csv, sheet 'Leads' (the first visible one; "
        "hidden: 'Old copy')"
    )


def test_xls_named_xlsx_is_read_as_xls(tmp_path: Path):
    path = write_xls(tmp_path / "legacy.xlsx")
    source = open_source(path)
    assert source.description == (
        "Excel 97-2003 workbook (.xls), though named .xlsx, sheet 'Leads' (the first visible "
        "one; hidden: 'Old')"
    )


def test_encrypted_and_other_files_are_named(tmp_path: Path):
    # an encrypted Office file is an OLE2 container holding an "EncryptedPackage" stream
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    (tmp_path / "locked.xlsx").write_bytes(
        header + "EncryptionInfo".encode("utf-16-le") + "EncryptedPackage".encode("utf-16-le")
    )
    assert message(tmp_path / "locked.xlsx") == (
        "locked.xlsx: the workbook is encrypted with a password (an Office file sealed in an "
        "encrypted container), so it cannot be read; open it in Excel, remove the password "
        "(File > Info > Protect Workbook > Encrypt with Password, clear it), save it, and run "
        "again"
    )
    with zipfile.ZipFile(tmp_path / "letter.xlsx", "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
    assert message(tmp_path / "letter.xlsx") == (
        "letter.xlsx: this is a Word document, not a spreadsheet; save its table as .xlsx or CSV"
    )
    with zipfile.ZipFile(tmp_path / "bundle.csv", "w") as archive:
        archive.writestr("leads.csv", "Email\na@x.com\n")
    assert message(tmp_path / "bundle.csv") == (
        "bundle.csv: this is a zip archive, not a spreadsheet; unzip it and give the spreadsheet "
        "inside as INPUT"
    )
    (tmp_path / "web.xls").write_text("<html><table><tr><td>Email</td></tr></table></html>")
    assert message(tmp_path / "web.xls") == (
        "web.xls: this is a web page (HTML), as some systems export under an Excel name; open it "
        "in Excel and save it as .xlsx, or export the data as CSV"
    )
    (tmp_path / "text.xlsx").write_text("Email\na@x.com\n")
    assert message(tmp_path / "text.xlsx") == (
        "text.xlsx: not a readable .xlsx workbook: it is a text file, not a spreadsheet; if it "
        "is CSV, rename it to .csv, or open it in Excel and save it as .xlsx"
    )


def test_a_missing_sheet_part_and_a_corrupt_sheet(book: Path):
    rewrite(book, "xl/worksheets/sheet2.xml", None)
    assert message(book).startswith(
        "book.xlsx: sheet 'Leads' cannot be read: it is damaged or missing from the file ("
    )
    assert message(book).endswith(
        "); open the workbook in Excel or LibreOffice, save it again, then run again"
    )


def test_a_corrupt_sheet(book: Path):
    rewrite(book, "xl/worksheets/sheet2.xml", lambda xml: xml[: len(xml) // 2] + b"<<garbage")
    text = message(book)
    assert text.startswith("book.xlsx: sheet 'Leads' cannot be read: ")
    assert text.endswith("open the workbook in Excel or LibreOffice, save it again, then run again")


def test_a_damaged_zip(book: Path, tmp_path: Path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(book.read_bytes()[:2000])
    text = message(broken)
    assert text.startswith("broken.xlsx: not a readable .xlsx workbook: it is damaged (")
    assert text.endswith("); open it in Excel or LibreOffice, save it again, then run again")


# --- .xls and .ods ---------------------------------------------------------------------------


def write_xls(path: Path) -> Path:
    import xlwt

    workbook = xlwt.Workbook()
    old = workbook.add_sheet("Old")
    old.write(0, 0, "stale")
    old.visibility = 1  # hidden
    sheet = workbook.add_sheet("Leads")
    when = xlwt.easyxf(num_format_str="dd/mm/yyyy hh:mm")
    day = xlwt.easyxf(num_format_str="dd/mm/yyyy")
    for column, name in enumerate(["Email", "Code", "Visited", "Born", "Mobile", "Project"]):
        sheet.write(0, column, name)
    sheet.write(1, 0, "a@x.com")
    sheet.write(1, 1, "00123")
    sheet.write(1, 2, dt.datetime(2026, 3, 5, 14, 30), when)
    sheet.write(1, 3, dt.datetime(1990, 1, 2), day)
    sheet.write(1, 4, 919876543210)
    sheet.write_merge(1, 3, 5, 5, "Tower A")
    sheet.write(2, 0, "b@x.com")
    sheet.write(2, 4, 0.1 + 0.2)
    sheet.write(4, 0, "d@x.com")  # row 4 blank
    workbook.set_active_sheet(1)
    workbook.save(str(path))
    return path


def test_xls_files_are_read_with_the_same_guarantees(tmp_path: Path):
    path = write_xls(tmp_path / "legacy.xls")
    source = open_source(path)
    assert source.sheet_name == "Leads"
    assert source.description == (
        "Excel 97-2003 workbook (.xls), sheet 'Leads' (the first visible one; hidden: 'Old')"
    )
    assert read_all(path) == (
        [
            (
                2,
                [
                    "a@x.com",
                    "00123",
                    "2026-03-05 14:30:00",
                    "1990-01-02",
                    "919876543210",
                    "Tower A",
                ],
            ),
            (3, ["b@x.com", "", "", "", "0.3", "Tower A"]),
            (5, ["d@x.com", "", "", "", "", ""]),
        ],
        [],
    )
    assert sum(c.blank for c in open_source(path).chunks()) == 1  # row 4: merged, but empty


def test_xls_error_cells_and_number_formats(tmp_path: Path):
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Leads")
    code, share = xlwt.easyxf(num_format_str="000000"), xlwt.easyxf(num_format_str="0.0%")
    amount = xlwt.easyxf(num_format_str="#,##0.00")
    for column, name in enumerate(["Email", "Code", "Share", "Amount", "City"]):
        sheet.write(0, column, name)
    sheet.write(1, 0, "a@x.com")
    sheet.write(1, 1, 604, code)
    sheet.write(1, 2, 0.125, share)
    sheet.write(1, 3, 2.675, amount)
    sheet.write(1, 4, "Pune")
    sheet.write(2, 0, "b@x.com")
    sheet.write(2, 1, 12, code)
    sheet.row(2).set_cell_error(4, 0x2A)  # xlwt's own table has #N/A's code wrong
    sheet.row(3).set_cell_error(3, "#DIV/0!")
    sheet.write(3, 0, "c@x.com")
    path = tmp_path / "styled.xls"
    workbook.save(str(path))
    assert read_all(path) == (
        [(2, ["a@x.com", "000604", "12.5%", "2.68", "Pune"])],
        [
            (
                3,
                ["b@x.com", "000012", "", "", "#N/A"],
                "cell E3 (column 'City') shows the error #N/A: correct its formula or clear it "
                "in the workbook",
            ),
            (
                4,
                ["c@x.com", "", "", "#DIV/0!", ""],
                "cell D4 (column 'Amount') shows the error #DIV/0!: correct its formula or "
                "clear it in the workbook",
            ),
        ],
    )
    rows, bad = read_all(path, excel_values="raw")
    assert rows == [(2, ["a@x.com", "604", "0.125", "2.675", "Pune"])]
    assert [b[1][4] for b in bad] == ["#N/A", ""]


def write_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableProperties
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    hidden = Style(name="hidden", family="table")
    hidden.addElement(TableProperties(display=False))
    document.automaticstyles.addElement(hidden)

    def cell(value: object) -> TableCell:
        if isinstance(value, dt.date):
            made = TableCell(valuetype="date", datevalue=value.isoformat())
        elif isinstance(value, float | int):
            made = TableCell(valuetype="float", value=value)
        else:
            made = TableCell(valuetype="string")
        made.addElement(P(text=str(value)))
        return made

    for name, rows in [
        ("Old", [["Email"], ["stale@x.com"]]),
        (
            "Leads",
            [
                ["Email", "Code", "Visited", "Mobile"],
                ["a@x.com", "00123", dt.date(2026, 3, 5), 919876543210],
                [],
                ["c@x.com", "NA", dt.datetime(2026, 3, 5, 9, 15), 12.5],
            ],
        ),
        ("Other", [["x"]]),
    ]:
        table = Table(name=name, stylename="hidden") if name == "Old" else Table(name=name)
        for values in rows:
            row = TableRow()
            for value in values:
                row.addElement(cell(value))
            table.addElement(row)
        document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def test_ods_files_are_read_with_the_same_guarantees(tmp_path: Path):
    path = write_ods(tmp_path / "sheet.ods")
    source = open_source(path)
    assert source.description == (
        "OpenDocument spreadsheet (.ods), sheet 'Leads' (the first visible one; hidden: 'Old')"
    )
    assert read_all(path) == (
        [
            (2, ["a@x.com", "00123", "2026-03-05", "919876543210"]),
            (4, ["c@x.com", "NA", "2026-03-05 09:15:00", "12.5"]),
        ],
        [],
    )


# --- through the command line ----------------------------------------------------------------


def test_excel_values_must_be_shown_or_raw():
    from importer.errors import ConfigError
    from importer.mapping.config import parse_mapping

    with pytest.raises(ConfigError) as caught:
        parse_mapping("source:\n  excel_values: digits\n" + MINIMAL_MAPPING, "m.yaml")
    assert str(caught.value).splitlines() == [
        "m.yaml: 1 problem in the mapping:",
        "  source.excel_values: 'digits' is not allowed; use one of 'shown' or 'raw'",
    ]


def test_a_format_on_a_text_cell_changes_nothing(tmp_path: Path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Code", "Share"])
    sheet.append(["A-17", "n/a"])
    sheet.append([17, 0.5])
    for row in (2, 3):
        sheet.cell(row=row, column=1).number_format = "000000"
        sheet.cell(row=row, column=2).number_format = "0%"
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    assert read_all(path)[0] == [(2, ["A-17", "n/a"]), (3, ["000017", "50%"])]


def test_a_pdf_named_csv(tmp_path: Path):
    (tmp_path / "leads.csv").write_bytes(b"%PDF-1.7\n\x00\x01binary")
    assert message(tmp_path / "leads.csv") == (
        "leads.csv: this is a PDF document, not a spreadsheet; export the table as .xlsx or CSV"
    )


def test_init_mapping_never_picks_a_hidden_sheet(tmp_path: Path):
    """init-mapping takes the widest sheet (a notes sheet first is common), among the visible
    ones only: a wide hidden sheet (an old copy) is passed over."""
    from importer.account.scaffold import pick_sheet

    book = openpyxl.Workbook()
    old = book.active
    old.title = "Old copy"
    old.append(["a", "b", "c", "d", "e", "f"])
    old.sheet_state = "hidden"
    book.create_sheet("Notes").append(["read me first"])
    leads = book.create_sheet("Leads")
    leads.append(["Email", "Name", "Phone"])
    leads.append(["ana@example.com", "Ana", "+91 98765 43210"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    assert pick_sheet(path) == "Leads"
    text = tmp_path / "book.csv"
    text.write_text("Email,Name\n", encoding="utf-8")
    assert pick_sheet(text) is None


# --- title rows and column names -------------------------------------------------------------


def titled_book(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Export"
    sheet.append(["Site visits export"])
    sheet.append(["Generated 03/12/2026"])
    sheet.append(["Email", "Name", "Ville"])
    sheet.append(["ann@example.com", "Ann", "Pune"])
    sheet.append([])
    sheet.append(["bob@example.com", "Bob", "Nagpur"])
    workbook.save(path)
    return path


def test_header_row_reads_a_workbook_from_that_row(tmp_path: Path):
    path = titled_book(tmp_path / "in.xlsx")
    assert read_all(path, header_row=3) == (
        [(4, ["ann@example.com", "Ann", "Pune"]), (6, ["bob@example.com", "Bob", "Nagpur"])],
        [],
    )
    assert message(path, header_row=5) == (
        "in.xlsx: source.header_row is 5 but row 5 of sheet 'Export' is empty; give the number "
        "of the row that holds the column names (the first row is 1)"
    )
    assert message(path, header_row=40).startswith("in.xlsx: source.header_row is 40 but row 40")
