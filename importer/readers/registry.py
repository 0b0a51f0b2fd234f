"""``open_source``, the one place that picks the reader for a file: from ``READERS``, by what
``kinds.sniff`` says the file is, with the options of the mapping's ``source:`` section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from importer.errors import SourceError
from importer.readers.kinds import EXCEL_SUFFIXES, NOT_A_SHEET, sniff
from importer.readers.source import Source


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
