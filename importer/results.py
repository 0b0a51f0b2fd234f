"""Writing results: one CSV row per input row, written as rows finish.

``failures.csv`` holds ``_row``, ``_error_type``, ``_error``, then the input's columns verbatim in
their original order, so it can be given back as input with the same mapping. Files are UTF-8 with
a byte-order mark, which Excel needs to show accents and which lsq-import reads back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from importer.journal import Replayed, Snapshot

FAILURE_COLUMNS = ["_row", "_error_type", "_error"]
ENCODING = "utf-8-sig"
_NEEDS_QUOTES = frozenset(',"\r\n')


def encode_cells(cells: list[str]) -> str:
    """A row's cells as one CSV line without its line end: how results files and the journal
    hold them, so that a resumed run copies them without parsing."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)  # its line end must be "\r\n": it quotes by it
    return buffer.getvalue()[:-2]


def _field(value: object) -> str:
    text = str(value)
    if _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


class ResultWriter:
    """A results CSV with lsq-import's own columns first, then the input's."""

    def __init__(self, path: Path, extra: list[str], header: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = open(path, "w", encoding=ENCODING, newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self._writer.writerow([*extra, *header])
        self.count = 0
        self._held: list[str] | None = None

    def write(self, extra: list[object], cells: list[str]) -> None:
        self._writer.writerow([*extra, *cells])
        self.count += 1

    def write_encoded(self, extra: list[object], line: str) -> None:
        """Like ``write``, with the cells already encoded by ``encode_cells``."""
        text = ",".join(map(_field, extra)) + "," + line + "\r\n"
        if self._held is not None:
            self._held.append(text)
        else:
            self._file.write(text)
        self.count += 1

    def hold(self) -> TextIO:
        """Keep new rows in memory until ``release``; the file is the caller's meanwhile."""
        self._held = []
        return self._file

    def release(self) -> None:
        """Write the rows held, and write the next ones straight to the file again."""
        held, self._held = self._held or [], None
        self._file.writelines(held)
        self.flush()

    def flush(self) -> None:
        if self._held is None:
            self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def failure_writer(out_dir: Path, header: list[str]) -> ResultWriter:
    return ResultWriter(out_dir / "failures.csv", FAILURE_COLUMNS, header)


SUCCESS_COLUMNS = ["_row", "_activity_id", "_lead_id"]


class RunResults:
    """``success.csv`` and ``failures.csv`` of an import, each row written (and flushed) as it
    finishes, so that what is done is on disk whatever happens next."""

    def __init__(self, out_dir: Path, header: list[str]) -> None:
        self.success = ResultWriter(out_dir / "success.csv", SUCCESS_COLUMNS, header)
        self.failures = failure_writer(out_dir, header)
        self.failed_by_type: dict[str, int] = {}
        self.possible_duplicates: list[int] = []

    def succeeded(
        self,
        row: int,
        activity_id: str,
        lead_id: str,
        line: str,
        possible_duplicate: bool = False,
        flush: bool = True,
    ) -> None:
        """A row that succeeded; ``line`` is its cells as ``encode_cells`` gives them."""
        self.success.write_encoded([row, activity_id, lead_id], line)
        if flush:
            self.success.flush()
        if possible_duplicate:
            self.possible_duplicates.append(row)

    def failed(
        self, row: int, error_type: str, message: str, line: str, flush: bool = True
    ) -> None:
        """A row that failed; ``line`` is its cells as ``encode_cells`` gives them."""
        self.failures.write_encoded([row, error_type, message], line)
        if flush:
            self.failures.flush()
        self.failed_by_type[error_type] = self.failed_by_type.get(error_type, 0) + 1

    def replay(self, snapshot: Snapshot) -> Callable[[], Replayed]:
        """Start copying the rows an earlier run finished for good from the journal; returns
        the copy, to run in a thread. Rows finished meanwhile are held in memory (the journal
        has them) and written after the copied ones: call ``replayed`` once the copy is done."""
        success, failures = self.success.hold(), self.failures.hold()
        return lambda: snapshot.copy_done(success, failures)

    def replayed(self, replayed: Replayed | None) -> None:
        """The copy is over (``None``: it failed): count what it wrote, write what was held."""
        if replayed is not None:
            self.success.count += replayed.succeeded
            self.failures.count += replayed.failed
            for kind, count in replayed.failed_by_type.items():
                self.failed_by_type[kind] = self.failed_by_type.get(kind, 0) + count
            self.possible_duplicates[:0] = replayed.possible_duplicates
        self.success.release()
        self.failures.release()

    def close(self) -> None:
        self.success.close()
        self.failures.close()


def write_summary(out_dir: Path, summary: dict[str, object]) -> Path:
    """``summary.json``, written whole to a temporary name and renamed, never half-written."""
    import json
    import os

    path = out_dir / "summary.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(temporary, path)
    return path
