"""A minimal .xlsb (Excel binary workbook, [MS-XLSB] BIFF12) writer, for tests only.

No Python library writes .xlsb, so the tests write their own: a zip of
``[Content_Types].xml``, ``_rels/.rels``, ``xl/workbook.bin`` (+ its relationships),
``xl/styles.bin``, ``xl/worksheets/sheetN.bin`` and, if asked, ``xl/sharedStrings.bin``.

Each part is a run of records: a record type and a body size, each a 7-bit varint, then the
body. Only what a reader needs is written (no themes, no views), which python-calamine opens.

Example::

    write_xlsb(path, [Sheet("Leads", [["Code", "Amount"], [604, 0.125]],
                            formats={(1, 0): "000000", (1, 1): "0.0%"},
                            errors={(2, 0): "#N/A"}, merges=[(3, 0, 5, 0)])])

Cell values: ``str``, ``float`` or ``int`` (an RK record when one holds it, as Excel writes them, else a real),
``bool``, ``None`` (no cell; a blank, styled cell when ``formats`` names it) and
``datetime.date``/``datetime.datetime`` (written as the Excel serial number; give it a date
format). Positions are 0-based (row, column). Formats are Excel format codes, or an int for a
built-in format id (14 is ``m/d/yyyy``); a code equal to a built-in one (``0.00``) is written as
that id, as Excel does.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

Value = str | float | int | bool | None | dt.date

ERROR_CODES = {
    "#NULL!": 0x00,
    "#DIV/0!": 0x07,
    "#VALUE!": 0x0F,
    "#REF!": 0x17,
    "#NAME?": 0x1D,
    "#NUM!": 0x24,
    "#N/A": 0x2A,
    "#GETTING_DATA": 0x2B,
}
#: Built-in number format ids Excel writes without a BrtFmt record.
BUILTIN_IDS = {
    "General": 0,
    "0": 1,
    "0.00": 2,
    "#,##0": 3,
    "#,##0.00": 4,
    "0%": 9,
    "0.00%": 10,
    "0.00E+00": 11,
    "m/d/yyyy": 14,
    "@": 49,
}
STATES = {False: 0, True: 1, "visible": 0, "hidden": 1, "veryHidden": 2}

# record types ([MS-XLSB] 2.3)
ROW_HDR, CELL_BLANK, CELL_RK, CELL_ERROR, CELL_BOOL, CELL_REAL, CELL_ST, CELL_ISST = range(8)
FMLA_STRING, FMLA_NUM, FMLA_BOOL, FMLA_ERROR = 0x08, 0x09, 0x0A, 0x0B
SST_ITEM, FONT, FMT, FILL, BORDER, XF, STYLE = 0x13, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x30
BEGIN_SHEET, END_SHEET, BEGIN_BOOK, END_BOOK = 0x81, 0x82, 0x83, 0x84
BEGIN_BUNDLE_SHS, END_BUNDLE_SHS, BEGIN_SHEET_DATA, END_SHEET_DATA = 0x8F, 0x90, 0x91, 0x92
WS_PROP, WS_DIM, WB_PROP, BUNDLE_SH, CALC_PROP = 0x93, 0x94, 0x99, 0x9C, 0x9D
BEGIN_SST, END_SST = 0x9F, 0xA0
MERGE_CELL, BEGIN_MERGE_CELLS, END_MERGE_CELLS = 0xB0, 0xB1, 0xB2
BEGIN_STYLE_SHEET, END_STYLE_SHEET = 0x116, 0x117
BEGIN_FILLS, END_FILLS, BEGIN_FONTS, END_FONTS = 0x25B, 0x25C, 0x263, 0x264
BEGIN_BORDERS, END_BORDERS, BEGIN_FMTS, END_FMTS = 0x265, 0x266, 0x267, 0x268
BEGIN_CELL_XFS, END_CELL_XFS, BEGIN_STYLES, END_STYLES = 0x269, 0x26A, 0x26B, 0x26C
BEGIN_CELL_STYLE_XFS, END_CELL_STYLE_XFS = 0x272, 0x273

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    "{overrides}</Types>"
)
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.bin"/>'
    "</Relationships>"
)


@dataclass
class Sheet:
    """One worksheet: its rows of values from A1, and what else its cells carry."""

    name: str
    rows: list[list[Value]] = field(default_factory=list)
    hidden: bool | str = False  # True/"hidden", or "veryHidden"
    formats: dict[tuple[int, int], str | int] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # written instead of a value
    formulas: set[tuple[int, int]] = field(default_factory=set)  # cells saved as "=<its value>"
    merges: list[tuple[int, int, int, int]] = field(
        default_factory=list
    )  # top, left, bottom, right


def record(typ: int, body: bytes = b"") -> bytes:
    """One BIFF12 record: type and size as 7-bit varints (type at most 2 bytes), then body."""
    head = bytearray()
    if typ < 0x80:
        head.append(typ)
    else:
        head += bytes(((typ & 0x7F) | 0x80, typ >> 7))
    size = len(body)
    while True:
        byte = size & 0x7F
        size >>= 7
        head.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(head) + body


def wide(text: str) -> bytes:
    """XLWideString: character count (UTF-16 code units) as uint32, then UTF-16LE."""
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


def serial(value: dt.date, date1904: bool = False) -> float:
    """A date or date-time as Excel's serial number (1900 system, with its 29 Feb 1900)."""
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return (value - epoch) / dt.timedelta(days=1)


