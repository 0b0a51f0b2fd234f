"""What the commands share: the options of those that reach an account or send rows, the exit
codes their help lists, and the small helpers for what they print."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(function: F) -> F:
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


def to_stderr(message: str) -> None:
    click.echo(message, err=True)


def counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


EXIT_CODES = """\b
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


def sending_options(function: F) -> F:
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
    return connection_options(function)
