"""Spreadsheet row numbers for what Arrow's CSV reader parses: the good rows it hands over in
batches, and the rows it skips (wrong number of fields) with their numbers. Rows are counted as
a spreadsheet counts them (header = 1, a quoted line break does not start a row); the good rows
fill the numbers the skipped ones leave free, and line breaks inside cells are counted so that a
row's line can be named.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


@dataclass
class Lines:
    """Across the chunks of one read: the line breaks inside cells so far (a row's line is its
    number plus those before it), and those inside rows a stray quote spoiled (the rows after
    one are numbered by their lines)."""

    extra: int = 0
    shift: int = 0


@dataclass
class Numbers:
    rows: list[int]
    skipped: list[tuple[int, list[str], int]]  # rows the parser skipped: number, cells, breaks
    blank: int


class Numbering:
    """Gives the parsed rows their spreadsheet numbers.

    The parser hands over good rows in batches and reports the rows it skips (wrong number of
    fields) with their numbers, counted as a spreadsheet counts rows (header = 1, a quoted line
    break does not start a row). The good rows fill the numbers the skipped ones leave free."""

    def __init__(self, delimiter: str, width: int, first: int = 2) -> None:
        self.next = first
        self.delimiter = delimiter
        self.width = width

    def take(self, count: int, problems: list[tuple[int, str]], final: bool = False) -> Numbers:
        problems.sort()
        skipped = {number for number, _ in problems}
        end = self.next + count - 1
        while True:  # widen the span by the skipped rows inside it
            inside = sum(1 for n in skipped if self.next <= n <= end)
            if self.next + count - 1 + inside == end:
                break
            end = self.next + count - 1 + inside
        if final:
            end = max([end, *skipped])
        rows = [n for n in range(self.next, end + 1) if n not in skipped]
        bad: list[tuple[int, list[str], int]] = []
        blank = 0
        for number, text in [p for p in problems if p[0] <= end]:
            if not text.strip():
                blank += 1
                continue
            cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), [])
            bad.append((number, cells, count_breaks(text)))
        problems[:] = [p for p in problems if p[0] > end]
        self.next = end + 1
        return Numbers(rows, bad, blank)


def count_breaks(text: str) -> int:
    """Line breaks in ``text``: CR LF, LF or CR alone each count once."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")
