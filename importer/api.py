"""The Python API: validating and running an import, for a program of one's own.

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
command line starts quickly). Errors are those of ``importer.errors``, all ``ImporterError``:
``ConfigError``, ``SourceError`` and ``AccountError`` (keys refused, host down) before anything
is sent (``NothingSent``), ``OutputError`` when a file cannot be written. Rows that fail are
in the summary and ``failures.csv``, never raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from importer.account.model import Account
from importer.errors import (
    AccountError,
    ConfigError,
    ImporterError,
    NothingSent,
    OutputError,
    SourceError,
)
from importer.mapping.config import Mapping, load_mapping, parse_mapping
from importer.mapping.validation import ValidationReport, validate_file
from importer.outputs.progress import Progress, SilentProgress
from importer.pipeline.request import RunOptions, RunRequest, StopSwitch
from importer.pipeline.runner import run_import
from importer.pipeline.summary import RunSummary
from importer.sandbox import SandboxConfig, serve_in_thread
from importer.sandbox.server import RunningSandbox
from importer.sending.connection import Connection, resolve_connection
from importer.sending.delivery import RetryPolicy
from importer.sending.limiter import Rate
from importer.sending.outage import OutagePolicy

__all__ = [
    "Account",
    "AccountError",
    "ConfigError",
    "Connection",
    "ImporterError",
    "Mapping",
    "NothingSent",
    "OutagePolicy",
    "OutputError",
    "Progress",
    "Rate",
    "RetryPolicy",
    "RunOptions",
    "RunRequest",
    "RunSummary",
    "RunningSandbox",
    "SandboxConfig",
    "SilentProgress",
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
        config = dataclasses.replace(
            config or SandboxConfig(), rate_limit=rate.calls, rate_window=rate.seconds
        )
    with serve_in_thread(config) as running:
        yield running
