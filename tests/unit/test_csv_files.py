"""CSV files as CRM admins really have them (issue 13): encodings decided on evidence, stray
quotes, NUL characters, doubled byte-order marks, title rows above the header, header names in
another Unicode form, a header without a final line break. Each case is a file the test makes,
judged by what reaches the sandbox or by what ``validate`` prints."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from importer.errors import SourceError
from importer.mapping.config import parse_mapping
from importer.outputs.progress import SilentProgress
from importer.pipeline.request import RunOptions, RunRequest
from importer.pipeline.runner import run_import
from importer.pipeline.summary import RunSummary
from importer.readers.registry import open_source
from importer.sandbox import SandboxConfig, serve
from importer.sending.connection import Connection
from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate
from tests.conftest import run_cli

MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: Email
    FirstName: Name
activity:
  event: 201
  fields:
    mx_Custom_1: {value: Skyline Towers}
"""
TRY_INSTEAD = (
    "e.g. cp1252 for Western European Windows, cp1251 for Cyrillic, cp1250 for Central European"
)


class Run:
    """One import against the in-process sandbox: what the run said, and what the sandbox holds."""

    def __init__(self, summary: RunSummary, state: dict[str, Any], out: Path, notes: list[str]):
        self.summary = summary
        self.notes = notes
        self.names = {
            lead["EmailAddress"]: lead.get("FirstName") for lead in state["leads"]
        }  # what reached the CRM, by email
        with open(out / "failures.csv", encoding="utf-8-sig", newline="") as handle:
            self.failures = [
                (f["_row"], f["_error_type"], f["_error"]) for f in csv.DictReader(handle)
            ]
        with open(out / "success.csv", encoding="utf-8-sig", newline="") as handle:
            self.succeeded = [(s["_row"], s["Email"]) for s in csv.DictReader(handle)]


async def run_file(tmp_path: Path, data: Path, mapping: str = MAPPING) -> Run:
    mapping_path = tmp_path / "m.yaml"
    mapping_path.write_text(mapping, encoding="utf-8")
    progress = SilentProgress()
    config = SandboxConfig(seed=11, rate_limit=1000, rate_window=1.0)
    async with serve(config) as sandbox:
        connection = Connection(sandbox.url, sandbox.access_key, sandbox.secret_key)
        summary = await run_import(
            RunRequest(
                data,
                mapping_path,
                tmp_path / "out",
                connection,
                RunOptions(
                    rate=Rate(1000, 1.0),
                    timeout=5.0,
                    policy=RetryPolicy(transient_retries=2, backoff_base=0.02, settle=0.5),
                    check_account=False,
                ),
            ),
            progress=progress,
        )
        state = sandbox.state.snapshot()
    return Run(summary, state, tmp_path / "out", progress.notes)


def validate(write, data: Path, mapping: str = MAPPING, *args: str):
    return run_cli("validate", data, "-m", write("m.yaml", mapping), *args)


# --- encodings decided on evidence -----------------------------------------------------------


def utf8_export_with_a_stray_byte(write) -> Path:
    """46,243 names in UTF-8, one of them (after the first megabyte) typed in cp1252."""
    names = [f"zoe{i}@example.com,Zoë {i}\n" for i in range(46_242)]
    head = "Email,Name\n" + "".join(names[:40_000])
    assert len(head.encode()) > 1 << 20
    stray = "rene@example.com,René\n".encode("cp1252")
    return write("in.csv", head.encode() + stray + "".join(names[40_000:]).encode())


def test_a_utf8_file_with_a_stray_byte_stops_naming_line_and_byte(write):
    path = utf8_export_with_a_stray_byte(write)
    offset = path.read_bytes().index(b"Ren\xe9") + 3
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        f"in.csv is UTF-8 except at line 40,002, byte {offset:,} (0xE9 in "
        "'rene@example.com,Ren\\xe9'), which is not UTF-8: the file mixes encodings (a value "
        "pasted from another file?), and reading it in any one code page would garble its other "
        "non-ASCII text. Nothing was sent. Fix that value (retype it, then save the file as CSV "
        f"UTF-8), or, if the whole file is in one code page, set source.encoding in the mapping "
        f"({TRY_INSTEAD})"
    )


