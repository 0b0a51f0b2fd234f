"""``lsq-import sandbox``: run the local server that behaves like LeadSquared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from importer.cli.options import F
from importer.sandbox.echo import KINDS as ECHO_KINDS
from importer.sandbox.shapes import SHAPES as METADATA_SHAPES


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


@click.command()
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
@click.option(
    "--metadata-shape",
    default="nested",
    show_default=True,
    type=click.Choice(list(METADATA_SHAPES)),
    help="How the metadata calls describe fields: where a custom field set lists its own "
    "fields, and how flags, options and lengths are written (LeadSquared does not document "
    "it; see importer/sandbox/shapes.py).",
)
@click.option(
    "--echo-keys",
    type=click.Choice(list(ECHO_KINDS)),
    default=None,
    help="Answer every call with a page that echoes the keys, as some proxies do: gateway "
    "(HTTP 502, HTML), json (500), mx (400, an MX error), ok (200, no success); to check "
    "that no key reaches any output (see importer/sandbox/echo.py).",
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
    metadata_shape: str,
    echo_keys: str | None,
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
        metadata_shape=metadata_shape,
        echo_keys=echo_keys or "",
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
