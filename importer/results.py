"""Writing results: one CSV row per input row, written as rows finish.

``failures.csv`` holds ``_row``, ``_error_type``, ``_error``, then the input's columns verbatim in
their original order, so it can be given back as input with the same mapping. Files are UTF-8 with
a byte-order mark, which Excel needs to show accents and which lsq-import reads back.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

FAILURE_COLUMNS = ["_row", "_error_type", "_error"]
ENCODING = "utf-8-sig"


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