def test_the_stray_byte_file_read_as_cp1252_when_the_mapping_says_so(write):
    path = utf8_export_with_a_stray_byte(write)
    source = open_source(path, encoding="cp1252")
    assert source.description == "CSV, cp1252 (as set), delimiter ','"
    first = next(source.chunks())
    assert first.record(0) == ["zoe0@example.com", "ZoÃ« 0"]  # what the user asked for


CYRILLIC = "Email,Name\nivan@example.com,Иван Петров\nolga@example.com,Ольга Смирнова\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Email,Name\na@x.com,Hélène Lefèvre\nb@x.com,François Besançon\n", "cp1252"),
        ("Email,Name\na@x.com,Łukasz Żółć\nb@x.com,Antonín Dvořák\n" * 3, "cp1250"),
        ("Email,Name\na@x.com,Γιώργος Παπαδόπουλος\nb@x.com,Ελένη Νικολάου\n" * 3, "cp1253"),
    ],
)
def test_code_pages_are_told_apart(write, text: str, encoding: str):
    path = write("in.csv", text, encoding)
    source = open_source(path)
    assert source.encoding == encoding
    assert source.description == f"CSV, {encoding} ({'detected: not UTF-8'}), delimiter ','"
    cells = [c.record(i) for c in source.chunks() for i in range(len(c))]
    assert cells == [line.split(",") for line in text.splitlines()[1:]]


def test_one_cyrillic_name_is_enough(write):
    path = write("in.csv", "Email,Name\nivan@example.com,Иван\n", "cp1251")
    source = open_source(path)
    assert source.encoding == "cp1251"  # not Èâàí: no language writes words of accents alone
    assert next(source.chunks()).record(0) == ["ivan@example.com", "Иван"]


def test_too_little_evidence_stops_and_asks_for_the_encoding(write):
    path = write("in.csv", b"Email,Note\na@x.com,\xa9\xae \xb0\xb1 \x80\x99\n")  # symbols only
    with pytest.raises(SourceError) as caught:
        open_source(path)
    assert str(caught.value) == (
        "in.csv is not UTF-8 (the first byte that is not: line 2, byte 19 (0xA9 in "
        "'a@x.com,\\xa9\\xae \\xb0\\xb1 \\x80\\x99')), and its encoding cannot be told from its "
        "bytes with confidence. Nothing was sent. Set source.encoding in the mapping to the "
        f"encoding the file was saved in ({TRY_INSTEAD}), or save the file as CSV UTF-8"
    )
    source = open_source(path, encoding="cp1252")
    assert next(source.chunks()).record(0) == ["a@x.com", "©® °± €™"]


def test_a_damaged_file_with_a_utf8_byte_order_mark_stops(write):
    path = write("in.csv", b"\xef\xbb\xbfEmail,Name\nzoe@example.com,Zo\xeb\n")
    with pytest.raises(SourceError, match=r"^in.csv is UTF-8 except at line 2, byte 32 \(0xEB"):
        open_source(path)


# --- stray quotes ----------------------------------------------------------------------------

STRAY = (
    "Email,Name,Code\n"
    'ann@example.com,"Ann,008,x\n'
    'bob@example.com,"Bob",009\n'
    "cat@example.com,Cat,010\n"
    "dan@example.com,,011\n"
)
STRAY_MESSAGE = (
    "a quote (\") opened on line 2 makes one value of lines 2 to 3, delimiters (',') "
    "included, so the rows on those lines are not sent: a stray quote? Remove it or close it "
    "where the value ends, then run again; if cells really hold line breaks and delimiters, set "
    "source.multiline_cells: true in the mapping"
)


def test_a_line_break_without_a_delimiter_is_an_ordinary_cell(write):
    path = write("in.csv", 'Email,Note\na@x.com,"line one\r\nline two"\r\nb@x.com,plain\r\n')
    chunks = list(open_source(path).chunks())
    assert [(r, c.record(i)) for c in chunks for i, r in enumerate(c.rows)] == [
        (2, ["a@x.com", "line one\r\nline two"]),
        (3, ["b@x.com", "plain"]),
    ]
    assert [b for c in chunks for b in c.bad] == []


