"""Which sheet of a workbook is read, and what is said when a workbook cannot be read: the
sheet named or the first visible one, and the messages for a sheet that is missing or empty,
every sheet hidden, a password, a damaged file. Each message names the fix.
"""

from __future__ import annotations

from pathlib import Path

import python_calamine as calamine

from importer.errors import SourceError
from importer.readers.kinds import KIND_SUFFIX


def choose_sheet(path: Path, metas: list[calamine.SheetMetadata], sheet: str | None) -> str:
    """The sheet to read: ``sheet`` by name or 0-based index, else the first visible one."""
    names = [m.name for m in metas]
    if sheet is None:
        for meta in metas:
            if meta.visible == calamine.SheetVisibleEnum.Visible:
                return meta.name
        raise SourceError(
            f"{path.name}: every sheet is hidden ({_listing(path, metas, names)}); set "
            "source.sheet to the one to read"
        )
    if sheet in names:
        return sheet
    if sheet.strip().isdigit() and int(sheet) < len(names):
        return names[int(sheet)]
    raise SourceError(
        f"{path.name}: no sheet {sheet!r}; its sheets are {_listing(path, metas, names)}. Set "
        "source.sheet to one of them, or to a 0-based index"
    )


def _listing(path: Path, metas: list[calamine.SheetMetadata], names: list[str]) -> str:
    """Sheet names quoted, the hidden ones marked: ``'Old' (hidden), 'Leads'``."""
    hidden = {m.name for m in metas if m.visible != calamine.SheetVisibleEnum.Visible}
    return ", ".join(f"{n!r} (hidden)" if n in hidden else repr(n) for n in names)


def empty_message(path: Path, metas: list[calamine.SheetMetadata], name: str) -> str:
    others = [m.name for m in metas if m.name != name]
    if not others:
        return (
            f"{path.name}: sheet {name!r} is empty, and it is the only sheet; it needs a header row"
        )
    return (
        f"{path.name}: sheet {name!r} is empty; the other sheets are "
        f"{_listing(path, metas, others)}. Set source.sheet to the one to read"
    )


def password_message(path: Path) -> str:
    return (
        f"{path.name}: the workbook is protected with a password, so it cannot be read; open it "
        "in Excel, remove the password (File > Info > Protect Workbook), save it, and run again"
    )


def damaged_message(path: Path, kind: str, exc: BaseException) -> str:
    return (
        f"{path.name}: not a readable {KIND_SUFFIX[kind]} workbook: it is damaged "
        f"({exc}); open it in Excel or LibreOffice, save it again, then run again"
    )
