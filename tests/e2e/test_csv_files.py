"""Csv files: the tests that need the real command line
(the rest are in tests/unit/test_csv_files.py)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from importer.readers.registry import open_source
from tests.unit.test_csv_files import (
    CYRILLIC,
    MAPPING,
    TITLED,
    utf8_export_with_a_stray_byte,
    validate,
)


def test_validate_says_it_and_exits_2_without_a_traceback(write):
    result = validate(write, utf8_export_with_a_stray_byte(write))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: in.csv is UTF-8 except at line 40,002, byte ")


def test_validate_names_the_detected_encoding(write):
    result = validate(write, write("in.csv", CYRILLIC, "cp1251"), MAPPING, "--show", "1")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.endswith("in.csv (CSV, cp1251 (detected: not UTF-8), delimiter ',')")
    payload = json.loads(result.stdout.split("# row 2\n", 1)[1].rsplit("\n2 rows:", 1)[0])
    assert payload["LeadDetails"][1] == {"Attribute": "FirstName", "Value": "Иван Петров"}


@pytest.mark.parametrize("order", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_set_as_utf16_is_a_clear_error(write, order: str):
    data = write("in.csv", "Email,Name\nzoe@example.com,Zoë\n", order)
    result = validate(write, data, "source:\n  encoding: utf-16\n" + MAPPING)
    assert result.returncode == 2
    assert result.stderr == (
        "error: in.csv: line 1 cannot be read as utf-16 (UTF-16 stream does not start with "
        f"BOM); the file looks like {order}: set source.encoding: {order} in the mapping, or "
        "leave it as auto\n"
    )
    assert open_source(data).encoding == order  # and auto reads it


def test_header_names_are_trimmed_and_compared_in_nfc(write):
    decomposed = unicodedata.normalize("NFD", "Café")
    assert decomposed != "Café"
    data = write("in.csv", f"Email, {decomposed} \nzoe@example.com,Zoë\n")
    result = validate(write, data, MAPPING.replace("FirstName: Name", "FirstName: Café"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 row: 1 map, 0 fail"


@pytest.mark.parametrize("content", ["Email,Name", "Email,Name\n", "\ufeffEmail,Name\r\n"])
def test_a_header_alone_is_no_rows_not_a_crash(write, content: str):
    result = validate(write, write("in.csv", content))
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 rows: 0 map, 0 fail"


def test_columns_found_below_the_header_hint_at_header_row(write):
    result = validate(write, write("in.csv", TITLED))
    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "  lead.attributes.EmailAddress: column 'Email' is mapped but not in the file; columns "
        "are: 'Site visits export', '', ''",
        "  lead.attributes.FirstName: column 'Name' is mapped but not in the file; columns are: "
        "'Site visits export', '', ''",
        "  source.header_row: the mapped columns are in row 3 of the file, below the header row "
        "read: set source.header_row: 3 in the mapping (rows above it are then skipped as "
        "titles)",
    ]
