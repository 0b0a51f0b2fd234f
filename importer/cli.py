"""The ``lsq-import`` command line: parse arguments, call the library, turn errors into exits.

Exit codes: 0 every row is fine, 1 some rows failed, 2 a config or file error (nothing sent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from importer import __version__
from importer.config import load_mapping
from importer.errors import ConfigError, SourceError
from importer.validation import validate_file

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CONFIG = 0, 1, 2


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ConfigError, SourceError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_CONFIG)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lsq-import")
def main() -> None:
    """Load CSV and Excel spreadsheets into LeadSquared as leads and activities."""


@main.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-m",
    "--mapping",
    "mapping_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The column-mapping YAML file.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write failures.csv (the rows that do not map, with the reason) into this folder.",
)
@click.option(
    "--show",
    default=0,
    show_default=True,
    metavar="N",
    type=click.IntRange(min=0),
    help="Print the first N payloads as JSON.",
)
@click.option(
    "--errors",
    "examples",
    default=10,
    show_default=True,
    metavar="N",
    type=click.IntRange(min=0),
    help="How many failing rows to print.",
)
def validate(
    input_file: Path, mapping_file: Path, out_dir: Path | None, show: int, examples: int
) -> None:
    """Map every row of INPUT offline and report what would fail. Sends nothing.

    Exit 0 when every row maps, 1 when some rows fail, 2 on a mapping or file error.
    """
    mapping = load_mapping(mapping_file)
    try:
        report = validate_file(input_file, mapping, out_dir=out_dir, show=show, examples=examples)
    except ConfigError as exc:  # the mapping does not fit the file: name the mapping
        raise ConfigError(exc.problems, source=str(mapping_file)) from None
    click.echo(f"Read {report.source}")
    for row, payload in report.payloads:
        click.echo(f"# row {row}")
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    if report.examples:
        click.echo(f"First {len(report.examples)} failing rows:")
        for row, error_type, message in report.examples:
            click.echo(f"  row {row}  {error_type}  {message}")
    blank = f"; {_count(report.blank, 'blank row')} skipped" if report.blank else ""
    click.echo(f"{_count(report.rows, 'row')}: {report.mapped} map, {report.failed} fail{blank}")
    if report.failures_path is not None:
        click.echo(f"Failures written to {report.failures_path}")
    sys.exit(EXIT_OK if report.ok else EXIT_ROWS_FAILED)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
