""".xlsb workbooks: what python-calamine gives for them, and what ``xlsb_extras`` adds (error
cells, digit-changing number formats, merged ranges), on files written by ``tests/xlsb_writer``
(no Python library writes .xlsb)."""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import python_calamine as calamine

from importer.readers import xlsb_extras
from importer.readers.kinds import sniff
from importer.readers.registry import open_source
from importer.readers.xlsx_extras import Note, XlsxPartError
from tests.xlsb_writer import ERROR_CODES, Sheet, write_xlsb

HEADER = ["Code", "Share", "Amount", "Joined", "Phone", "Lookup", "Ratio", "City"]


def leads_sheet() -> Sheet:
    return Sheet(
        "Leads",
        [
            HEADER,
            [604, 0.125, 2.675, dt.date(2024, 1, 15), 919876543210, None, None, "Pune"],
            [12, 1, 1234.5, dt.date(2023, 12, 31), 919812345678, "ok", 0.5, None],
            [7, 0.5, 3, None, 919800000001, None, None, None],
            [8, 0.25, 4, None, 919800000002, None, None, None],
        ],
        formats={
            **{(r, 0): "000000" for r in (1, 2, 3, 4)},
            **{(r, 1): "0.0%" for r in (1, 2, 3, 4)},
            **{(r, 2): "0.00" for r in (1, 2, 3, 4)},  # built-in id 2: no BrtFmt record
            **{(r, 3): "dd/mm/yyyy" for r in (1, 2)},
            (1, 6): "0.00",  # styled, but an error: the error is what is noted
        },
        errors={(1, 5): "#N/A", (1, 6): "#DIV/0!"},
        formulas={(1, 6), (2, 6)},  # =1/0 saved as #DIV/0!, =0.5 saved as 0.5
        merges=[(2, 7, 4, 7)],  # H3:H5, three rows
    )


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A hidden old copy first, then the sheet to read, then a very hidden one."""
    return write_xlsb(
        tmp_path / "book.xlsb",
        [
            Sheet("Old copy", [["Code"], [1]], hidden=True),
            leads_sheet(),
            Sheet("Secret", [["x"]], hidden="veryHidden"),
        ],
    )


def plain(notes: dict[int, Note], values: dict[int, float] | None = None) -> dict[int, str]:
    """Notes as text: an error's text, or a format's rendering of ``values[column]``."""
    shown = {}
    for column, note in notes.items():
        if note.kind == "error":
            shown[column] = f"error {note.error}"
        else:
            assert note.kind == "format" and note.render is not None
            shown[column] = note.render((values or {})[column])
    return shown


# --- what calamine gives --------------------------------------------------------------------


def test_calamine_reads_the_written_workbook(book: Path):
    assert sniff(book) == "xlsb"
    wb = calamine.CalamineWorkbook.from_path(book)
    assert [(m.name, m.typ, m.visible) for m in wb.sheets_metadata] == [
        ("Old copy", calamine.SheetTypeEnum.WorkSheet, calamine.SheetVisibleEnum.Hidden),
        ("Leads", calamine.SheetTypeEnum.WorkSheet, calamine.SheetVisibleEnum.Visible),
        ("Secret", calamine.SheetTypeEnum.WorkSheet, calamine.SheetVisibleEnum.VeryHidden),
    ]
    sheet = wb.get_sheet_by_name("Leads")
    assert (sheet.start, sheet.end) == ((0, 0), (4, 7))  # the values' extent, not the merge's
    assert sheet.to_python() == [
        HEADER,
        # numbers as floats (Excel's RK numbers, as Excel writes them), dates as date, the
        # digit-changing formats not applied, error cells (#N/A, =1/0) as empty strings
        [604.0, 0.125, 2.675, dt.date(2024, 1, 15), 919876543210.0, "", "", "Pune"],
        [12.0, 1.0, 1234.5, dt.date(2023, 12, 31), 919812345678.0, "ok", 0.5, ""],
        [7.0, 0.5, 3.0, "", 919800000001.0, "", "", ""],
        [8.0, 0.25, 4.0, "", 919800000002.0, "", "", ""],
    ]
    assert sheet.merged_cell_ranges is None  # calamine gives no merged cells for .xlsb
    assert wb.get_sheet_by_name("Old copy").to_python() == [["Code"], [1.0]]


def test_calamine_dates_and_times_in_both_date_systems(tmp_path: Path):
    rows = [[dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 13, 30), 45352.0, 45352.0]]
    formats = {(0, 0): "dd/mm/yyyy", (0, 1): "dd/mm/yyyy hh:mm", (0, 2): 14}  # 14: m/d/yyyy
    for date1904 in (False, True):
        path = write_xlsb(
            tmp_path / f"dates{date1904}.xlsb",
            [Sheet("S", rows, formats=formats)],
            date1904=date1904,
        )
        values = calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("S").to_python()
        day = dt.date(2024, 3, 1) if not date1904 else dt.date(2028, 3, 2)  # 45352 days on
        assert values == [[dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 13, 30), day, 45352.0]]
        assert list(xlsb_extras.sheet_notes(path, "S", True)) == []  # dates keep their digits


def test_calamine_reads_shared_strings_and_every_number_encoding(tmp_path: Path):
    numbers = [604, 1.23, 300000001, 3000000.01, -5, 2.675, 1e-300]  # RK float, RK float/100,
    rows = [["a", "b", "a"], numbers]  # RK int, RK int/100, RK float, real, real
    formats = {(1, c): "0.000" for c in range(len(numbers))}
    path = write_xlsb(
        tmp_path / "sst.xlsb", [Sheet("S", rows, formats=formats)], shared_strings=True
    )
    values = calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("S").to_python()
    # an RK whole number without the /100 flag comes from calamine as an int
    assert values == [
        ["a", "b", "a", "", "", "", ""],
        [604.0, 1.23, 300000001, 3000000.01, -5.0, 2.675, 1e-300],
    ]
    [(row, notes)] = xlsb_extras.sheet_notes(path, "S", True)
    assert row == 2
    assert plain(notes, dict(enumerate(values[1]))) == {
        0: "604.000",
        1: "1.230",
        2: "300000001.000",
        3: "3000000.010",
        4: "-5.000",
        5: "2.675",
        6: "0.000",
    }


# --- what xlsb_extras adds ----------------------------------------------------------------


def test_error_cells_and_digit_changing_formats_are_noted(book: Path):
    notes = list(xlsb_extras.sheet_notes(book, "Leads", True))
    assert [row for row, _ in notes] == [2, 3, 4, 5]
    values = {2: [604.0, 0.125, 2.675], 3: [12.0, 1.0, 1234.5], 4: [7.0, 0.5, 3.0]}
    values[5] = [8.0, 0.25, 4.0]
    shown = {row: plain(cells, dict(enumerate(values[row]))) for row, cells in notes}
    assert shown == {
        # the date (dd/mm/yyyy) and the phone (General) keep their digits: not noted
        2: {0: "000604", 1: "12.5%", 2: "2.68", 5: "error #N/A", 6: "error #DIV/0!"},
        3: {0: "000012", 1: "100.0%", 2: "1234.50"},
        4: {0: "000007", 1: "50.0%", 2: "3.00"},
        5: {0: "000008", 1: "25.0%", 2: "4.00"},
    }
    # one Note per style, shared by its cells
    assert notes[0][1][0] is notes[1][1][0]


def test_raw_values_note_only_errors(book: Path):
    assert list(xlsb_extras.sheet_notes(book, "Leads", False)) == [
        (2, {5: Note("error", error="#N/A"), 6: Note("error", error="#DIV/0!")})
    ]


def test_every_error_code(tmp_path: Path):
    errors = {(0, c): text for c, text in enumerate(ERROR_CODES)}
    formulas = {(0, c) for c in range(0, len(errors), 2)}  # every other one a formula's result
    path = write_xlsb(tmp_path / "e.xlsb", [Sheet("S", errors=errors, formulas=formulas)])
    assert list(xlsb_extras.sheet_notes(path, "S", True)) == [
        (1, {c: Note("error", error=text) for c, text in enumerate(ERROR_CODES)})
    ]
    [values] = calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("S").to_python()
    assert set(values) == {""}  # errors, cell or formula, as empty strings


def test_merged_ranges(book: Path, tmp_path: Path):
    assert xlsb_extras.merged_ranges(book, "Leads") == [((2, 7), (4, 7))]
    assert xlsb_extras.merged_ranges(book, "Old copy") == []
    merges = [(0, 0, 0, 3), (5, 1, 9, 2)]
    path = write_xlsb(tmp_path / "m.xlsb", [Sheet("S", [["a"]], merges=merges)])
    assert xlsb_extras.merged_ranges(path, "S") == [((0, 0), (0, 3)), ((5, 1), (9, 2))]


def test_columns_are_absolute_and_hidden_sheets_readable(tmp_path: Path):
    rows = [[], [None, None, "Code"], [None, None, 5]]  # the values start at C2
    sheet = Sheet("Later", rows, formats={(2, 2): "000"}, errors={(2, 4): "#REF!"})
    path = write_xlsb(tmp_path / "c.xlsb", [Sheet("First", [[1]], hidden=True), sheet])
    assert calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("Later").start == (1, 2)
    [(row, notes)] = xlsb_extras.sheet_notes(path, "Later", True)
    assert (row, plain(notes, {2: 5.0})) == (3, {2: "005", 4: "error #REF!"})
    assert list(xlsb_extras.sheet_notes(path, "First", True)) == []


def as_values(rows: Iterator[tuple[int, dict[int, Note]]]) -> list[tuple[int, dict[int, tuple]]]:
    """Notes as values: a ``NumberFormat`` compares by identity (one per style), so two reads
    are compared by what each note says."""
    return [
        (number, {col: (n.kind, n.error, n.render and vars(n.render)) for col, n in cells.items()})
        for number, cells in rows
    ]


def test_records_across_piece_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The sheet part is read a piece at a time: records and long bodies cut by a piece's end
    are read whole (wanted) or skipped (the rest), with the same result as read whole."""
    long_text = "x" * 5000  # a BrtCellSt body far longer than a piece: skipped
    rows = [[i, long_text if i % 7 == 0 else "t", i / 8] for i in range(200)]
    formats = {(i, 0): "0000" for i in range(200)} | {(i, 2): "0.0%" for i in range(0, 200, 3)}
    errors = {(i, 3): "#N/A" for i in range(0, 200, 5)}
    merges = [(i, 4, i + 1, 5) for i in range(0, 200, 50)]
    sheet = Sheet("S", rows, formats=formats, errors=errors, merges=merges)
    path = write_xlsb(tmp_path / "long.xlsb", [sheet])
    whole = as_values(xlsb_extras.sheet_notes(path, "S", True))
    assert len(whole) == 200 and whole[11] == (12, {0: whole[0][1][0]})
    merged = xlsb_extras.merged_ranges(path, "S")
    assert merged == [((i, 4), (i + 1, 5)) for i in range(0, 200, 50)]
    for piece in (1, 2, 3, 7, 64, 4999):
        monkeypatch.setattr(xlsb_extras, "PIECE", piece)
        assert as_values(xlsb_extras.sheet_notes(path, "S", True)) == whole
        assert xlsb_extras.merged_ranges(path, "S") == merged


