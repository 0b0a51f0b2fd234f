"""The ``lsq-import`` command line: parse arguments, call the library, turn errors into exits.

Exit codes: 0 every row is fine, 1 some rows failed, 2 a config or file error (nothing sent),
3 LeadSquared stopped the run, 4 --max-rows left rows for the next run, 74 a file could not be
written, 75 the host stayed down, 130/143 SIGINT/SIGTERM.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from importer import __version__, exitcodes
from importer.calllog import FILE_NAME as CALL_LOG
from importer.config import Mapping, load_mapping
from importer.errors import AccountError, ConfigError, OutputError, Problem, SourceError
from importer.sandbox.echo import KINDS as ECHO_KINDS
from importer.sandbox.shapes import SHAPES as METADATA_SHAPES
from importer.validation import open_input, validate_file

if TYPE_CHECKING:
    from importer.account import Account
    from importer.client import LeadSquaredClient
    from importer.connection import Connection
    from importer.pipeline import RunSummary, StopSwitch

F = TypeVar("F", bound=Callable[..., Any])


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


def _connection_options(function: F) -> F:
    """Where the account is: --host or --region (else LSQ_HOST, else found from the keys)."""
    function = click.option(
        "--region",
        default=None,
        metavar="REGION",
        help="Instead of --host: sg, us11, in21, in22, ir31 or ca12.",
    )(function)
    return click.option(
        "--host",
        default=None,
        help="LeadSquared API host (default: LSQ_HOST, else the account's own, found from "
        "the keys).",
    )(function)


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


def _read_account(host: str | None, region: str | None, mapping: Mapping) -> Account:
    """The account's metadata for a mapping's checks: the lead fields, the activity types and
    the fields of the mapping's activity type."""
    from importer.describe import call_account
    from importer.metadata import fetch_account
    from importer.preflight import event_code

    code = event_code(mapping)
    events = [code] if code is not None else []
    return call_account(host, region, lambda client: fetch_account(client, events), _to_stderr)


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
@_connection_options
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
    mapping = load_mapping(mapping_file)
    if out_dir is not None:
        _check_validate_out(input_file, out_dir)
    account = None
    if check_account:
        open_input(input_file, mapping)  # file and header problems first, before any call
        account = _read_account(host, region, mapping)
    if out_dir is not None:
        from importer.outdir import prepare

        prepare(out_dir)
    try:
        report = validate_file(
            input_file, mapping, out_dir=out_dir, show=show, examples=examples, account=account
        )
    except ConfigError as exc:  # the mapping does not fit the file: name the mapping
        raise ConfigError(exc.problems, source=str(mapping_file)) from None
    click.echo(f"Read {report.source}")
    if account is not None:
        from importer.describe import checked_against

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
            click.echo(f"  {path}  {kind}  {_count(group.count, 'row')} ({rows}): {group.message}")
    blank = f"; {_count(report.blank, 'blank row')} skipped" if report.blank else ""
    click.echo(f"{_count(report.rows, 'row')}: {report.mapped} map, {report.failed} fail{blank}")
    if report.failures_path is not None:
        click.echo(f"Failures written to {report.failures_path}")
    sys.exit(exitcodes.OK if report.ok else exitcodes.ROWS_FAILED)


def _check_validate_out(input_file: Path, out_dir: Path) -> None:
    """``validate --out`` writes over neither a run's failures.csv nor its own input."""
    from importer.journal import FILE_NAME as JOURNAL
    from importer.outdir import same_file
    from importer.results import FAILURES_FILE, SUCCESS_FILE, SUMMARY_FILE

    names = (JOURNAL, SUCCESS_FILE, SUMMARY_FILE)
    run_files = [name for name in names if (out_dir / name).exists()]
    if run_files:
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{out_dir} is the folder of an lsq-import run (it holds its {run_files[0]}): "
                    f"validate would write over the run's {FAILURES_FILE}, the rows that did "
                    "not go in. Give validate another --out, a folder of its own (e.g. "
                    f"--out {out_dir.parent / (out_dir.name + '-validated')})",
                )
            ]
        )
    if same_file(input_file, out_dir / FAILURES_FILE):
        raise ConfigError(
            [
                Problem(
                    "--out",
                    f"{input_file} is the {FAILURES_FILE} validate writes in {out_dir}, and "
                    "validate never writes over its input: give another --out",
                )
            ]
        )


