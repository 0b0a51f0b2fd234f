"""The commands that read the account and change nothing: ``whoami``, ``activity-types``,
``fields`` and ``account``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from importer.cli.options import connection_options, counted, to_stderr
from importer.errors import OutputError

if TYPE_CHECKING:
    from importer.account.model import Account
    from importer.sending.client import LeadSquaredClient
    from importer.sending.connection import Connection


@click.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def whoami(host: str | None, region: str | None, as_json: bool) -> None:
    """Who the keys belong to: user, org, role, the account's API host, time zone and country.

    Without --host, --region or LSQ_HOST, the account's host is found from the keys (the call
    works on any host); `run` does the same and says which host it picked.
    """
    from importer.account.describe import call_account
    from importer.account.metadata import whoami as read_user

    user = call_account(host, region, read_user, to_stderr)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(user) | {"country": user.country}, indent=2))
        return
    country = f" ({user.country})" if user.country else ""
    rows = [
        (
            "User",
            f"{user.name} <{user.email}>" if user.email and user.name else user.name or user.email,
        ),
        ("Role", user.role),
        ("Org", f"{user.org_name} ({user.org_id})" if user.org_id else user.org_name),
        ("API host", user.api_host),
        ("Time zone", user.time_zone),
        ("Country", f"+{user.country_code}{country}" if user.country_code else ""),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<11}{value}")


@click.command("activity-types")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def activity_types_command(host: str | None, region: str | None, as_json: bool) -> None:
    """The account's activity types: the event codes a mapping's activity.event can take."""
    from importer.account.describe import call_account, table
    from importer.account.metadata import activity_types

    found = call_account(host, region, activity_types, to_stderr)
    if as_json:
        click.echo(json.dumps([{"code": t.code, "name": t.name} for t in found], indent=2))
        return
    for line in table(["CODE", "NAME"], [[str(t.code), t.name] for t in found]):
        click.echo(line)


@click.command()
@connection_options
@click.option(
    "--activity",
    "code",
    type=int,
    default=None,
    metavar="CODE",
    help="List this activity type's fields instead of the lead fields.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def fields(host: str | None, region: str | None, code: int | None, as_json: bool) -> None:
    """The account's lead fields, or one activity type's fields: schema name (what a mapping
    uses), display name, data type, mandatory, unique, maximum length and dropdown options
    ("?" where the account's metadata does not say)."""
    from importer.account.describe import (
        activity_fields_of,
        call_account,
        fields_table,
        listed_types,
    )
    from importer.account.metadata import fix_for, lead_fields

    if code is None:
        found = call_account(host, region, lead_fields, to_stderr)
    else:
        activity = code  # for the closure: a plain int, never None
        of = call_account(host, region, lambda c: activity_fields_of(c, activity), to_stderr)
        if of.fields is None:
            raise click.BadParameter(
                f"{code} is not an activity type of this account: {listed_types(of.types)}",
                param_hint="--activity",
            )
        if of.types_unread:
            reason = of.types_unread.rstrip(". ")
            to_stderr(
                f"cannot check that {code} is an activity type of this account: could not "
                f"read the account's activity types: {reason}. {fix_for(reason)}"
            )
        found = of.fields
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(f) for f in found], indent=2))
        return
    for line in fields_table(found):
        click.echo(line)


@click.command("account")
@connection_options
@click.option(
    "--activity",
    "codes",
    type=int,
    multiple=True,
    metavar="CODE",
    help="The activity types whose fields to read (repeat it; default: every type).",
)
@click.option(
    "--dump",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the raw answers of the metadata calls to FILE (JSON, keys removed).",
)
@click.option("--force", is_flag=True, help="Overwrite --dump FILE if it exists.")
def account_command(
    host: str | None, region: str | None, codes: tuple[int, ...], dump: Path | None, force: bool
) -> None:
    """What lsq-import understands of the account's metadata, and what it cannot check.

    It reads the same calls as the pre-flight of `run` (the user, the lead fields, the activity
    types and their fields) and prints what it found in them. When a check says it cannot see
    something your account does have, or the account answers in a shape lsq-import does not
    read, --dump FILE writes the raw answers, with the keys removed, for whoever supports you.
    """
    from importer.account.describe import (
        call_account,
        describe_account,
        listed_types,
        unknown_codes,
        unwritable,
    )
    from importer.account.metadata import Record, fetch_account
    from importer.account.metadata import dump as dump_of
    from importer.outdir import write_private

    if dump is not None:  # before any call: a dump that cannot be written is known now
        if dump.exists() and not force:
            raise click.UsageError(f"{dump} exists; add --force to overwrite it")
        problem = unwritable(dump)
        if problem:
            raise click.BadParameter(problem, param_hint="--dump")
    record: Record = []

    async def read(client: LeadSquaredClient) -> tuple[Account, Connection]:
        found = await fetch_account(client, list(codes) or None, record)
        return found, client.connection

    found, connection = call_account(host, region, read, to_stderr)
    unknown = unknown_codes(found, codes)
    if unknown:
        are = "is not an activity type" if len(unknown) == 1 else "are not activity types"
        raise click.BadParameter(
            f"{', '.join(map(str, unknown))} {are} of this account: "
            f"{listed_types(found.activity_types)}",
            param_hint="--activity",
        )
    if dump is not None:
        text = json.dumps(dump_of(connection, record), indent=2, ensure_ascii=False)
        try:  # a file that holds people's data: its owner's only (0600), never half-written
            write_private(dump, text + "\n")
        except OutputError as exc:
            raise click.BadParameter(str(exc), param_hint="--dump") from None
        click.echo(f"Wrote {dump}: the raw answers of {counted(len(record), 'call')}, keys removed")
    for line in describe_account(found, codes):
        click.echo(connection.redact(line))
