"""``lsq-import validate``: map every row of a file offline and report what would fail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from importer import exitcodes
from importer.cli.options import connection_options, counted, input_and_mapping, to_stderr
from importer.errors import ConfigError
from importer.mapping.config import Mapping, load_mapping

if TYPE_CHECKING:
    from importer.account.model import Account


@click.command()
@input_and_mapping
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write failures.csv (the rows that do not map, with the reason) into this folder; "
    "never into the folder of a run (it would write over the run's failures.csv).",
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
@click.option(
    "--check-account",
    is_flag=True,
    help="Also check the mapping and every value against the account's fields and activity "
    "types (reads the account's metadata: needs keys; sends no row).",
)
@connection_options
def validate(
    input_file: Path,
    mapping_file: Path,
    out_dir: Path | None,
    show: int,
    examples: int,
    check_account: bool,
    host: str | None,
    region: str | None,
) -> None:
    """Map every row of INPUT offline and report what would fail. Sends no row.

    Exit 0 when every row maps, 1 when some rows fail, 2 on a mapping or file error (or an
    --out that cannot take failures.csv), 74 when failures.csv cannot be written.
    """
    from importer.mapping.validation import open_input, validate_file

    mapping = load_mapping(mapping_file)
    if out_dir is not None:  # validate_file checks it too; here, before any call is made
        from importer.pipeline.rundir import check_validate_out

        check_validate_out(input_file, out_dir)
    account = None
    if check_account:
        open_input(input_file, mapping)  # file and header problems first, before any call
        account = _read_account(host, region, mapping)
    try:
        report = validate_file(
            input_file, mapping, out_dir=out_dir, show=show, examples=examples, account=account
        )
    except ConfigError as exc:  # the mapping does not fit the file: name the mapping
        raise ConfigError(exc.problems, source=str(mapping_file)) from None
    click.echo(f"Read {report.source}")
    if account is not None:
        from importer.account.describe import checked_against

        click.echo(checked_against(account, mapping))
        for note in report.notes:
            click.echo(f"  {note}")
    for row, payload in report.payloads:
        click.echo(f"# row {row}")
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    if report.examples:
        click.echo(f"First {len(report.examples)} failing rows:")
        for row, error_type, message in report.examples:
            click.echo(f"  row {row}  {error_type}  {message}")
    for hint in report.hints:
        click.echo(f"hint: {hint}")
    if account is not None and report.groups:
        click.echo("Problems by mapping path:")
        for (path, kind), group in report.groups.items():
            rows = ", ".join(map(str, group.rows)) + (", ..." if group.count > 5 else "")
            click.echo(f"  {path}  {kind}  {counted(group.count, 'row')} ({rows}): {group.message}")
    blank = f"; {counted(report.blank, 'blank row')} skipped" if report.blank else ""
    click.echo(f"{counted(report.rows, 'row')}: {report.mapped} map, {report.failed} fail{blank}")
    if report.failures_path is not None:
        click.echo(f"Failures written to {report.failures_path}")
    sys.exit(exitcodes.OK if report.ok else exitcodes.ROWS_FAILED)


def _read_account(host: str | None, region: str | None, mapping: Mapping) -> Account:
    """The account's metadata for a mapping's checks: the lead fields, the activity types and
    the fields of the mapping's activity type."""
    from importer.account.describe import call_account
    from importer.account.field_values import event_code
    from importer.account.metadata import fetch_account

    code = event_code(mapping)
    events = [code] if code is not None else []
    return call_account(host, region, lambda client: fetch_account(client, events), to_stderr)
