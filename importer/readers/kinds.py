"""What a file is, from its first bytes rather than its name (``sniff``): a kind of workbook
(``xlsx``, ``xlsb``, ``xls``, ``ods``), text (CSV/TSV), or one of the files that are no
spreadsheet (``NOT_A_SHEET``: an encrypted workbook, a Word file, a zip...), each with the
message that says what it is."""

from __future__ import annotations

from pathlib import Path

#: Each workbook suffix and the kind of file it promises.
EXCEL_SUFFIXES = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xlsb": "xlsb", ".xls": "xls", ".ods": "ods"}

#: The suffix that says truly what each kind of workbook is, for messages.
KIND_SUFFIX = {"xlsx": ".xlsx", "xlsb": ".xlsb", "xls": ".xls", "ods": ".ods"}
#: What the file is, for files that are no spreadsheet lsq-import reads.
NOT_A_SHEET = {
    "encrypted": (
        "the workbook is encrypted with a password (an Office file sealed in an encrypted "
        "container), so it cannot be read; open it in Excel, remove the password (File > Info > "
        "Protect Workbook > Encrypt with Password, clear it), save it, and run again"
    ),
    "word": "this is a Word document, not a spreadsheet; save its table as .xlsx or CSV",
    "powerpoint": "this is a PowerPoint file, not a spreadsheet; save its table as .xlsx or CSV",
    "office": (
        "this is an Office file that holds no workbook lsq-import knows; open it in Excel and "
        "save it as .xlsx"
    ),
    "zip": (
        "this is a zip archive, not a spreadsheet; unzip it and give the spreadsheet inside as "
        "INPUT"
    ),
    "numbers": "this is an Apple Numbers file; export it from Numbers as .xlsx or CSV",
    "pdf": "this is a PDF document, not a spreadsheet; export the table as .xlsx or CSV",
    "gzip": "this is a gzip-compressed file; decompress it (gunzip) and give the file inside",
    "html": (
        "this is a web page (HTML), as some systems export under an Excel name; open it in "
        "Excel and save it as .xlsx, or export the data as CSV"
    ),
}


def sniff(path: Path) -> str | None:
    """What a file is, from its bytes: a workbook kind (``xlsx``, ``xlsb``, ``xls``, ``ods``), a
    key of ``NOT_A_SHEET``, or None for text (CSV/TSV)."""
    with path.open("rb") as stream:
        head = stream.read(4096)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return _ole_kind(path)
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        return "html"
    return None


def _zip_kind(path: Path) -> str:
    """An Office Open XML or OpenDocument file tells its kind in [Content_Types].xml/mimetype."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as book:
            names = set(book.namelist())
            if "mimetype" in names:
                mimetype = book.read("mimetype").strip()
                return "ods" if mimetype.endswith(b"opendocument.spreadsheet") else "office"
            types = book.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        return "xlsx"  # a damaged zip with an Office signature: the reader says what is wrong
    if b"sheet.binary.macroEnabled.main" in types:
        return "xlsb"
    if b"spreadsheetml" in types or "xl/workbook.xml" in names:
        return "xlsx"
    if b"wordprocessingml" in types:
        return "word"
    if b"presentationml" in types:
        return "powerpoint"
    if "Index/Document.iwa" in names or any(n.startswith("Index/") for n in names):
        return "numbers"
    return "zip" if not types else "office"


def _ole_kind(path: Path) -> str:
    """An OLE2 (compound file) container: a legacy .xls, or an encrypted Office Open XML file.

    Its streams are named in UTF-16 in its directory; looking for the names that tell the kinds
    apart is enough here (a full directory walk would say the same)."""
    import mmap

    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:

        def has(name: str) -> bool:
            return data.find(name.encode("utf-16-le")) >= 0

        if has("EncryptedPackage"):
            return "encrypted"
        if has("Workbook") or has("Book"):
            return "xls"
        if has("WordDocument"):
            return "word"
        if has("PowerPoint Document"):
            return "powerpoint"
    return "office"