@pytest.mark.parametrize(
    ("closing", "cells"),
    [
        ('Cat"', ["a@x.com", "Ann\nb@x.com,Bob\nc@x.com,Cat"]),  # as wide as the header
        ('Cat",x', ["a@x.com", "Ann\nb@x.com,Bob\nc@x.com,Cat", "x"]),  # one field too many
    ],
)
def test_a_stray_quote_fails_its_row_whatever_its_width(write, closing: str, cells: list[str]):
    text = f'Email,Name\na@x.com,"Ann\nb@x.com,Bob\nc@x.com,{closing}\nd@x.com,Dan\n'
    chunks = list(open_source(write("in.csv", text)).chunks())
    assert [(b.row, b.cells, b.message) for c in chunks for b in c.bad] == [
        (
            2,
            cells,
            "a quote (\") opened on line 2 makes one value of lines 2 to 4, delimiters (',') "
            "included, so the rows on those lines are not sent: a stray quote? Remove it or close "
            "it where the value ends, then run again; if cells really hold line breaks and "
            "delimiters, set source.multiline_cells: true in the mapping",
        )
    ]
    assert [(r, c.record(i)) for c in chunks for i, r in enumerate(c.rows)] == [
        (5, ["d@x.com", "Dan"])
    ]


def test_rows_after_a_stray_quote_keep_their_line_numbers_in_every_chunk(write):
    lines = [f"u{i}@x.com,Name {i}" for i in range(2, 150_002)]  # 3 MB: two blocks or more
    lines[3] = 'u5@x.com,"Name 5'  # swallows the next line, up to the quote on line 7
    lines[5] = 'u7@x.com,Name 7"'
    source = open_source(write("in.csv", "Email,Name\n" + "\n".join(lines) + "\n"))
    chunks = list(source.chunks())
    assert len(chunks) > 1
    assert [b.row for c in chunks for b in c.bad] == [5]
    numbers = [r for c in chunks for r in c.rows]
    assert numbers[:5] == [2, 3, 4, 8, 9]
    assert numbers == [2, 3, 4, *range(8, 150_002)]
    last = chunks[-1]
    assert (last.rows[-1], last.record(len(last) - 1)) == (
        150_001,
        ["u150001@x.com", "Name 150001"],
    )


# --- NUL characters, byte-order marks, header names ------------------------------------------


def test_nul_characters_in_a_cp1252_file(write):
    data = write("in.csv", "Email,Name\na@x.com,Zoë\x00 Müller\nb@x.com,René\n", "cp1252")
    source = open_source(data)
    assert source.encoding == "cp1252"
    cells = [c.record(i) for c in source.chunks() for i in range(len(c))]
    assert cells == [["a@x.com", "Zoë Müller"], ["b@x.com", "René"]]


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf\xef\xbb\xbfEmail,Name\nzoe@example.com,Zo\xc3\xab\n",
        "\ufeff\ufeffEmail,Name\nzoe@example.com,Zoë\n".encode("utf-16"),
    ],
)
def test_a_doubled_byte_order_mark_is_stripped(write, data: bytes):
    source = open_source(write("in.csv", data))
    assert source.header == ["Email", "Name"]
    assert [c.record(i) for c in source.chunks() for i in range(len(c))] == [
        ["zoe@example.com", "Zoë"]
    ]


# --- title rows above the header -------------------------------------------------------------

TITLED = (
    "Site visits export;;\n"
    "Generated 03/12/2026;;\n"
    "Email;Name;City\n"
    "ann@example.com;Ann;Pune\n"
    "bob@example.com;Bob;Nagpur\n"
)


def test_header_row_below_the_end_of_the_file(write):
    with pytest.raises(SourceError) as caught:
        open_source(write("in.csv", "Email,Name\na@x.com,Ann\n"), header_row=5)
    assert str(caught.value) == (
        "in.csv: source.header_row is 5 but the file has fewer rows; give the number of the row "
        "that holds the column names (the first row is 1)"
    )


def test_header_row_must_be_a_row_number():
    with pytest.raises(Exception, match=r"source.header_row"):
        parse_mapping("source:\n  header_row: 0\n" + MAPPING)
