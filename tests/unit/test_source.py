"""Reading files: encodings, delimiters, quoting, blank and broken rows, Excel cells, row numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from importer.errors import SourceError
from importer.readers.cells import cell_text
from importer.readers.delimited import detect_delimiter
from importer.readers.registry import open_source

TEXT = "Email;Name;Zip\r\nzoë@example.com;Zoë O'Brien;00123\r\nrené@example.com;René;NA\r\n"


def read_all(
    path: Path, **options: str | bool
) -> tuple[list[str], list[tuple[int, list[str]]], list]:
    source = open_source(path, **options)
    rows, bad = [], []
    for chunk in source.chunks(size=2):
        records = [chunk.record(i) for i in range(len(chunk))]
        rows += list(zip(chunk.rows, records, strict=True))
        bad += chunk.bad
    return source.header, rows, bad


EXPECTED = [
    (2, ["zoë@example.com", "Zoë O'Brien", "00123"]),
    (3, ["rené@example.com", "René", "NA"]),
]


@pytest.mark.parametrize(
    ("encoding", "found"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("cp1252", "cp1252"),
    ],
)
def test_encodings_are_detected(write, encoding: str, found: str):
    path = write("in.csv", TEXT, encoding)
    source = open_source(path)
    assert source.encoding == found
    header, rows, bad = read_all(path)
    assert header == ["Email", "Name", "Zip"]
    assert rows == EXPECTED
    assert bad == []


def test_latin1_bytes_that_cp1252_lacks(write):
    # two non-ASCII bytes are no evidence of latin-1: the mapping says so
    path = write("in.csv", "A,B\r\nx\x81,é\r\n", "latin-1")
    assert open_source(path, encoding="latin-1").encoding == "latin-1"
    assert read_all(path, encoding="latin-1")[1] == [(2, ["x\x81", "é"])]


def test_encoding_set_in_the_mapping_is_checked_over_the_whole_file(write):
    path = write("in.csv", "A,B\r\n" + "x,y\r\n" * 3 + "é,z\r\n", "cp1252")
    with pytest.raises(SourceError) as caught:
        open_source(path, encoding="utf-8")
    assert str(caught.value) == (
        "in.csv: line 5 cannot be read as utf-8 (invalid continuation byte); the file looks like "
        "cp1252: set source.encoding: cp1252 in the mapping, or leave it as auto"
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(write, delimiter: str):
    lines = ["Email,Name,Note", 'a@x.com,Ann,"Hello, world; | tab"', "b@x.com,Bob,"]
    text = "\n".join(
        line.replace(",", delimiter, 2) if i else line.replace(",", delimiter)
        for i, line in enumerate(lines)
    )
    path = write("in.txt", text + "\n")
    source = open_source(path)
    assert source.delimiter == delimiter
    header, rows, _ = read_all(path)
    assert header == ["Email", "Name", "Note"]
    assert rows[0][1][2] == "Hello, world; | tab"


def test_delimiter_detection_prefers_consistent_splits():
    sample = "a;b;c\n1,5;2;x\n3,25;4;y\n"
    assert detect_delimiter(sample) == ";"
    assert detect_delimiter("only one column\nvalue\n") == ","


def test_delimiter_and_encoding_can_be_forced(write):
    path = write("in.csv", "A|B\nx,y|z\n")
    assert read_all(path, delimiter="|")[1] == [(2, ["x,y", "z"])]


def test_quoted_newlines_blank_rows_and_row_numbers(write):
    text = (
        "Email,Note\r\n"
        'a@x.com,"line one\r\nline two"\r\n'
        "\r\n"
        ",\r\n"
        "b@x.com,plain\r\n"
        "   ,  \r\n"
        "c@x.com,last"
    )
    path = write("in.csv", text)
    source = open_source(path)
    chunks = list(source.chunks())
    assert [row for c in chunks for row in c.rows] == [2, 5, 7]
    assert chunks[0].record(0) == ["a@x.com", "line one\r\nline two"]
    assert sum(c.blank for c in chunks) == 3


def test_rows_with_too_many_or_too_few_fields_are_failures_not_crashes(write):
    path = write("in.csv", "A,B,C\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n")
    _, rows, bad = read_all(path)
    assert rows == [(2, ["1", "2", "3"]), (5, ["5", "6", "7"])]
    assert [(b.row, b.cells, b.message) for b in bad] == [
        (3, ["1", "2"], "row has 2 fields but the header has 3: fill in the missing fields"),
        (
            4,
            ["1", "2", "3", "4"],
            "row has 4 fields but the header has 3: a delimiter inside an "
            "unquoted value? Quote that value or remove the extra delimiter",
        ),
    ]


def test_an_unclosed_quote_is_a_clear_error(write):
    # in the last column it would swallow the rest of the file into one value: that row fails
    path = write("in.csv", 'A,B\n1,x\n2,"unclosed\n3,y\n4,z\n')
    _, rows, bad = read_all(path)
    assert rows == [(2, ["1", "x"])]
    assert [(b.row, b.message) for b in bad] == [
        (
            3,
            "a quote (\") opened on line 3 makes one value of lines 3 to 5, delimiters (',') "
            "included, so the rows on those lines are not sent: a stray quote? Remove it or "
            "close it where the value ends, then run again; if cells really hold line breaks "
            "and delimiters, set source.multiline_cells: true in the mapping",
        )
    ]
    # cells declared multi-line: the quote never closed is a clear error
    with pytest.raises(SourceError) as caught:
        read_all(path, multiline_cells=True)
    assert str(caught.value) == (
        'in.csv: row 3 or so has a quote (") in its last column that is never closed, so the '
        "rest of the file would be read as one value; close the quote or remove it, then run again"
    )
    # elsewhere, the row it starts has too few fields
    path = write("in2.csv", 'A,B\n1,x\n"unclosed,y\n3,z\n')
    _, rows, bad = read_all(path, multiline_cells=True)
    assert rows == [(2, ["1", "x"])]
    assert [(b.row, b.message) for b in bad] == [
        (3, "row has 1 fields but the header has 2: fill in the missing fields")
    ]


def test_a_quoted_line_break_in_the_last_cell_is_fine(write):
    path = write("in.csv", 'A,B\n1,"two\nlines"\n')
    assert read_all(path)[1] == [(2, ["1", "two\nlines"])]


def test_a_results_file_read_back_keeps_its_row_numbers(write):
    path = write(
        "failures.csv",
        "_row,_error_type,_error,Email,Name\n17,InvalidValue,bad,a@x.com,Ann\n90,BadRow,x,b,Bob\n",
        "utf-8-sig",
    )
    header, rows, _ = read_all(path)
    assert header == ["Email", "Name"]
    assert rows == [(17, ["a@x.com", "Ann"]), (90, ["b", "Bob"])]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "in.csv: the file is empty; it needs a header row"),
        ("\n\n", "in.csv: the file is empty; it needs a header row"),
    ],
)
def test_empty_files(write, content: str, message: str):
    with pytest.raises(SourceError, match="^" + message + "$"):
        open_source(write("in.csv", content))


def test_missing_file_and_unsupported_formats(tmp_path: Path):
    with pytest.raises(SourceError, match="not found"):
        open_source(tmp_path / "nope.csv")
    # .xls files are read (tests/test_excel_files.py); four bytes of one are not
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(SourceError) as caught:
        open_source(tmp_path / "old.xls")
    assert str(caught.value) == (
        "old.xls: this is an Office file that holds no workbook lsq-import knows; open it in "
        "Excel and save it as .xlsx"
    )


# --- Excel -----------------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("Leads")
    sheet.append(["Email", "Phone", "Amount", "Visited", "Born", "Zip", "Flag", "At", "Big"])
    sheet.append(
        [
            "a@x.com",
            447123456789,
            12.5,
            dt.datetime(2026, 3, 5, 14, 30),
            dt.datetime(1990, 1, 2),
            "00123",
            True,
            dt.time(9, 15),
            1234567890123456.0,
        ]
    )
    sheet.cell(row=2, column=4).number_format = "dd/mm/yyyy hh:mm"
    sheet.cell(row=2, column=5).number_format = "dd/mm/yyyy"
    sheet.append([])
    sheet.append(
        [
            "b@x.com",
            919876543210.0,
            0.1 + 0.2,
            dt.datetime(2026, 3, 5),
            None,
            "NA",
            False,
            None,
            -3.0,
        ]
    )
    sheet.cell(row=4, column=4).number_format = "yyyy-mm-dd hh:mm"
    sheet.append(["c@x.com", None, None, None, None, None, None, None, None, "stray"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_excel_cells_come_out_as_they_show(workbook: Path):
    header, rows, bad = read_all(workbook, sheet="Leads")
    assert header == ["Email", "Phone", "Amount", "Visited", "Born", "Zip", "Flag", "At", "Big"]
    assert rows == [
        (
            2,
            [
                "a@x.com",
                "447123456789",
                "12.5",
                "2026-03-05 14:30:00",
                "1990-01-02",
                "00123",
                "TRUE",
                "09:15:00",
                "1234567890123456",
            ],
        ),
        # a date-time at midnight comes as its date (python-calamine gives a date for it)
        (4, ["b@x.com", "919876543210", "0.3", "2026-03-05", "", "NA", "FALSE", "", "-3"]),
    ]
    assert [(b.row, b.message) for b in bad] == [
        (
            5,
            "row has values beyond the last named column (10 cells, 9 column names): give those "
            "columns a name in row 1",
        )
    ]


def test_excel_sheet_by_index_and_missing_sheet(workbook: Path):
    assert open_source(workbook, sheet="1").sheet_name == "Leads"
    assert open_source(workbook).sheet_name == "Cover"
    with pytest.raises(SourceError) as caught:
        open_source(workbook, sheet="Leeds")
    assert str(caught.value) == (
        "book.xlsx: no sheet 'Leeds'; its sheets are 'Cover', 'Leads'. Set source.sheet to one "
        "of them, or to a 0-based index"
    )


def test_not_a_workbook(write):
    with pytest.raises(SourceError, match=r"^broken.xlsx: not a readable .xlsx workbook"):
        open_source(write("broken.xlsx", b"not a zip"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e20, "100000000000000000000"),
        (1.5e-7, "0.00000015"),
        (float("nan"), ""),
        (123.0, "123"),
        (-0.25, "-0.25"),
    ],
)
def test_number_cells(value: float, text: str):
    class Cell:
        pass

    cell = Cell()
    cell.value = value
    assert cell_text(cell) == text