def write_xlsb(
    path: Path,
    sheets: list[Sheet],
    *,
    date1904: bool = False,
    shared_strings: bool = False,
    sheet_bytes: dict[int, bytes] | None = None,
) -> Path:
    """Write ``sheets`` to ``path`` as an .xlsb workbook. ``shared_strings`` puts the text in
    ``xl/sharedStrings.bin`` (BrtCellIsst cells) instead of in the cells (BrtCellSt);
    ``sheet_bytes`` replaces the part of sheet ``i`` (0-based) with the bytes given, for
    damaged files."""
    codes: dict[str | int, int] = {}  # format code -> xf index (xf 0 is General)
    custom: dict[str, int] = {}  # custom format code -> ifmt
    for sheet in sheets:
        for code in sheet.formats.values():
            if code in codes:
                continue
            if isinstance(code, str) and code not in BUILTIN_IDS:
                custom.setdefault(code, 164 + len(custom))
            codes[code] = len(codes) + 1
    strings: dict[str, int] = {}
    parts = {
        "xl/workbook.bin": _workbook(sheets, date1904),
        "xl/styles.bin": _styles(codes, custom),
    }
    for index, sheet in enumerate(sheets):
        built = _sheet(sheet, codes, strings if shared_strings else None, date1904)
        parts[f"xl/worksheets/sheet{index + 1}.bin"] = (sheet_bytes or {}).get(index, built)
    if shared_strings:
        parts["xl/sharedStrings.bin"] = _shared_strings(strings)
    rels = [
        f'<Relationship Id="rId{i + 1}" Type="{REL}/worksheet" '
        f'Target="worksheets/sheet{i + 1}.bin"/>'
        for i in range(len(sheets))
    ]
    rels.append(
        f'<Relationship Id="rId{len(sheets) + 1}" Type="{REL}/styles" Target="styles.bin"/>'
    )
    if shared_strings:
        rels.append(
            f'<Relationship Id="rId{len(sheets) + 2}" Type="{REL}/sharedStrings" '
            'Target="sharedStrings.bin"/>'
        )
    overrides = [
        f'<Override PartName="/xl/worksheets/sheet{i + 1}.bin" '
        'ContentType="application/vnd.ms-excel.worksheet"/>'
        for i in range(len(sheets))
    ]
    overrides.append(
        '<Override PartName="/xl/styles.bin" ContentType="application/vnd.ms-excel.styles"/>'
    )
    if shared_strings:
        overrides.append(
            '<Override PartName="/xl/sharedStrings.bin" '
            'ContentType="application/vnd.ms-excel.sharedStrings"/>'
        )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES.format(overrides="".join(overrides)))
        book.writestr("_rels/.rels", PACKAGE_RELS)
        book.writestr(
            "xl/_rels/workbook.bin.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels)
            + "</Relationships>",
        )
        for name, data in parts.items():
            book.writestr(name, data)
    return path


