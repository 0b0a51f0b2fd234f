"""How fast ``lsq-import validate`` reads a 200,000-row, 12-column workbook, beside
``pandas.read_excel(path, dtype=str)`` with the calamine and openpyxl engines, in one run.

Each reader runs in a subprocess of its own, so that its peak memory (``ru_maxrss``) is its own.
The workbook is built once and cached in the temp folder (building it takes a minute).

    python benchmarks/bench_excel.py [--rows 200000] [--skip-openpyxl]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = [
    "Email",
    "First Name",
    "Last Name",
    "Mobile",
    "City",
    "Customer ID",
    "Stage",
    "Amount",
    "Visit Date",
    "Project",
    "Budget",
    "Notes",
]
MAPPING = """
source:
  timezone: Asia/Kolkata
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    FirstName: First Name
    LastName: Last Name
    Phone: {column: Mobile, type: phone, country: IN}
    mx_City: City
    mx_Customer_ID: Customer ID
    mx_Stage: {column: Stage, map: {New: Prospect, Won: Customer}, default: Prospect}
activity:
  event: 201
  datetime: {column: Visit Date, format: iso}
  note: Notes
  fields:
    mx_Custom_1: {column: Amount, type: number}
    mx_Custom_2: Project
    mx_Custom_3: {column: Budget, type: integer}
"""


def build_workbook(path: Path, rows: int) -> None:
    """Write the workbook the way Excel users make them: numbers, dates and formatted cells."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    cities = ["Pune", "Mumbai", "Nagpur", "Chennai", "Kolkata", "Delhi"]
    start = dt.datetime(2026, 1, 1, 9, 0)
    for i in range(rows):
        amount = WriteOnlyCell(sheet, value=round(1000 + (i * 37.5) % 90000, 2))
        amount.number_format = "0.00"
        when = WriteOnlyCell(sheet, value=start + dt.timedelta(minutes=17 * i))
        when.number_format = "dd/mm/yyyy hh:mm"
        code = WriteOnlyCell(sheet, value=i % 1_000_000)
        code.number_format = "000000"
        sheet.append(
            [
                f"lead{i}@example.com",
                f"First{i % 977}",
                f"Last{i % 1311}",
                9800000000 + i,  # a 10-digit Indian mobile, as CRM exports hold them
                cities[i % len(cities)],
                code,
                "New" if i % 3 else "Won",
                amount,
                when,
                f"Project {i % 40}",
                50000 + (i % 200) * 1000,
                f"note {i}" if i % 5 == 0 else None,
            ]
        )
    book.save(path)


READERS = {
    "validate": (
        "from importer.mapping.config import parse_mapping\n"
        "from importer.mapping.validation import validate_file\n"
        "report = validate_file(PATH, parse_mapping(MAPPING))\n"
        "count = report.rows\n"
        "assert report.failed == 0, report.examples[:3]\n"
    ),
    "read_excel calamine": (
        "import pandas as pd\ncount = len(pd.read_excel(PATH, dtype=str, engine='calamine'))\n"
    ),
    "read_excel openpyxl": (
        "import pandas as pd\ncount = len(pd.read_excel(PATH, dtype=str, engine='openpyxl'))\n"
    ),
}
RUNNER = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
PATH, MAPPING = {path!r}, {mapping!r}
started = time.perf_counter()
{code}
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rows": count, "seconds": elapsed, "peak_mb": peak}}))
"""


def measure(name: str, path: Path) -> dict[str, float]:
    """Run one reader in a fresh interpreter; its rows, seconds and peak resident memory."""
    script = RUNNER.format(root=str(ROOT), path=str(path), mapping=MAPPING, code=READERS[name])
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--skip-openpyxl", action="store_true", help="it takes about a minute")
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"lsq-bench-excel-{args.rows}.xlsx"
    if not path.exists():
        print(f"building {path} ...", flush=True)
        partial = path.with_suffix(".part.xlsx")
        build_workbook(partial, args.rows)
        partial.rename(path)
    print(f"{path}: {args.rows:,} rows x {len(HEADER)} columns, {path.stat().st_size >> 20} MB")
    results = {}
    for name in READERS:
        if name.endswith("openpyxl") and args.skip_openpyxl:
            continue
        results[name] = result = measure(name, path)
        print(
            f"{name:22} {result['seconds']:7.1f} s  {result['rows'] / result['seconds']:9,.0f} "
            f"rows/s  peak {result['peak_mb']:5.0f} MB",
            flush=True,
        )
    ratio = results["validate"]["seconds"] / results["read_excel calamine"]["seconds"]
    print(f"validate / read_excel(calamine): {ratio:.2f}x")


if __name__ == "__main__":
    main()
