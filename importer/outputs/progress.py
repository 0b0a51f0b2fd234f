"""Progress reporting, handed in to the import: the ``Progress`` protocol, a silent one (that
may echo the notes) and a counting one. The bar on a terminal is the command line's
(``cli/progress.py``): nothing else in the package knows about the terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


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
