"""The run folder (``--out``): the files a run keeps there, and the checks made on them before a
run begins: the journal is this run's own (same input, same mapping), the call log is no other
file, the input is not one of the run's own files, and results a person edited are noticed.

What each file holds is said where it is written: ``outputs/results.py`` (``success.csv``,
``failures.csv``, ``summary.json``), ``pipeline/journal.py`` (``journal.sqlite``),
``outputs/calllog.py`` (``calls.jsonl``), ``account/model.py`` (``account.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from pathlib import Path

from importer.account.model import FILE_NAME as ACCOUNT_FILE
from importer.errors import ConfigError, Problem
from importer.outdir import EARLIER, describe, output_error, prepare, same_file
from importer.outputs.calllog import FILE_NAME as CALL_LOG
from importer.outputs.results import FAILURES_FILE, SUCCESS_FILE, SUMMARY_FILE
from importer.pipeline.journal import FILE_NAME as JOURNAL_FILE
from importer.pipeline.journal import Journal, JournalError

#: The files a run writes in its folder that hold its outcomes: a run starting in a folder with
#: no journal moves those it finds aside rather than write over them.
OUTCOME_FILES = (SUCCESS_FILE, FAILURES_FILE, SUMMARY_FILE)
#: Every file of a run: ``fresh`` moves them all aside, the journal last.
RUN_FILES = (
    *OUTCOME_FILES,
    CALL_LOG,
    ACCOUNT_FILE,
    JOURNAL_FILE,
    f"{JOURNAL_FILE}-wal",
    f"{JOURNAL_FILE}-shm",
)


def check_log(log_path: Path, input_path: Path, mapping_path: Path, out_dir: Path) -> None:
    """The call log is appended to: it must not be a file the run reads or writes otherwise,
    nor a file that holds anything but a call log (another run's results, a mapping...)."""

    def refuse(why: str) -> None:
        raise ConfigError([Problem("--log", f"{log_path} {why}: give the call log another file")])

    if same_file(log_path, input_path):
        refuse("is the input")
    if same_file(log_path, mapping_path):
        refuse("is the mapping")
    mine = [n for n in RUN_FILES if n != CALL_LOG and same_file(log_path, out_dir / n)]
    if mine or (log_path.name in RUN_FILES and log_path.name != CALL_LOG):
        refuse(f"is a run's {mine[0] if mine else log_path.name}, not a call log")
    if log_path.is_symlink() or (log_path.exists() and not log_path.is_file()):
        refuse("is not a plain file")
    if log_path.is_file() and log_path.stat().st_size and not _a_call_log(log_path):
        refuse("holds something else than a call log (its first line is no call log's line)")


def _a_call_log(path: Path) -> bool:
    """Whether a file begins as a call log does: a JSON object with a time and an event."""
    try:
        with open(path, "rb") as handle:
            first = json.loads(handle.readline(1 << 16))
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and {"time", "event"} <= first.keys()


def input_in_the_run(input_path: Path, out_dir: Path, name: str) -> ConfigError:
    """The input is a file the run in ``out_dir`` writes: resuming would write over it."""
    return ConfigError(
        [
            Problem(
                "INPUT",
                f"{input_path} is the {name} of the run in {out_dir}, which a run there "
                f"rewrites. To send its rows (fixed), add --fresh: that run's files are moved "
                f"into {out_dir / EARLIER}/ and the rows are read from there; or give "
                "another --out. To send again only the rows that failed for a passing reason "
                f"(timeouts, throttles, a stop), run: lsq-import retry {out_dir}",
            )
        ]
    )


def written(out_dir: Path) -> dict[str, str]:
    """The size and modification time of the results files as the run leaves them."""
    found = {}
    for name in (SUCCESS_FILE, FAILURES_FILE):
        with contextlib.suppress(OSError):
            stat = (out_dir / name).stat()
            found[f"written:{name}"] = f"{stat.st_size} {stat.st_mtime_ns}"
    return found


def edited(out_dir: Path, began: dict[str, str]) -> list[str]:
    """The results files changed since the last run wrote them (a person fixed rows in
    ``failures.csv``, say): a resumed run would rebuild them from the journal over the edits."""
    edited = []
    for key, was in began.items():
        name = key.removeprefix("written:")
        if name == key or not was:
            continue
        try:
            stat = (out_dir / name).stat()
        except OSError:
            continue  # gone: nothing to keep
        if f"{stat.st_size} {stat.st_mtime_ns}" != was:
            edited.append(name)
    return edited


def open_journal(
    out_dir: Path,
    hashes: dict[str, str],
    input_path: str | Path,
    mapping_path: str | Path,
    started_at: str,
) -> Journal:
    """The journal of the run in ``out_dir``, begun now if there is none; ConfigError if it
    is another run's (another input or mapping), OutputError if it cannot be written."""
    path = out_dir / JOURNAL_FILE
    try:
        journal = Journal.open(out_dir)
    except JournalError as exc:
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{exc}. Add --fresh to start over in {out_dir} (its files are moved into "
                    f"{out_dir / EARLIER}/), or give another --out",
                )
            ]
        ) from None
    except (OSError, sqlite3.Error) as exc:
        raise output_error(exc, path) from None
    began = journal.meta()
    if not began:
        try:
            journal.set_meta(
                {
                    **hashes,
                    "input": str(Path(input_path).resolve()),
                    "mapping": str(Path(mapping_path).resolve()),
                    "started_at": started_at,
                }
            )
        except sqlite3.Error as exc:
            journal.close()
            raise output_error(exc, path) from None
        return journal
    changed = [
        what
        for key, what in (("input_sha256", "input file"), ("mapping_sha256", "mapping"))
        if began.get(key) != hashes[key]
    ]
    if changed:
        journal.close()
        what = " and ".join(changed)
        began_at = began.get("started_at", "?")
        own = Path(began.get("input", ""))
        resume = (
            f"To resume that run, give it its own input again ({own}). "
            if "input file" in changed and began.get("input") and own.is_file()
            else ""
        )
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{out_dir} holds a run that began at {began_at} with another {what}: "
                    f"the {what} changed since, and resuming would mix two imports. {resume}"
                    "Add --fresh to start a new run in that folder (the earlier run's files are "
                    f"moved into {out_dir / EARLIER}/), or give another --out",
                )
            ]
        )
    return journal


