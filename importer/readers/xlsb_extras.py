"""What an .xlsb (Excel binary workbook) sheet says that python-calamine does not pass on: error
cells (``#N/A``), number formats that change the digits a cell shows (``000000`` showing
``000604``, ``0.0%`` showing ``12.5%``, ``0.00`` showing ``2.68``) and merged cells.

An .xlsb is a zip of binary parts ([MS-XLSB], "BIFF12"): each part a run of records, each record
a type and a size (7-bit varints) and a body. calamine gives an error cell (BrtCellError,
BrtFmlaError) as an empty string, every number without its format, and no merged ranges for
.xlsb (``merged_cell_ranges`` is None). This module reads those from the records:

* ``xl/workbook.bin`` (BrtBundleSh) and ``xl/_rels/workbook.bin.rels``: which part is the sheet;
* ``xl/styles.bin``: BrtFmt (the custom format codes) and the BrtXF records of the CellXfs
  block (style index -> format id), the built-in ids from ``BUILTIN_FORMATS``;
* the sheet part, read in 1 MB pieces and walked record by record, a record's body looked at
  only for the record types that matter (the rest skipped over, never copied).

``sheet_notes`` yields the same ``Note`` values ``xlsx_extras`` gives for .xlsx.

Formulas in an .xlsb always carry their last result (BrtFmlaNum/String/Bool/Error hold it), so
there is no "formula with no saved result" case here.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO
from xml.etree import ElementTree

from importer.readers.xlsx_extras import (
    BUILTIN_FORMATS,
    RELS,
    Note,
    NumberFormat,
    XlsxPartError,
    number_renderer,
)

#: BErr codes ([MS-XLSB] 2.5.97.2) and the text Excel shows for them.
ERRORS = {
    0x00: "#NULL!",
    0x07: "#DIV/0!",
    0x0F: "#VALUE!",
    0x17: "#REF!",
    0x1D: "#NAME?",
    0x24: "#NUM!",
    0x2A: "#N/A",
    0x2B: "#GETTING_DATA",
}
PIECE = 1 << 20  # a sheet part is read in 1 MB pieces

# record types ([MS-XLSB] 2.3)
ROW_HDR, CELL_RK, CELL_ERROR, CELL_REAL = 0x00, 0x02, 0x03, 0x05
FMLA_NUM, FMLA_ERROR = 0x09, 0x0B
FMT, XF = 0x2C, 0x2F
BUNDLE_SH, END_BUNDLE_SHS = 0x9C, 0x90
END_SHEET_DATA, END_SHEET = 0x92, 0x82
MERGE_CELL, END_MERGE_CELLS = 0xB0, 0xB2
BEGIN_CELL_XFS, END_CELL_XFS = 0x269, 0x26A
NUMBERS = frozenset((CELL_RK, CELL_REAL, FMLA_NUM))
ERROR_CELLS = frozenset((CELL_ERROR, FMLA_ERROR))

_UINT32 = struct.Struct("<I")
_RFX = struct.Struct("<iiii")


class _Damaged(XlsxPartError):
    """A part ends inside a record."""


def sheet_notes(path: Path, sheet_name: str, shown: bool) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based) of the sheet that has cells to note, ascending, cells keyed by 0-based
    absolute column: error cells (BrtCellError and BrtFmlaError) and, when ``shown``, number
    cells (BrtCellReal, BrtCellRk, BrtFmlaNum) whose style's format changes digits."""
    with _open(path) as book:
        part = sheet_part(book, sheet_name)
        styles = digit_styles(book) if shown else {}
        yield from part_notes(book, part, styles)


