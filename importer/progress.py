"""Progress reporting, handed in to the import: a tqdm bar, a silent one, or a counting one.

Nothing else in the package knows about the terminal; the command line picks the object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tqdm import tqdm


class Progress(Protocol):
    def start(self, total: int | None, done: int = 0) -> None: ...
    def advance(self, succeeded: bool, failures: int, throttles: int) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


class SilentProgress:
    """For --quiet and for output that is not a terminal: messages only, to ``notes``."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.notes: list[str] = []
        self.total: int | None = None
        self.done = 0
        self.echo = echo

    def start(self, total: int | None, done: int = 0) -> None:
        self.total = total
        self.done = done

    def advance(self, succeeded: bool, failures: int, throttles: int) -> None:
        self.done += 1

    def note(self, message: str) -> None:
        self.notes.append(message)
        if self.echo is not None:
            self.echo(message)

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm bar on stderr: rows done of total, rate, ETA, failures and throttles so far."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def start(self, total: int | None, done: int = 0) -> None:
        self._bar = tqdm(total=total, initial=done, unit="row", dynamic_ncols=True, smoothing=0.05)

    def advance(self, succeeded: bool, failures: int, throttles: int) -> None:
        if self._bar is not None:
            self._bar.set_postfix(failed=failures, throttled=throttles, refresh=False)
            self._bar.update(1)

    def note(self, message: str) -> None:
        tqdm.write(message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
