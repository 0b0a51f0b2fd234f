"""The Python API: what the command line does, for a program of one's own.

    import importer

    mapping = importer.load_mapping("mappings/site_visits.yaml")
    report = importer.validate("data_samples/site_visits.csv", mapping)
    request = importer.RunRequest(
        input="data_samples/site_visits.csv",
        mapping="mappings/site_visits.yaml",
        out_dir="out",
        connection=importer.connect(),  # LSQ_HOST, LSQ_ACCESS_KEY, LSQ_SECRET_KEY (or .env)
    )
    summary = importer.run(request)

Every name here is also importable from ``importer`` itself (loaded on first use, so that the
command line starts quickly). Errors are those of ``importer.errors``: ``ConfigError`` and
``SourceError`` before anything is sent, ``OutputError`` when a file cannot be written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from importer.account import Account
from importer.config import Mapping, load_mapping, parse_mapping
from importer.connection import Connection, resolve_connection
from importer.errors import ConfigError, OutputError, SourceError
from importer.limiter import Rate
from importer.pipeline import run_import
from importer.progress import Progress
from importer.request import RunOptions, RunRequest, StopSwitch
from importer.sandbox import SandboxConfig, serve_in_thread
from importer.sandbox.server import RunningSandbox
from importer.summary import RunSummary
from importer.validation import ValidationReport, validate_file

__all__ = [
    "Account",
    "ConfigError",
    "Connection",
    "Mapping",
    "OutputError",
    "Rate",
    "RunOptions",
    "RunRequest",
    "RunSummary",
    "RunningSandbox",
    "SandboxConfig",
    "SourceError",
    "StopSwitch",
    "ValidationReport",
    "connect",
    "load_mapping",
    "parse_mapping",
    "run",
    "run_import",
    "serve_sandbox",
    "validate",
]


def validate(
    input: str | Path,
    mapping: Mapping | str | Path,
    *,
    out_dir: str | Path | None = None,
    account: Account | None = None,
) -> ValidationReport:
    """Map every row of ``input`` offline, as ``lsq-import validate`` does: the report counts
    the rows that map and those that do not, with examples and hints. ``mapping`` is a mapping
    (``load_mapping``) or its file. With ``out_dir``, ``failures.csv`` is written there; with
    ``account``, the mapping and the values are checked against it too."""
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    return validate_file(input, mapping, out_dir=out_dir, account=account)


def connect(
    host: str | None = None, region: str | None = None, env: dict[str, str] | None = None
) -> Connection:
    """The connection the command line would use: the host from ``host``, ``region`` or
    ``LSQ_HOST``, the keys from ``LSQ_ACCESS_KEY`` and ``LSQ_SECRET_KEY`` (``env``, by default
    the environment and a ``.env`` file in the working folder). ConfigError names what is
    missing."""
    return resolve_connection(host, region, env)


def run(
    request: RunRequest, *, progress: Progress | None = None, stop: StopSwitch | None = None
) -> RunSummary:
    """Carry out ``request`` (see ``RunRequest``) and return what happened; the same request
    again resumes it. For a program with an event loop of its own: ``await run_import(...)``."""
    return asyncio.run(run_import(request, progress=progress, stop=stop))


@contextmanager
def serve_sandbox(
    config: SandboxConfig | None = None, *, rate: Rate | None = None
) -> Iterator[RunningSandbox]:
    """A local LeadSquared look-alike, served from a thread until the block ends: send to
    ``box.connection`` and look at what it holds in ``box.state``. ``rate`` is its rate limit
    (default 25 calls per 5 s, as an account's); ``config`` sets every knob."""
    if rate is not None:
        config = SandboxConfig(rate_limit=rate.calls, rate_window=rate.seconds)
    with serve_in_thread(config) as running:
        yield running