def test_read_through_excel_source(book: Path):
    """Through ``open_source`` (the extras plugged in at ``workbook.EXTRAS`` and ``MERGES``), the
    sheet reads as it shows: padded codes, percentages, rounded amounts, the merge filled down
    and the error row failed."""
    source = open_source(book)
    assert source.description == (
        "Excel binary workbook (.xlsb), sheet 'Leads' (the first visible one; hidden: 'Old copy')"
    )
    rows, bad = [], []
    for chunk in source.chunks(size=2):
        rows += list(zip(chunk.rows, [chunk.record(i) for i in range(len(chunk))], strict=True))
        bad += [(b.row, b.cells, b.message) for b in chunk.bad]
    assert rows == [
        (3, ["000012", "100.0%", "1234.50", "2023-12-31", "919812345678", "ok", "0.5", ""]),
        (4, ["000007", "50.0%", "3.00", "", "919800000001", "", "", ""]),
        (5, ["000008", "25.0%", "4.00", "", "919800000002", "", "", ""]),
    ]
    [(row, cells, message)] = bad
    assert row == 2
    shown = ["000604", "12.5%", "2.68", "2024-01-15", "919876543210", "#N/A", "#DIV/0!", "Pune"]
    assert cells == shown
    assert "cell F2 (column 'Lookup') shows the error #N/A" in message
    assert "cell G2 (column 'Ratio') shows the error #DIV/0!" in message


