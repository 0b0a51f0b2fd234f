"""Writing results: one CSV row per input row, written as rows finish.

``failures.csv`` holds ``_row``, ``_error_type``, ``_error``, then the input's columns verbatim in
their original order, so it can be given back as input with the same mapping. Files are UTF-8 with
a byte-order mark, which Excel needs to show accents and which lsq-import reads back. Every file
is its owner's only (0600, ``importer.outdir``).

A write that fails (a full disk, a folder removed under the run) raises ``OutputError``, once:
the file is then left as it is and takes no more rows (the journal holds them, and the next run
rebuilds the results files from it).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from importer.errors import OutputError
from importer.outdir import make_folder, open_private, output_error, write_private

if TYPE_CHECKING:
    from importer.pipeline.snapshot import Replayed, Snapshot

SUCCESS_FILE, FAILURES_FILE, SUMMARY_FILE = "success.csv", "failures.csv", "summary.json"
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
    """A results CSV with lsq-import's own columns first, then the input's (its folder made,
    0700, if need be). Raises OutputError when a write fails; from then on it is ``broken``: it
    writes nothing more, and closes without a word."""

    def __init__(self, path: Path, extra: list[str], header: list[str]) -> None:
        self.path = path
        self.broken = False
        # Written under a name of its own, and renamed over ``path`` once it holds at least
        # what ``path`` held (``publish``): a rebuild that fails half-way (a full disk) leaves
        # the earlier file whole. The open file is written on after the rename.
        self._new: Path | None = path.with_name(path.name + ".new")
        try:
            make_folder(path.parent)
            self._file: TextIO = open_private(self._new, "w", ENCODING, newline="")
        except OSError as exc:
            raise output_error(exc, path) from None
        self._writer = csv.writer(self._file)
        self.count = 0
        self._held: list[str] | None = None
        with self._writing():
            self._writer.writerow([*extra, *header])

    def write(self, extra: list[object], cells: list[str]) -> None:
        if not self.broken:
            with self._writing():
                self._writer.writerow([*extra, *cells])
        self.count += 1

    def write_encoded(self, extra: list[object], line: str) -> None:
        """Like ``write``, with the cells already encoded by ``encode_cells``."""
        text = ",".join(map(_field, extra)) + "," + line + "\r\n"
        if self._held is not None:
            self._held.append(text)
        elif not self.broken:
            with self._writing():
                self._file.write(text)
        self.count += 1

    def hold(self) -> TextIO:
        """Keep new rows in memory until ``release``; the file is the caller's meanwhile."""
        self._held = []
        return self._file

    def release(self) -> None:
        """Write the rows held, and write the next ones straight to the file again."""
        held, self._held = self._held or [], None
        if not self.broken:
            with self._writing():
                self._file.writelines(held)
            self.flush()

    def flush(self) -> None:
        """Flush what was written, and put the file in its place if it is not yet there;
        OutputError if it cannot be, or if the file was removed meanwhile (its folder deleted
        under the run: the rows would go nowhere)."""
        if self._held is None and not self.broken:
            with self._writing():
                self._file.flush()
                if os.fstat(self._file.fileno()).st_nlink == 0:
                    raise FileNotFoundError(errno.ENOENT, "it was removed as the run wrote it")
                self._publish()

    def abandon(self) -> None:
        """Write nothing more, and leave the earlier file where it is if this one was not put
        in its place yet (its rows are in the journal)."""
        self.broken = True
        with contextlib.suppress(OSError):
            self._file.close()
        if self._new is not None:
            with contextlib.suppress(OSError):
                self._new.unlink()
            self._new = None

    def close(self) -> None:
        if self.broken:
            self.abandon()  # what it still holds, the journal has
            return
        with self._writing():
            self._file.flush()
            self._publish()
            self._file.close()

    def _publish(self) -> None:
        if self._new is not None:
            os.replace(self._new, self.path)
            self._new = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Around a write: an OSError breaks the writer and becomes an OutputError naming it."""
        try:
            yield
        except OSError as exc:
            self.broken = True
            raise output_error(exc, self.path) from None

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def failure_writer(out_dir: Path, header: list[str]) -> ResultWriter:
    return ResultWriter(out_dir / FAILURES_FILE, FAILURE_COLUMNS, header)


SUCCESS_COLUMNS = ["_row", "_activity_id", "_lead_id"]


class RunResults:
    """``success.csv`` and ``failures.csv`` of an import, each row written (and flushed) as it
    finishes, so that what is done is on disk whatever happens next."""

    def __init__(self, out_dir: Path, header: list[str]) -> None:
        self.success = ResultWriter(out_dir / SUCCESS_FILE, SUCCESS_COLUMNS, header)
        try:
            self.failures = failure_writer(out_dir, header)
        except OutputError:
            self.success.close()
            raise
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
        """A row that succeeded; ``line`` is its cells as ``encode_cells`` gives them. It is
        counted first: the journal holds it, whether or not the file can take it."""
        if possible_duplicate:
            self.possible_duplicates.append(row)
        self.success.write_encoded([row, activity_id, lead_id], line)
        if flush:
            self.success.flush()

    def failed(
        self, row: int, error_type: str, message: str, line: str, flush: bool = True
    ) -> None:
        """A row that failed; ``line`` is its cells as ``encode_cells`` gives them. It is
        counted first: the journal holds it, whether or not the file can take it."""
        self.failed_by_type[error_type] = self.failed_by_type.get(error_type, 0) + 1
        self.failures.write_encoded([row, error_type, message], line)
        if flush:
            self.failures.flush()

    def replay(self, snapshot: Snapshot) -> Callable[[], Replayed]:
        """Start copying the rows an earlier run finished for good from the journal; returns
        the copy, to run in a thread. Rows finished meanwhile are held in memory (the journal
        has them) and written after the copied ones: call ``replayed`` once the copy is done."""
        success, failures = self.success.hold(), self.failures.hold()

        def copy() -> Replayed:
            try:
                return snapshot.copy_done(success, failures)
            except OSError as exc:  # either file: both are left as they are
                self.success.broken = self.failures.broken = True
                raise output_error(exc, self.success.path.parent) from None

        return copy

    def replayed(self, replayed: Replayed | None) -> None:
        """The copy is over (``None``: it failed): count what it wrote, write what was held.
        Raises OutputError if that cannot be written."""
        if replayed is None:  # the copy failed: the earlier files stay as they were
            self.success.abandon()
            self.failures.abandon()
            return
        self.success.count += replayed.succeeded
        self.failures.count += replayed.failed
        for kind, count in replayed.failed_by_type.items():
            self.failed_by_type[kind] = self.failed_by_type.get(kind, 0) + count
        self.possible_duplicates[:0] = replayed.possible_duplicates
        try:
            self.success.release()
        finally:
            self.failures.release()

    def close(self) -> None:
        """Close both files; OutputError (after closing both) if one could not be written."""
        try:
            self.success.close()
        finally:
            self.failures.close()


def write_summary(out_dir: Path, summary: dict[str, object]) -> Path:
    """``summary.json``, written whole to a temporary name and renamed, never half-written.
    Raises OutputError."""
    path = out_dir / SUMMARY_FILE
    write_private(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return path
