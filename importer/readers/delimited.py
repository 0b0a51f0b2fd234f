"""Reading delimited text files (CSV, TSV): the encoding decided on evidence (``encoding.py``),
the delimiter found from the bytes, then Arrow's streaming CSV reader a block at a time, every
cell as text.

What the file's structure can get wrong, and what happens:

- a header below title rows: ``source.header_row`` says which row holds the column names
  (``find_header_row`` finds it for the hint when the mapped columns are lower down);
- a stray quote (``"Bob,008,x``) makes one cell of everything up to the next quote: line breaks
  and delimiters included, so rows vanish into it. Unless the mapping declares
  ``source.multiline_cells: true``, a quoted cell holding both a line break and the delimiter
  is taken for one: its row fails as a ``BadRow`` naming the line where the quote opened, and
  the rows after it keep the numbers of their lines. A cell holding line breaks but no
  delimiter (an address, a note) is read as it is;
- NUL characters are removed, and their count said once (``Source.notes``): they are never
  text, and the CRM would store them;
- byte-order marks at the start of the header (an export that added its own to one already
  there) are dropped; header names are trimmed and put in Unicode NFC form, so that ``Café``
  typed on a Mac matches the mapping's ``Café``.

The rows' spreadsheet numbers are kept in ``csv_numbering``; the file reaches Arrow as UTF-8
through ``csv_stream``.
"""

from __future__ import annotations

import csv
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from importer.errors import SourceError
from importer.readers.csv_numbering import Lines, Numbering, Numbers, count_breaks
from importer.readers.csv_stream import utf8_stream, without_nul
from importer.readers.encoding import decide_encoding
from importer.readers.source import (
    DEFAULT_CHUNK_ROWS,
    HEADER_SEARCH_ROWS,
    BadRow,
    Chunk,
    Source,
    clean_name,
    row_number,
    split_result_columns,
)

DELIMITERS = (",", ";", "\t", "|")
#: CSV text per chunk. Arrow's reader holds several times this in memory: 2 MB keeps a run of
#: any length under ~260 MB while the per-chunk overhead stays small (BENCHMARKS.md).
CSV_BLOCK_BYTES = 2 << 20


