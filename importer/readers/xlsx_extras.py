"""What an .xlsx sheet says that python-calamine does not pass on: error cells (``#N/A``),
formulas saved without a result, and number formats that change the digits a cell shows
(``000000`` showing ``000604``, ``0.0%`` showing ``12.5%``).

calamine reads the values fast (in Rust) but gives an error cell and an unsaved formula as an
empty string, and gives no number formats. Reading every cell through openpyxl to get them costs
7 to 9 times as long (BENCHMARKS.md), so this module reads the two parts that hold them from
the zip: ``styles.xml`` (which style index has which format) and the sheet's XML, scanned with
regular expressions for only the cells that matter: ``t="e"``, a ``<f>`` without a value, or an
``s`` attribute naming a digit-changing style. Every other cell is skipped at C speed.

``sheet_notes`` yields, row by row in sheet order, what to do with those cells; ``xls_extras``,
``xlsb_extras`` and ``ods_extras`` give the same for the other kinds of workbook, and
``number_renderer`` turns any of their number formats into the digits shown.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.errors import NothingSent

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
#: Excel's built-in number formats that are not dates (ids 14-22, 45-47) or General/text.
BUILTIN_FORMATS = {
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
    37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)",
    39: "#,##0.00;(#,##0.00)",
    40: "#,##0.00;[Red](#,##0.00)",
}
SCAN_BYTES = 8 << 20  # sheet XML read in 8 MB pieces, cut at a row's end
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_ERROR_VALUE = re.compile(rb"<v>([^<]*)</v>")


@dataclass(frozen=True)
class Note:
    """One cell calamine's value does not tell the whole truth about."""

    kind: str  # "error", "formula" (no saved result) or "format"
    error: str = ""  # the error shown, for kind "error"
    render: NumberFormat | None = None  # shown digits, for kind "format"


class XlsxPartError(NothingSent):
    """A part of the workbook is missing or unreadable; the message says which."""


def sheet_part(book: zipfile.ZipFile, sheet_name: str) -> str:
    """The zip member that holds a sheet, from workbook.xml and its relationships."""
    try:
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError) as exc:
        raise XlsxPartError(f"its workbook part is missing or damaged ({exc})") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{RELS}Relationship")}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        if sheet.get("name") == sheet_name:
            target = targets.get(sheet.get(DOC_REL), "")
            if target.startswith("/"):
                return target.lstrip("/")
            return str(PurePosixPath("xl") / target)
    raise XlsxPartError(f"sheet {sheet_name!r} has no part in the file")


