"""What ``run`` and ``retry`` print when the run ends: the summary line on stdout; why the run
stopped, and how to go on, on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from importer.cli.options import counted

if TYPE_CHECKING:
    from importer.pipeline.summary import RunSummary


def print_summary(summary: RunSummary, fresh: bool = False) -> None:
    """The summary line on stdout; why the run stopped, and how to go on, on stderr. After
    ``--fresh`` the same command would start over: the way to resume is said instead."""
    from importer.pipeline.journal import FILE_NAME as JOURNAL_FILE
    from importer.pipeline.rundir import OUTCOME_FILES
    from importer.pipeline.summary import FATAL, MAX_ROWS, OUTAGE, OUTPUT

    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.failed_by_type.items()))
    counters = summary.counters
    rate = summary.adopted_rate or summary.rate
    per_second = summary.handled / summary.elapsed if summary.elapsed else 0.0
    pending = f"; {summary.pending:,} not sent yet" if summary.pending else ""
    click.echo(
        f"{counted(summary.rows + summary.pending, 'row')}: {summary.succeeded} succeeded, "
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
                f". Once that is fixed, {again}: the {counted(kept, 'row')} it kept from being "
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
            f"{counted(sum(retryable.values()), 'row')} failed for a passing reason ({kinds}): "
            f"lsq-import retry {out} sends them again.",
            err=True,
        )
    written = [out / n for n in OUTCOME_FILES if out is not None and (out / n).is_file()]
    if written:
        click.echo(f"Results: {', '.join(map(str, written))}")