class CsvSource(Source):
    """A delimited text file, parsed by Arrow's streaming CSV reader a block at a time."""

    def __init__(
        self,
        path: Path,
        encoding: str = "auto",
        delimiter: str = "auto",
        *,
        header_row: int = 1,
        multiline_cells: bool = False,
    ) -> None:
        self.path = path
        self.header_row = header_row
        self.multiline_cells = multiline_cells
        decided = decide_encoding(path, encoding)
        self.encoding = decided.name
        self.notes = list(decided.notes)
        self._nuls = decided.nul_count
        with self._open() as handle:
            sample = handle.read(64 * 1024).replace("\x00", "")
        if not sample.strip().lstrip("\ufeff").strip():
            raise SourceError(f"{path.name}: the file is empty; it needs a header row")
        if delimiter == "auto":
            below = sample.splitlines(keepends=True)[header_row - 1 :]
            delimiter = detect_delimiter("".join(below) or sample)
        self.delimiter = delimiter
        shown = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        self.description = f"CSV, {self.encoding} ({decided.how}), delimiter {shown}"
        if header_row > 1:
            self.description += f", header on row {header_row}"
        if self._nuls:
            noun = "NUL character" if self._nuls == 1 else "NUL characters"
            self.description += f", {self._nuls:,} {noun} removed"
        first: list[str] | None = None
        with self._open() as handle:
            lines = without_nul(handle)
            rows = csv.reader(lines, delimiter=self.delimiter)
            try:
                for _ in range(header_row):
                    first = next(rows, None)
            except csv.Error as exc:  # a quote opened in the header swallowing the file
                raise SourceError(
                    f'{path.name}: the header cannot be read ({exc}): a quote (") opened in '
                    "the column names and never closed? Close it or remove it, then run again"
                ) from None
            self._has_data = next(lines, None) is not None
        if first is None:
            raise SourceError(
                f"{path.name}: source.header_row is {header_row} but the file has fewer rows; "
                "give the number of the row that holds the column names (the first row is 1)"
            )
        header = [clean_name(cell) for cell in first]
        self._raw_header = header
        self.header, self._row_index, self._keep = split_result_columns(header)
        if not any(self.header):
            which = "first row" if header_row == 1 else f"row {header_row} (source.header_row)"
            raise SourceError(f"{path.name}: the {which} is empty; it must hold the column names")

    def _open(self) -> TextIO:
        return open(self.path, encoding=self.encoding, newline="")

    def find_header_row(self, names: list[str]) -> int | None:
        """The first row below the header that holds every one of ``names``, or None."""
        wanted = {clean_name(name) for name in names}
        if not wanted:
            return None
        with self._open() as handle:
            rows = csv.reader(without_nul(handle), delimiter=self.delimiter)
            try:
                for number, row in enumerate(rows, start=1):
                    if number > self.header_row + HEADER_SEARCH_ROWS:
                        break
                    if number > self.header_row and wanted <= {clean_name(c) for c in row}:
                        return number
            except csv.Error:  # a stray quote: no hint then, the mapping's error stands
                return None
        return None

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        if not self._has_data:  # the header alone (Arrow cannot skip a row that never ends)
            return
        width = len(self._raw_header)
        names = [f"c{i}" for i in range(width)]
        problems: list[tuple[int, str]] = []  # (row number, text) of rows the parser skipped

        def skip(row: pa_csv.InvalidRow) -> str:
            problems.append((row.number, row.text))
            return "skip"

        # A Python file object, not the path: given a path, Arrow reads ahead the whole file.
        handle = utf8_stream(self.path, self.encoding, strip_nul=self._nuls > 0)
        numbering = Numbering(self.delimiter, width, self.header_row + 1)
        lines = Lines()
        held: pa.Table | None = None  # one batch is held back, to check the file's end first
        try:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(
                    use_threads=False,  # so that skipped rows come with their numbers
                    block_size=CSV_BLOCK_BYTES,
                    column_names=names,
                    skip_rows_after_names=self.header_row,
                    encoding="utf8",
                ),
                parse_options=pa_csv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=skip,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                if held is not None:
                    yield self._chunk(held, numbering.take(held.num_rows, problems), lines)
                held = pa.Table.from_batches([batch])
            if held is not None:
                if held.num_rows:
                    last = held.column(width - 1)[-1].as_py()
                    self._check_unclosed_quote(last, numbering.next + held.num_rows - 1)
                yield self._chunk(held, numbering.take(held.num_rows, problems), lines)
            tail = numbering.take(0, problems, final=True)
            if tail.skipped or tail.blank:
                empty = pa.table({n: pa.array([], pa.string()) for n in names})
                yield self._chunk(empty, tail, lines)
        except pa.ArrowInvalid as exc:
            raise SourceError(
                f"{self.path.name}: cannot read the file after row {numbering.next - 1}: "
                f'{str(exc).splitlines()[0]}. An unclosed quote (") usually causes this; close '
                "it or remove it, then run again"
            ) from None
        finally:
            handle.close()

    def _check_unclosed_quote(self, last_cell: str, row: int) -> None:
        """A quote opened in the last column and never closed swallows the rest of the file into
        one cell without a parse error. Its mark: that cell holds a line break and the file does
        not end with the closing quote. (Unless cells may span lines, a cell that also holds the
        delimiter fails its row instead: see ``_suspect_cell``.)"""
        if "\n" not in last_cell and "\r" not in last_cell:
            return
        if not self.multiline_cells and self.delimiter in last_cell:
            return
        with open(self.path, "rb") as handle:
            handle.seek(max(self.path.stat().st_size - 64, 0))
            tail = handle.read()
        if self.encoding.lower().startswith("utf-16") and len(tail) % 2:
            tail = tail[1:]
        text = tail.decode(self.encoding.replace("-sig", ""), errors="ignore")
        if not text.replace("\x00", "").rstrip().endswith('"'):
            raise SourceError(
                f'{self.path.name}: row {row} or so has a quote (") in its last column that is '
                "never closed, so the rest of the file would be read as one value; close the "
                "quote or remove it, then run again"
            )

    def _chunk(self, table: pa.Table, numbers: Numbers, lines: Lines) -> Chunk:
        """The chunk as the mapping sees it: blank rows and rows a stray quote spoiled taken
        out, every row numbered."""
        rows = numbers.rows
        # the rows holding line breaks (none to look at when cells may span lines):
        # (spreadsheet number, line breaks inside, the cells, position in the table or None)
        spans: list[tuple[int, int, list[str], int | None]] = []
        breaks = None if self.multiline_cells else _line_breaks(table)
        if breaks is not None:
            for position, count in enumerate(breaks):
                if count:
                    spans.append((rows[position], count, _record(table, position), position))
        for number, cells, count in numbers.skipped:
            if count and not self.multiline_cells:
                spans.append((number, count, cells, None))
        spans.sort(key=lambda span: span[0])
        spoiled: dict[int, str] = {}  # spreadsheet number -> why
        shifted_at: list[int] = []  # numbers of spoiled rows, and the shift after each
        shifts: list[int] = []
        for number, count, cells, _ in spans:
            start = number + lines.extra
            lines.extra += count
            why = self._suspect_cell(cells, start)
            if why is not None:
                spoiled[number] = why
                shifted_at.append(number)
                shifts.append(count)
        base = lines.shift
        cumulative = list(accumulate(shifts))
        lines.shift += cumulative[-1] if cumulative else 0

        def renumber(number: int) -> int:
            before = bisect_left(shifted_at, number)
            return number + base + (cumulative[before - 1] if before else 0)

        bad: list[BadRow] = []
        for number, cells, _ in numbers.skipped:
            message = spoiled.get(number) or _width_message(len(cells), len(self._raw_header))
            bad.append(BadRow(renumber(number), cells, message))
        blank = _blank_rows(table)
        drop = blank
        if spoiled:
            positions = [p for n, _, _, p in spans if p is not None and n in spoiled]
            for position in positions:
                bad.append(
                    BadRow(
                        renumber(rows[position]), _record(table, position), spoiled[rows[position]]
                    )
                )
            mask = [False] * table.num_rows
            for position in positions:
                mask[position] = True
            drop = pc.or_(drop, pa.array(mask, pa.bool_()))
            bad.sort(key=lambda b: b.row)
        removed_blank = pc.sum(blank).as_py() or 0
        if base or shifted_at:
            rows = [renumber(n) for n in rows]
        if pc.any(drop).as_py():
            table = table.filter(pc.invert(drop))
            rows = [r for r, d in zip(rows, drop.to_pylist(), strict=True) if not d]
        if self._row_index is not None:
            given = table.column(self._row_index).to_pylist()
            rows = [row_number(text, row) for text, row in zip(given, rows, strict=True)]
            bad = [
                BadRow(row_number(b.cells[self._row_index], b.row), b.cells, b.message)
                if len(b.cells) > self._row_index
                else b
                for b in bad
            ]
            table = table.select(self._keep)
        return Chunk(rows, table, bad=bad, blank=numbers.blank + removed_blank)

    def _suspect_cell(self, cells: list[str], start: int) -> str | None:
        """Why a row's cells look like a stray quote's work (a cell holding a line break and the
        delimiter), naming the lines; None if they do not. ``start``: the row's first line."""
        line = start
        for cell in cells:
            count = count_breaks(cell)
            if count and self.delimiter in cell:
                shown = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
                end = line + count_breaks(cell.rstrip("\r\n"))  # never closed: to the end
                return (
                    f'a quote (") opened on line {line} makes one value of lines {line} to '
                    f"{end}, delimiters ({shown}) included, so the rows on those lines are not "
                    "sent: a stray quote? Remove it or close it where the value ends, then run "
                    "again; if cells really hold line breaks and delimiters, set "
                    "source.multiline_cells: true in the mapping"
                )
            line += count
        return None


