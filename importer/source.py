"""Reading input files: what every reader gives (``Source``, ``Chunk``, ``BadRow``), and
``open_source``, the one place that picks the reader for a file: ``delimited`` for CSV/TSV,
``workbook`` for Excel. Each reader yields the rows as text, in bounded chunks, with row numbers.

Every cell comes out as the text it holds: nothing is inferred, so ``00123``, ``NA`` and
``+91-0712...`` survive. Rows are numbered as a spreadsheet shows them (header row 1, first data
row 2), blank rows are skipped but keep their numbers, and a row with the wrong number of fields
comes out as a ``BadRow`` with a reason instead of stopping the read.

A results file written by lsq-import (``failures.csv``) can be read back as input: its ``_row``
column supplies the row numbers and its other result columns are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from importer.errors import SourceError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
#: Columns that lsq-import adds to its result files; dropped when such a file is read back in.
RESULT_COLUMNS = ("_row", "_error_type", "_error", "_activity_id", "_lead_id", "_note")
DEFAULT_CHUNK_ROWS = 50_000  # Excel rows per chunk


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

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        raise NotImplementedError


def open_source(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    sheet: str | None = None,
) -> Source:
    """Open a CSV/TSV or Excel file; raise SourceError with a fix if it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"input file {str(path)!r} not found")
    if path.is_dir():
        raise SourceError(f"{str(path)!r} is a folder; give the path of a CSV or Excel file")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        from importer.workbook import ExcelSource

        return ExcelSource(path, sheet)
    if suffix in {".xls", ".ods", ".numbers"}:
        raise SourceError(
            f"{path.name}: {suffix} files are not read; save the sheet as .xlsx or CSV (UTF-8)"
        )
    from importer.delimited import CsvSource

    return CsvSource(path, encoding, delimiter)


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