def digit_styles(book: zipfile.ZipFile) -> dict[int, NumberFormat]:
    """Style index → how a number in that style is shown, for the styles that change digits."""
    try:
        styles = ElementTree.fromstring(book.read("xl/styles.xml"))
    except KeyError:
        return {}  # no styles part: every cell is General
    except ElementTree.ParseError as exc:
        raise XlsxPartError(f"its styles part is damaged ({exc})") from None
    codes = dict(BUILTIN_FORMATS)
    for fmt in styles.iter(f"{MAIN}numFmt"):
        try:
            codes[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
        except ValueError:
            continue
    found: dict[int, NumberFormat] = {}
    cell_xfs = styles.find(f"{MAIN}cellXfs")
    for index, xf in enumerate(() if cell_xfs is None else cell_xfs.iter(f"{MAIN}xf")):
        number = xf.get("numFmtId", "0")
        code = codes.get(int(number)) if number.isdigit() else None
        render = number_renderer(code) if code else None
        if render is not None:
            found[index] = render
    return found


def number_renderer(code: str) -> NumberFormat | None:
    """For a number format that changes the digits shown, what gives those digits.

    Applied: zero padding (``000000``), fixed decimals (``0.00``, rounded half away from zero as
    Excel does), percentages (``0.0%``) and thousands scaling (``0,``). Not applied, so the full
    number is kept: General, text (``@``), dates and times, scientific (``0.00E+00``) and
    fractions, which hide digits. Thousands separators, currency signs and literal text are
    decoration, not digits, and are left out; a negative number keeps its minus sign.
    """
    sections = _split_sections(code)
    layouts = [_layout(section) for section in sections[:3]]
    if not layouts or layouts[0] is None:
        return None
    positive = layouts[0]
    negative = layouts[1] if len(layouts) > 1 and layouts[1] is not None else positive
    zero = layouts[2] if len(layouts) > 2 and layouts[2] is not None else positive
    return NumberFormat(positive, negative, zero)


@dataclass(frozen=True, eq=False)  # hashed by identity: one per style, a dict key per cell
class NumberFormat:
    """A digit-changing number format: the layouts of its positive, negative and zero parts."""

    positive: _Layout
    negative: _Layout
    zero: _Layout

    def __call__(self, value: float) -> str:
        layout = self.positive if value > 0 else self.negative if value < 0 else self.zero
        text = layout.show(abs(value))
        return "-" + text if value < 0 and text.strip("0.%") else text

    def many(self, values: list[float]) -> list[str]:
        """The same for many values: whole, non-negative numbers padded in bulk by Arrow."""
        layout = self.positive
        if layout.percent or layout.thousands or layout != self.zero:
            return [self(v) for v in values]
        array = np.array(values, dtype=np.float64)
        whole = (array >= 0) & (array < 1e15) & (array == np.floor(array))
        if not whole.all():
            texts = [""] * len(values)
            indexes = np.flatnonzero(whole).tolist()
            for index, text in zip(indexes, self.many([values[i] for i in indexes]), strict=True):
                texts[index] = text
            for index in np.flatnonzero(~whole).tolist():
                texts[index] = self(values[index])
            return texts
        digits = pa.array(array.astype(np.int64)).cast(pa.string())
        if layout.min_int > 1:
            digits = pc.utf8_lpad(digits, width=layout.min_int, padding="0")
        elif layout.min_int == 0:
            digits = pc.replace_substring_regex(digits, pattern="^0$", replacement="")
        texts = digits.to_pylist()
        if layout.min_dec:
            tail = "." + "0" * layout.min_dec
            texts = [text + tail for text in texts]
        return texts


@dataclass(frozen=True)
class _Layout:
    min_int: int  # zeros before the point
    decimals: int  # places after the point
    min_dec: int  # zeros after the point (the rest are #/? and trimmed)
    percent: int
    thousands: int  # trailing commas: each divides by 1000

    def show(self, value: float) -> str:
        if not self.percent and not self.thousands and value < 1e15 and value == int(value):
            whole = str(int(value)).lstrip("0").rjust(self.min_int, "0")  # the common case
            return whole + ("." + "0" * self.min_dec if self.min_dec else "")
        try:
            number = Decimal(repr(value)) * (100**self.percent) / (1000**self.thousands)
            number = number.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return repr(value)
        whole, _, fraction = f"{number:f}".partition(".")
        if self.decimals > self.min_dec:
            fraction = fraction[: self.min_dec] + fraction[self.min_dec :].rstrip("0")
        whole = whole.lstrip("0").rjust(self.min_int, "0")
        text = whole + ("." + fraction if fraction else "")
        return text + "%" * self.percent


def _split_sections(code: str) -> list[str]:
    sections: list[str] = []
    current: list[str] = []
    quoted = False
    for char in code:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            sections.append("".join(current))
            current = []
        else:
            current.append(char)
    sections.append("".join(current))
    return sections


def _layout(section: str) -> _Layout | None:
    bare = _QUOTED.sub("", section)
    if not re.search(r"[0#?]", bare) or re.search(r"[yYmMdDhHsSeE@/]|General", bare):
        return None  # not a plain number format: dates, scientific, fractions, text, General
    digits = re.search(r"[0#?,.]*[0#?][0#?,.]*", bare)
    if digits is None:
        return None
    part = digits.group()
    whole, _, fraction = part.partition(".")
    thousands = len(whole) - len(whole.rstrip(",")) if not fraction else 0
    fraction_digits = fraction.replace(",", "")
    layout = _Layout(
        min_int=whole.count("0"),
        decimals=len(fraction_digits),
        min_dec=len(fraction_digits) - len(fraction_digits.lstrip("0")),
        percent=bare.count("%"),
        thousands=thousands,
    )
    plain = layout.min_int <= 1 and layout.decimals == 0 and not layout.percent
    return None if plain and not layout.thousands else layout


def sheet_notes(path: Path, sheet_name: str, shown: bool) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based) of the sheet with cells to note, ascending, with those cells by 0-based
    column: error cells, formulas without a result, and (when ``shown``) numbers whose format
    changes their digits."""
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxPartError(f"it is not a whole zip ({exc})") from None
    with book:
        try:
            part = sheet_part(book, sheet_name)
            styles = digit_styles(book) if shown else {}
        except (zipfile.BadZipFile, OSError) as exc:
            raise XlsxPartError(f"its parts are damaged ({exc})") from None
        yield from part_notes(book, part, styles)


def part_notes(
    book: zipfile.ZipFile, part: str, styles: dict[int, NumberFormat]
) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based) of a sheet part with cells to note, with those cells by 0-based
    column."""
    found = _Patterns(styles)
    try:
        stream = book.open(part)
    except KeyError:
        raise XlsxPartError(f"its part {part} is missing") from None
    with stream:
        rest = b""
        while True:
            try:
                piece = stream.read(SCAN_BYTES)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise XlsxPartError(f"its part {part} is damaged ({exc})") from None
            data = rest + piece
            if not piece:
                yield from _notes_in(data, found)
                return
            cut = data.rfind(b"</row>")
            if cut < 0:
                rest = data  # one row longer than a piece: read on
                continue
            cut += len(b"</row>")
            rest = data[cut:]
            yield from _notes_in(data[:cut], found)


