"""What every reader gives: ``Source`` (a file opened for reading: its header, then its rows in
chunks), ``Chunk`` and ``BadRow``. ``registry.open_source`` picks the reader for a file. Each
reader yields the rows as text, in bounded chunks, with row numbers.

Every cell comes out as the text it holds: nothing is inferred, so ``00123``, ``NA`` and
``+91-0712...`` survive. Rows are numbered as a spreadsheet shows them (header row 1, first data
row 2), blank rows are skipped but keep their numbers, and a row with the wrong number of fields
comes out as a ``BadRow`` with a reason instead of stopping the read.

A results file written by lsq-import (``failures.csv``) can be read back as input: its ``_row``
column supplies the row numbers and its other result columns are dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from importer.outputs.results import FAILURE_COLUMNS, SUCCESS_COLUMNS

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
