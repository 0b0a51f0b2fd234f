"""Benchmark: how soon a resumed 1,000,000-row run starts sending, with 900,000 rows done.

    python benchmarks/bench_resume.py [--rows 1000000] [--done 900000]

A generated CSV and a journal in which the first ``--done`` rows succeeded (written straight
into SQLite, as a run would have left it). The real command is started against a sandbox in its
own process and timed until the sandbox sees its first CreateCustom call; the same is timed for
a fresh run of the same file (no journal), in the same run, as the baseline.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
MAPPING = """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    FirstName: Name
activity:
  event: 201
  note: Note
  datetime: {column: When, format: "%d/%m/%Y %H:%M"}
  fields:
    mx_Custom_1: Project
"""
sys.path.insert(0, str(ROOT))
from importer.sandbox.state import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY  # noqa: E402

KEYS = {"LSQ_ACCESS_KEY": DEFAULT_ACCESS_KEY, "LSQ_SECRET_KEY": DEFAULT_SECRET_KEY}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def generate(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Note", "When", "Project"])
        for i in range(rows):
            writer.writerow(
                [
                    f"user{i}@example.com",
                    f"Name {i}",
                    f"note {i}",
                    f"01/03/2026 {i // 60 % 24:02d}:{i % 60:02d}",
                    "Skyline Towers",
                ]
            )


def journal(out: Path, data: Path, mapping: Path, done: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    from importer.outputs.results import encode_cells
    from importer.pipeline.journal import Journal

    Journal.open(out).close()  # the schema
    with closing(sqlite3.connect(out / "journal.sqlite")) as db, db:
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("input_sha256", sha256(data)),
                ("mapping_sha256", sha256(mapping)),
                ("started_at", "2026-11-29T00:00:00Z"),
            ],
        )
        with open(data, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            db.executemany(
                "INSERT INTO rows (row, state, attempts, activity_id, lead_id, cells) "
                "VALUES (?, 'succeeded', 1, ?, ?, ?)",
                (
                    (n + 2, f"a{n}", f"l{n}", encode_cells(cells))
                    for n, cells in zip(range(done), reader, strict=False)
                ),
            )


def first_call(url: str, command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from starting the command to the sandbox's first CreateCustom."""
    urllib.request.urlopen(urllib.request.Request(url + "/_sandbox/reset", method="POST")).close()
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            with urllib.request.urlopen(url + "/_sandbox/state") as response:
                if json.load(response)["counters"].get("activities_created", 0) > 0:
                    return time.perf_counter() - start
            if process.poll() is not None:
                raise RuntimeError("the import ended before sending")
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--done", type=int, default=900_000)
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    data = DATA / f"resume_{args.rows}.csv"
    if not data.exists():
        generate(data, args.rows)
    mapping = DATA / "resume_mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "importer", "sandbox", "--port", str(port), "--rate", "1000/1s"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        env = {**os.environ, **KEYS, "LSQ_HOST": url}
        work = DATA / "resume_run"
        shutil.rmtree(work, ignore_errors=True)
        started = time.perf_counter()
        journal(work / "resumed", data, mapping, args.done)
        print(
            f"journal of {args.done:,} done rows written in {time.perf_counter() - started:.1f} s "
            f"({(work / 'resumed' / 'journal.sqlite').stat().st_size / 1e6:.0f} MB)"
        )
        base = [
            sys.executable,
            "-m",
            "importer",
            "run",
            str(data),
            "-m",
            str(mapping),
            "--rate",
            "1000/1s",
            "--quiet",
            "--out",
        ]
        fresh = first_call(url, [*base, str(work / "fresh")], env, ROOT)
        resumed = first_call(url, [*base, str(work / "resumed")], env, ROOT)
        print(
            f"{args.rows:,} rows: first call after {fresh:.1f} s on a fresh run, "
            f"{resumed:.1f} s on a resumed run with {args.done:,} done"
        )
        # The rows done are copied into success.csv in a thread while sending goes on: a short
        # resumed run to its end shows the copy whole, with this run's rows after it.
        shutil.rmtree(work / "resumed")
        journal(work / "resumed", data, mapping, args.done)
        started = time.perf_counter()
        subprocess.run(
            [*base, str(work / "resumed"), "--max-rows", "25"],
            env=env,
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        with open(work / "resumed" / "success.csv", encoding="utf-8-sig", newline="") as handle:
            rows = [int(record[0]) for record in list(csv.reader(handle))[1:]]
        whole = sorted(rows) == list(range(2, args.done + 2 + 25))
        print(
            f"resumed with --max-rows 25: ended after {elapsed:.1f} s; success.csv holds "
            f"{len(rows):,} rows, {'each once' if whole else 'NOT the rows expected'}"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
