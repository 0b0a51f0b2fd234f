"""Offline validation: map every row of a file, send nothing, report what would fail.

``validate_file`` is what ``lsq-import validate`` runs; ``open_input`` (file + mapping checked
against each other before any row is read) is shared with the import itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importer.config import Mapping
from importer.mapping import BAD_ROW, Plan, RowProblem
from importer.results import failure_writer
from importer.source import DEFAULT_CHUNK_ROWS, Source, open_source

if TYPE_CHECKING:
    from importer.account import Account


@dataclass
class ProblemGroup:
    message: str  # the first row's
    count: int = 0
    rows: list[int] = field(default_factory=list)


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
    notes: list[str] = field(default_factory=list)
    #: Every problem found, by (mapping path, error type): how many rows, the first rows, and
    #: the first message.
    groups: dict[tuple[str, str], ProblemGroup] = field(default_factory=dict)

    def add(self, row: int, problem: RowProblem) -> None:
        key = (problem.path, problem.error_type)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ProblemGroup(problem.message)
        group.count += 1
        if len(group.rows) < 5:
            group.rows.append(row)

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
    account: Account | None = None,
) -> ValidationReport:
    """Map every row offline. With ``out_dir``, write ``failures.csv`` there. With ``account``,
    check the mapping against it first (ConfigError) and every value against its fields."""
    source, plan = open_input(path, mapping)
    report = ValidationReport(source=f"{source.path} ({source.description})")
    if account is not None:
        report.notes = plan.use_account(account)
    writer = None
    if out_dir is not None:
        writer = failure_writer(Path(out_dir), source.header)
        report.failures_path = writer.path
    try:
        for chunk in source.chunks(chunk_rows):
            mapped = plan.map_chunk(chunk)
            report.blank += mapped.blank
            report.rows += len(mapped.rows) + len(mapped.bad)
            for bad in mapped.bad:
                report.add(bad.row, RowProblem(BAD_ROW, "(row)", bad.message))
            for position, problems in mapped.problems.items():
                for problem in problems:
                    report.add(mapped.rows[position], problem)
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
