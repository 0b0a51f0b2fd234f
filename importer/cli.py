"""The ``lsq-import`` command line: parse arguments, call the library, turn errors into exits.

Exit codes: 0 every row is fine, 1 some rows failed, 2 a config or file error (nothing sent).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from importer import __version__
from importer.config import load_mapping
from importer.errors import ConfigError, SourceError
from importer.validation import validate_file

if TYPE_CHECKING:
    from importer.pipeline import RunSummary

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CONFIG = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])


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
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for success.csv, failures.csv and summary.json.",
)
@click.option(
    "--host",
    default=None,
    help="LeadSquared API host, e.g. https://api-in21.leadsquared.com (default: LSQ_HOST).",
)
@click.option(
    "--region",
    default=None,
    metavar="REGION",
    help="Instead of --host: sg, us11, in21, in22, ir31 or ca12.",
)
@click.option(
    "--rate",
    "rate_text",
    default=None,
    metavar="N/Ws",
    help="The account's rate limit: N calls in any W seconds  [default: 25/5s; "
    "25/1s with --sandbox].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Calls in flight at once  [default: enough for the rate at 1-2 s latency].",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long to wait for one answer.",
)
@click.option(
    "--retries",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Resends after a transient error (5xx, timeout, lost connection).",
)
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Import into a sandbox started in-process (no keys needed).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start over in --out, replacing its journal and results, instead of resuming "
    "(--sandbox always starts over).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no notes on stderr.")
def run(
    input_file: Path,
    mapping_file: Path,
    out_dir: Path,
    host: str | None,
    region: str | None,
    rate_text: str | None,
    workers: int | None,
    timeout: float,
    retries: int,
    use_sandbox: bool,
    fresh: bool,
    quiet: bool,
) -> None:
    """Import every row of INPUT into LeadSquared: one CreateCustom call per row.

    Keys come from LSQ_ACCESS_KEY and LSQ_SECRET_KEY (or a .env file); the host from --host,
    --region or LSQ_HOST. Results are written as rows finish. A journal in --out records every
    row: run the same command again to resume a run that stopped.

    Exit 0 when every row succeeded, 1 when some failed, 2 on a mapping or file error (nothing
    sent), 3 when the run was stopped by LeadSquared (bad keys, wrong host).
    """
    import asyncio

    from importer.connection import Connection, resolve_connection
    from importer.delivery import RetryPolicy
    from importer.limiter import Rate
    from importer.pipeline import RunOptions, run_import
    from importer.progress import BarProgress, SilentProgress
    from importer.sandbox import SandboxConfig, parse_rate, serve

    try:
        calls, seconds = parse_rate(rate_text or ("25/1s" if use_sandbox else "25/5s"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from None
    options = RunOptions(
        rate=Rate(calls, seconds),
        workers=workers,
        timeout=timeout,
        policy=RetryPolicy(transient_retries=retries, settle=timeout),
    )
    mapping = load_mapping(mapping_file)
    connection = None if use_sandbox else resolve_connection(host, region)
    if quiet:
        progress = SilentProgress()
    elif sys.stderr.isatty():
        progress = BarProgress()
    else:
        progress = SilentProgress(echo=lambda m: click.echo(m, err=True))

    async def go() -> tuple[RunSummary, dict[str, int] | None]:
        if connection is not None:
            return await run_import(
                input_file, mapping, mapping_file, out_dir, connection, options, progress, fresh
            ), None
        async with serve(SandboxConfig(rate_limit=calls, rate_window=seconds)) as sandbox:
            if not quiet:
                click.echo(
                    f"Sandbox at {sandbox.url}, rate limit {calls} calls per {seconds:g} s",
                    err=True,
                )
            local = Connection(sandbox.url, sandbox.access_key, sandbox.secret_key)
            # a new sandbox holds nothing an earlier run sent: there is nothing to resume
            summary = await run_import(
                input_file, mapping, mapping_file, out_dir, local, options, progress, fresh=True
            )
            return summary, dict(sandbox.state.counters)

    try:
        summary, stored = asyncio.run(go())
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=exc.source or str(mapping_file)) from None
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted. Every row's state is in {out_dir}: run the same command again to "
            "resume (rows done are not sent again; rows that were in flight are checked on "
            "their lead first).",
            err=True,
        )
        sys.exit(130)
    _print_summary(summary)
    if stored is not None:
        click.echo(
            f"The sandbox now holds {stored.get('leads_created', 0)} new leads "
            f"({stored.get('leads_updated', 0)} updates) and "
            f"{stored.get('activities_created', 0)} activities."
        )
    sys.exit(summary.exit_code)


def _print_summary(summary: RunSummary) -> None:
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.failed_by_type.items()))
    counters = summary.counters
    rate = summary.adopted_rate or summary.rate
    per_second = (
        (summary.succeeded + summary.failed - summary.not_sent) / summary.elapsed
        if (summary.elapsed)
        else 0
    )
    click.echo(
        f"{_count(summary.rows, 'row')}: {summary.succeeded} succeeded, {summary.failed} failed"
        + (f" ({kinds})" if kinds else "")
        + f"; {counters.calls} calls, {counters.throttles} throttles, {counters.retries} retries;"
        + f" {summary.elapsed:.1f} s, {per_second:.2f} rows/s at {rate}"
    )
    if summary.possible_duplicates:
        rows = ", ".join(map(str, summary.possible_duplicates[:20]))
        click.echo(
            f"Possibly posted twice (an answer was lost and could not be checked): rows {rows}"
        )
    if summary.stopped:
        click.echo(f"Stopped: {summary.stopped}", err=True)
    out = summary.out_dir
    click.echo(f"Results: {out / 'success.csv'}, {out / 'failures.csv'}, {out / 'summary.json'}")


def _share(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 1:
        raise click.BadParameter(f"{value} is not a share between 0 and 1")
    return value


def _share_option(name: str, default: float, help: str) -> Callable[[F], F]:
    """A sandbox option that takes a share of calls, from 0 to 1."""
    return click.option(
        name, default=default, show_default=True, callback=_share, metavar="SHARE", help=help
    )


def _rate(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, float]:
    from importer.sandbox import parse_rate

    try:
        return parse_rate(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--rate",
    default="25/5s",
    show_default=True,
    callback=_rate,
    metavar="N/Ws",
    help="Rate limit per access key: N calls in any W seconds, as a sliding window "
    "that counts every call, throttled ones too.",
)
@_share_option(
    "--throttle-200-share",
    0.3,
    "Share of throttled calls answered as HTTP 200 with "
    "MXAPIRateLimitExceededException instead of HTTP 429.",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Median answer time (log-normal); 0 answers at once.",
)
@click.option(
    "--latency-sigma",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SIGMA",
    help="Spread of the latency: p99 is about e^(2.33*SIGMA) times the median.",
)
@_share_option(
    "--fail-rate",
    0.0,
    "Share of CreateCustom calls answered with a non-MX HTTP 500 (nothing written).",
)
@_share_option(
    "--drop-rate",
    0.0,
    "Share of CreateCustom calls that are written, then have their connection "
    "dropped before the answer.",
)
@_share_option(
    "--slow-rate",
    0.0,
    "Share of CreateCustom calls answered only after --slow-seconds (written "
    "then, even if the client gave up).",
)
@click.option(
    "--slow-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="How long a slow call takes.",
)
@click.option(
    "--race",
    default="duplicate",
    show_default=True,
    type=click.Choice(["duplicate", "error"]),
    help="Two concurrent calls for one new lead: both create a lead (duplicate), or "
    "the later one fails with MXDuplicateEntryException (error).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for every random draw (faults, "
    "latency, throttle answers, ids), for runs that repeat exactly.",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The account's schema (YAML or JSON, shaped like "
    "importer/sandbox/default_schema.yaml). Default: one that fits data_samples/.",
)
@click.option("--access-key", default=None, help="The sandbox's access key.")
@click.option("--secret-key", default=None, help="The sandbox's secret key.")
def sandbox(
    host: str,
    port: int,
    rate: tuple[int, float],
    throttle_200_share: float,
    latency: float,
    latency_sigma: float,
    fail_rate: float,
    drop_rate: float,
    slow_rate: float,
    slow_seconds: float,
    race: str,
    seed: int | None,
    schema_file: Path | None,
    access_key: str | None,
    secret_key: str | None,
) -> None:
    """Run a local server that behaves like LeadSquared, awkward parts included.

    It serves the API paths the importer uses (CreateCustom, the metadata and lookup calls,
    a lead's activities) with LeadSquared's answers, errors and rate limit, and GET
    /_sandbox/state shows what it stored and counted. Stop it with Ctrl-C.
    """
    from importer.sandbox import RunningSandbox, SandboxConfig
    from importer.sandbox.schema import default_schema, load_schema
    from importer.sandbox.server import run_foreground

    if fail_rate + drop_rate + slow_rate > 1:
        raise click.BadParameter("--fail-rate, --drop-rate and --slow-rate add up to over 1")
    config = SandboxConfig(
        rate_limit=rate[0],
        rate_window=rate[1],
        throttle_200_share=throttle_200_share,
        latency=latency,
        latency_sigma=latency_sigma,
        fail_rate=fail_rate,
        drop_rate=drop_rate,
        slow_rate=slow_rate,
        slow_seconds=slow_seconds,
        race=race,
        seed=seed,
        schema=load_schema(schema_file) if schema_file else default_schema(),
    )
    if access_key:
        config.access_key = access_key
    if secret_key:
        config.secret_key = secret_key

    def announce(running: RunningSandbox) -> None:
        click.echo(f"LeadSquared sandbox listening on {running.url}")
        click.echo(f"  access key: {running.access_key}")
        click.echo(f"  secret key: {running.secret_key}")
        click.echo(
            f"  rate limit: {rate[0]} calls per {rate[1]:g} s; state: {running.url}/_sandbox/state"
        )
        click.echo("Point the importer at it:")
        click.echo(f"  export LSQ_HOST={running.url}")
        click.echo(
            f"  export LSQ_ACCESS_KEY='{running.access_key}' LSQ_SECRET_KEY='{running.secret_key}'"
        )
        click.echo("Ctrl-C stops it.", nl=True)

    try:
        run_foreground(config, host, port, announce)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
