"""Offline validation: map every row of a file, send nothing, report what would fail.

``validate_file`` is what ``lsq-import validate`` runs; ``open_input`` (file + mapping checked
against each other before any row is read) is shared with the import itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importer.config import Mapping
from importer.mapping import Plan
from importer.results import failure_writer
from importer.source import DEFAULT_CHUNK_ROWS, Source, open_source


@dataclass
class ValidationReport:
    """What ``validate_file`` found."""

    source: str
    rows: int = 0
    mapped: int = 0
    failed: int = 0
    blank: int = 0
    examples: list[tuple[int, str, str]] = field(default_factory=list)
    payloads: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    failures_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0


def open_input(path: str | Path, mapping: Mapping) -> tuple[Source, Plan]:
    """Open the input as the mapping says and fit the mapping to its header.

    Raises SourceError or ConfigError before any data row is read."""
    options = mapping.source
    source = open_source(
        path, encoding=options.encoding, delimiter=options.delimiter, sheet=options.sheet
    )
    return source, Plan(mapping, source.header)


def validate_file(
    path: str | Path,
    mapping: Mapping,
    *,
    out_dir: str | Path | None = None,
    show: int = 0,
    examples: int = 10,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ValidationReport:
    """Map every row offline. With ``out_dir``, write ``failures.csv`` there."""
    source, plan = open_input(path, mapping)
    report = ValidationReport(source=f"{source.path} ({source.description})")
    writer = None
    if out_dir is not None:
        writer = failure_writer(Path(out_dir), source.header)
        report.failures_path = writer.path
    try:
        for chunk in source.chunks(chunk_rows):
            mapped = plan.map_chunk(chunk)
            report.blank += mapped.blank
            report.rows += len(mapped.rows) + len(mapped.bad)
            for row, error_type, message, cells in mapped.failures():
                report.failed += 1
                if len(report.examples) < examples:
                    report.examples.append((row, error_type, message))
                if writer is not None:
                    writer.write([row, error_type, message], cells)
            report.mapped += len(mapped.rows) - len(mapped.problems)
            for position in mapped.good():
                if len(report.payloads) >= show:
                    break
                report.payloads.append((mapped.rows[position], plan.payload(mapped, position)))
    finally:
        if writer is not None:
            writer.close()
    return report
