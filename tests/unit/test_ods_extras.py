"""ods_extras: error cells, digit-changing number styles and merged ranges of .ods sheets, on
files written with odfpy the way LibreOffice writes them."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
import python_calamine as calamine
from odf.number import (
    Boolean,
    BooleanStyle,
    CurrencyStyle,
    CurrencySymbol,
    DateStyle,
    Day,
    Fraction,
    Month,
    Number,
    NumberStyle,
    PercentageStyle,
    ScientificNumber,
    Text,
    Year,
)
from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style
from odf.table import (
    CoveredTableCell,
    Table,
    TableCell,
    TableColumn,
    TableHeaderRows,
    TableRow,
    TableRowGroup,
)
from odf.text import P

from importer.readers.ods_extras import merged_ranges, sheet_notes
from importer.readers.xlsx_extras import Note, XlsxPartError

CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
NUMBER_NS = "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
LAST_ROW = 1048576


def _book() -> OpenDocumentSpreadsheet:
    """A spreadsheet with LibreOffice's data styles and cell styles as automatic styles."""
    doc = OpenDocumentSpreadsheet()
    auto = doc.automaticstyles

    def number_style(name: str, kind: type = NumberStyle, suffix: str = "", **attrs: object):
        style = kind(name=name)
        if kind is CurrencyStyle:
            style.addElement(CurrencySymbol(language="en", country="US", text="$"))
        min_dec = attrs.pop("min_dec", None)
        number = Number(**attrs)
        if min_dec is not None:
            number.setAttrNS(NUMBER_NS, "min-decimal-places", str(min_dec))
        style.addElement(number)
        if suffix:
            style.addElement(Text(text=suffix))
        auto.addElement(style)

    number_style("N1", minintegerdigits=6, decimalplaces=0)  # 000000
    number_style("N2", PercentageStyle, "%", minintegerdigits=1, decimalplaces=1)  # 0.0%
    number_style("N3", minintegerdigits=1, decimalplaces=2)  # 0.00 (older: no min-decimal)
    number_style("N4", minintegerdigits=1, decimalplaces=2, min_dec=2, grouping="true")
    number_style("N5", minintegerdigits=1, decimalplaces=2, min_dec=0)  # 0.##
    number_style("N6", CurrencyStyle, minintegerdigits=1, decimalplaces=2, grouping="true")
    number_style("N7", minintegerdigits=1, decimalplaces=0)  # 0: changes nothing
    date = DateStyle(name="N8")
    for part in (Year(style="long"), Text(text="-"), Month(style="long"), Text(text="-"), Day()):
        date.addElement(part)
    auto.addElement(date)
    for index in range(1, 9):
        auto.addElement(Style(name=f"ce{index}", family="table-cell", datastylename=f"N{index}"))
    return doc


def _cell(value: object = None, style: str | None = None, **attrs: object) -> TableCell:
    """A cell as LibreOffice writes it: value type, value, shown text."""
    if style:
        attrs["stylename"] = style
    if isinstance(value, float | int) and not isinstance(value, bool):
        cell = TableCell(valuetype=attrs.pop("valuetype", "float"), value=str(value), **attrs)
        cell.addElement(P(text=str(value)))
    elif isinstance(value, dt.date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat(), **attrs)
        cell.addElement(P(text=value.isoformat()))
    elif isinstance(value, str):
        cell = TableCell(valuetype="string", **attrs)
        cell.addElement(P(text=value))
    else:
        cell = TableCell(**attrs)
    return cell


def _error(text: str, formula: str = "of:=1/0") -> TableCell:
    cell = TableCell(formula=formula, valuetype="float", value="0")
    cell.setAttrNS(CALCEXT, "value-type", "error")
    cell.addElement(P(text=text))
    return cell


def _row(*cells: TableCell, **attrs: object) -> TableRow:
    row = TableRow(**attrs)
    for cell in cells:
        row.addElement(cell)
    return row


def _tail() -> TableRow:
    """LibreOffice's trailing empty rows, repeated to the last row of the sheet."""
    return _row(TableCell(numbercolumnsrepeated=1024), numberrowsrepeated=LAST_ROW - 10)


def _save(doc: OpenDocumentSpreadsheet, tmp_path: Path, *tables: Table) -> Path:
    for table in tables:
        doc.spreadsheet.addElement(table)
    path = tmp_path / "book.ods"
    doc.save(str(path))
    return path


