"""lsq-import: load CSV and Excel spreadsheets into LeadSquared as leads and activities.

The Python API (``importer.api``), importable from here::

    import importer

    mapping = importer.load_mapping("mappings/site_visits.yaml")
    report = importer.validate("data_samples/site_visits.csv", mapping)
    summary = importer.run(importer.RunRequest(input=..., mapping=..., out_dir=..., connection=...))

The names are loaded on first use, so ``lsq-import --help`` does not import pandas. The data's
path through the modules is drawn in ARCHITECTURE.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from importer.api import (
        Account,
        AccountError,
        ConfigError,
        Connection,
        ImporterError,
        Mapping,
        NothingSent,
        OutagePolicy,
        OutputError,
        Progress,
        Rate,
        RetryPolicy,
        RunningSandbox,
        RunOptions,
        RunRequest,
        RunSummary,
        SandboxConfig,
        SilentProgress,
        SourceError,
        StopSwitch,
        ValidationReport,
        connect,
        load_mapping,
        parse_mapping,
        run,
        run_import,
        serve_sandbox,
        validate,
    )

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
_API = frozenset(__all__)


def __getattr__(name: str) -> Any:
    if name in _API:
        from importer import api

        return getattr(api, name)
    raise AttributeError(f"module 'importer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(["__version__", *_API])
