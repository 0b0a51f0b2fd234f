"""What an .ods (OpenDocument spreadsheet) sheet says that python-calamine does not pass on:
error cells (``#DIV/0!``), number formats that change the digits a cell shows (a number style
with 6 minimum integer digits showing 604 as ``000604``, a percentage style showing 0.125 as
``12.5%``, 2 decimals showing 2.675 as ``2.68``) and merged cells.

calamine gives an error cell as the number LibreOffice stores with it (``0.0`` for ``=1/0``),
every number without its style, and no merged ranges for .ods (``merged_cell_ranges`` is None).
This module reads them from the zip's ``content.xml``, streamed with ``iterparse`` and cleared
as it goes (a big sheet never sits in memory whole), stopping after the wanted table; number
styles come from ``content.xml``'s automatic styles and ``styles.xml``'s common styles. An ODS
number style is turned into the Excel format code that shows the same digits and handed to
``number_renderer``, so .xlsx and .ods cells show identical digits.

``sheet_notes`` yields the same ``Note`` values ``xlsx_extras`` gives for .xlsx.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from importer.readers.xlsx_extras import Note, NumberFormat, XlsxPartError, number_renderer

OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
NUMBER = "{urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0}"
CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"

_TABLE, _ROW, _CELL = f"{TABLE}table", f"{TABLE}table-row", f"{TABLE}table-cell"
_COVERED, _COLUMN = f"{TABLE}covered-table-cell", f"{TABLE}table-column"
_AUTOMATIC = f"{OFFICE}automatic-styles"
_REPEAT_COLS, _REPEAT_ROWS = f"{TABLE}number-columns-repeated", f"{TABLE}number-rows-repeated"
_SPAN_COLS, _SPAN_ROWS = f"{TABLE}number-columns-spanned", f"{TABLE}number-rows-spanned"
_STYLE_NAME, _DEFAULT_STYLE = f"{TABLE}style-name", f"{TABLE}default-cell-style-name"
_VALUE_TYPE, _CALC_TYPE = f"{OFFICE}value-type", f"{CALCEXT}value-type"
_NUMBER_TYPES = frozenset(("float", "percentage", "currency"))
_DATA_STYLES = {
    f"{NUMBER}number-style": "",
    f"{NUMBER}percentage-style": "%",
    f"{NUMBER}currency-style": "",
}
#: What an older writer (no calcext:value-type) leaves as a formula's text when it failed.
_ERROR_TEXT = re.compile(r"#(?:N/A|DIV/0!|VALUE!|REF!|NAME\?|NUM!|NULL!)|Err:[0-9]{3}")


def sheet_notes(path: Path, sheet_name: str, shown: bool) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based sheet row number) of table ``sheet_name`` that has cells to note,
    ascending, with those cells keyed by 0-based absolute column index: error cells and, when
    ``shown``, float/percentage/currency cells whose number style changes digits."""
    yield from _scan(path, sheet_name, shown, None)