def _workbook(sheets: list[Sheet], date1904: bool) -> bytes:
    out = [record(BEGIN_BOOK)]
    # BrtWbProp: flags (bit 0 f1904), dwThemeVersion, strName (the code name)
    out.append(record(WB_PROP, struct.pack("<II", 1 if date1904 else 0, 0) + wide("")))
    out.append(record(BEGIN_BUNDLE_SHS))
    for index, sheet in enumerate(sheets):
        state = STATES[sheet.hidden]
        body = struct.pack("<II", state, index + 1) + wide(f"rId{index + 1}") + wide(sheet.name)
        out.append(record(BUNDLE_SH, body))
    out.append(record(END_BUNDLE_SHS))
    # BrtCalcProp: recalcID, fAutoRecalc, cCalcCount, xnumDelta, cUserThreads, flags. calamine
    # reads defined names after the sheets until a record such as this one.
    out.append(record(CALC_PROP, struct.pack("<IIIdiH", 0, 1, 100, 0.001, 1, 0x0002)))
    out.append(record(END_BOOK))
    return b"".join(out)


def _color() -> bytes:
    return bytes((0x07, 0x01, 0, 0, 0, 0, 0, 0xFF))  # BrtColor: theme colour 1, no tint


def _styles(codes: dict[str | int, int], custom: dict[str, int]) -> bytes:
    out = [record(BEGIN_STYLE_SHEET)]
    out.append(record(BEGIN_FMTS, struct.pack("<I", len(custom))))
    for code, ifmt in custom.items():
        out.append(record(FMT, struct.pack("<H", ifmt) + wide(code)))
    out.append(record(END_FMTS))
    # one font (11 pt, regular), the two fills Excel requires, one empty border
    font = struct.pack("<HHHHBBBB", 220, 0, 400, 0, 0, 2, 0, 0) + _color() + b"\x02" + wide("Arial")
    out += [record(BEGIN_FONTS, struct.pack("<I", 1)), record(FONT, font), record(END_FONTS)]
    out.append(record(BEGIN_FILLS, struct.pack("<I", 2)))
    for pattern in (0, 17):  # none, gray125
        out.append(
            record(FILL, struct.pack("<I", pattern) + _color() + _color() + bytes(4 + 40 + 4))
        )
    out.append(record(END_FILLS))
    border = b"\x00" + (bytes(2) + _color()) * 5
    out += [
        record(BEGIN_BORDERS, struct.pack("<I", 1)),
        record(BORDER, border),
        record(END_BORDERS),
    ]
    xf = struct.pack("<HHHHHBBHH", 0xFFFF, 0, 0, 0, 0, 0, 0, 0, 0)
    out += [record(BEGIN_CELL_STYLE_XFS, struct.pack("<I", 1)), record(XF, xf)]
    out.append(record(END_CELL_STYLE_XFS))
    out.append(record(BEGIN_CELL_XFS, struct.pack("<I", len(codes) + 1)))
    out.append(record(XF, struct.pack("<HHHHHBBHH", 0, 0, 0, 0, 0, 0, 0, 0, 0)))
    for code in codes:
        ifmt = code if isinstance(code, int) else BUILTIN_IDS.get(code, custom.get(code, 0))
        out.append(record(XF, struct.pack("<HHHHHBBHH", 0, ifmt, 0, 0, 0, 0, 0, 0, 0x0001)))
    out.append(record(END_CELL_XFS))
    # BrtStyle "Normal": ixf, grbitObj, iStyBuiltIn, iLevel, stName
    out += [record(BEGIN_STYLES, struct.pack("<I", 1))]
    out.append(record(STYLE, struct.pack("<IHBB", 0, 1, 0, 0xFF) + wide("Normal")))
    out += [record(END_STYLES), record(END_STYLE_SHEET)]
    return b"".join(out)


def _shared_strings(strings: dict[str, int]) -> bytes:
    out = [record(BEGIN_SST, struct.pack("<II", len(strings), len(strings)))]
    out += [record(SST_ITEM, b"\x00" + wide(text)) for text in strings]  # RichStr, no runs
    out.append(record(END_SST))
    return b"".join(out)


