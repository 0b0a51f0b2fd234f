"""What an .xls (Excel 97-2003) sheet says that python-calamine does not pass on: error cells
(``#N/A``) and number formats that change the digits a cell shows (``000000``, ``0.0%``).

calamine gives an error cell as an empty string and gives no number formats. xlrd, which pandas
uses for .xls, reads the BIFF records that hold them (each cell's XF record, each XF's format
string), so this module asks xlrd for the cells that matter and gives them, row by row, as the
same ``Note`` values ``xlsx_extras`` gives for .xlsx. An .xls sheet has at most 65,536 rows, so
xlrd's reading the sheet whole costs a second or two at most.

Formulas in an .xls always carry their last result (the FORMULA record holds it), so there is
no "formula with no saved result" case here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import xlrd

from importer.readers.xlsx_extras import Note, NumberFormat, XlsxPartError, number_renderer


def sheet_notes(path: Path, sheet_name: str, shown: bool) -> Iterator[tuple[int, dict[int, Note]]]:
    """Each row (1-based) of the sheet with cells to note, ascending, with those cells by 0-based
    column: every error cell, and (when ``shown``) every number whose format changes its digits."""
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError, struct.error, ValueError) as exc:
        raise XlsxPartError(f"its records are damaged ({exc})") from None
    try:
        try:
            sheet = book.sheet_by_name(sheet_name)
        except (xlrd.XLRDError, struct.error, IndexError, ValueError) as exc:
            raise XlsxPartError(f"sheet {sheet_name!r} cannot be read ({exc})") from None
        renders = _renders(book) if shown else {}
        errors = xlrd.error_text_from_code
        for row in range(sheet.nrows):
            cells: dict[int, Note] = {}
            types = sheet.row_types(row)
            for column, kind in enumerate(types):
                if kind == xlrd.XL_CELL_ERROR:
                    code = sheet.cell_value(row, column)
                    cells[column] = Note("error", error=errors.get(code, "#VALUE!"))
                elif kind == xlrd.XL_CELL_NUMBER and renders:
                    render = renders.get(sheet.cell_xf_index(row, column))
                    if render is not None:
                        cells[column] = Note("format", render=render)
            if cells:
                yield row + 1, cells
    finally:
        book.release_resources()


def _renders(book: xlrd.Book) -> dict[int, NumberFormat]:
    """XF index → how a number in that XF is shown, for the XFs whose format changes digits."""
    by_format: dict[int, NumberFormat | None] = {}
    found: dict[int, NumberFormat] = {}
    for index, xf in enumerate(book.xf_list):
        key = xf.format_key
        if key not in by_format:
            fmt = book.format_map.get(key)
            by_format[key] = number_renderer(fmt.format_str) if fmt is not None else None
        render = by_format[key]
        if render is not None:
            found[index] = render
    return found
