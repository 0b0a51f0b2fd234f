"""Nothing lost: the real command line never deletes, truncates or writes over a file it reads
or a file of a run; it stops cleanly, lock released, when its folder fills up, is read-only or
goes away; and everything it writes under --out is its owner's only, whatever the umask.

The full-disk and read-only cases run the command inside a user and mount namespace
(``unshare``) with a small tmpfs as the folder; where the machine does not allow that, they are
skipped with the reason. The sandbox runs in this process: the namespace shares the network.
"""

from __future__ import annotations

import csv
import errno
import os
import shlex
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

from importer.pipeline.journal import Journal
from importer.pipeline.request import RunOptions, RunRequest
from importer.pipeline.runner import run_import
from importer.pipeline.summary import RunSummary
from importer.sending.connection import Connection
from tests.conftest import ROOT
from tests.unit.test_run import FAST, GENEROUS

RUN_FILES = {
    "success.csv",
    "failures.csv",
    "summary.json",
    "calls.jsonl",
    "account.json",
    "journal.sqlite",
}


def env_of(sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "LSQ_HOST": sandbox.url,
        "LSQ_ACCESS_KEY": sandbox.access_key,
        "LSQ_SECRET_KEY": sandbox.secret_key,
        "PYTHONPATH": str(ROOT),
    }


def run_args(data: Path, mapping: Path, out: Path, *extra: str | Path) -> list[str]:
    return [
        *("run", str(data), "-m", str(mapping), "--out", str(out)),
        *("--rate", "200/1s", "--timeout", "5", "--quiet"),
        *map(str, extra),
    ]


def contents(folder: Path) -> dict[str, bytes]:
    """The run's files in a folder (not the lock), name to bytes."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name in RUN_FILES}


def fix_failures(path: Path) -> list[str]:
    """Fix the bad email in a failures.csv in place, as a person would; the rows' numbers."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    header, body = lines[0], lines[1:]
    email = header.index("Email")
    for line in body:
        line[email] = f"fixed{line[0]}@example.com"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    return [line[0] for line in body]


def journal_meta(out: Path) -> dict[str, str]:
    with closing(sqlite3.connect(out / "journal.sqlite")) as db:
        return dict(db.execute("SELECT key, value FROM meta"))


# --- failures.csv given back in place ------------------------------------------------------


# --- validate --out --------------------------------------------------------------------------


# --- a full, read-only or vanished folder ---------------------------------------------------


def command_line(args: list[str], name: str, record: Path) -> str:
    """The real command in a shell script, its output and exit code kept in ``record``."""
    line = shlex.join([sys.executable, "-m", "importer", *args])
    keep = shlex.quote(str(record / name))
    return f"{line} >{keep}.out 2>{keep}.err; echo $? >{keep}.rc"


def outcome(record: Path, name: str) -> tuple[int, str]:
    return int((record / f"{name}.rc").read_text()), (record / f"{name}.err").read_text()


# --- a write that fails mid-run, in each kind of file ----------------------------------------


class FillsUp:
    """A file that takes ``room`` more writes, then fails as a full disk does."""

    def __init__(self, file: TextIO, room: int) -> None:
        self.file = file
        self.room = room

    def write(self, text: str) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        return self.file.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def __enter__(self) -> FillsUp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def filling(real: Callable[..., TextIO], name: str, room: Callable[[], int]) -> Callable:
    """``open_private``, with the file called ``name`` filling up after ``room()`` writes."""

    def opened(path: Path, *args: Any, **kwargs: Any) -> Any:
        file = real(path, *args, **kwargs)
        return FillsUp(file, room()) if path.name in (name, f"{name}.new") else file

    return opened


async def import_into(out: Path, data: Path, mapping: Path, running: Any) -> RunSummary:
    options = RunOptions(
        rate=GENEROUS, timeout=5.0, policy=FAST, check_account=False, log_path=out / "calls.jsonl"
    )
    connection = Connection(running.url, running.access_key, running.secret_key)
    return await run_import(RunRequest(data, mapping, out, connection, options))


# --- file modes ------------------------------------------------------------------------------


def run_with_umask(args: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "importer", *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask: files 0644 unless made private
    )


def modes_under(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (itself included) that is not 0600 / 0700."""
    wrong = {}
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(folder))] = oct(mode)
    return wrong


def test_the_journal_and_its_wal_and_shm_files_are_private(tmp_path: Path):
    old = os.umask(0o022)
    try:
        journal = Journal.open(tmp_path)
        journal.sending(2, "a,b")
        names = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        journal.close()
    finally:
        os.umask(old)
    assert {"journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"} <= set(names)
    assert set(names.values()) == {0o600}