class _Patterns:
    """The searches for one sheet: each starts with a literal, so re skips ahead at C speed."""

    def __init__(self, styles: dict[int, NumberFormat]) -> None:
        indexes = b"|".join(str(i).encode() for i in sorted(styles)) or b"-"
        self.notes = {index: Note("format", render=render) for index, render in styles.items()}
        # Excel, openpyxl and xlsxwriter write r= then s= then t=; other orders are checked for
        self.styled = re.compile(
            rb'<c r="([A-Z]{1,3})([0-9]+)" s="(' + indexes + rb')"(?: t="([a-zA-Z]+)")?'
        )
        self.style_attrs = [b' s="' + str(i).encode() + b'"' for i in styles]
        self.styled_any_order = re.compile(rb'<c\s([^>]*?\bs="(?:' + indexes + rb')"[^>]*)>')
        self.formula = re.compile(rb"<f\b[^>]*(?:/>|>[^<]*</f>)(?:<v\s*/>|<v></v>)?</c>")
        self.error = re.compile(rb't="e"')
        self.columns: dict[bytes, int] = {}


_FORMULA = Note("formula")


def _notes_in(block: bytes, found: _Patterns) -> Iterator[tuple[int, dict[int, Note]]]:
    by_row: dict[int, dict[int, Note]] = {}
    hits = found.styled.findall(block)
    if sum(block.count(attr) for attr in found.style_attrs) == len(hits):
        columns, notes = found.columns, found.notes
        last, cells = b"", {}
        for letters, row, style, kind in hits:
            if kind in (b"", b"n"):
                column = columns.get(letters)
                if column is None:
                    column = columns[letters] = _column_index(letters)
                if row != last:  # hits come in sheet order: one lookup per row
                    last, cells = row, by_row.setdefault(int(row), {})
                cells[column] = notes[int(style)]
    else:  # attributes in another order: the slower, general search
        for match in found.styled_any_order.finditer(block):
            attrs = match.group(1)
            kind = re.search(rb'\bt="([a-zA-Z]+)"', attrs)
            style = re.search(rb'\bs="([0-9]+)"', attrs)
            if style and (kind is None or kind.group(1) == b"n"):
                row, column = _cell_ref(attrs)
                by_row.setdefault(row, {})[column] = found.notes[int(style.group(1))]
    if b"<f" in block:
        for match in found.formula.finditer(block):
            start = block.rfind(b"<c", 0, match.start())
            attrs = block[start + 2 : block.index(b">", start)]
            if b't="str"' not in attrs and b't="e"' not in attrs:
                row, column = _cell_ref(attrs)
                by_row.setdefault(row, {})[column] = _FORMULA
    if b't="e"' in block:
        for match in found.error.finditer(block):
            start = block.rfind(b"<c", 0, match.start())
            end = block.find(b"</c>", match.end())
            cell = block[start : end if end >= 0 else len(block)]
            if cell.startswith((b"<c ", b"<c\t", b"<c\n", b"<c\r")):
                row, column = _cell_ref(cell[: cell.index(b">")])
                value = _ERROR_VALUE.search(cell)
                shown = value.group(1).decode("utf-8", "replace") if value else "#VALUE!"
                by_row.setdefault(row, {})[column] = Note("error", error=shown)
    for row in sorted(by_row):
        yield row, by_row[row]


def _cell_ref(attrs: bytes) -> tuple[int, int]:
    ref = _REF.search(attrs)
    if ref is None:
        raise XlsxPartError("its cells carry no references (r=); open and save it again in Excel")
    return int(ref.group(2)), _column_index(ref.group(1))


def _column_index(letters: bytes) -> int:
    index = 0
    for char in letters:
        index = index * 26 + char - 64
    return index - 1


def column_letters(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
