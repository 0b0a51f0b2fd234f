"""What the commands share: the options of those that reach an account or send rows, the exit
codes their help lists, and the small helpers for what they print."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def input_and_mapping(function: F) -> F:
    """INPUT and -m/--mapping, as every command that reads a file with a mapping takes them."""
    function = click.option(
        "-m",
        "--mapping",
        "mapping_file",
        required=True,
        type=click.Path(path_type=Path),
        help="The column-mapping YAML file.",
    )(function)
    return click.argument("input_file", metavar="INPUT", type=click.Path(path_type=Path))(function)


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
    """The options of every command that sends: where, how fast, how hard, what it says;
    the command gets them as one ``Sending`` value, its ``sending`` parameter."""
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

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        sending = Sending(**{name: kwargs.pop(name) for name in _SENDING_FIELDS})
        return function(*args, sending=sending, **kwargs)

    wrapped: F = command  # type: ignore[assignment]
    for option in reversed(options):
        wrapped = option(wrapped)
    return connection_options(wrapped)


@dataclass(frozen=True)
class Sending:
    """The options of ``sending_options``, as the command gets them: one typed value."""

    host: str | None
    region: str | None
    rate_text: str | None
    workers: int | None
    timeout: float
    retries: int
    outage_limit: float
    check_account: bool
    max_rows: int | None
    grace: float | None
    log_file: Path | None
    log_payloads: bool
    quiet: bool


_SENDING_FIELDS = tuple(f.name for f in fields(Sending))
