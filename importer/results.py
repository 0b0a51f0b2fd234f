"""Writing results: one CSV row per input row, written as rows finish.

``failures.csv`` holds ``_row``, ``_error_type``, ``_error``, then the input's columns verbatim in
their original order, so it can be given back as input with the same mapping. Files are UTF-8 with
a byte-order mark, which Excel needs to show accents and which lsq-import reads back.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TextIO

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

    def write(self, extra: list[object], cells: list[str]) -> None:
        self._writer.writerow([*extra, *cells])
        self.count += 1

    def write_encoded(self, extra: list[object], line: str) -> None:
        """Like ``write``, with the cells already encoded by ``encode_cells``."""
        self._file.write(",".join(map(_field, extra)) + "," + line + "\r\n")
        self.count += 1

    def flush(self) -> None:
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