# --- damaged files ------------------------------------------------------------------------


def sheet_part(path: Path, index: int = 1) -> bytes:
    with zipfile.ZipFile(path) as book:
        return book.read(f"xl/worksheets/sheet{index}.bin")


def test_a_sheet_part_cut_off_inside_a_record(book: Path, tmp_path: Path):
    data = sheet_part(book, 2)
    cut = write_xlsb(tmp_path / "cut.xlsb", [leads_sheet()], sheet_bytes={0: data[:-40]})
    with pytest.raises(XlsxPartError, match=r"its part xl/worksheets/sheet1.bin is cut off"):
        list(xlsb_extras.sheet_notes(cut, "Leads", True))
    with pytest.raises(XlsxPartError, match="is cut off inside a record"):
        xlsb_extras.merged_ranges(cut, "Leads")
    wb = calamine.CalamineWorkbook.from_path(cut)  # the workbook opens; the sheet does not
    with pytest.raises(OSError, match="failed to fill whole buffer"):
        wb.get_sheet_by_name("Leads")


def test_a_sheet_part_that_stops_before_its_cells_end(tmp_path: Path):
    sheet = Sheet("Leads", [["a", 1], ["b", 2]], formats={(1, 1): "00"})
    path = write_xlsb(tmp_path / "ok.xlsb", [sheet])
    data = sheet_part(path)
    row_header = data.rindex(bytes((0x00, 25)) + struct.pack("<I", 1))  # BrtRowHdr of row 2
    short = write_xlsb(tmp_path / "short.xlsb", [sheet], sheet_bytes={0: data[:row_header]})
    with pytest.raises(XlsxPartError, match="ends before its cells do"):
        list(xlsb_extras.sheet_notes(short, "Leads", True))
    with pytest.raises((calamine.CalamineError, OSError)):  # workbook.py catches both
        calamine.CalamineWorkbook.from_path(short).get_sheet_by_name("Leads")