def _leads(tmp_path: Path) -> Path:
    doc = _book()
    other = Table(name="Other")  # a table before the wanted one: its cells are not noted
    other.addElement(_row(_error("#N/A", "of:=NA()"), _cell(5, "ce1")))
    table = Table(name="Leads")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    table.addElement(TableColumn(defaultcellstylename="ce1"))  # column C: 000000
    table.addElement(TableColumn(numbercolumnsrepeated=1021))
    header = TableHeaderRows()
    header.addElement(_row(_cell("id"), _cell("share"), _cell("code"), _cell("amount")))
    table.addElement(header)
    table.addElement(
        _row(
            _cell(604, "ce1"),
            _cell(0.125, "ce2", valuetype="percentage"),
            _cell(7),
            _cell(2.675, "ce3"),
        )
    )
    table.addElement(_row(TableCell(numbercolumnsrepeated=1024), numberrowsrepeated=3))  # 3-5
    group = TableRowGroup()
    group.addElement(
        _row(
            TableCell(numbercolumnsrepeated=2),
            _error("#DIV/0!"),
            _cell(1234.5, "ce4"),
            _cell(1234.5, "ce5", numbercolumnsrepeated=2),
        )
    )  # row 6
    merged = _cell("merged", numbercolumnsspanned=2, numberrowsspanned=2)
    group.addElement(_row(merged, CoveredTableCell(), _cell(42, "ce6", valuetype="currency")))
    table.addElement(group)
    table.addElement(  # row 8: covered cells of the merge, then cells by style
        _row(
            CoveredTableCell(numbercolumnsrepeated=2),
            _cell(12),  # column C: the column's default style
            _cell(dt.date(2024, 5, 1), "ce8"),
            _cell(3, "ce7"),
            _cell("000604", "ce1"),
        )
    )
    table.addElement(_row(_cell(9, "ce1"), numberrowsrepeated=2))  # rows 9 and 10
    table.addElement(_tail())
    later = Table(name="Later")
    later.addElement(_row(_error("#REF!")))
    return _save(doc, tmp_path, other, table, later)


def _shown(path: Path, notes: dict[int, dict[int, Note]]) -> dict[tuple[int, int], str]:
    """What calamine's values plus the notes give: the text of each noted cell."""
    values = calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("Leads").to_python()
    shown = {}
    for row, cells in notes.items():
        for column, note in cells.items():
            if note.kind == "error":
                shown[(row, column)] = note.error
            else:
                assert note.render is not None
                shown[(row, column)] = note.render(values[row - 1][column])
    return shown


def test_notes_rows_columns_and_rendered_digits(tmp_path: Path) -> None:
    path = _leads(tmp_path)
    notes = list(sheet_notes(path, "Leads", shown=True))
    assert [row for row, _ in notes] == [2, 6, 7, 8, 9, 10]
    by_row = dict(notes)
    assert {row: sorted(cells) for row, cells in by_row.items()} == {
        2: [0, 1, 2, 3],
        6: [2, 3, 4, 5],
        7: [2],
        8: [2],
        9: [0],
        10: [0],
    }
    assert by_row[6][2] == Note("error", error="#DIV/0!")
    assert _shown(path, by_row) == {
        (2, 0): "000604",
        (2, 1): "12.5%",
        (2, 2): "000007",  # column C's default style
        (2, 3): "2.68",
        (6, 2): "#DIV/0!",
        (6, 3): "1234.50",
        (6, 4): "1234.5",
        (6, 5): "1234.5",
        (7, 2): "42.00",
        (8, 2): "000012",
        (9, 0): "000009",
        (10, 0): "000009",
    }


def test_calamine_gives_errors_as_numbers_and_no_formats_or_merges(tmp_path: Path) -> None:
    path = _leads(tmp_path)
    sheet = calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("Leads")
    values = sheet.to_python()
    assert values[1][:4] == [604.0, 0.125, 7.0, 2.675]
    assert values[5][2] == 0.0  # the #DIV/0! cell
    assert sheet.merged_cell_ranges is None


def test_raw_values_give_only_errors(tmp_path: Path) -> None:
    path = _leads(tmp_path)
    assert list(sheet_notes(path, "Leads", shown=False)) == [
        (6, {2: Note("error", error="#DIV/0!")})
    ]
    assert list(sheet_notes(path, "Other", shown=False)) == [(1, {0: Note("error", error="#N/A")})]
    assert list(sheet_notes(path, "Later", shown=True)) == [(1, {0: Note("error", error="#REF!")})]
    assert list(sheet_notes(path, "Missing", shown=True)) == []


