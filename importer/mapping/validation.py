"""Offline validation: map every row of a file, send nothing, report what would fail.

``validate_file`` is what ``lsq-import validate`` runs; ``open_input`` (file + mapping checked
against each other before any row is read) is shared with the import itself. Beyond the rows that
fail, validate looks for the commonest cause of many of them: dates written month-first under a
day-first format (or the reverse), and names the format to try.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from importer.errors import ConfigError, Problem
from importer.mapping.config import Mapping
from importer.mapping.convert import count_readable, parse_datetimes, swap_day_month
from importer.mapping.plan import BAD_ROW, INVALID_VALUE, MappedChunk, Plan, RowProblem
from importer.outputs.results import failure_writer
from importer.readers.registry import open_source
from importer.readers.source import DEFAULT_CHUNK_ROWS, Source

if TYPE_CHECKING:
    from importer.account.model import Account


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
    #: What to try about many rows failing alike, one line each (a date format to swap).
    hints: list[str] = field(default_factory=list)
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


@dataclass
class DayMonthCheck:
    """For a date rule whose format starts with a day and a month (``%d/%m/%Y``) or a month and
    a day: how many rows fail it, and how many of those the other order would read."""

    path: str
    column: str
    index: int  # the column's place in the header
    format: str
    other: str
    failed: int = 0
    other_reads: int = 0

    @classmethod
    def for_plan(cls, plan: Plan) -> list[DayMonthCheck]:
        """One check per date rule of ``plan`` that reads a column with such a format."""
        checks = []
        for target in plan.targets:
            rule = target.rule
            other = swap_day_month(rule.format)
            if rule.type in ("date", "datetime") and rule.column and rule.format and other:
                index = plan.header.index(rule.column)
                checks.append(cls(target.path, rule.column, index, rule.format, other))
        return checks

    def add(self, mapped: MappedChunk) -> None:
        """Count a chunk's rows that fail this rule's format, and those the other order reads."""
        failing = [
            position
            for position, problems in mapped.problems.items()
            if any(p.path == self.path and p.error_type == INVALID_VALUE for p in problems)
        ]
        if not failing:
            return
        cells = pc.take(mapped.chunk.column(self.index), pa.array(failing, pa.int64()))
        values = pc.utf8_trim_whitespace(cells)
        unread = pc.filter(values, parse_datetimes(values, self.format, None).is_null())
        self.failed += len(failing)
        self.other_reads += count_readable(unread, self.other)

    def hint(self) -> str | None:
        """The line to show when most failing rows read in the other order, else None."""
        if self.other_reads * 2 <= self.failed:
            return None
        order = "month" if self.other.startswith("%m") else "day"
        rows = "row that fails" if self.failed == 1 else "rows that fail"
        return (
            f"{self.path}: {self.other_reads} of the {self.failed} {rows} format "
            f"{self.format!r} read as {order}-first {self.other!r}: if column {self.column!r} "
            f"writes the {order} first, set format: {self.other!r} on the rule"
        )


def open_input(path: str | Path, mapping: Mapping) -> tuple[Source, Plan]:
    """Open the input as the mapping says and fit the mapping to its header.

    Raises SourceError or ConfigError before any data row is read."""
    options = mapping.source
    source = open_source(
        path,
        encoding=options.encoding,
        delimiter=options.delimiter,
        sheet=options.sheet,
        excel_values=options.excel_values,
        header_row=options.header_row,
        multiline_cells=options.multiline_cells,
    )
    try:
        return source, Plan(mapping, source.header)
    except ConfigError as exc:
        raise _with_header_hint(exc, source, mapping) from None


def _with_header_hint(error: ConfigError, source: Source, mapping: Mapping) -> ConfigError:
    """``error``, plus a hint at ``source.header_row`` when the mapped columns missing from the
    header are all in one row below it (title rows above the real header)."""
    missing = [
        column
        for _, rule in mapping.rules()
        for column in rule.columns
        if column not in source.header
    ]
    row = source.find_header_row(missing) if missing else None
    if row is None:
        return error
    hint = Problem(
        "source.header_row",
        f"the mapped columns are in row {row} of the file, below the header row read: set "
        f"source.header_row: {row} in the mapping (rows above it are then skipped as titles)",
    )
    return ConfigError([*error.problems, hint], error.source)


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
    """Map every row offline. With ``out_dir``, write ``failures.csv`` there (never over a
    run's, nor over the input: ConfigError). With ``account``, check the mapping against it
    first (ConfigError) and every value against its fields."""
    if out_dir is not None:
        from importer.outdir import prepare
        from importer.pipeline.rundir import check_validate_out

        check_validate_out(Path(path), Path(out_dir))
        prepare(Path(out_dir))
    source, plan = open_input(path, mapping)
    report = ValidationReport(source=f"{source.path} ({source.description})")
    day_month = DayMonthCheck.for_plan(plan)
    if account is not None:
        from importer.account.preflight import fit_account

        fit = fit_account(mapping, account)
        plan = Plan(mapping, source.header, account=fit)  # ConfigError: every problem
        report.notes = fit.notes
    writer = None
    if out_dir is not None:
        writer = failure_writer(Path(out_dir), source.header)
        report.failures_path = writer.path
    try:
        for chunk in source.chunks(chunk_rows):
            mapped = plan.map_chunk(chunk)
            for check in day_month:
                check.add(mapped)
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
    report.hints = [hint for check in day_month if (hint := check.hint()) is not None]
    return report