def _blank_rows(table: pa.Table) -> pa.Array:
    """Rows whose every cell is empty or white space."""
    blank = None
    for column in table.columns:
        empty = pc.equal(pc.utf8_trim_whitespace(column.combine_chunks()), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    return blank if blank is not None else pa.array([], pa.bool_())


def _line_breaks(table: pa.Table) -> list[int] | None:
    """Each row's line breaks inside its cells; None when no cell of the table holds one (the
    usual case, found with one vectorised look per column)."""
    total = None
    for column in table.columns:
        column = column.combine_chunks()
        data = column.buffers()[2]  # every value's text, end to end: one fast look
        text = data.to_pybytes() if data is not None else b""
        if b"\n" not in text and b"\r" not in text:
            continue
        count = pc.subtract(
            pc.add(pc.count_substring(column, "\n"), pc.count_substring(column, "\r")),
            pc.count_substring(column, "\r\n"),
        )
        total = count if total is None else pc.add(total, count)
    return None if total is None else total.to_pylist()


def _record(table: pa.Table, position: int) -> list[str]:
    return [column[position].as_py() for column in table.columns]


def _width_message(found: int, width: int) -> str:
    if found > width:
        return (
            f"row has {found} fields but the header has {width}: a delimiter inside an "
            "unquoted value? Quote that value or remove the extra delimiter"
        )
    return f"row has {found} fields but the header has {width}: fill in the missing fields"


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the most rows of the sample into the same
    number (two or more) of fields. Title rows above the header do not sway it."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last row in half
    text = "".join(lines[:200])
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if r]
        except csv.Error:
            continue
        widths: dict[int, int] = {}
        for row in rows:
            if len(row) >= 2:
                widths[len(row)] = widths.get(len(row), 0) + 1
        if not widths:
            continue
        width, consistent = max(widths.items(), key=lambda item: (item[1], item[0]))
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best
