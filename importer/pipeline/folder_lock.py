"""The lock that keeps one run at a time in a run folder (``--out``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from importer.outdir import open_private


class FolderLock:
    """An exclusive lock on a run folder for as long as a run uses it: a second run there (an
    overlapping cron job, a second terminal) would resume the same rows and send them twice.
    The operating system drops the lock when the process ends, however it ends, so a killed
    run leaves no stale lock. (Advisory ``flock``: where the platform has none, no lock.)"""

    NAME = ".lock"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.NAME
        self._handle: Any = None

    def __enter__(self) -> FolderLock:
        from importer.errors import ConfigError, Problem

        try:
            import fcntl
        except ImportError:  # not POSIX
            return self
        handle = open_private(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                [
                    Problem(
                        "--out",
                        f"{self.path.parent} is in use by another lsq-import run ({holder}); "
                        "wait for it to end, or give another --out",
                    )
                ]
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the lock
            self._handle = None