def merged_ranges(path: Path, sheet_name: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The sheet's merged ranges as ``((top, left), (bottom, right))``, 0-based and inclusive,
    as calamine's ``merged_cell_ranges`` gives them for .xlsx (it gives None for .xlsb)."""
    with _open(path) as book:
        part = sheet_part(book, sheet_name)
        found = []
        wanted = frozenset((MERGE_CELL, END_MERGE_CELLS, END_SHEET))
        for typ, data, at, size in _records(book, part, wanted):
            if typ != MERGE_CELL:
                break  # BrtEndMergeCells: there is only one block; BrtEndSheet: there is none
            if size < _RFX.size:
                raise XlsxPartError(f"its part {part} has a damaged merged range")
            top, bottom, left, right = _RFX.unpack_from(data, at)
            found.append(((top, left), (bottom, right)))
        return found


def sheet_part(book: zipfile.ZipFile, sheet_name: str) -> str:
    """The zip member that holds a sheet, from workbook.bin's BrtBundleSh records and
    workbook.bin.rels."""
    try:
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.bin.rels"))
    except (KeyError, ElementTree.ParseError) as exc:
        raise XlsxPartError(f"its workbook relationships are missing or damaged ({exc})") from None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{RELS}Relationship")}
    try:
        data = book.read("xl/workbook.bin")
    except KeyError:
        raise XlsxPartError("its workbook part xl/workbook.bin is missing") from None
    for typ, at, size in _walk(data, "xl/workbook.bin"):
        if typ == END_BUNDLE_SHS:
            break
        if typ != BUNDLE_SH:
            continue
        try:
            rel_id, after = _wide(data, at + 8, at + size)  # after hsState, iTabID
            name, _ = _wide(data, after, at + size)
        except _Damaged:
            raise XlsxPartError("its workbook part has a damaged sheet record") from None
        if name == sheet_name:
            target = targets.get(rel_id)
            if not target:
                raise XlsxPartError(f"sheet {sheet_name!r} has no part in the file")
            if target.startswith("/"):
                return target.lstrip("/")
            return str(PurePosixPath("xl") / target)
    raise XlsxPartError(f"sheet {sheet_name!r} is not in its workbook part")


def digit_styles(book: zipfile.ZipFile) -> dict[int, NumberFormat]:
    """Style index -> how a number in that style is shown, for the styles that change digits."""
    try:
        data = book.read("xl/styles.bin")
    except KeyError:
        return {}  # no styles part: every cell is General
    codes: dict[int, str] = dict(BUILTIN_FORMATS)
    formats: list[int] = []
    in_cell_xfs = False
    try:
        for typ, at, size in _walk(data, "xl/styles.bin"):
            if typ == FMT:
                ifmt = struct.unpack_from("<H", data, at)[0] if size >= 2 else -1
                codes[ifmt] = _wide(data, at + 2, at + size)[0]
            elif typ == BEGIN_CELL_XFS:
                in_cell_xfs = True
            elif typ == END_CELL_XFS:
                break
            elif typ == XF and in_cell_xfs:
                formats.append(struct.unpack_from("<H", data, at + 2)[0] if size >= 4 else 0)
    except _Damaged:
        raise XlsxPartError("its styles part xl/styles.bin is damaged") from None
    renders: dict[int, NumberFormat | None] = {}
    found: dict[int, NumberFormat] = {}
    for index, ifmt in enumerate(formats):
        if ifmt not in renders:
            code = codes.get(ifmt)
            renders[ifmt] = number_renderer(code) if code else None
        render = renders[ifmt]
        if render is not None:
            found[index] = render
    return found


def part_notes(
    book: zipfile.ZipFile, part: str, styles: dict[int, NumberFormat]
) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based) of a sheet part with cells to note, with those cells by 0-based
    column."""
    notes = {index: Note("format", render=render) for index, render in styles.items()}
    errors = {code: Note("error", error=text) for code, text in ERRORS.items()}
    wanted = ERROR_CELLS | {ROW_HDR, END_SHEET_DATA}
    if notes:
        wanted |= NUMBERS
    row = -1
    cells: dict[int, Note] = {}
    for typ, data, at, size in _records(book, part, wanted):
        if typ == ROW_HDR:
            number = _UINT32.unpack_from(data, at)[0] if size >= 4 else -1
            if number != row:
                if cells:
                    yield row + 1, cells
                    cells = {}
                if number < row or number > 0xFFFFF:
                    raise XlsxPartError(f"its part {part} has rows out of order ({number + 1})")
                row = number
        elif typ == END_SHEET_DATA:
            if cells:
                yield row + 1, cells
            return
        elif size < 8 or row < 0:
            raise XlsxPartError(f"its part {part} has a damaged cell record")
        elif typ in ERROR_CELLS:
            code = data[at + 8] if size > 8 else 0x0F
            cells[_UINT32.unpack_from(data, at)[0]] = errors.get(code) or Note("error", "#VALUE!")
        else:  # a number: noted when its style changes digits
            note = notes.get(data[at + 4] | data[at + 5] << 8 | data[at + 6] << 16)
            if note is not None:
                cells[_UINT32.unpack_from(data, at)[0]] = note
    raise XlsxPartError(f"its part {part} ends before its cells do")


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxPartError(f"it is not a whole zip ({exc})") from None


def _records(
    book: zipfile.ZipFile, part: str, wanted: frozenset[int]
) -> Iterator[tuple[int, bytes, int, int]]:
    """The records of a zip member whose type is in ``wanted``: (type, buffer, offset of the
    body in the buffer, body size). The member is read a piece at a time; the bodies of other
    records are skipped, read past without being copied."""
    try:
        stream = book.open(part)
    except KeyError:
        raise XlsxPartError(f"its part {part} is missing") from None
    except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
        raise XlsxPartError(f"its part {part} is damaged ({exc})") from None
    with stream:
        try:
            yield from _stream_records(stream, part, wanted)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise XlsxPartError(f"its part {part} is damaged ({exc})") from None


def _stream_records(
    stream: IO[bytes], part: str, wanted: frozenset[int]
) -> Iterator[tuple[int, bytes, int, int]]:
    data = b""
    pos = end = 0
    more = True  # the stream may have more
    while True:
        while more and end - pos < 6:  # a record's head is at most 6 bytes
            piece = stream.read(PIECE)
            more = bool(piece)
            data = data[pos:] + piece
            end, pos = len(data), 0
        if pos >= end:
            return
        try:
            byte = data[pos]
            if byte & 0x80:
                typ = (byte & 0x7F) | (data[pos + 1] & 0x7F) << 7
                pos += 2
            else:
                typ = byte
                pos += 1
            byte = data[pos]
            size = byte & 0x7F
            pos += 1
            shift = 7
            while byte & 0x80 and shift < 28:
                byte = data[pos]
                size |= (byte & 0x7F) << shift
                pos += 1
                shift += 7
        except IndexError:
            raise XlsxPartError(f"its part {part} is cut off inside a record") from None
        if pos + size > end:
            if typ not in wanted:  # skip the body: the rest of it is past this piece
                skip = pos + size - end
                while more and skip:
                    piece = stream.read(min(skip, PIECE))
                    more = bool(piece)
                    skip -= len(piece)
                if skip:
                    raise XlsxPartError(f"its part {part} is cut off inside a record")
                data = b""
                pos = end = 0
                continue
            while more and pos + size > end:  # read on until the body is whole
                piece = stream.read(max(PIECE, pos + size - end))
                more = bool(piece)
                data = data[pos:] + piece
                end, pos = len(data), 0
            if pos + size > end:
                raise XlsxPartError(f"its part {part} is cut off inside a record")
        if typ in wanted:
            yield typ, data, pos, size
        pos += size


def _walk(data: bytes, part: str) -> Iterator[tuple[int, int, int]]:
    """The records of a small part held whole: (type, offset of the body, body size)."""
    pos, end = 0, len(data)
    while pos < end:
        try:
            byte = data[pos]
            if byte & 0x80:
                typ = (byte & 0x7F) | (data[pos + 1] & 0x7F) << 7
                pos += 2
            else:
                typ = byte
                pos += 1
            size = 0
            for shift in (0, 7, 14, 21):
                byte = data[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    break
        except IndexError:
            raise XlsxPartError(f"its part {part} is cut off inside a record") from None
        if pos + size > end:
            raise XlsxPartError(f"its part {part} is cut off inside a record")
        yield typ, pos, size
        pos += size


def _wide(data: bytes, at: int, end: int) -> tuple[str, int]:
    """An XLWideString at ``at`` (no further than ``end``): its text and where it ends. A null
    one (count 0xFFFFFFFF, as strRelID may be) is empty."""
    if at + 4 > end:
        raise _Damaged
    count = _UINT32.unpack_from(data, at)[0]
    if count == 0xFFFFFFFF:
        return "", at + 4
    stop = at + 4 + 2 * count
    if stop > end:
        raise _Damaged
    return data[at + 4 : stop].decode("utf-16-le", "replace"), stop
