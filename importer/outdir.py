"""The output folder: every file in it its owner's only, and no earlier run's file written over.

Every file under ``--out`` holds people's data (names, emails, phones, the account's answers).
Folders lsq-import creates there are 0700 and its files 0600, whatever the umask; a file of an
earlier run found more open than that is closed down to 0600 when it is opened again
(``open_private``). SQLite gives a database's ``-wal`` and ``-shm`` files the database's own
mode, so the journal is created 0600 (``create_private``) before SQLite opens it.

Nothing of a run is deleted or written over to start another: ``move_aside`` moves an earlier
run's files into a folder of their own, ``DIR/earlier/<UTC date and time>/``, created new (never
an existing one), so they stay byte for byte as they were; an input that was one of them is read
from there. ``prepare`` makes sure the folder can be written before the first call is made.

A write that fails later (a full disk, a folder made read-only or removed) raises
``OutputError`` (``importer.errors``), naming the file, its folder and the cause: the run stops
as a graceful stop does, and what it recorded lets the same command resume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO, cast

from importer.errors import ConfigError, OutputError, Problem

FILE_MODE, FOLDER_MODE = 0o600, 0o700
#: Where ``move_aside`` puts the files of earlier runs, inside the output folder.
EARLIER = "earlier"
#: A link planted where a run's file goes is not followed: the run would write over the file
#: it points to, wherever that is (ELOOP, said as an OutputError).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FLAGS = {
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW,
    "a+": os.O_RDWR | os.O_CREAT | os.O_APPEND | _NOFOLLOW,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
}


def open_private(
    path: Path, mode: str = "w", encoding: str = "utf-8", newline: str | None = None
) -> TextIO:
    """Open a text file for writing (``w``, ``a``, ``a+`` or ``x``) as 0600: created so, or
    brought down to it if it was there, more open, and ours."""
    fd = os.open(path, _FLAGS[mode], FILE_MODE)
    try:
        _restrict(fd)
        return cast(TextIO, open(fd, mode, encoding=encoding, newline=newline))  # caller closes
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def appending(path: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """``open_private(path, "a")`` as a context: any error writing or closing it is an
    ``OutputError`` naming the file."""
    try:
        with open_private(path, "a", encoding) as file:
            yield file
    except OSError as exc:
        raise output_error(exc, path) from None


def create_private(path: Path) -> None:
    """Make sure ``path`` exists as a 0600 file (its content untouched): for a file another
    library creates, such as SQLite's database, whose companions take its mode."""
    os.close(_open_restricted(path, os.O_RDONLY | os.O_CREAT))


def restrict(path: Path) -> None:
    """Bring an existing file of ours down to 0600 (nothing if it is not there)."""
    try:
        fd = _open_restricted(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write a whole text file as 0600, under a temporary name renamed over ``path`` once
    written: ``path`` holds the old text or the new, never half of one. Raises OutputError."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open_private(temporary, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise output_error(exc, path) from None


def make_folder(path: Path) -> bool:
    """Create a folder (and its parents) if it is not there, each folder created as 0700.
    Returns whether it was created. A folder that was there keeps its mode: it is the user's."""
    if path.is_dir():
        return False
    if not path.parent.is_dir() and path.parent != path:
        make_folder(path.parent)  # a parent made here is ours too: 0700, not the umask's
    try:
        path.mkdir(FOLDER_MODE)
    except FileExistsError:
        if path.is_dir():  # made meanwhile by someone else: theirs
            return False
        raise
    os.chmod(path, FOLDER_MODE)  # mkdir's mode passes through the umask
    return True


def prepare(folder: Path, option: str = "--out", fix: str = "") -> None:
    """Create ``folder`` if need be and prove it can be written, before anything is sent:
    ConfigError (naming the folder, the cause and the fix) if it cannot. ``fix``: what to do,
    when it is not to give another folder."""
    probe = folder / f".lsq-import-probe-{os.getpid()}"
    try:
        make_folder(folder)
        with open_private(probe, "x") as file:
            file.write("lsq-import checks that it can write here\n")
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        raise ConfigError(
            [
                Problem(
                    option,
                    f"cannot write in {folder} ({describe(exc)}): "
                    + (fix or f"give another {option}, or make room there or make it writable"),
                )
            ]
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def move_aside(folder: Path, names: Sequence[str]) -> Path | None:
    """Move the files among ``names`` that are in ``folder`` into a new folder of their own,
    ``folder/earlier/<UTC time>/``, as they are (renamed, not copied: byte for byte, and no room
    needed), each brought down to 0600. Returns that folder, or None if there was nothing to
    move. On a failure, what was moved is moved back, and OutputError says why."""
    found = [name for name in dict.fromkeys(names) if os.path.lexists(folder / name)]
    if not found:
        return None
    moved: list[tuple[Path, Path]] = []
    try:
        aside = _new_folder(folder / EARLIER)
        for name in found:
            source, target = folder / name, aside / name
            os.rename(source, target)
            moved.append((source, target))
            if not target.is_symlink():
                restrict(target)
    except OSError as exc:
        for source, target in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(target, source)
        raise output_error(exc, folder / EARLIER) from None
    return aside


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file (links and other spellings included)."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return os.path.abspath(one) == os.path.abspath(other)


def describe(exc: BaseException) -> str:
    """What went wrong writing, for people: ``No space left on device``, ``Read-only file
    system``, SQLite's ``database or disk is full``. For an error raised while handling another
    (SQLite's rollback after a failed write), the first one."""
    while isinstance(exc, sqlite3.Error) and isinstance(exc.__context__, sqlite3.Error):
        exc = exc.__context__
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def output_error(exc: BaseException, path: Path) -> OutputError:
    """An OutputError for a failed write to ``path`` (a file, or a folder)."""
    if isinstance(exc, OutputError):
        return exc
    return OutputError(path, describe(exc))


def _open_restricted(path: Path, flags: int) -> int:
    fd = os.open(path, flags, FILE_MODE)
    try:
        _restrict(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _restrict(fd: int) -> None:
    """0600 for a file found more open, if it is ours (a shared log of another owner is left).
    Where the mode cannot be changed (a read-only folder), the write that follows says why."""
    status = os.fstat(fd)
    if status.st_mode & 0o077 and status.st_uid == os.geteuid():
        with contextlib.suppress(OSError):
            os.fchmod(fd, FILE_MODE)


def _new_folder(parent: Path) -> Path:
    """A folder that did not exist, named by the time now (UTC), in ``parent`` (made if need be)."""
    make_folder(parent)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    for attempt in range(1, 1000):
        path = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            path.mkdir(FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(path, FOLDER_MODE)
        return path
    raise FileExistsError(f"{parent} holds a thousand folders named {stamp}")