_EXIT_CODES = """\b
Exit codes:
  0    every row succeeded
  1    some rows failed (failures.csv says why)
  2    a mapping, file or option error; nothing was sent
  3    LeadSquared stopped the run (bad keys, wrong host), or the host never
       answered (nothing reached it: check --host/--region)
  4    --max-rows reached with rows left: run again to continue
  74   a file under --out (or --log) could not be written: disk full, folder
       read-only or removed; make room, then run again to resume
  75   the host stopped answering for longer than --outage-limit: run again
       to resume
  130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM: run again to resume"""


def _sending_options(function: F) -> F:
    """The options of every command that sends: where, how fast, how hard, what it says."""
    options = [
        click.option(
            "--rate",
            "rate_text",
            default=None,
            metavar="N/Ws",
            help="The account's rate limit: N calls in any W seconds  [default: 25/5s; "
            "25/1s with --sandbox].",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=None,
            help="Calls in flight at once  [default: enough for the rate at 1-2 s latency].",
        ),
        click.option(
            "--timeout",
            default=30.0,
            show_default=True,
            type=click.FloatRange(min=1),
            metavar="SECONDS",
            help="How long to wait for one answer.",
        ),
        click.option(
            "--retries",
            default=5,
            show_default=True,
            type=click.IntRange(min=0),
            help="Resends after a transient error (5xx, timeout, lost connection).",
        ),
        click.option(
            "--outage-limit",
            default=900.0,
            show_default=True,
            type=click.FloatRange(min=0),
            metavar="SECONDS",
            help="When the host stops answering, every call waits and one probe at a time "
            "tries it; after this long without an answer the run stops (exit 75) and the "
            "same command resumes it.",
        ),
        click.option(
            "--check-account/--no-check-account",
            default=True,
            show_default=True,
            help="Before sending, check the mapping and every row's values against the "
            "account's fields and activity types (4 calls; saved as OUT/account.json).",
        ),
        click.option(
            "--max-rows",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help="Send at most N rows, then stop cleanly (exit 4 if rows are left); the next "
            "run continues where this one stopped. For daily API quotas.",
        ),
        click.option(
            "--grace",
            type=click.FloatRange(min=0),
            default=None,
            metavar="SECONDS",
            help="On Ctrl-C or SIGTERM, how long calls in flight may take to finish  "
            "[default: --timeout plus 5].",
        ),
        click.option(
            "--log",
            "log_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="JSON-lines log of every call and its outcome, appended to  "
            "[default: OUT/calls.jsonl].",
        ),
        click.option(
            "--log-payloads",
            is_flag=True,
            help="Put each call's body in the log too (it holds the rows' data; never keys).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar and no notes on stderr."),
    ]
    for option in reversed(options):
        function = option(function)
    return _connection_options(function)


@main.command(epilog=_EXIT_CODES)
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
    help="Folder for success.csv, failures.csv, summary.json, the journal and the call log.",
)
@_sending_options
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
    **sending: Any,
) -> None:
    """Import every row of INPUT into LeadSquared: one CreateCustom call per row.

    Keys come from LSQ_ACCESS_KEY and LSQ_SECRET_KEY (or a .env file); the host from --host,
    --region or LSQ_HOST. Results are written as rows finish. A journal in --out records every
    row: run the same command again to resume a run that stopped, and rows done are not sent
    again. Ctrl-C stops taking rows and lets calls in flight finish; a second Ctrl-C stops at
    once.
    """
    mapping = load_mapping(mapping_file)
    _send(input_file, mapping, mapping_file, out_dir, sending, use_sandbox, fresh, retry=False)


