"""Reading input files: what every reader gives (``Source``, ``Chunk``, ``BadRow``), and
``open_source``, the one place that picks the reader for a file, by what its first bytes say it
is (``sniff``) rather than its name: ``delimited`` for CSV/TSV, ``workbook`` for .xlsx/.xlsm,
.xlsb, .xls and .ods. Each reader yields the rows as text, in bounded chunks, with row numbers.

Every cell comes out as the text it holds: nothing is inferred, so ``00123``, ``NA`` and
``+91-0712...`` survive. Rows are numbered as a spreadsheet shows them (header row 1, first data
row 2), blank rows are skipped but keep their numbers, and a row with the wrong number of fields
comes out as a ``BadRow`` with a reason instead of stopping the read.

A results file written by lsq-import (``failures.csv``) can be read back as input: its ``_row``
column supplies the row numbers and its other result columns are dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from importer.errors import SourceError
from importer.outputs.results import FAILURE_COLUMNS, SUCCESS_COLUMNS

#: Each workbook suffix and the kind of file it promises.
EXCEL_SUFFIXES = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xlsb": "xlsb", ".xls": "xls", ".ods": "ods"}
#: Columns that lsq-import adds to its result files (``results.py`` says which), dropped when
#: such a file is read back in; ``_note`` is what results files of early versions held.
RESULT_COLUMNS = (*dict.fromkeys([*FAILURE_COLUMNS, *SUCCESS_COLUMNS]), "_note")
DEFAULT_CHUNK_ROWS = 50_000  # Excel rows per chunk
#: How far below the header row ``find_header_row`` looks for the mapped columns.
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be taken apart into the header's columns."""

    row: int
    cells: list[str]
    message: str


@dataclass
class Chunk:
    """A run of rows: one Arrow string column per header column, and each row's number."""

    rows: list[int]
    table: pa.Table
    bad: list[BadRow] = field(default_factory=list)
    blank: int = 0  # blank rows skipped in this stretch of the file

    def column(self, index: int) -> pa.Array:
        return self.table.column(index).combine_chunks()

    def record(self, position: int) -> list[str]:
        """One row's cells, as written."""
        return [column[position].as_py() for column in self.table.columns]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_records(
        cls, rows: list[int], records: list[list[str]], width: int, **extra: object
    ) -> Chunk:
        columns = [pa.array([r[i] for r in records], pa.string()) for i in range(width)]
        table = pa.table(columns, names=[f"c{i}" for i in range(width)])
        return cls(rows, table, **extra)  # type: ignore[arg-type]


class Source:
    """An input file opened for reading. ``header`` is known before any row is read."""

    path: Path
    header: list[str]
    description: str
    #: What the reader decided that the user should hear once (an encoding detected, NUL
    #: characters removed); the run and validate say them.
    notes: list[str] = []  # noqa: RUF012 - never changed in place: a reader sets its own

    def find_header_row(self, names: list[str]) -> int | None:
        """The row below the header that holds all ``names`` (title rows above the real
        header), for the hint at ``source.header_row``; None if none does or it is not known."""
        return None

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        raise NotImplementedError


def clean_name(name: str) -> str:
    """A column name as it is compared: without NULs, byte-order marks and surrounding white
    space, in Unicode NFC form (``Café`` typed with a combining accent matches ``Café``)."""
    name = name.replace("\x00", "").strip().lstrip("\ufeff").strip()
    return unicodedata.normalize("NFC", name)


@dataclass(frozen=True)
class ReadOptions:
    """How the mapping's ``source:`` section asks for a file to be read (each reader takes
    what applies to it)."""

    encoding: str = "auto"
    delimiter: str = "auto"
    sheet: str | None = None
    excel_values: str = "shown"
    header_row: int = 1
    multiline_cells: bool = False


