"""The call log: one JSON object per line for every call to LeadSquared and its outcome.

For nightly runs and their log collectors: each line says when, which call (the pre-flight's
metadata calls, the rows' CreateCustom, the lookups that check a lost answer, the probes of a
host that went down), for which row, how long it took, the HTTP status and what it meant
(``success``, ``throttled``, ``rejected``...), with the error type and message or the ids
returned. A read-only call that worked is a ``success`` with none of its answer in the line.

It never holds the keys (they travel in headers, and the client redacts them from every answer
and message as it arrives) and holds no row data unless asked to (``payloads``): no payload, and
for a row's call no error text from the answer, which may echo the row's values (the results
files have them). A run appends to it, so a resumed run continues the same log; a run's lines
are its pre-flight's calls, a ``run`` line, the rows' calls and a ``summary`` line.

Each line is written by opening the file, appending and closing it: nothing is held open, so a
run that stops before its first row leaves nothing to close, and a log moved aside (rotated, or
by ``--fresh``) is never written to again: the next line starts a new file at ``path``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from importer.outdir import appending, make_folder

FILE_NAME = "calls.jsonl"


class CallLog:
    def __init__(self, path: Path, payloads: bool = False) -> None:
        make_folder(path.parent)
        self.path = path
        self.payloads = payloads
        self._closed = False

    def write(self, event: str, **fields: Any) -> None:
        """One line, appended to the file at ``path`` as it is now, and closed: a crash loses
        nothing that was logged. Nothing once the log is closed."""
        if self._closed:
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {"time": now, "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with appending(self.path) as file:  # 0600; a failed write raises OutputError
            file.write(line)

    def close(self) -> None:
        self._closed = True