@main.command(epilog=_EXIT_CODES)
@click.argument("out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@_sending_options
def retry(out_dir: Path, **sending: Any) -> None:
    """Send again the rows of the run in DIR that failed for a passing reason.

    A passing reason is a timeout, a lost connection, a 5xx answer, a throttle that outlasted
    the retries, a stop before the answer came, or an answer that stopped the run (keys
    refused, wrong host, a host that never answered) once its cause is fixed: rows whose call
    may have landed are looked up on their lead first. Rows LeadSquared rejected (MX errors)
    and rows that did not map are kept as they are: fix them and re-run DIR/failures.csv
    instead. Rows the run never reached are left for the run's own command. Results in DIR
    are updated in place.
    """
    import sqlite3

    from importer.journal import FILE_NAME, Journal, JournalError

    if not (out_dir / FILE_NAME).is_file():
        raise ConfigError(
            [
                Problem(
                    "DIR",
                    f"{out_dir} holds no run: it has no {FILE_NAME} (give the --out "
                    "folder of an earlier lsq-import run)",
                )
            ]
        )
    from importer.outdir import prepare

    prepare(out_dir, "DIR", "retry updates the run's files there: make room, or make it writable")
    try:
        journal = Journal.open(out_dir)
        began = journal.meta()
        journal.close()
    except JournalError as exc:
        raise ConfigError([Problem("DIR", str(exc))]) from None
    except (OSError, sqlite3.Error) as exc:  # a folder read-only, or a journal locked
        from importer.outdir import describe

        raise ConfigError(
            [Problem("DIR", f"cannot open the journal in {out_dir} ({describe(exc)})")]
        ) from None
    if not began.get("input") or not began.get("mapping"):
        raise ConfigError([Problem("DIR", f"the journal in {out_dir} does not name its input")])
    input_file, mapping_file = Path(began["input"]), Path(began["mapping"])
    for what, path in (("input file", input_file), ("mapping", mapping_file)):
        if not path.is_file():
            raise ConfigError(
                [
                    Problem(
                        "DIR",
                        f"the run's {what} {path} is not there any more: put it back "
                        "where it was to retry",
                    )
                ]
            )
    mapping = load_mapping(mapping_file)
    _send(input_file, mapping, mapping_file, out_dir, sending, False, False, retry=True)


def _send(
    input_file: Path,
    mapping: Mapping,
    mapping_file: Path,
    out_dir: Path,
    sending: dict[str, Any],
    use_sandbox: bool,
    fresh: bool,
    retry: bool,
) -> None:
    """Run an import (or a retry) with the command line's options, and exit with its code."""
    import asyncio

    from importer.connection import Connection, resolve_connection
    from importer.delivery import RetryPolicy
    from importer.limiter import Rate
    from importer.outage import OutagePolicy
    from importer.pipeline import RunOptions, StopSwitch, run_import
    from importer.progress import BarProgress, Progress, SilentProgress
    from importer.sandbox import SandboxConfig, parse_rate, serve

    rate_text = sending["rate_text"]
    try:
        calls, seconds = parse_rate(rate_text or ("25/1s" if use_sandbox else "25/5s"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from None
    timeout = sending["timeout"]
    options = RunOptions(
        rate=Rate(calls, seconds),
        workers=sending["workers"],
        timeout=timeout,
        policy=RetryPolicy(transient_retries=sending["retries"], settle=timeout),
        max_rows=sending["max_rows"],
        grace=sending["grace"],
        log_path=sending["log_file"] or out_dir / CALL_LOG,
        log_payloads=sending["log_payloads"],
        check_account=sending["check_account"],
        outage=OutagePolicy(limit=sending["outage_limit"]),
    )
    quiet = sending["quiet"]
    connection = None if use_sandbox else resolve_connection(sending["host"], sending["region"])
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
            summary = await run_import(
                input_file,
                mapping,
                mapping_file,
                out_dir,
                connection,
                options,
                progress,
                fresh,
                switch,
                retry,
            )
            return summary, None
        async with serve(SandboxConfig(rate_limit=calls, rate_window=seconds)) as sandbox:
            if not quiet:
                click.echo(
                    f"Sandbox at {sandbox.url}, rate limit {calls} calls per {seconds:g} s",
                    err=True,
                )
            local = Connection(sandbox.url, sandbox.access_key, sandbox.secret_key)
            # a new sandbox holds nothing an earlier run sent: there is nothing to resume
            summary = await run_import(
                input_file, mapping, mapping_file, out_dir, local, options, progress, True, switch
            )
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
    _print_summary(summary, fresh and not use_sandbox)
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


def _print_summary(summary: RunSummary, fresh: bool = False) -> None:
    """The summary line on stdout; why the run stopped, and how to go on, on stderr. After
    ``--fresh`` the same command would start over: the way to resume is said instead."""
    from importer.journal import FILE_NAME as JOURNAL_FILE
    from importer.pipeline import FATAL, MAX_ROWS, OUTAGE, OUTCOME_FILES, OUTPUT

    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.failed_by_type.items()))
    counters = summary.counters
    rate = summary.adopted_rate or summary.rate
    per_second = summary.handled / summary.elapsed if summary.elapsed else 0.0
    pending = f"; {summary.pending:,} not sent yet" if summary.pending else ""
    click.echo(
        f"{_count(summary.rows + summary.pending, 'row')}: {summary.succeeded} succeeded, "
        f"{summary.failed} failed"
        + (f" ({kinds})" if kinds else "")
        + pending
        + f"; {counters.calls} calls, {counters.throttles} throttles, {counters.retries} retries;"
        + f" {summary.elapsed:.1f} s, {per_second:.2f} rows/s at {rate}"
    )
    if summary.possible_duplicates:
        rows = ", ".join(map(str, summary.possible_duplicates[:20]))
        click.echo(
            f"Possibly posted twice (an answer was lost and could not be checked): rows {rows}"
        )
    out = summary.out_dir
    again = "run the same command again"
    if fresh:
        moved = summary.earlier is not None and summary.input_path is not None
        given = f", with {summary.input_path} as INPUT" if moved else ""
        again = f"run the same command again without --fresh{given}"
    journal_gone = out is not None and not (out / JOURNAL_FILE).exists()
    if summary.stop == OUTPUT and journal_gone:
        click.echo(
            f"Stopped: {summary.stopped}. The journal in {out} is gone (the folder was removed "
            f"under the run): {summary.succeeded:,} rows succeeded before it stopped, and a new "
            "run there would send them again. Their activities are in LeadSquared; re-send only "
            "rows you know did not go in.",
            err=True,
        )
    elif summary.stop == OUTPUT:
        click.echo(
            f"Stopped: {summary.stopped}. Every row recorded is in the journal in {out}: make "
            f"room in the folder named (or make it writable), then {again} to resume "
            f"({summary.pending:,} rows not sent yet or not recorded; rows done are not sent "
            "again; rows whose answer could not be recorded are looked up on their lead "
            "first).",
            err=True,
        )
    elif summary.stop == MAX_ROWS:
        click.echo(
            f"Stopped: {summary.stopped}. {summary.pending:,} rows are left: {again} to continue.",
            err=True,
        )
    elif summary.stop == OUTAGE:
        click.echo(
            f"Stopped: {summary.stopped}. Every row's state is in {out} ({summary.pending:,} "
            "rows not sent yet; rows done are not sent again; rows that were in flight are "
            "checked on their lead first).",
            err=True,
        )
    elif summary.stop is not None and summary.stop != FATAL:
        click.echo(
            f"Interrupted ({summary.stop}). Every row's state is in {out}: {again} to resume "
            f"({summary.pending:,} rows not sent yet; rows done are not sent again; rows that "
            "were in flight are checked on their lead first).",
            err=True,
        )
    elif summary.stopped:
        kept = sum(summary.failed_retryable.values())
        click.echo(
            f"Stopped: {summary.stopped}"
            + (
                f". Once that is fixed, {again}: the {_count(kept, 'row')} it kept from being "
                "sent are sent then (rows done are not sent again)."
                if summary.stop == FATAL and kept
                else ""
            ),
            err=True,
        )
    retryable = summary.failed_retryable
    if retryable and summary.stop is None:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(retryable.items()))
        click.echo(
            f"{_count(sum(retryable.values()), 'row')} failed for a passing reason ({kinds}): "
            f"lsq-import retry {out} sends them again.",
            err=True,
        )
    written = [out / n for n in OUTCOME_FILES if out is not None and (out / n).is_file()]
    if written:
        click.echo(f"Results: {', '.join(map(str, written))}")