def open_source(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str | None = None,
    excel_values: str = "shown",
    header_row: int = 1,
    multiline_cells: bool = False,
) -> Source:
    """Open a CSV/TSV file or a workbook; raise SourceError with a fix if it cannot be read.

    The reader is chosen from ``READERS`` by what the file is (its first bytes: ``sniff``), not
    by its name: an .xlsx named .csv is read as a workbook and the "Read ..." line says so; a
    file that is no spreadsheet is refused with a message naming what it is."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"input file {str(path)!r} not found")
    if path.is_dir():
        raise SourceError(f"{str(path)!r} is a folder; give the path of a CSV or Excel file")
    options = ReadOptions(encoding, delimiter, sheet, excel_values, header_row, multiline_cells)
    suffix = path.suffix.lower()
    kind = sniff(path) or "csv"
    promised = EXCEL_SUFFIXES.get(suffix)
    if kind in NOT_A_SHEET:
        raise SourceError(f"{path.name}: {NOT_A_SHEET[kind]}")
    if kind == "csv" and (promised is not None or suffix == ".numbers"):
        raise SourceError(
            f"{path.name}: not a readable {suffix} workbook: it is a text file, not a "
            f"spreadsheet; if it is CSV, rename it to .csv, or open it in Excel and save it as "
            ".xlsx"
        )
    named = suffix or "without a suffix" if kind != "csv" and promised != kind else None
    return READERS[kind](path, kind, named, options)


def _open_csv(path: Path, kind: str, named: str | None, options: ReadOptions) -> Source:
    from importer.readers.delimited import CsvSource

    return CsvSource(
        path,
        options.encoding,
        options.delimiter,
        header_row=options.header_row,
        multiline_cells=options.multiline_cells,
    )


def _open_workbook(path: Path, kind: str, named: str | None, options: ReadOptions) -> Source:
    from importer.readers.workbook import ExcelSource

    return ExcelSource(
        path,
        options.sheet,
        kind=kind,
        values=options.excel_values,
        named=named,
        header_row=options.header_row,
    )


#: The reader of each kind of file ``sniff`` tells apart (``csv``: text), called with the
#: path, the kind, the suffix it was named with when that promised another kind, and the
#: options. A new format: its module, its signature in ``sniff``, and a line here.
READERS: dict[str, Callable[[Path, str, str | None, ReadOptions], Source]] = {
    "csv": _open_csv,
    "xlsx": _open_workbook,
    "xlsb": _open_workbook,
    "xls": _open_workbook,
    "ods": _open_workbook,
}


#: The suffix that says truly what each kind of workbook is, for messages.
KIND_SUFFIX = {"xlsx": ".xlsx", "xlsb": ".xlsb", "xls": ".xls", "ods": ".ods"}
#: What the file is, for files that are no spreadsheet lsq-import reads.
NOT_A_SHEET = {
    "encrypted": (
        "the workbook is encrypted with a password (an Office file sealed in an encrypted "
        "container), so it cannot be read; open it in Excel, remove the password (File > Info > "
        "Protect Workbook > Encrypt with Password, clear it), save it, and run again"
    ),
    "word": "this is a Word document, not a spreadsheet; save its table as .xlsx or CSV",
    "powerpoint": "this is a PowerPoint file, not a spreadsheet; save its table as .xlsx or CSV",
    "office": (
        "this is an Office file that holds no workbook lsq-import knows; open it in Excel and "
        "save it as .xlsx"
    ),
    "zip": (
        "this is a zip archive, not a spreadsheet; unzip it and give the spreadsheet inside as "
        "INPUT"
    ),
    "numbers": "this is an Apple Numbers file; export it from Numbers as .xlsx or CSV",
    "pdf": "this is a PDF document, not a spreadsheet; export the table as .xlsx or CSV",
    "gzip": "this is a gzip-compressed file; decompress it (gunzip) and give the file inside",
    "html": (
        "this is a web page (HTML), as some systems export under an Excel name; open it in "
        "Excel and save it as .xlsx, or export the data as CSV"
    ),
}


def sniff(path: Path) -> str | None:
    """What a file is, from its bytes: a workbook kind (``xlsx``, ``xlsb``, ``xls``, ``ods``), a
    key of ``NOT_A_SHEET``, or None for text (CSV/TSV)."""
    with path.open("rb") as stream:
        head = stream.read(4096)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return _ole_kind(path)
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        return "html"
    return None


def _zip_kind(path: Path) -> str:
    """An Office Open XML or OpenDocument file tells its kind in [Content_Types].xml/mimetype."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as book:
            names = set(book.namelist())
            if "mimetype" in names:
                mimetype = book.read("mimetype").strip()
                return "ods" if mimetype.endswith(b"opendocument.spreadsheet") else "office"
            types = book.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        return "xlsx"  # a damaged zip with an Office signature: the reader says what is wrong
    if b"sheet.binary.macroEnabled.main" in types:
        return "xlsb"
    if b"spreadsheetml" in types or "xl/workbook.xml" in names:
        return "xlsx"
    if b"wordprocessingml" in types:
        return "word"
    if b"presentationml" in types:
        return "powerpoint"
    if "Index/Document.iwa" in names or any(n.startswith("Index/") for n in names):
        return "numbers"
    return "zip" if not types else "office"


def _ole_kind(path: Path) -> str:
    """An OLE2 (compound file) container: a legacy .xls, or an encrypted Office Open XML file.

    Its streams are named in UTF-16 in its directory; looking for the names that tell the kinds
    apart is enough here (a full directory walk would say the same)."""
    import mmap

    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:

        def has(name: str) -> bool:
            return data.find(name.encode("utf-16-le")) >= 0

        if has("EncryptedPackage"):
            return "encrypted"
        if has("Workbook") or has("Book"):
            return "xls"
        if has("WordDocument"):
            return "word"
        if has("PowerPoint Document"):
            return "powerpoint"
    return "office"


def split_result_columns(header: list[str]) -> tuple[list[str], int | None, list[int] | None]:
    """For a results file read back in: its ``_row`` column and the original columns' indexes."""
    if "_row" not in header:
        return header, None, None
    keep = [i for i, name in enumerate(header) if name not in RESULT_COLUMNS]
    return [header[i] for i in keep], header.index("_row"), keep


def row_number(text: str, fallback: int) -> int:
    try:
        return int(text)
    except ValueError:
        return fallback
