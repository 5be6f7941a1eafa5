"""What the demo prints: its console, progress bars, log lines, summary tables and report list.

Everything here is for a person at a terminal or reading a CI log: log lines are ``time level
message`` (the JSON lines are Lambda's), failures the generator planted say so, and tables
wrap their cells instead of cutting them off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ingest_devstack.demo_checks import planted_reason

PIPED_WIDTH = 120
"""Columns when the output is not a terminal: rich's default of 80 cuts titles and check names."""

# The package's loggers ("ingest" is also the service name of the handler's powertools Logger,
# whose JSON handler sits on it) and the dev stack's.
_LOGGERS = ("ingest", "ingest_devstack")


def demo_console() -> Console:
    """A console as wide as the terminal, or PIPED_WIDTH columns into a pipe or a file
    (``COLUMNS`` still decides when set)."""
    probe = Console()
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(width=PIPED_WIDTH)


def progress_bar(console: Console) -> Progress:
    """The dev stack's progress bar (demo, load test): what, how many of how many, time taken."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        # rich redraws 10 times a second by default: in the load test that took a quarter of a
        # core of a 2-core machine the stack and the runners need (py-spy); twice is plenty.
        refresh_per_second=2,
    )


class ConsoleLog(logging.Handler):
    """``06:45:29 WARNING message`` on the demo's console; a record naming a file the generator
    made to fail is labelled with why that failure is expected."""

    def __init__(self, console: Console, planted: dict[str, str]) -> None:
        super().__init__(logging.INFO)
        self.console = console
        self.planted = planted
        """URI -> error type of the files the generator made to fail."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            line = Text(f"{datetime.fromtimestamp(record.created):%H:%M:%S} ", style="dim")
            # The file and its failure both as planted: another error on a planted file is news.
            planted = next(
                (error for uri, error in self.planted.items() if uri in message and error in message), None
            )
            if planted is None:
                line.append(
                    f"{record.levelname} ", style="red" if record.levelno >= logging.ERROR else "yellow"
                )
            # Text, not markup: a message quotes keys and values from the lake.
            line.append(message)
            if planted is not None:
                line.append(f"\n         {planted_reason(planted)}", style="green")
            if record.exc_info:
                line.append("\n" + logging.Formatter().formatException(record.exc_info))
            self.console.print(line)
        except Exception:
            self.handleError(record)


@contextmanager
def human_logs(console: Console, planted: dict[str, str]) -> Iterator[ConsoleLog]:
    """For the block, the package's log records go to the console as ``ConsoleLog`` lines only;
    the loggers' own handlers (Lambda's JSON lines) and propagation come back afterwards."""
    handler = ConsoleLog(console, planted)
    saved = [(logger, logger.handlers[:], logger.propagate) for logger in map(logging.getLogger, _LOGGERS)]
    for logger, _, _ in saved:
        logger.handlers = [handler]
        logger.propagate = False
    try:
        yield handler
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate


def events_line(events: dict[str, Any]) -> str:
    """The S3 events after the batch, and why each was skipped, in one line."""
    files, delivered = events["files"], events["file_events"]
    per_file = f" ({delivered // files} per file)" if files and delivered % files == 0 else ""
    line = (
        f"{delivered:,} S3 events for {files:,} files after the batch{per_file}: "
        f"{events['duplicates_skipped']:,} skipped as duplicates, "
        f"{events['files_loaded_added']:,} loaded again"
    )
    if events["test_events"]:
        line += f"; plus {events['test_events']} s3:TestEvent messages from S3, which name no file"
    return line


def batch_lines(batch: dict[str, Any]) -> list[Text]:
    """The notebook batch run in a line, then each failed file, and why it is expected."""
    lines = [
        Text(
            f"{batch['listed']:,} objects listed, {batch['files_processed']:,} processed with "
            f"{batch['load_jobs']} load jobs, {len(batch['failed'])} failed"
        )
    ]
    for failure in batch["failed"]:
        # Text, not markup: URIs and messages come from the lake.
        lines.append(Text(f"  {failure['uri']}: {failure['error_type']}: {failure['message']}"))
        if failure["planted"]:
            lines.append(Text(f"    {planted_reason(failure['error_type'])}", style="green"))
        else:
            lines.append(Text("    FAILED: the generator did not plant this failure", style="red"))
    return lines