def merged_ranges(path: Path, sheet_name: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The table's merged ranges as ``((top, left), (bottom, right))``, 0-based and inclusive,
    as calamine's ``merged_cell_ranges`` gives them for .xlsx (it gives None for .ods)."""
    found: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for _ in _scan(path, sheet_name, False, found):
        pass
    return found


def ods_format_code(element: ElementTree.Element, suffix: str = "") -> str | None:
    """The Excel format code that shows the digits an ODS data style's ``number:number``
    element shows (``suffix`` ``%`` for a percentage style); None for scientific numbers,
    fractions and styles without a number part (text, dates, times, booleans)."""
    number = element.find(f"{NUMBER}number")
    if number is None:
        return None
    try:
        min_int = int(number.get(f"{NUMBER}min-integer-digits", "1"))
        decimals = int(number.get(f"{NUMBER}decimal-places", "0") or 0)
        min_dec = int(number.get(f"{NUMBER}min-decimal-places", str(decimals)))
        factor = float(number.get(f"{NUMBER}display-factor", "1"))
    except ValueError:
        return None
    min_dec = max(0, min(min_dec, decimals))
    whole = "0" * min_int if min_int > 0 else "#"
    if number.get(f"{NUMBER}grouping") == "true":
        whole = "#,##" + whole.rjust(1, "#") if len(whole) < 4 else whole
    fraction = "." + "0" * min_dec + "#" * (decimals - min_dec) if decimals else ""
    scaling = ""
    while factor >= 1000 and factor % 1000 == 0:
        scaling += ","
        factor /= 1000
    return whole + scaling + fraction + suffix


def _scan(
    path: Path,
    sheet_name: str,
    shown: bool,
    merges: list[tuple[tuple[int, int], tuple[int, int]]] | None,
) -> Iterator[tuple[int, dict[int, Note]]]:
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxPartError(f"it is not a whole zip ({exc})") from None
    with book:
        styles = _Styles()
        if shown:
            styles.read_common(book)
        try:
            stream = book.open("content.xml")
        except KeyError:
            raise XlsxPartError("its part content.xml is missing") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise XlsxPartError(f"its part content.xml is damaged ({exc})") from None
        with stream:
            try:
                yield from _walk(stream, sheet_name, styles if shown else None, merges)
            except ElementTree.ParseError as exc:
                raise XlsxPartError(f"its part content.xml is damaged ({exc})") from None
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise XlsxPartError(f"its part content.xml is damaged ({exc})") from None


class _Styles:
    """Cell style name → how a number in it is shown, for the styles that change digits."""

    def __init__(self) -> None:
        self.cell: dict[str, tuple[str | None, str | None]] = {}  # name: (data style, parent)
        self.data: dict[str, str | None] = {}  # data style name: Excel format code
        self._renders: dict[str, NumberFormat | None] = {}
        self._notes: dict[str, Note | None] = {}

    def read_common(self, book: zipfile.ZipFile) -> None:
        try:
            root = ElementTree.fromstring(book.read("styles.xml"))
        except KeyError:
            return  # no styles part: only automatic styles
        except ElementTree.ParseError as exc:
            raise XlsxPartError(f"its part styles.xml is damaged ({exc})") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise XlsxPartError(f"its part styles.xml is damaged ({exc})") from None
        for group in root:
            self.add(group)

    def add(self, group: ElementTree.Element) -> None:
        """The styles in an office:styles or office:automatic-styles element."""
        for element in group:
            name = element.get(f"{STYLE}name")
            if name is None:
                continue
            if element.tag == f"{STYLE}style":
                if element.get(f"{STYLE}family") == "table-cell":
                    self.cell[name] = (
                        element.get(f"{STYLE}data-style-name"),
                        element.get(f"{STYLE}parent-style-name"),
                    )
            elif element.tag in _DATA_STYLES:
                self.data[name] = ods_format_code(element, _DATA_STYLES[element.tag])
        self._notes.clear()

    def note(self, cell_style: str) -> Note | None:
        if cell_style in self._notes:
            return self._notes[cell_style]
        data: str | None = None
        name: str | None = cell_style
        seen: set[str] = set()
        while name is not None and name not in seen and data is None:
            seen.add(name)
            data, name = self.cell.get(name, (None, None))
        code = self.data.get(data) if data else None
        render = number_renderer(code) if code else None
        note = self._notes[cell_style] = Note("format", render=render) if render else None
        return note


class _Columns:
    """Default cell styles of the table's columns, kept as runs (columns repeat by thousands)."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, int, str]] = []  # first, last (exclusive), style
        self.end = 0

    def add(self, count: int, style: str | None) -> None:
        if style:
            self.runs.append((self.end, self.end + count, style))
        self.end += count

    def style(self, column: int) -> str | None:
        for first, last, style in self.runs:
            if first <= column < last:
                return style
        return None


def _count(element: ElementTree.Element, attribute: str) -> int:
    try:
        return max(1, int(element.get(attribute, "1")))
    except ValueError:
        return 1


def _walk(
    stream: IO[bytes],
    sheet_name: str,
    styles: _Styles | None,
    merges: list[tuple[tuple[int, int], tuple[int, int]]] | None,
) -> Iterator[tuple[int, dict[int, Note]]]:
    parents: list[ElementTree.Element] = []
    inside = False  # within the wanted table
    depth = 0  # table:table elements open within it (subtables)
    row = 0  # 0-based index of the next row
    columns = _Columns()
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            if element.tag == _TABLE:
                if inside:
                    depth += 1
                elif element.get(f"{TABLE}name") == sheet_name:
                    inside = True
            parents.append(element)
            continue
        parents.pop()
        tag = element.tag
        if tag == _AUTOMATIC and styles is not None and not inside:
            styles.add(element)
        if not inside:
            if tag in (_ROW, _TABLE, _AUTOMATIC) or tag == f"{OFFICE}font-face-decls":
                element.clear()
            continue
        if tag == _TABLE:
            if depth:
                depth -= 1
                continue
            return  # the wanted table is read: stop
        if depth:
            continue
        if tag == _COLUMN:
            columns.add(_count(element, _REPEAT_COLS), element.get(_DEFAULT_STYLE))
            continue
        if tag != _ROW:
            continue
        repeat = _count(element, _REPEAT_ROWS)
        cells = _row_notes(element, row, styles, columns, merges)
        if cells:
            for offset in range(repeat):
                yield row + offset + 1, cells if offset == 0 else dict(cells)
        row += repeat  # empty repeated rows (1048576 of them at the end) skipped by arithmetic
        element.clear()
        if parents:
            parents[-1].remove(element)


def _row_notes(
    element: ElementTree.Element,
    row: int,
    styles: _Styles | None,
    columns: _Columns,
    merges: list[tuple[tuple[int, int], tuple[int, int]]] | None,
) -> dict[int, Note]:
    found: dict[int, Note] = {}
    row_style = element.get(_DEFAULT_STYLE)
    column = 0
    for cell in element:
        if cell.tag not in (_CELL, _COVERED):
            continue
        repeat = _count(cell, _REPEAT_COLS)
        kind = cell.get(_VALUE_TYPE)
        if (
            cell.tag == _CELL
            and merges is not None
            and (_SPAN_COLS in cell.attrib or _SPAN_ROWS in cell.attrib)
        ):
            across, down = _count(cell, _SPAN_COLS), _count(cell, _SPAN_ROWS)
            if across > 1 or down > 1:
                for offset in range(repeat):
                    left = column + offset * across
                    merges.append(((row, left), (row + down - 1, left + across - 1)))
        if kind is not None:
            note = _error(cell)
            if note is None and styles is not None and kind in _NUMBER_TYPES:
                for offset in range(repeat):
                    style = cell.get(_STYLE_NAME) or row_style or columns.style(column + offset)
                    format_note = styles.note(style) if style else None
                    if format_note is not None:
                        found[column + offset] = format_note
            elif note is not None:
                for offset in range(repeat):
                    found[column + offset] = note
        column += repeat
    return found


def _error(cell: ElementTree.Element) -> Note | None:
    """The error a cell shows, if it is an error cell: LibreOffice marks it with
    calcext:value-type="error"; an older writer leaves a formula whose text is an error."""
    calc = cell.get(_CALC_TYPE)
    if calc is not None and calc != "error":
        return None
    if calc is None and (cell.get(f"{TABLE}formula") is None or cell.get(_VALUE_TYPE) != "string"):
        return None
    paragraph = cell.find(f"{TEXT}p")
    text = "".join(paragraph.itertext()).strip() if paragraph is not None else ""
    if calc is None and not _ERROR_TEXT.fullmatch(text):
        return None
    return Note("error", error=text or "#VALUE!")
