"""Reading Excel workbooks (.xlsx, .xlsm): the sheet chosen, its header found, every cell as the
text the sheet shows it.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path

from importer.errors import SourceError
from importer.source import (
    DEFAULT_CHUNK_ROWS,
    BadRow,
    Chunk,
    Source,
    row_number,
    split_result_columns,
)


class ExcelSource(Source):
    def __init__(self, path: Path, sheet: str | None) -> None:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        self.path = path
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            raise SourceError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
        names = self._book.sheetnames
        self.sheet_name = _pick_sheet(path, names, sheet)
        self._sheet = self._book[self.sheet_name]
        self._sheet.reset_dimensions()  # stored dimensions are often wrong; read what is there
        self.description = f"Excel, sheet {self.sheet_name!r}"
        header_row, header = self._find_header()
        self._header_row = header_row
        self._raw_header = header
        self.header, self._row_index, self._keep = split_result_columns(header)

    def _find_header(self) -> tuple[int, list[str]]:
        for number, cells in self._rows():
            texts = [cell_text(c) for c in cells]
            if any(t.strip() for t in texts):
                while texts and not texts[-1].strip():
                    texts.pop()
                return number, [t.strip() for t in texts]
        raise SourceError(f"{self.path.name}: sheet {self.sheet_name!r} is empty")

    def _rows(self) -> Iterator[tuple[int, tuple]]:
        for number, cells in enumerate(self._sheet.iter_rows(), start=1):
            real = [c for c in cells if getattr(c, "row", None) is not None]
            yield (real[0].row if real else number), cells

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        width = len(self._raw_header)
        kept = len(self.header)
        rows: list[int] = []
        records: list[list[str]] = []
        bad: list[BadRow] = []
        blank = 0
        for number, cells in self._rows():
            if number <= self._header_row:
                continue
            texts = [cell_text(c) for c in cells]
            if not any(t.strip() for t in texts):
                blank += 1
                continue
            row = number
            if self._row_index is not None and self._row_index < len(texts):
                row = row_number(texts[self._row_index], number)
            if len(texts) > width and any(t.strip() for t in texts[width:]):
                message = (
                    f"row has values beyond the last named column ({len(texts)} cells, "
                    f"{width} column names): give those columns a name in row {self._header_row}"
                )
                bad.append(BadRow(row, texts, message))
            else:
                texts = (texts + [""] * width)[:width]
                rows.append(row)
                records.append(texts if self._keep is None else [texts[i] for i in self._keep])
            if len(records) + len(bad) >= size:
                yield Chunk.from_records(rows, records, kept, bad=bad, blank=blank)
                rows, records, bad, blank = [], [], [], 0
        if records or bad or blank:
            yield Chunk.from_records(rows, records, kept, bad=bad, blank=blank)


def _pick_sheet(path: Path, names: list[str], sheet: str | None) -> str:
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    if sheet.strip().isdigit() and int(sheet) < len(names):
        return names[int(sheet)]
    listed = ", ".join(repr(n) for n in names)
    raise SourceError(
        f"{path.name}: no sheet {sheet!r}; its sheets are {listed}. Set source.sheet to one of "
        "them, or to a 0-based index"
    )


def cell_text(cell: object) -> str:
    """An Excel cell as the text it shows: dates as ISO date-times, numbers without float noise."""
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        fmt = str(getattr(cell, "number_format", "") or "").lower()
        shows_time = value.time() != dt.time(0) or "h" in fmt or "s" in fmt.replace("ss", "s")
        return value.strftime("%Y-%m-%d %H:%M:%S" if shows_time else "%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def number_text(value: float) -> str:
    """A float as Excel shows it in General format: 15 significant digits, no exponent, no .0."""
    if math.isnan(value) or math.isinf(value):
        return ""
    if value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text:
        import numpy as np

        text = np.format_float_positional(float(text), trim="-")
    return text