@main.command()
@_connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def whoami(host: str | None, region: str | None, as_json: bool) -> None:
    """Who the keys belong to: user, org, role, the account's API host, time zone and country.

    Without --host, --region or LSQ_HOST, the account's host is found from the keys (the call
    works on any host); `run` does the same and says which host it picked.
    """
    from importer.describe import call_account
    from importer.metadata import whoami as read_user

    user = call_account(host, region, read_user, _to_stderr)
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


@main.command("activity-types")
@_connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def activity_types_command(host: str | None, region: str | None, as_json: bool) -> None:
    """The account's activity types: the event codes a mapping's activity.event can take."""
    from importer.describe import call_account, table
    from importer.metadata import activity_types

    found = call_account(host, region, activity_types, _to_stderr)
    if as_json:
        click.echo(json.dumps([{"code": t.code, "name": t.name} for t in found], indent=2))
        return
    for line in table(["CODE", "NAME"], [[str(t.code), t.name] for t in found]):
        click.echo(line)


@main.command()
@_connection_options
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
    from importer.describe import activity_fields_of, call_account, fields_table, listed_types
    from importer.metadata import fix_for, lead_fields

    if code is None:
        found = call_account(host, region, lead_fields, _to_stderr)
    else:
        activity = code  # for the closure: a plain int, never None
        of = call_account(host, region, lambda c: activity_fields_of(c, activity), _to_stderr)
        if of.fields is None:
            raise click.BadParameter(
                f"{code} is not an activity type of this account: {listed_types(of.types)}",
                param_hint="--activity",
            )
        if of.types_unread:
            reason = of.types_unread.rstrip(". ")
            _to_stderr(
                f"cannot check that {code} is an activity type of this account: could not "
                f"read the account's activity types: {reason}. {fix_for(reason)}"
            )
        found = of.fields
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(f) for f in found], indent=2))
        return
    for line in fields_table(found):
        click.echo(line)


@main.command("account")
@_connection_options
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
    from importer.describe import (
        call_account,
        describe_account,
        listed_types,
        unknown_codes,
        unwritable,
    )
    from importer.metadata import Record, fetch_account
    from importer.metadata import dump as dump_of
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

    found, connection = call_account(host, region, read, _to_stderr)
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
        click.echo(f"Wrote {dump}: the raw answers of {_count(len(record), 'call')}, keys removed")
    for line in describe_account(found, codes):
        click.echo(connection.redact(line))


@main.command("init-mapping")
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
@_connection_options
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
    from importer.account import ActivityType
    from importer.connection import resolve_connection
    from importer.describe import call_account, listed_types, unknown_codes
    from importer.scaffold import pick_sheet, scaffold
    from importer.source import open_source

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
        from importer.metadata import fetch_account

        account = call_account(
            host, region, lambda client: fetch_account(client, [code]), _to_stderr
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
        f"{_count(len(made.matched), 'column')} matched"
        + (f"; not matched: {', '.join(made.unmatched)}" if made.unmatched else ""),
        err=True,
    )


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


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