def hashes(input_path: Path, mapping_path: Path) -> dict[str, str]:
    def sha256(path: Path) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    return {"input_sha256": sha256(input_path), "mapping_sha256": sha256(mapping_path)}


def retry_inputs(out_dir: Path) -> tuple[Path, Path]:
    """The input file and the mapping of the run in ``out_dir``, for ``retry``, once the folder is
    known to hold a run and to take writes: ConfigError (on ``DIR``) if it holds no run, cannot
    be written, its journal cannot be opened or names no input, or the input or mapping is gone."""
    if not (out_dir / JOURNAL_FILE).is_file():
        raise ConfigError(
            [
                Problem(
                    "DIR",
                    f"{out_dir} holds no run: it has no {JOURNAL_FILE} (give the --out "
                    "folder of an earlier lsq-import run)",
                )
            ]
        )
    prepare(out_dir, "DIR", "retry updates the run's files there: make room, or make it writable")
    try:
        journal = Journal.open(out_dir)
        began = journal.meta()
        journal.close()
    except JournalError as exc:
        raise ConfigError([Problem("DIR", str(exc))]) from None
    except (OSError, sqlite3.Error) as exc:  # a folder read-only, or a journal locked
        raise ConfigError(
            [Problem("DIR", f"cannot open the journal in {out_dir} ({describe(exc)})")]
        ) from None
    if not began.get("input") or not began.get("mapping"):
        raise ConfigError([Problem("DIR", f"the journal in {out_dir} does not name its input")])
    input_path, mapping_path = Path(began["input"]), Path(began["mapping"])
    for what, path in (("input file", input_path), ("mapping", mapping_path)):
        if not path.is_file():
            raise ConfigError(
                [
                    Problem(
                        "DIR",
                        f"the run's {what} {path} is not there any more: put it back "
                        "where it was to retry",
                    )
                ]
            )
    return input_path, mapping_path


def check_validate_out(input_path: Path, out_dir: Path) -> None:
    """``validate --out`` writes over neither a run's failures.csv nor its own input."""
    names = (JOURNAL_FILE, SUCCESS_FILE, SUMMARY_FILE)
    run_files = [name for name in names if (out_dir / name).exists()]
    if run_files:
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{out_dir} is the folder of an lsq-import run (it holds its {run_files[0]}): "
                    f"validate would write over the run's {FAILURES_FILE}, the rows that did "
                    "not go in. Give validate another --out, a folder of its own (e.g. "
                    f"--out {out_dir.parent / (out_dir.name + '-validated')})",
                )
            ]
        )
    if same_file(input_path, out_dir / FAILURES_FILE):
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{input_path} is the {FAILURES_FILE} validate writes in {out_dir}, and "
                    "validate never writes over its input: give another --out",
                )
            ]
        )