def test_damaged_and_missing_parts(book: Path, tmp_path: Path):
    with pytest.raises(XlsxPartError, match=r"sheet 'Nope' is not in its workbook part"):
        list(xlsb_extras.sheet_notes(book, "Nope", True))

    def without(name: str, replace: bytes | None = None) -> Path:
        out = tmp_path / f"without-{name.replace('/', '-')}.xlsb"
        with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                if item.filename != name:
                    dst.writestr(item, src.read(item))
                elif replace is not None:
                    dst.writestr(item, replace)
        return out

    with pytest.raises(XlsxPartError, match=r"its part xl/worksheets/sheet2.bin is missing"):
        list(xlsb_extras.sheet_notes(without("xl/worksheets/sheet2.bin"), "Leads", True))
    with pytest.raises(XlsxPartError, match=r"xl/workbook.bin is missing"):
        list(xlsb_extras.sheet_notes(without("xl/workbook.bin"), "Leads", True))
    with pytest.raises(XlsxPartError, match=r"relationships are missing or damaged"):
        xlsb_extras.merged_ranges(without("xl/_rels/workbook.bin.rels"), "Leads")
    with pytest.raises(XlsxPartError, match=r"its part xl/workbook.bin is cut off"):
        list(
            xlsb_extras.sheet_notes(without("xl/workbook.bin", b"\x83\x01\x00\x99\x40"), "L", True)
        )
    with pytest.raises(XlsxPartError, match=r"its part xl/styles.bin is cut off inside a record"):
        list(xlsb_extras.sheet_notes(without("xl/styles.bin", b"\xe9\x04\x04\x01"), "Leads", True))
    # no styles part: every cell General, the errors still noted
    notes = list(xlsb_extras.sheet_notes(without("xl/styles.bin"), "Leads", True))
    assert notes == [(2, {5: Note("error", error="#N/A"), 6: Note("error", error="#DIV/0!")})]

    not_zip = tmp_path / "not.xlsb"
    not_zip.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(XlsxPartError, match="it is not a whole zip"):
        list(xlsb_extras.sheet_notes(not_zip, "Leads", True))


def test_damaged_compressed_data(book: Path, tmp_path: Path):
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as zipped:
        info = zipped.getinfo("xl/worksheets/sheet2.bin")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 5, start + info.compress_size - 5, 7):
        data[offset] ^= 0x5A
    broken = tmp_path / "broken.xlsb"
    broken.write_bytes(bytes(data))
    with pytest.raises(XlsxPartError, match=r"its part xl/worksheets/sheet2.bin is"):
        list(xlsb_extras.sheet_notes(broken, "Leads", True))
