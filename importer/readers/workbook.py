"""Reading workbooks (.xlsx, .xlsm, .xlsb, .xls, .ods): the sheet chosen, its header found,
every cell as the text the sheet shows.

python-calamine reads the values of every kind of workbook (in Rust, several times faster than
openpyxl: BENCHMARKS.md). It does not pass on error cells, formulas saved without a result, or
number formats; those come from one extras module per kind, each reading the file itself for
only the cells that need it. What each kind gives, and from where:

============  ======  =====  ===============  ===============  ===============
kind          values  dates  merges           error cells      number formats
============  ======  =====  ===============  ===============  ===============
.xlsx/.xlsm   yes     yes    yes              ``xlsx_extras``  ``xlsx_extras``
.xls          yes     yes    yes              ``xls_extras``   ``xls_extras``
.xlsb         yes     yes    ``xlsb_extras``  ``xlsb_extras``  ``xlsb_extras``
.ods          yes     yes    ``ods_extras``   ``ods_extras``   ``ods_extras``
============  ======  =====  ===============  ===============  ===============

(calamine gives an error cell as empty text, or for .ods as the number stored with it; a
number without its format; and no merged ranges for .xlsb and .ods.) A new kind plugs its
extras in at ``EXTRAS`` and, if calamine gives no merges for it, ``MERGES``.

Cells become text in ``cells`` (a column at a time); which sheet is read, and the messages for
a workbook that cannot be read, are in ``sheets``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import python_calamine as calamine

from importer.errors import SourceError
from importer.readers import ods_extras, xls_extras, xlsb_extras, xlsx_extras
from importer.readers.cells import text_column, value_text
from importer.readers.sheets import choose_sheet, damaged_message, empty_message, password_message
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
from importer.readers.xlsx_extras import Note, NumberFormat, XlsxPartError, column_letters

#: What each kind of workbook is called in messages and in the "Read ..." line.
KIND_NAMES = {
    "xlsx": "Excel",
    "xlsb": "Excel binary workbook (.xlsb)",
    "xls": "Excel 97-2003 workbook (.xls)",
    "ods": "OpenDocument spreadsheet (.ods)",
}

Row = tuple[int, list[Any], dict[int, Note] | None]
#: For each kind of workbook, where the cells come from whose value calamine gives without the
#: whole truth (errors, unsaved formulas, digit-changing formats): ``sheet_notes(path, sheet,
#: shown)``, yielding (row, {column: Note}) in sheet order.
EXTRAS: dict[str, Callable[[Path, str, bool], Iterator[tuple[int, dict[int, Note]]]]] = {
    "xlsx": xlsx_extras.sheet_notes,
    "xls": xls_extras.sheet_notes,
    "xlsb": xlsb_extras.sheet_notes,
    "ods": ods_extras.sheet_notes,
}
Range = tuple[tuple[int, int], tuple[int, int]]
#: Where the merged ranges come from for the kinds calamine gives none for (its
#: ``merged_cell_ranges`` is None): ``merged_ranges(path, sheet)``, 0-based and inclusive.
MERGES: dict[str, Callable[[Path, str], list[Range]]] = {
    "xlsb": xlsb_extras.merged_ranges,
    "ods": ods_extras.merged_ranges,
}


class ExcelSource(Source):
    """A workbook's sheet, read with python-calamine (plus ``xlsx_extras`` for .xlsx)."""

    def __init__(
        self,
        path: Path,
        sheet: str | None,
        *,
        kind: str = "xlsx",
        values: str = "shown",
        named: str | None = None,
        header_row: int = 1,
    ) -> None:
        """``kind`` is what the file is (``open_source`` sniffs it); ``named`` the suffix it
        carries when that says otherwise; ``values`` ``raw`` ignores number formats;
        ``header_row`` the sheet row of the column names (1: the first row with anything)."""
        self.path = path
        self.kind = kind
        self._values = values
        try:
            if named:  # calamine goes by the suffix; from a stream (read whole) by the bytes
                with path.open("rb") as stream:
                    self._book = calamine.CalamineWorkbook.from_filelike(stream)
            else:
                self._book = calamine.CalamineWorkbook.from_path(path)
        except calamine.PasswordError:
            raise SourceError(password_message(path)) from None
        except (calamine.CalamineError, OSError, ValueError) as exc:
            raise SourceError(damaged_message(path, kind, exc)) from None
        metas = [m for m in self._book.sheets_metadata if m.typ == calamine.SheetTypeEnum.WorkSheet]
        self.sheet_name = choose_sheet(path, metas, sheet)
        self._sheet = self._load(self.sheet_name)
        header = self._find_header(header_row)
        if header is None and header_row > 1:
            raise SourceError(
                f"{path.name}: source.header_row is {header_row} but row {header_row} of sheet "
                f"{self.sheet_name!r} is empty; give the number of the row that holds the column "
                "names (the first row is 1)"
            )
        if header is None:
            raise SourceError(empty_message(path, metas, self.sheet_name))
        self._header_row, self._raw_header = header
        self.header, self._row_index, self._keep = split_result_columns(self._raw_header)
        shown = KIND_NAMES[kind]
        if named:
            shown = f"{'Excel workbook (.xlsx)' if kind == 'xlsx' else shown}, though named {named}"
        names = [m.name for m in metas]
        skipped = [] if sheet is not None else names[: names.index(self.sheet_name)]
        hidden = ", ".join(repr(n) for n in skipped)
        hidden = f" (the first visible one; hidden: {hidden})" if skipped else ""
        self.description = f"{shown}, sheet {self.sheet_name!r}{hidden}"
        if skipped:  # a run says it too: a hidden sheet is never passed over silently
            self.notes = [
                f"{path.name}: reading sheet {self.sheet_name!r}, the first visible one; hidden "
                f"sheets passed over: {', '.join(repr(n) for n in skipped)} (source.sheet picks "
                "another)"
            ]

    def _load(self, name: str) -> calamine.CalamineSheet:
        try:
            return self._book.get_sheet_by_name(name)
        except calamine.PasswordError:
            raise SourceError(password_message(self.path)) from None
        except (calamine.CalamineError, OSError, ValueError) as exc:
            raise SourceError(
                f"{self.path.name}: sheet {name!r} cannot be read: it is damaged or missing from "
                f"the file ({exc}); open the workbook in Excel or LibreOffice, save it again, "
                "then run again"
            ) from None

    def _find_header(self, header_row: int) -> tuple[int, list[str]] | None:
        """The header's row and names: row ``header_row`` if it is above 1, else the first row
        with anything in it."""
        for number, values, _ in self._rows(noted=False):
            texts = [value_text(v) for v in values]
            if number < header_row:
                continue
            if number > header_row > 1 or not any(t.strip() for t in texts):
                if header_row > 1:
                    return None
                continue
            while texts and not texts[-1].strip():
                texts.pop()
            return number, [clean_name(t) for t in texts]
        return None

    def find_header_row(self, names: list[str]) -> int | None:
        """The first row below the header that holds every one of ``names``, or None."""
        wanted = {clean_name(name) for name in names}
        if not wanted:
            return None
        for number, values, _ in self._rows(noted=False):
            if number > self._header_row + HEADER_SEARCH_ROWS:
                break
            if number > self._header_row and wanted <= {clean_name(value_text(v)) for v in values}:
                return number
        return None

    def _rows(self, until: int = 0, *, noted: bool = True) -> Iterator[Row]:
        """Every row calamine has, and every row the extras have notes for (unless not
        ``noted``), in order; then empty rows up to row ``until`` (the end of a merge that
        reaches past the values)."""
        start = self._sheet.start
        first_row, self._first_column = start if start is not None else (0, 0)
        try:
            notes = self._notes() if noted else iter(())
            pending = next(notes, None)
            rows = self._sheet.iter_rows() if start is not None else iter(())
            number = 0
            for offset, values in enumerate(rows):
                number = first_row + offset + 1
                while pending is not None and pending[0] < number:
                    yield pending[0], [], pending[1]
                    pending = next(notes, None)
                if pending is not None and pending[0] == number:
                    yield number, values, pending[1]
                    pending = next(notes, None)
                else:
                    yield number, values, None
            last = number
            while pending is not None:
                yield pending[0], [], pending[1]
                last = pending[0]
                pending = next(notes, None)
            for number in range(last + 1, until + 1):
                yield number, [], None
        except XlsxPartError as exc:
            raise SourceError(
                f"{self.path.name}: sheet {self.sheet_name!r} cannot be read: {exc}; open the "
                "workbook in Excel or LibreOffice, save it again, then run again"
            ) from None

    def _notes(self) -> Iterator[tuple[int, dict[int, Note]]]:
        notes = EXTRAS.get(self.kind)
        if notes is None:
            return iter(())
        return notes(self.path, self.sheet_name, self._values == "shown")

    def chunks(self, size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        # Rows are sorted out on calamine's values; they become text a column at a time at
        # the end of each chunk (``text_column``), which is several times faster than per cell.
        width = len(self._raw_header)
        rows: list[int] = []
        records: list[list[object]] = []
        bad: list[BadRow] = []
        blank = 0
        merges = self._merges()
        until = max((r[2] for ranges in merges.values() for r in ranges), default=0)
        filling: list[tuple[int, int, int, object]] = []  # last row, columns, value
        # number formats, applied a column at a time: (kept column, format) -> record indexes
        shown: dict[tuple[int, NumberFormat], list[int]] = {}
        position = {c: i for i, c in enumerate(self._keep or range(width))}
        for number, values, notes in self._rows(until):
            if number <= self._header_row:
                continue
            cells: list[object] = values  # calamine's own list: changed in place below
            formats: list[tuple[int, NumberFormat]] = []
            problems = self._apply(number, notes, cells, width, formats) if notes else []
            own = bool(problems) or any(_filled(v) for v in cells)
            if filling:
                filling = [f for f in filling if f[0] >= number]
            for _top, left, bottom, right in merges.pop(number, ()) if merges else ():
                column = left - self._first_column
                filling.append((bottom, left, right, cells[column] if column < len(cells) else ""))
            for _bottom, left, right, value in filling:
                for column in range(left - self._first_column, right - self._first_column + 1):
                    if column >= 0:
                        if column >= len(cells):
                            cells += [""] * (column + 1 - len(cells))
                        cells[column] = value
            if not own:  # a row with nothing but the rest of a merge above is blank
                blank += 1
                continue
            row = number
            if self._row_index is not None and self._row_index < len(cells):
                row = row_number(value_text(cells[self._row_index]), number)
            if problems or (formats and len(cells) > width):
                for column, number_format in formats:
                    cells[column] = number_format(cells[column])  # type: ignore[arg-type]
            if problems:
                texts = [value_text(v) for v in (cells + [""] * width)[:width]]
                bad.append(BadRow(row, texts, "; ".join(problems)))
            elif len(cells) > width and any(_filled(v) for v in cells[width:]):
                message = (
                    f"row has values beyond the last named column ({len(cells)} cells, "
                    f"{width} column names): give those columns a name in row {self._header_row}"
                )
                bad.append(BadRow(row, [value_text(v) for v in cells], message))
            else:
                cells = (cells + [""] * width)[:width] if len(cells) != width else cells
                for column, number_format in formats:
                    if column in position:
                        shown.setdefault((position[column], number_format), []).append(len(rows))
                rows.append(row)
                records.append(cells if self._keep is None else [cells[i] for i in self._keep])
            if len(records) + len(bad) >= size:
                yield self._chunk(rows, records, bad, blank, shown)
                rows, records, bad, blank, shown = [], [], [], 0, {}
        if records or bad or blank:
            yield self._chunk(rows, records, bad, blank, shown)

    def _chunk(
        self,
        rows: list[int],
        records: list[list[object]],
        bad: list[BadRow],
        blank: int,
        shown: dict[tuple[int, NumberFormat], list[int]],
    ) -> Chunk:
        kept = len(self.header)
        columns = list(zip(*records, strict=True)) if records else [()] * kept
        texts = [text_column(column) for column in columns]
        for (column, number_format), indexes in shown.items():
            values: list[float] = [columns[column][i] for i in indexes]
            for index, text in zip(indexes, number_format.many(values), strict=True):
                texts[column][index] = text
        table = pa.table(
            [pa.array(column, pa.string()) for column in texts],
            names=[f"c{i}" for i in range(kept)],
        )
        return Chunk(rows, table, bad=bad, blank=blank)

    def _apply(
        self,
        number: int,
        notes: dict[int, Note],
        cells: list[object],
        width: int,
        formats: list[tuple[int, NumberFormat]],
    ) -> list[str]:
        """Put error texts into ``cells`` and number cells with a format into ``formats``; the
        reasons the row fails, if any."""
        problems = []
        for absolute, note in sorted(notes.items()):
            column = absolute - self._first_column
            if column < 0:
                continue
            if column >= len(cells):
                cells += [""] * (column + 1 - len(cells))
            if note.kind == "format":
                value = cells[column]
                if note.render is not None and value.__class__ in (float, int):
                    formats.append((column, note.render))
                continue
            if column >= width:
                continue  # beyond the named columns: the row fails for that on its own
            cell = f"cell {column_letters(absolute)}{number}"
            name = self._raw_header[column]
            where = f"{cell} (column {name!r})" if name else cell
            if note.kind == "error":
                cells[column] = note.error
                problems.append(
                    f"{where} shows the error {note.error}: correct its formula or clear it in "
                    "the workbook"
                )
            else:
                problems.append(
                    f"{where} is a formula with no saved result (the program that wrote the "
                    "file did not calculate it): open the file in Excel or LibreOffice and save "
                    "it, or type the value in"
                )
        return problems

    def _merges(self) -> dict[int, list[tuple[int, int, int, int]]]:
        """Merged ranges by the sheet row (1-based) they start on: (top, left, bottom, right)."""
        found: dict[int, list[tuple[int, int, int, int]]] = {}
        ranges: list[Range] | None = self._sheet.merged_cell_ranges
        if ranges is None and self.kind in MERGES:
            try:
                ranges = MERGES[self.kind](self.path, self.sheet_name)
            except XlsxPartError as exc:
                raise SourceError(
                    f"{self.path.name}: sheet {self.sheet_name!r} cannot be read: {exc}; open "
                    "the workbook in Excel or LibreOffice, save it again, then run again"
                ) from None
        for (top, left), (bottom, right) in ranges or ():
            if top + 1 > self._header_row:
                found.setdefault(top + 1, []).append((top + 1, left, bottom + 1, right))
        return found


def _filled(value: object) -> bool:
    """Whether a cell shows anything: a number or date always does, text unless blank."""
    return value.__class__ is not str or bool(value.strip())
