"""The call log: one JSON object per line for every call to LeadSquared and its outcome.

For nightly runs and their log collectors: each line says when, which call, for which row, how
long it took, the HTTP status and what it meant (``success``, ``throttled``, ``rejected``...),
with the error type and message or the ids returned. It never holds the keys (they travel in
headers and are redacted from every message) and holds no payload unless asked to: the input's
data stays in the results files. A run appends to it, so a resumed run continues the same log;
each run begins with a ``run`` line and ends with a ``summary`` line.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, TextIO

FILE_NAME = "calls.jsonl"


class CallLog:
    def __init__(self, path: Path, payloads: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.payloads = payloads
        self._file: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, event: str, **fields: Any) -> None:
        """One line, flushed: a crash loses nothing that was logged."""
        if self._file is None:
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {"time": now, "event": event, **fields}
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
