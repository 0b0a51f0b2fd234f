"""Shared helpers: run the real command line, write input files in any encoding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m importer`` as a user would; return its exit code and output."""
    if env is not None:
        env = {**env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "importer", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def write(tmp_path: Path):
    """Write a file into the test's folder: text in a given encoding, or bytes."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return _write


MINIMAL_MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    FirstName: Name
activity:
  event: 201
"""


#: The mapping shape issue 2 gives as the contract, verbatim.
CONTRACT_MAPPING = """
source:
  sheet: Leads
  encoding: auto
  delimiter: auto
  timezone: Asia/Kolkata
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: Email
    Phone: {column: Mobile, type: phone, country: IN}
    Source: {value: Spreadsheet import}
    mx_Full_Name: {template: "{First Name} {Last Name}"}
    mx_Stage: {column: Stage, map: {New: Prospect, Won: Customer}, default: Prospect}
  custom_field_sets:
    mx_KYC:
      Status: KYC Status
      mx_CustomObject_1: KYC Doc
activity:
  event: 105
  note: {column: Notes}
  datetime: {column: Visit Date, format: "%d/%m/%Y %H:%M"}
  fields:
    mx_Custom_1: {column: Amount, type: number}
    mx_Custom_2: {column: Paid On, type: datetime, format: "%d-%m-%Y %H:%M", timezone: Europe/London}
  custom_field_sets:
    mx_Custom_5:
      mx_CustomObject_1: Receipt
  validate_dropdown_options: true
"""