def _sheet(
    sheet: Sheet, codes: dict[str | int, int], strings: dict[str, int] | None, date1904: bool
) -> bytes:
    cells: dict[int, dict[int, Value]] = {}
    for r, values in enumerate(sheet.rows):
        for c, value in enumerate(values):
            if value is not None or (r, c) in sheet.formats:
                cells.setdefault(r, {})[c] = value
    for r, c in sheet.errors:
        cells.setdefault(r, {})[c] = None
    used = [(r, c) for r, row in cells.items() for c in row]
    used += [
        (r, c)
        for top, left, bottom, right in sheet.merges
        for r, c in ((top, left), (bottom, right))
    ]
    if used:
        dim = (min(r for r, _ in used), max(r for r, _ in used))
        dim += (min(c for _, c in used), max(c for _, c in used))
    else:
        dim = (0, 0, 0, 0)
    out = [record(BEGIN_SHEET), record(WS_DIM, struct.pack("<IIII", *dim))]
    out.append(record(BEGIN_SHEET_DATA))
    for r in sorted(cells):
        row = cells[r]
        span = struct.pack("<III", 1, min(row), max(row))  # ccolspan, one BrtColSpan
        out.append(record(ROW_HDR, struct.pack("<IIHBBB", r, 0, 300, 0, 0, 0) + span))
        for c in sorted(row):
            out.append(_cell(sheet, r, c, row[c], codes, strings, date1904))
    out.append(record(END_SHEET_DATA))
    if sheet.merges:
        out.append(record(BEGIN_MERGE_CELLS, struct.pack("<I", len(sheet.merges))))
        for top, left, bottom, right in sheet.merges:
            out.append(record(MERGE_CELL, struct.pack("<iiii", top, bottom, left, right)))
        out.append(record(END_MERGE_CELLS))
    out.append(record(END_SHEET))
    return b"".join(out)


def _cell(
    sheet: Sheet,
    r: int,
    c: int,
    value: Value,
    codes: dict[str | int, int],
    strings: dict[str, int] | None,
    date1904: bool,
) -> bytes:
    style = codes.get(sheet.formats[(r, c)], 0) if (r, c) in sheet.formats else 0
    head = struct.pack("<II", c, style)  # col, iStyleRef (24 bits) + flags (8 bits)
    formula = (r, c) in sheet.formulas
    error = sheet.errors.get((r, c))
    if error is not None:
        code = ERROR_CODES[error]
        if formula:
            return record(
                FMLA_ERROR, head + bytes((code,)) + b"\0\0" + _rgce(b"\x1c" + bytes((code,)))
            )
        return record(CELL_ERROR, head + bytes((code,)))
    if isinstance(value, dt.date):
        value = serial(value, date1904)
    if value is None:
        return record(CELL_BLANK, head)
    if isinstance(value, bool):
        if formula:
            return record(FMLA_BOOL, head + bytes((value,)) + b"\0\0" + _rgce(bytes((0x1D, value))))
        return record(CELL_BOOL, head + bytes((value,)))
    if isinstance(value, int | float):
        if formula:
            rgce = b"\x1f" + struct.pack("<d", value)
            return record(FMLA_NUM, head + struct.pack("<d", value) + b"\0\0" + _rgce(rgce))
        return number_record(head, float(value))
    text = str(value)
    if formula:
        rgce = b"\x17" + struct.pack("<H", len(text.encode("utf-16-le")) // 2)
        rgce += text.encode("utf-16-le")
        return record(FMLA_STRING, head + wide(text) + b"\0\0" + _rgce(rgce))
    if strings is not None:
        index = strings.setdefault(text, len(strings))
        return record(CELL_ISST, head + struct.pack("<I", index))
    return record(CELL_ST, head + wide(text))


def number_record(head: bytes, value: float) -> bytes:
    """A number cell as Excel writes it: an RK number (4 bytes) when one holds the value, the
    top 30 bits of the double (a whole number, a date) or of 100 times it (1.23), else a whole
    number in 30 bits (or 100 times it); else an 8-byte BrtCellReal (2.675, 919876543210)."""
    for scaled, d100 in ((value, 0), (value * 100, 1)):
        bits = struct.unpack("<Q", struct.pack("<d", scaled))[0]
        if not bits & 0x3_FFFF_FFFF and (not d100 or scaled / 100 == value):
            return record(CELL_RK, head + struct.pack("<I", bits >> 32 | d100))
    for scaled, d100 in ((value, 0), (value * 100, 1)):
        fits = scaled.is_integer() and -(1 << 29) <= scaled < (1 << 29)
        if fits and (not d100 or int(scaled) / 100 == value):
            return record(CELL_RK, head + struct.pack("<i", int(scaled) << 2 | 0x02 | d100))
    return record(CELL_REAL, head + struct.pack("<d", value))


def _rgce(rgce: bytes) -> bytes:
    """CellParsedFormula: cce, the parsed tokens, cb (no extra data)."""
    return struct.pack("<I", len(rgce)) + rgce + struct.pack("<I", 0)
