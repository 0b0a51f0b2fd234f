"""The ``lsq-import`` command line: parse arguments, call the library, turn errors into exits.

Exit codes: 0 every row is fine, 1 some rows failed, 2 a config or file error (nothing sent),
3 LeadSquared stopped the run, 4 --max-rows left rows for the next run, 74 a file could not be
written, 75 the host stayed down, 130/143 SIGINT/SIGTERM.

One module per command, or per family of them: ``validate``, ``run`` (``run`` and ``retry``;
``summary`` prints what they did), ``account`` (``whoami``, ``activity-types``, ``fields``,
``account``), ``init_mapping``, ``sandbox``; ``options`` holds what they share. Each imports
the library it calls inside the command, so that ``lsq-import --help`` starts fast.
"""

from __future__ import annotations

import click

from importer import __version__, exitcodes
from importer.cli import account, init_mapping, run, sandbox, validate
from importer.errors import AccountError, ConfigError, OutputError, SourceError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ConfigError, SourceError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exitcodes.CONFIG)
        except AccountError as exc:
            if exc.refused:
                click.echo(f"Stopped: {exc}", err=True)
                ctx.exit(exitcodes.STOPPED)
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exitcodes.CONFIG)
        except OutputError as exc:
            click.echo(
                f"error: {exc}. Make room in {exc.folder} (or make it writable), or give "
                "another --out, then run the same command again",
                err=True,
            )
            ctx.exit(exitcodes.CANNOT_WRITE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lsq-import")
def main() -> None:
    """Load CSV and Excel spreadsheets into LeadSquared as leads and activities."""


main.add_command(validate.validate)
main.add_command(run.run)
main.add_command(run.retry)
main.add_command(account.whoami)
main.add_command(account.activity_types_command)
main.add_command(account.fields)
main.add_command(account.account_command)
main.add_command(init_mapping.init_mapping)
main.add_command(sandbox.sandbox)
