"""``lsq-import init-mapping``: write a starter mapping for a file."""

from __future__ import annotations

from pathlib import Path

import click

from importer.cli.options import connection_options, counted, to_stderr
from importer.errors import ConfigError


@click.command("init-mapping")
@click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--activity",
    "code",
    type=int,
    required=True,
    metavar="CODE",
    help="The activity type each row posts (lsq-import activity-types lists them).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the mapping to this file (default: print it).",
)
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@click.option("--sheet", default=None, help="For a workbook: the sheet (default: the widest).")
@connection_options
def init_mapping(
    input_file: Path,
    code: int,
    output: Path | None,
    force: bool,
    sheet: str | None,
    host: str | None,
    region: str | None,
) -> None:
    """Write a starter mapping for INPUT: each column matched to the most likely field.

    Columns are matched by schema name, display name and common synonyms to the account's lead
    fields, custom field sets and the activity type's fields (with keys), or to LeadSquared's
    standard lead fields (without). Types come from the fields, date formats from the values;
    unmatched columns are listed as comments. Check it, then run validate --check-account.
    """
    from importer.account.describe import call_account, listed_types, unknown_codes
    from importer.account.model import ActivityType
    from importer.account.scaffold import pick_sheet, scaffold
    from importer.readers.registry import open_source
    from importer.sending.connection import resolve_connection

    if output is not None and output.exists() and not force:
        raise click.UsageError(f"{output} exists; add --force to overwrite it")
    sheet = sheet or pick_sheet(input_file)
    source = open_source(input_file, sheet=sheet)
    sample: list[list[str]] = []
    for chunk in source.chunks():
        sample += [chunk.record(i) for i in range(min(len(chunk), 500 - len(sample)))]
        if len(sample) >= 500:
            break
    try:
        resolve_connection(host, region)
        keys = True
    except ConfigError:
        keys = False
    account = None
    if keys:
        from importer.account.metadata import fetch_account

        account = call_account(
            host, region, lambda client: fetch_account(client, [code]), to_stderr
        )
        if unknown_codes(account, [code]):
            raise click.BadParameter(
                f"{code} is not an activity type of this account: "
                f"{listed_types(account.activity_types)}",
                param_hint="--activity",
            )
        activity = account.activity_type(code) or ActivityType(code, "", None)
    else:
        click.echo(
            "No keys (LSQ_ACCESS_KEY, LSQ_SECRET_KEY): matching against LeadSquared's standard "
            "lead fields; the activity's own fields are left for you to map.",
            err=True,
        )
        activity = ActivityType(code, "", None)
    made = scaffold(source, sample, activity, account, sheet)
    for line in made.skipped + made.notes:
        click.echo(f"note: {line}", err=True)
    if output is None:
        click.echo(made.text, nl=False)
    else:
        output.write_text(made.text, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)
    click.echo(
        f"{counted(len(made.matched), 'column')} matched"
        + (f"; not matched: {', '.join(made.unmatched)}" if made.unmatched else ""),
        err=True,
    )
