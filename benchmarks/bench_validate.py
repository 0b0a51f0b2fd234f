"""Benchmark: ``lsq-import validate`` on a 1,000,000-row, 11-column CSV against a bare
``pandas.read_csv(dtype=str)`` of the same file, measured in the same run.

    python benchmarks/bench_validate.py [--rows 1000000] [--repeat 3]

Each measurement is a fresh process (interpreter start and imports included on both sides), so
peak memory is that process's own high-water mark (``ru_maxrss`` from ``wait4``). The baseline
is noisy on a shared machine, so each side is run ``--repeat`` times and the median is used.
The mapping uses every rule type: text, number, integer, date, datetime (with a time zone),
phone, email, boolean, plus a map, a template and a constant.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

MAPPING = """
source:
  timezone: Asia/Kolkata
  country: IN
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    FirstName: First Name
    Phone: {column: Mobile, type: phone}
    mx_Display_Name: {template: "{First Name} {Last Name}"}
    ProspectStage: {column: Stage, map: {New: Prospect, Hot: Opportunity, Won: Customer}}
    mx_Birthday: {column: Born, type: date, format: "%d/%m/%Y"}
    mx_Opted_In: {column: Opted In, type: boolean}
    Source: {value: Benchmark}
activity:
  event: 201
  note: Notes
  datetime: {column: Visit Date, format: "%d/%m/%Y %H:%M"}
  fields:
    mx_Custom_1: {column: Budget, type: number}
    mx_Custom_2: {column: Units, type: integer}
"""
HEADER = [
    "Email",
    "First Name",
    "Last Name",
    "Mobile",
    "Stage",
    "Born",
    "Opted In",
    "Notes",
    "Visit Date",
    "Budget",
    "Units",
]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(1)
    names = ["Zoë", "Aarav", "Renée", "Priya", "José", "Meera", "Işık", "Kabir"]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"user{i}@example.com",
                    rng.choice(names),
                    rng.choice(["O'Brien", "Iyer", "Müller", "Nair"]),
                    rng.choice(
                        [f"9{rng.randrange(10**9):09d}", f"+91 8{rng.randrange(10**9):09d}"]
                    ),
                    rng.choice(["New", "Hot", "Won"]),
                    f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2005)}",
                    rng.choice(["yes", "no"]),
                    rng.choice(["Visited the show flat", "Wants a 2BHK, east facing", ""]),
                    f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2026 "
                    f"{rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}",
                    f"{rng.randint(1, 99)},{rng.randint(100, 999)},{rng.randint(100, 999)}.50",
                    str(rng.randint(1, 4)),
                ]
            )


def measure(command: list[str]) -> tuple[float, float, int]:
    """Run a command; return its wall time (s), peak memory (MB) and exit code."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.stderr.close()
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    DATA.mkdir(exist_ok=True)
    data = DATA / f"validate_{args.rows}.csv"
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        generate(data, args.rows)
    mapping = DATA / "validate_mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    print(f"{data.name}: {data.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows, 11 columns")

    baseline_cmd = [
        sys.executable,
        "-c",
        "import sys, pandas as pd; pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)",
        str(data),
    ]
    validate_cmd = [
        sys.executable,
        "-m",
        "importer",
        "validate",
        str(data),
        "-m",
        str(mapping),
        "--errors",
        "0",
    ]
    baseline, validate = [], []
    for _ in range(args.repeat):  # interleaved, so that both sides see the same machine
        baseline.append(measure(baseline_cmd))
        validate.append(measure(validate_cmd))
        print(
            f"  read_csv {baseline[-1][0]:6.2f} s {baseline[-1][1]:6.0f} MB   "
            f"validate {validate[-1][0]:6.2f} s {validate[-1][1]:6.0f} MB "
            f"(exit {validate[-1][2]})",
            flush=True,
        )
    base_t = statistics.median(t for t, _, _ in baseline)
    val_t = statistics.median(t for t, _, _ in validate)
    base_m = max(m for _, m, _ in baseline)
    val_m = max(m for _, m, _ in validate)
    print(
        f"median: pandas.read_csv(dtype=str) {base_t:.2f} s (peak {base_m:.0f} MB); "
        f"lsq-import validate {val_t:.2f} s (peak {val_m:.0f} MB)"
    )
    print(f"ratio {val_t / base_t:.2f} (goal <= 3); validate peak {val_m:.0f} MB (goal <= 500)")


if __name__ == "__main__":
    main()