def health_table(checks: Sequence[Any]) -> Table:
    """``ingest health``'s checks; long messages wrap within their cell."""
    table = Table(title="ingest health: the alarm rules on the ledger and the queue")
    for column in ("rule", "pipeline", "state", "message"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.rule, check.pipeline or "", check.state, check.message)
    return table


def print_summary(summary: dict[str, Any], console: Console) -> None:
    console.print(_measures(summary))
    console.print(_by_check(summary))
    console.print(events_line(summary["events"]), highlight=False)
    for check, passed in summary["checks"].items():
        console.print(f"  {'[green]ok' if passed else '[red]FAILED'}[/] {check}")
    if summary["reconciliation"]["error"]:
        console.print(Text(f"The month's report failed: {summary['reconciliation']['error']}", style="red"))


def _measures(summary: dict[str, Any]) -> Table:
    table = Table(title=f"Demo {summary['month']}: what the ledger and BigQuery say")
    table.add_column("measure", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    for name in ("files_seen", "files_loaded", "files_failed"):
        table.add_row(name, f"{summary[name]:,}")
    failures = ", ".join(f"{k}: {v}" for k, v in summary["failures"].items()) or "-"
    if summary["failures"] and summary["checks"]["failures_match_generator"]:
        failures += " (all planted)"
    table.add_row("failures by type", failures)
    for name in ("rows_in", "rows_loaded", "rows_quarantined"):
        table.add_row(name, f"{summary[name]:,}")
    table.add_row("load jobs (batch run)", str(summary["load_jobs"]))
    table.add_row("S3 events after the batch", f"{summary['events']['file_events']:,}")
    table.add_row("duplicates_skipped", f"{summary['duplicates_skipped']:,}")
    table.add_row("tables changed by the events", ", ".join(summary["events"]["tables_changed"]) or "none")
    for table_id, rows in summary["bigquery_rows"].items():
        table.add_row(f"BigQuery {table_id}", f"{rows:,}")
    headline = summary["reconciliation"]["headline"]
    if headline.get("currency"):
        currency = headline["currency"]
        table.add_row(
            "PayPal gross / ours", f"{headline['paypal_gross']} / {headline['our_total']} {currency}"
        )
        table.add_row(
            "matched items", f"{headline['matched_count']:,} for {headline['matched_amount']} {currency}"
        )
        found = summary["reconciliation"]["exceptions"] or {}
        table.add_row(
            "exceptions (reconciliation)", "\n".join(f"{k}: {n}" for k, n in found.items() if n) or "-"
        )
        table.add_row("net revenue + VAT", f"{headline['net_revenue']} + {headline['vat']} {currency}")
    return table


def _by_check(summary: dict[str, Any]) -> Table:
    """Rows per validation check: the full check names, one per line."""
    table = Table(title="Rows by validation check (planted by the generator)")
    table.add_column("check", overflow="fold")
    table.add_column("outcome", overflow="fold")
    table.add_column("rows", justify="right")
    for kind, outcome in (("validation_failed", "quarantined"), ("validation_warnings", "loaded, warned")):
        for check, rows in summary[kind].items():
            table.add_row(check, outcome, f"{rows:,}")
    return table


def print_reports(reports: Sequence[tuple[str, Path]], console: Console) -> None:
    """The demo's last lines: each report it wrote, the index first. Paths whole and unwrapped,
    to copy or click."""
    console.rule("[bold]Reports written")
    width = max(len(label) for label, _ in reports)
    for label, path in reports:
        console.print(Text(f"{label:<{width}}  {path}"), soft_wrap=True)
