"""End to end: the real ``lsq-import validate`` on real files, reading what it wrote."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import MINIMAL_MAPPING, ROOT, run_cli

SAMPLES = ROOT / "data_samples"
MAPPINGS = ROOT / "mappings"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_sample(tmp_path: Path):
    result = run_cli(
        "validate",
        SAMPLES / "site_visits.csv",
        "-m",
        MAPPINGS / "site_visits.yaml",
        "--out",
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert "300 rows: 294 map, 6 fail; 3 blank rows skipped" in result.stdout
    failures = read_csv(tmp_path / "failures.csv")
    assert [(f["_row"], f["_error_type"]) for f in failures] == [
        ("13", "InvalidValue"),
        ("44", "InvalidValue"),
        ("81", "InvalidValue"),
        ("124", "InvalidValue"),
        ("154", "MissingValue"),
        ("265", "BadRow"),
    ]
    assert (
        failures[0]["_error"] == "lead.attributes.Phone: '98765' is not a valid phone number for IN"
    )
    # the original columns follow, verbatim and in order
    with open(tmp_path / "failures.csv", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    assert header[:4] == ["_row", "_error_type", "_error", "Email"]
    assert failures[0]["Customer ID"].startswith("00")


def test_failures_file_feeds_straight_back_in(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_cli(
        "validate", SAMPLES / "site_visits.csv", "-m", MAPPINGS / "site_visits.yaml", "--out", first
    )
    result = run_cli(
        "validate", first / "failures.csv", "-m", MAPPINGS / "site_visits.yaml", "--out", second
    )
    assert result.returncode == 1
    assert "6 rows: 0 map, 6 fail" in result.stdout
    again = read_csv(second / "failures.csv")
    assert [f["_row"] for f in again] == ["13", "44", "81", "124", "154", "265"]
    assert [f["_error"] for f in again][:5] == [
        f["_error"] for f in read_csv(first / "failures.csv")
    ][:5]


def test_xlsx_sample_payload(tmp_path: Path):
    result = run_cli(
        "validate",
        SAMPLES / "payments.xlsx",
        "-m",
        MAPPINGS / "payments.yaml",
        "--show",
        "1",
        "--out",
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "120 rows: 117 map, 3 fail; 1 blank row skipped" in result.stdout
    body = result.stdout.split("# row 2\n", 1)[1].split("\nFirst", 1)[0]
    payload = json.loads(body)
    lead = {item["Attribute"]: item["Value"] for item in payload["LeadDetails"]}
    assert lead["Mobile"].startswith("+91-")
    assert lead["SearchBy"] == "EmailAddress"
    activity = payload["Activity"]
    assert activity["ActivityEvent"] == 202
    # a date cell shown as dd/mm/yyyy hh:mm in IST (UTC+5:30), sent in UTC
    book = openpyxl.load_workbook(SAMPLES / "payments.xlsx", read_only=True)
    paid = book["Payments"]["E2"].value
    book.close()
    assert activity["ActivityDateTime"] == (paid - dt.timedelta(hours=5, minutes=30)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    receipt = activity["Fields"][-1]
    assert receipt["SchemaName"] == "mx_Custom_5"
    assert receipt["Fields"][0]["Value"].startswith("00")
    assert [f["_row"] for f in read_csv(tmp_path / "failures.csv")] == ["12", "30", "31"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_encodings_end_to_end(write, encoding: str):
    data = write("in.csv", "Email;Name\r\nzoé@example.com;Zoë Ñúñez\r\n", encoding)
    mapping = write("m.yaml", MINIMAL_MAPPING.replace("{column: Email, type: email}", "Email"))
    result = run_cli("validate", data, "-m", mapping, "--show", "1")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.split("# row 2\n", 1)[1].rsplit("\n1 row:", 1)[0])
    assert payload["LeadDetails"][:2] == [
        {"Attribute": "EmailAddress", "Value": "zoé@example.com"},
        {"Attribute": "FirstName", "Value": "Zoë Ñúñez"},
    ]


def test_all_good_exits_zero(write):
    data = write("in.csv", "Email,Name\na@example.com,Ann\n")
    result = run_cli("validate", data, "-m", write("m.yaml", MINIMAL_MAPPING))
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "1 row: 1 map, 0 fail"


def test_config_errors_exit_2_with_every_problem_and_no_traceback(write):
    data = write("in.csv", "Email,Nmae\na@example.com,Ann\n")
    mapping = write(
        "m.yaml", MINIMAL_MAPPING.replace("event: 201", "event: 201\n  note: {colum: x}")
    )
    result = run_cli("validate", data, "-m", mapping)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {mapping}: 1 problem in the mapping:",
        "  activity.note.colum: unknown key 'colum'; did you mean 'column'?",
    ]
    # a mapping that loads but does not fit the header
    ok = write("ok.yaml", MINIMAL_MAPPING)
    result = run_cli("validate", data, "-m", ok)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"error: {ok}: 1 problem in the mapping:"
    assert result.stderr.splitlines()[1] == (
        "  lead.attributes.FirstName: column 'Name' is mapped but not in the file; columns are: "
        "'Email', 'Nmae' — did you mean 'Nmae'?"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "error: input file 'missing.csv' not found"),
        (["book.xlsx"], "error: book.xlsx: not a readable .xlsx workbook"),
    ],
)
def test_file_errors_exit_2(write, tmp_path: Path, args: list[str], message: str):
    write("book.xlsx", b"junk")
    mapping = write("m.yaml", MINIMAL_MAPPING)
    result = run_cli("validate", *args, "-m", mapping, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_missing_mapping_file(write, tmp_path: Path):
    result = run_cli("validate", write("in.csv", "Email\na@x.com\n"), "-m", tmp_path / "no.yaml")
    assert result.returncode == 2
    assert "mapping file" in result.stderr and "not found" in result.stderr


def test_help_lists_validate():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "validate" in result.stdout
