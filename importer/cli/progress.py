"""The progress bar of a run on a terminal: the command line's ``Progress`` (the library's
protocol, ``outputs/progress.py``), drawn by tqdm on stderr."""

from __future__ import annotations

from tqdm import tqdm


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