def test_merged_ranges(tmp_path: Path) -> None:
    assert merged_ranges(_leads(tmp_path), "Leads") == [((6, 0), (7, 1))]


def test_older_writer_error_text(tmp_path: Path) -> None:
    doc = _book()
    table = Table(name="Leads")
    old = TableCell(formula="oooc:=NA()", valuetype="string", stringvalue="")
    old.addElement(P(text="#N/A"))
    err = TableCell(formula="oooc:=A1+", valuetype="string")
    err.addElement(P(text="Err:502"))
    plain = _cell("#N/A")  # typed text, no formula: a value, not an error
    said = TableCell(formula='of:="#N/A here"', valuetype="string")
    said.addElement(P(text="#N/A here"))
    table.addElement(_row(old, err, plain, said))
    table.addElement(_tail())
    path = _save(doc, tmp_path, table)
    assert list(sheet_notes(path, "Leads", shown=True)) == [
        (1, {0: Note("error", error="#N/A"), 1: Note("error", error="Err:502")})
    ]


def test_row_default_style_before_column_default(tmp_path: Path) -> None:
    doc = _book()
    table = Table(name="Leads")
    table.addElement(TableColumn(defaultcellstylename="ce2"))
    table.addElement(_row(_cell(0.5, valuetype="percentage")))
    table.addElement(_row(_cell(5), defaultcellstylename="ce1"))
    table.addElement(_tail())
    path = _save(doc, tmp_path, table)
    notes = dict(sheet_notes(path, "Leads", shown=True))
    assert notes[1][0].render(0.5) == "50.0%"
    assert notes[2][0].render(5.0) == "000005"


def test_common_styles_from_styles_xml(tmp_path: Path) -> None:
    doc = OpenDocumentSpreadsheet()
    style = NumberStyle(name="Z6")
    style.addElement(Number(minintegerdigits=6, decimalplaces=0))
    doc.styles.addElement(style)
    doc.styles.addElement(Style(name="Zip", family="table-cell", datastylename="Z6"))
    doc.automaticstyles.addElement(Style(name="ce1", family="table-cell", parentstylename="Zip"))
    table = Table(name="Leads")
    table.addElement(_row(_cell(604, "ce1"), _cell(605, "Zip")))
    table.addElement(_tail())
    path = _save(doc, tmp_path, table)
    notes = dict(sheet_notes(path, "Leads", shown=True))
    assert [notes[1][c].render(604.0) for c in (0, 1)] == ["000604", "000604"]


def test_damaged_parts(tmp_path: Path) -> None:
    path = _leads(tmp_path)
    broken = tmp_path / "broken.ods"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "content.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    with pytest.raises(XlsxPartError, match=r"content\.xml is damaged"):
        list(sheet_notes(broken, "Later", shown=True))
    with pytest.raises(XlsxPartError, match=r"content\.xml is damaged"):
        merged_ranges(broken, "Later")
    missing = tmp_path / "missing.ods"
    with zipfile.ZipFile(missing, "w") as target:
        target.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(XlsxPartError, match=r"content\.xml is missing"):
        list(sheet_notes(missing, "Leads", shown=False))
    cut = tmp_path / "cut.ods"
    cut.write_bytes(path.read_bytes()[:100])
    with pytest.raises(XlsxPartError, match="not a whole zip"):
        list(sheet_notes(cut, "Leads", shown=True))


def test_styles_that_keep_digits_give_no_note(tmp_path: Path) -> None:
    doc = _book()
    for name, kind, part in (
        ("F1", NumberStyle, Fraction(mindenominatordigits=1, minnumeratordigits=1)),
        ("F2", NumberStyle, ScientificNumber(decimalplaces=2, minexponentdigits=2)),
        ("F3", BooleanStyle, Boolean()),
    ):
        style = kind(name=name)
        style.addElement(part)
        doc.automaticstyles.addElement(style)
        doc.automaticstyles.addElement(
            Style(name=f"c{name}", family="table-cell", datastylename=name)
        )
    table = Table(name="Leads")
    table.addElement(
        _row(
            _cell(0.5, "cF1"),
            _cell(1234.5, "cF2"),
            TableCell(valuetype="boolean", booleanvalue="true", stylename="cF3"),
            _cell(3, "ce7"),  # "0": digits as they are
            _cell("604", "ce1"),  # text in a number style
            _cell(dt.date(2024, 5, 1), "ce1"),  # a date in a number style
        )
    )
    table.addElement(_tail())
    path = _save(doc, tmp_path, table)
    assert list(sheet_notes(path, "Leads", shown=True)) == []
