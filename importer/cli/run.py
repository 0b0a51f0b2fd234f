"""``lsq-import run`` and ``lsq-import retry``: build the run's request from the options, run the
import, and exit with its code (``summary`` prints what it did)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from importer import exitcodes
from importer.cli.options import EXIT_CODES, Sending, input_and_mapping, sending_options
from importer.cli.summary import print_summary
from importer.errors import ConfigError, OutputError, Problem
from importer.mapping.config import load_mapping
from importer.outputs.calllog import FILE_NAME as CALL_LOG

if TYPE_CHECKING:
    from importer.pipeline.request import StopSwitch
    from importer.pipeline.summary import RunSummary


@click.command(epilog=EXIT_CODES)
@input_and_mapping
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for success.csv, failures.csv, summary.json, the journal and the call log.",
)
@sending_options
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Import into a sandbox started in-process (no keys needed).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start a new run in --out instead of resuming: the earlier run's files are moved "
    "into --out's earlier/<date-time>/ folder, never deleted; INPUT may be one of them, such "
    "as --out's failures.csv, fixed (--sandbox always starts over).",
)
def run(
    input_file: Path,
    mapping_file: Path,
    out_dir: Path,
    use_sandbox: bool,
    fresh: bool,
    sending: Sending,
) -> None:
    """Import every row of INPUT into LeadSquared: one CreateCustom call per row.

    Keys come from LSQ_ACCESS_KEY and LSQ_SECRET_KEY (or a .env file); the host from --host,
    --region or LSQ_HOST. Results are written as rows finish. A journal in --out records every
    row: run the same command again to resume a run that stopped, and rows done are not sent
    again. Ctrl-C stops taking rows and lets calls in flight finish; a second Ctrl-C stops at
    once.
    """
    load_mapping(mapping_file)  # its problems are told before those of the connection
    _send(input_file, mapping_file, out_dir, sending, use_sandbox, fresh, retry=False)


@click.command(epilog=EXIT_CODES)
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@sending_options
def retry(out_dir: Path, sending: Sending) -> None:
    """Send again the rows of the run in DIR that failed for a passing reason.

    A passing reason is a timeout, a lost connection, a 5xx answer, a throttle that outlasted
    the retries, a stop before the answer came, or an answer that stopped the run (keys
    refused, wrong host, a host that never answered) once its cause is fixed: rows whose call
    may have landed are looked up on their lead first. Rows LeadSquared rejected (MX errors)
    and rows that did not map are kept as they are: fix them and re-run DIR/failures.csv
    instead. Rows the run never reached are left for the run's own command. Results in DIR
    are updated in place.
    """
    from importer.pipeline.rundir import retry_inputs

    input_file, mapping_file = retry_inputs(out_dir)
    load_mapping(mapping_file)  # its problems are told before those of the connection
    _send(input_file, mapping_file, out_dir, sending, False, False, retry=True)


def _send(
    input_file: Path,
    mapping_file: Path,
    out_dir: Path,
    sending: Sending,
    use_sandbox: bool,
    fresh: bool,
    retry: bool,
) -> None:
    """Run an import (or a retry) with the command line's options, and exit with its code."""
    import asyncio

    from importer.cli.progress import BarProgress
    from importer.outputs.progress import Progress, SilentProgress
    from importer.pipeline.request import RunOptions, RunRequest, StopSwitch
    from importer.pipeline.runner import run_import
    from importer.sandbox import SandboxConfig, parse_rate, serve
    from importer.sending.connection import Connection, resolve_connection
    from importer.sending.delivery import RetryPolicy
    from importer.sending.limiter import Rate
    from importer.sending.outage import OutagePolicy

    rate_text = sending.rate_text
    try:
        calls, seconds = parse_rate(rate_text or ("25/1s" if use_sandbox else "25/5s"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from None
    timeout = sending.timeout
    options = RunOptions(
        rate=Rate(calls, seconds),
        workers=sending.workers,
        timeout=timeout,
        policy=RetryPolicy(transient_retries=sending.retries, settle=timeout),
        max_rows=sending.max_rows,
        grace=sending.grace,
        log_path=sending.log_file or out_dir / CALL_LOG,
        log_payloads=sending.log_payloads,
        check_account=sending.check_account,
        outage=OutagePolicy(limit=sending.outage_limit),
    )
    quiet = sending.quiet
    connection = None if use_sandbox else resolve_connection(sending.host, sending.region)
    progress: Progress
    if quiet:
        progress = SilentProgress()
    elif sys.stderr.isatty():
        progress = BarProgress()
    else:
        progress = SilentProgress(echo=lambda m: click.echo(m, err=True))
    switch = StopSwitch()

    async def go() -> tuple[RunSummary, dict[str, int] | None]:
        _catch_signals(switch)
        if connection is not None:
            request = RunRequest(
                input_file, mapping_file, out_dir, connection, options, fresh=fresh, retry=retry
            )
            return await run_import(request, progress=progress, stop=switch), None
        async with serve(SandboxConfig(rate_limit=calls, rate_window=seconds)) as sandbox:
            if not quiet:
                click.echo(
                    f"Sandbox at {sandbox.url}, rate limit {calls} calls per {seconds:g} s",
                    err=True,
                )
            local = Connection(sandbox.url, sandbox.access_key, sandbox.secret_key)
            # a new sandbox holds nothing an earlier run sent: there is nothing to resume
            request = RunRequest(input_file, mapping_file, out_dir, local, options, fresh=True)
            summary = await run_import(request, progress=progress, stop=switch)
            return summary, dict(sandbox.state.counters)

    try:
        summary, stored = asyncio.run(go())
    except ConfigError as exc:
        if exc.source or all(_about_the_command(p) for p in exc.problems):
            raise  # about an option, not the mapping: it names the option
        raise ConfigError(exc.problems, source=str(mapping_file)) from None
    except OutputError as exc:  # before the first row: nothing was sent
        click.echo(
            f"Stopped before any row was sent: {exc}. Make room in {exc.folder} (or make it "
            "writable), then run the same command again.",
            err=True,
        )
        sys.exit(exitcodes.CANNOT_WRITE)
    except (KeyboardInterrupt, asyncio.CancelledError):  # stopped before sending began
        click.echo(
            f"\nInterrupted before any row was sent. Run the same command again to start "
            f"(the journal in {out_dir} is intact).",
            err=True,
        )
        sys.exit(exitcodes.BY_SIGNAL.get(switch.reason or "SIGINT", 130))
    print_summary(summary, fresh and not use_sandbox)
    if stored is not None:
        click.echo(
            f"The sandbox now holds {stored.get('leads_created', 0)} new leads "
            f"({stored.get('leads_updated', 0)} updates) and "
            f"{stored.get('activities_created', 0)} activities."
        )
    sys.exit(summary.exit_code)


def _about_the_command(problem: Problem) -> bool:
    """A problem with an option (``--out``) or an argument (``INPUT``), not with the mapping."""
    return problem.path.startswith("-") or problem.path.isupper()


def _catch_signals(switch: StopSwitch) -> None:
    """SIGINT and SIGTERM ask the run to stop (gracefully, then at once) instead of killing it."""
    import asyncio
    import contextlib
    import signal

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # not on every platform; without it Ctrl-C still stops the run (at once)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, switch.request, signal.Signals(signum).name)
