"""Csv files: the tests that need the sandbox server
(the rest are in tests/unit/test_csv_files.py)."""

from __future__ import annotations

from pathlib import Path

from importer.readers.registry import open_source
from tests.unit.test_csv_files import (
    CYRILLIC,
    MAPPING,
    STRAY,
    STRAY_MESSAGE,
    TITLED,
    TRY_INSTEAD,
    run_file,
)


async def test_a_cp1251_file_is_detected_and_the_run_says_so(write, tmp_path: Path):
    run = await run_file(tmp_path, write("in.csv", CYRILLIC, "cp1251"))
    assert run.names == {"ivan@example.com": "Иван Петров", "olga@example.com": "Ольга Смирнова"}
    assert run.notes[0] == (
        "in.csv is not UTF-8: read as cp1251, which charset-normalizer detected. If names look "
        f"wrong in the results, set source.encoding in the mapping ({TRY_INSTEAD})"
    )


async def test_a_stray_quote_fails_the_rows_it_swallowed(write, tmp_path: Path):
    run = await run_file(tmp_path, write("in.csv", STRAY))
    # neither Ann with a two-line name nor a lost Bob: the row fails, the rows after keep the
    # numbers of their lines
    assert run.names == {"cat@example.com": "Cat", "dan@example.com": None}
    assert run.succeeded == [("4", "cat@example.com"), ("5", "dan@example.com")]
    assert run.failures == [("2", "BadRow", STRAY_MESSAGE)]
    assert (run.summary.succeeded, run.summary.failed) == (2, 1)


async def test_cells_declared_multiline_keep_their_line_breaks(write, tmp_path: Path):
    text = (
        'Email,Name,Note\nann@example.com,"Ann\nSmith","Flat 4,\nTower B"\nbob@example.com,Bob,x\n'
    )
    mapping = "source:\n  multiline_cells: true\n" + MAPPING
    run = await run_file(tmp_path, write("in.csv", text), mapping)
    assert run.names == {"ann@example.com": "Ann\nSmith", "bob@example.com": "Bob"}
    assert run.succeeded == [("2", "ann@example.com"), ("3", "bob@example.com")]


async def test_nul_characters_are_removed_and_counted_once(write, tmp_path: Path):
    data = write("in.csv", b"Email,Name\nann@example.com,An\x00n\nbob@example.com,\x00Bob\x00\n")
    run = await run_file(tmp_path, data)
    assert run.names == {"ann@example.com": "Ann", "bob@example.com": "Bob"}
    assert run.notes == [
        "in.csv: 3 NUL characters (the first on line 2) removed: they are not text, and "
        "LeadSquared would store them as part of the values"
    ]
    source = open_source(data)
    assert source.description == "CSV, utf-8 (detected), delimiter ',', 3 NUL characters removed"


async def test_header_row_skips_the_title_rows(write, tmp_path: Path):
    mapping = "source:\n  header_row: 3\n" + MAPPING
    run = await run_file(tmp_path, write("in.csv", TITLED), mapping)
    assert run.names == {"ann@example.com": "Ann", "bob@example.com": "Bob"}
    assert run.succeeded == [("4", "ann@example.com"), ("5", "bob@example.com")]
