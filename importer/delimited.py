"""Reading delimited text files (CSV, TSV): the encoding and the delimiter found from the bytes,
then Arrow's streaming CSV reader a block at a time, every cell as text.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from importer.errors import SourceError
from importer.source import (
    DEFAULT_CHUNK_ROWS,
    BadRow,
    Chunk,
    Source,
    row_number,
    split_result_columns,
)

DELIMITERS = (",", ";", "\t", "|")
#: CSV text per chunk. Arrow's reader holds several times this in memory: 2 MB keeps a run of
#: any length under ~260 MB while the per-chunk overhead stays small (BENCHMARKS.md).
CSV_BLOCK_BYTES = 2 << 20
_BLOCK = 1 << 20
_CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])


class CsvSource(Source):
    """A delimited text file, parsed by Arrow's streaming CSV reader a block at a time."""

    def __init__(self, path: Path, encoding: str, delimiter: str) -> None:
        self.path = path
        self.encoding, how = detect_encoding(path) if encoding == "auto" else (encoding, "as set")
        if encoding != "auto":
            check_decodes(path, encoding)
        with self._open() as handle:
            sample = handle.read(64 * 1024)
        if not sample.strip():
            raise SourceError(f"{path.name}: the file is empty; it needs a header row")
        self.delimiter = detect_delimiter(sample) if delimiter == "auto" else delimiter
        shown = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        self.description = f"CSV, {self.encoding} ({how}), delimiter {shown}"
        with self._open() as handle:
            first = next(csv.reader(handle, delimiter=self.delimiter), [])
        header = [cell.strip() for cell in first]
        self._raw_header = header
        self.header, self._row_index, self._keep = split_result_columns(header)
        if not any(self.header):
            raise SourceError(f"{path.name}: the first row is empty; it must hold the column names")

    def _open(self) -> TextIO:
        return open(self.path, encoding=self.encoding, newline="")

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        width = len(self._raw_header)
        names = [f"c{i}" for i in range(width)]
        problems: list[tuple[int, str]] = []  # (row number, text) of rows the parser skipped

        def skip(row: pa_csv.InvalidRow) -> str:
            problems.append((row.number, row.text))
            return "skip"

        encoding = (
            "utf8"
            if self.encoding.replace("-", "").lower() in ("utf8", "utf8sig")
            else (self.encoding)
        )
        # A Python file object, not the path: given a path, Arrow reads ahead the whole file.
        handle = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        reader = pa_csv.open_csv(
            handle,
            read_options=pa_csv.ReadOptions(
                use_threads=False,  # so that skipped rows come with their numbers
                block_size=CSV_BLOCK_BYTES,
                column_names=names,
                skip_rows_after_names=1,
                encoding=encoding,
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
        numbering = _Numbering(self.delimiter, width)
        held: pa.Table | None = None  # one batch is held back, to check the file's end first
        try:
            for batch in reader:
                if held is not None:
                    yield self._chunk(held, numbering.take(held.num_rows, problems))
                held = pa.Table.from_batches([batch])
            if held is not None:
                if held.num_rows:
                    last = held.column(width - 1)[-1].as_py()
                    self._check_unclosed_quote(last, numbering.next + held.num_rows - 1)
                yield self._chunk(held, numbering.take(held.num_rows, problems))
            tail = numbering.take(0, problems, final=True)
            if tail.bad or tail.blank:
                empty = pa.table({n: pa.array([], pa.string()) for n in names})
                yield self._chunk(empty, tail)
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
        not end with the closing quote."""
        if "\n" not in last_cell and "\r" not in last_cell:
            return
        with open(self.path, "rb") as handle:
            handle.seek(max(self.path.stat().st_size - 64, 0))
            tail = handle.read()
        if self.encoding.lower().startswith("utf-16") and len(tail) % 2:
            tail = tail[1:]
        text = tail.decode(self.encoding.replace("-sig", ""), errors="ignore").rstrip()
        if not text.endswith('"'):
            raise SourceError(
                f'{self.path.name}: row {row} or so has a quote (") in its last column that is '
                "never closed, so the rest of the file would be read as one value; close the "
                "quote or remove it, then run again"
            )

    def _chunk(self, table: pa.Table, numbers: _Numbers) -> Chunk:
        blank = _blank_rows(table)
        rows = numbers.rows
        if pc.any(blank).as_py():
            keep = pc.invert(blank)
            table = table.filter(keep)
            rows = [r for r, b in zip(rows, blank.to_pylist(), strict=True) if not b]
        if self._row_index is not None:
            given = table.column(self._row_index).to_pylist()
            rows = [row_number(text, row) for text, row in zip(given, rows, strict=True)]
            bad = [
                BadRow(row_number(b.cells[self._row_index], b.row), b.cells, b.message)
                if len(b.cells) > self._row_index
                else b
                for b in numbers.bad
            ]
            table = table.select(self._keep)
            numbers = _Numbers(numbers.rows, bad, numbers.blank)
        return Chunk(
            rows, table, bad=numbers.bad, blank=numbers.blank + len(numbers.rows) - len(rows)
        )


@dataclass
class _Numbers:
    rows: list[int]
    bad: list[BadRow]
    blank: int


class _Numbering:
    """Gives the parsed rows their spreadsheet numbers.

    The parser hands over good rows in batches and reports the rows it skips (wrong number of
    fields) with their numbers, counted as a spreadsheet counts rows (header = 1, a quoted line
    break does not start a row). The good rows fill the numbers the skipped ones leave free."""

    def __init__(self, delimiter: str, width: int) -> None:
        self.next = 2
        self.delimiter = delimiter
        self.width = width

    def take(self, count: int, problems: list[tuple[int, str]], final: bool = False) -> _Numbers:
        problems.sort()
        skipped = {number for number, _ in problems}
        end = self.next + count - 1
        while True:  # widen the span by the skipped rows inside it
            inside = sum(1 for n in skipped if self.next <= n <= end)
            if self.next + count - 1 + inside == end:
                break
            end = self.next + count - 1 + inside
        if final:
            end = max([end, *skipped])
        rows = [n for n in range(self.next, end + 1) if n not in skipped]
        bad: list[BadRow] = []
        blank = 0
        for number, text in [p for p in problems if p[0] <= end]:
            if not text.strip():
                blank += 1
                continue
            cells = next(csv.reader(io.StringIO(text), delimiter=self.delimiter), [])
            bad.append(BadRow(number, cells, _width_message(len(cells), self.width)))
        problems[:] = [p for p in problems if p[0] > end]
        self.next = end + 1
        return _Numbers(rows, bad, blank)


def _blank_rows(table: pa.Table) -> pa.Array:
    """Rows whose every cell is empty or white space."""
    blank = None
    for column in table.columns:
        empty = pc.equal(pc.utf8_trim_whitespace(column.combine_chunks()), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    return blank if blank is not None else pa.array([], pa.bool_())


def _width_message(found: int, width: int) -> str:
    if found > width:
        return (
            f"row has {found} fields but the header has {width}: a delimiter inside an "
            "unquoted value? Quote that value or remove the extra delimiter"
        )
    return f"row has {found} fields but the header has {width}: fill in the missing fields"


def detect_encoding(path: Path) -> tuple[str, str]:
    """The file's encoding and how it was found: a BOM, UTF-16 zeros, UTF-8 or cp1252."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "byte-order mark"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "byte-order mark"
    if len(head) >= 4:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return "utf-16-le", "detected"
        if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return "utf-16-be", "detected"
    if _decodes(path, "utf-8") is None:
        return "utf-8", "detected"
    if not _has_bytes(path, _CP1252_UNDEFINED):
        return "cp1252", "detected: not UTF-8"
    return "latin-1", "detected: not UTF-8"


def check_decodes(path: Path, encoding: str) -> None:
    """Raise SourceError naming the line if the file does not decode with ``encoding``."""
    failure = _decodes(path, encoding)
    if failure is None:
        return
    offset, reason = failure
    with open(path, "rb") as handle:
        line = handle.read(offset).count(b"\n") + 1
    guess, _ = detect_encoding(path)
    raise SourceError(
        f"{path.name}: line {line} cannot be read as {encoding} ({reason}); the file looks like "
        f"{guess}: set source.encoding: {guess} in the mapping, or leave it as auto"
    )


def _decodes(path: Path, encoding: str) -> tuple[int, str] | None:
    """None if the whole file decodes; else the byte offset and reason of the first failure."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return offset + max(exc.start, 0), exc.reason
            if not block:
                return None
            offset += len(block)


def _has_bytes(path: Path, needles: bytes) -> bool:
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            if any(b in block for b in needles):
                return True
    return False


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the sample's rows most consistently."""
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
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width)
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best
