"""What ``ingest`` prints: rich tables and lines for people, JSON for scripts.

Results go to stdout; progress, errors and hints to stderr (``err_console``), so a script piping
``--json`` gets only the JSON. Text from files and the ledger is escaped before rich sees it:
a key or a message holding ``[red]`` is data, not markup.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from ingest.apps.ops.health import Check
    from ingest.apps.tools.inspect import Report
    from ingest.apps.tools.validate_file import FileValidation
    from ingest.core.ledger_entry import LedgerEntry
    from ingest.core.model import FileRef, FileResult

WIDE = 10_000
"""The width of a console that is not a terminal: rich's default of 80 columns cut table cells
(``pipel…``) when output was piped or logged; content decides a table's width instead."""


def _console(stderr: bool = False) -> Console:
    """A console as wide as the terminal, or, when not a terminal (a pipe, a file, a scheduler's
    log), as wide as its content: text is never cut. ``COLUMNS`` still sets a width."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = WIDE
    return console


console = _console()
err_console = _console(stderr=True)

SHOWN = 10
"""Row errors and quarantined rows ``ingest inspect`` prints; ``--json`` has more."""


def print_json(value: Any, ensure_ascii: bool = True) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=ensure_ascii))


def print_error(message: str) -> None:
    """One line in red on stderr, never wrapped; ``message`` is plain text, not markup."""
    err_console.print(f"[red]{escape(message)}", soft_wrap=True)


def count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def print_index(out: Path) -> None:
    """Rewrite the index of every report beside ``out`` (``reports/index.html`` for the default
    folders) and say where it is: the one page finance bookmarks."""
    from ingest.apps.reports.report_index import write_index

    print(f"all reports: {write_index(out.resolve().parent)}")


def print_batch_summary(account: dict[str, Any]) -> None:
    """A batch run's account (``BatchRun.to_dict()``): per-pipeline totals, failures, warnings."""
    files = account["files"]
    console.print(
        f"Run {account['run_id']}: {account['listed']} objects listed, {account['already_done']} already "
        f"in the ledger, {len(files)} processed with {len(account['loads'])} load jobs"
    )
    names: tuple[str, ...] = ("files", "loaded", "skipped", "failed", "rows_in", "rows_loaded")
    names += ("rows_quarantined", "load_jobs")
    table = Table(title="By pipeline")
    table.add_column("pipeline", overflow="fold")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    for pipeline, row in account["by_pipeline"].items():
        table.add_row(escape(pipeline or "(none)"), *(f"{row[name]:,}" for name in names))
    if account["by_pipeline"]:
        console.print(table)
    failed = [f for f in files if f["status"] == "FAILED"]
    for failure in failed[:20]:
        uri, reason = escape(failure["uri"]), escape(f"{failure['error_type']}: {failure['message']}")
        console.print(f"[red]FAILED[/] {uri}: {reason}")
    if len(failed) > 20:
        console.print(f"... and {len(failed) - 20} more failures (`ingest ledger --status FAILED`)")
    for warning in account["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def print_backfill(account: dict[str, Any]) -> None:
    """A backfill's account (``Backfill.to_dict()``): listed, skipped, enqueued, and what SQS refused."""
    title = f"Backfill of {escape(account['source'])} to {escape(account['queue_url'])}"
    console.print(title + (" (dry run: nothing sent)" if account["dry_run"] else ""))
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column("what", overflow="fold")
    table.add_column("files", justify="right", overflow="fold")
    table.add_row("listed", f"{account['listed']:,}")
    if account["noncurrent"]:
        table.add_row("not current (delete markers, old versions), left out", f"{account['noncurrent']:,}")
    table.add_row("already in the ledger, skipped", f"{account['already_in_ledger']:,}")
    if account["dry_run"]:
        table.add_row("would be enqueued", f"{account['to_enqueue']:,}")
    else:
        calls = account["send_calls"]
        table.add_row(f"enqueued ({calls:,} SendMessageBatch calls)", f"{account['enqueued']:,}")
        table.add_row("not enqueued", f"{len(account['failed']):,}")
    console.print(table)
    for failure in account["failed"][:20]:
        console.print(f"[red]NOT ENQUEUED[/] {escape(failure['uri'])}: {escape(failure['reason'])}")
    if len(account["failed"]) > 20:
        console.print(f"... and {len(account['failed']) - 20} more (--json lists them all)")


def print_replayed(results: Sequence[tuple[FileRef, FileResult | None]], dry_run: bool) -> None:
    table = Table(title=("Would replay" if dry_run else "Replayed") + f": {len(results)} files")
    for column in ("key", "outcome", "rows_loaded", "rows_quarantined", "error"):
        table.add_column(column, overflow="fold")
    for ref, result in results:
        key = escape(ref.key)  # a key is data from the lake: "[red]" in it is not markup
        if result is None:
            table.add_row(key, "-", "", "", "")
            continue
        error = f"{result.error_type}: {result.message}" if result.error_type else result.message
        table.add_row(
            key, result.status.value, count(result.rows_loaded), count(result.rows_quarantined), escape(error)
        )
    console.print(table)


def print_ledger(
    table_name: str, entries: Sequence[LedgerEntry], summary: dict[str, Any], limit: int
) -> None:
    """The first ``limit`` ledger entries as a table, then the summary of all of them."""
    table = Table(title=f"Ledger {table_name}: {len(entries)} entries")
    for column in ("started_at", "status", "pipeline", "key", "rows_loaded", "rows_quarantined", "error"):
        table.add_column(column, overflow="fold")
    for e in entries[:limit]:
        error = f"{e.error_type}: {e.error_message}" if e.error_type else (e.reason or "")
        table.add_row(
            e.started_at or "",
            e.status or "",
            escape(e.pipeline or ""),
            escape(e.key or ""),  # keys and messages are data from the lake, not markup
            count(e.rows_loaded),
            count(e.rows_quarantined),
            escape(error),
        )
    console.print(table)
    if len(entries) > limit:
        console.print(f"(showing {limit} of {len(entries)}; --limit to see more)")
    statuses = ", ".join(f"{status} {n:,}" for status, n in summary["by_status"].items()) or "none"
    console.print(
        f"{summary['entries']:,} entries ({statuses}); loaded files: {summary['rows_in']:,} rows in, "
        f"{summary['rows_loaded']:,} loaded, {summary['rows_quarantined']:,} quarantined"
    )


def print_file_result(result: FileResult) -> None:
    """``ingest load``: what became of the one file."""
    colour = "red" if result.error_type else "green"
    line = f"[{colour}]{result.status.value}[/] {escape(result.ref.uri)}"
    if result.pipeline:
        line += f" (pipeline {escape(result.pipeline)})"
    console.print(line)
    console.print(
        f"rows in {result.rows_in:,}, loaded {result.rows_loaded:,}, quarantined {result.rows_quarantined:,}"
    )
    if result.error_type or result.message:
        reason = f"{result.error_type}: {result.message}" if result.error_type else result.message
        console.print(escape(reason))


def print_reconciled_models(title: str, models: Sequence[Any]) -> None:
    """Rows written and replaced per SQL model of a reconciliation run."""
    table = Table(title=title)
    for column in ("model", "rows", "replaced", "seconds"):
        table.add_column(column, justify="left" if column == "model" else "right", overflow="fold")
    for model in models:
        table.add_row(model.model, count(model.inserted), count(model.deleted), f"{model.seconds:.1f}")
    console.print(table)


def print_figures(figures: dict[str, Any]) -> None:
    """The headline of a reconciled period, as finance reads it."""
    currency = figures.get("currency") or ""
    if not figures.get("by_currency"):
        console.print("No PayPal records or payments in the period.")
    not_balanced = figures.get("currencies_not_balanced") or []
    balance = (
        "balances every day"
        if figures["balance_check"]
        else (
            f"[red]does not balance on {figures['days_not_balanced']} day(s)"
            f" ({', '.join(not_balanced)})[/red]"
        )
    )
    console.print(
        f"PayPal gross {figures['paypal_gross']} {currency}, fees {figures['paypal_fees']}, "
        f"net {figures['paypal_net']}; ours {figures['our_total']}; "
        f"matched {figures['matched_count']:,} for {figures['matched_amount']}."
    )
    console.print(
        f"Balance {figures['opening_balance']} -> {figures['closing_balance']} {currency}: {balance}."
    )
    for other, values in (figures.get("by_currency") or {}).items():
        if other != currency:
            off = "" if values["balance_check"] else f", [red]{values['days_not_balanced']} day(s) off[/red]"
            console.print(
                f"{other}: gross {values['paypal_gross']}, balance {values['opening_balance']} -> "
                f"{values['closing_balance']}{off}"
            )
    found = {kind: n for kind, n in figures["exceptions"].items() if n}
    listed = ", ".join(f"{kind} {n}" for kind, n in found.items()) or "none"
    console.print(f"Exceptions: {figures['exceptions_total']} ({listed}).")


def print_health(checks: Sequence[Check], healthy: bool) -> None:
    from ingest.apps.ops import health

    colours = {health.OK: "green", health.ALARM: "bold red", health.NO_DATA: "yellow"}
    table = Table(title="Alarm rules (the template's CloudWatch alarms, evaluated on the ledger and queue)")
    for column in ("rule", "pipeline", "state", "message"):
        table.add_column(column, overflow="fold")
    for check in checks:
        state = f"[{colours[check.state]}]{check.state}"
        table.add_row(check.rule, escape(check.pipeline or ""), state, escape(check.message))
    console.print(table)
    for check in checks:
        for uri in check.details.get("files", [])[:20]:
            console.print(f"  failed: {escape(uri)}")  # a key may hold "[/b]": rich would raise
    console.print("[green]healthy" if healthy else "[bold red]unhealthy: some rules are in ALARM")


def print_inspection(report: Report) -> None:
    """``ingest inspect``: the file's format, columns, first errors, masked sample, pipeline check."""
    size = f"{report.bytes:,} bytes" if report.bytes is not None else "size unknown"
    etag = f", etag {report.etag}" if report.etag else ""
    console.print(f"[bold]{escape(report.source)}[/] ({size}{etag})")
    delimiter = f"  delimiter {report.delimiter!r}" if report.delimiter else ""
    console.print(
        f"format {report.format}  compression {report.compression or 'none'}  "
        f"encoding {report.encoding}{escape(delimiter)}  rows {report.rows:,} "
        f"({report.rows_with_errors:,} with errors)"
    )
    columns = Table(title="Columns")
    for name in ("name", "type", "nulls"):
        columns.add_column(name, overflow="fold")
    for column in report.columns:
        kind = f"{column.mode} {column.type}" if column.mode == "REPEATED" else column.type
        columns.add_row(escape(column.name) or "[dim](no name)[/]", kind, f"{column.nulls:,}")
    console.print(columns)
    if report.errors:
        errors = Table(title=f"Row errors ({report.rows_with_errors:,})")
        errors.add_column("row", justify="right")
        errors.add_column("error", overflow="fold")
        for error in report.errors[:SHOWN]:
            errors.add_row(str(error.row), escape(error.error))
        console.print(errors)
        if report.rows_with_errors > SHOWN:
            console.print(f"(first {SHOWN} shown; --json lists up to {len(report.errors)})")
    for row in report.sample:
        console.print(f"[dim]row {row['row']}[/]")
        console.print_json(json.dumps(row["record"], default=str, ensure_ascii=False))
    if report.pipeline:
        check = report.pipeline
        console.print(
            f"[bold]pipeline {check.name or '(none)'}[/] -> {check.table or '-'}: "
            f"would load {check.would_load:,}, would quarantine {check.would_quarantine:,}"
        )
        for quarantined in check.quarantined[:SHOWN]:
            console.print(f"  quarantine row {quarantined.row}: {escape(quarantined.reason)}")
        for column_name, made_from in check.derived_columns.items():
            console.print(f"  {escape(column_name)}: made by the transform from {escape(made_from)}")
        for label, names in (
            ("extra (drift) fields", check.extra_fields),
            ("would add columns (schema_drift: add_columns)", check.added_columns),
            ("missing required columns", check.missing_columns),
            ("optional columns not in the file", check.unmatched_columns),
        ):
            if names:
                console.print(f"  {label}: {escape(', '.join(names))}")
        if check.file_error:
            failure = check.file_error
            console.print(f"  [red]the file would fail: {failure.error_type}: {escape(failure.message)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning: {escape(warning)}")
    if report.file_error:
        failure = report.file_error
        console.print(f"[red]{failure.error_type}: {escape(failure.message)}")


def print_validation(report: FileValidation, html_path: Path | None, gx_path: Path | None = None) -> None:
    """``ingest validate``: rows that would load and be quarantined, expectations failed with
    their first offending values."""
    from ingest.apps.tools.validate_file import engine_text
    from ingest.apps.tools.validation_page import offending_text

    console.print(
        f"[bold]{escape(report.source)}[/]  pipeline {report.pipeline}  "
        f"suite {report.suite or 'none'}{escape(engine_text(report))}"
    )
    if report.file_error:
        console.print(f"[red]would fail: {escape(report.file_error)}")
    console.print(
        f"rows {report.rows:,}  good {report.good:,}  bad {report.bad:,} "
        f"(coercion {report.rejected_by_coercion:,}, suite {report.rejected_by_suite:,})"
    )
    for title, checks, style in (
        ("Critical expectations failed", report.failed_expectations, "red"),
        ("Warnings", report.warnings, "yellow"),
    ):
        if not checks:
            continue
        table = Table(title=title)
        for name in ("check", "column", "rows failing", "offending values (first rows)"):
            table.add_column(name, overflow="fold")
        for check in checks:
            table.add_row(
                f"[{style}]{escape(check['id'])}",
                escape(", ".join(check["columns"]) or check["column"] or ""),
                f"{check['unexpected_count']:,}",
                escape(offending_text(check)),
            )
        console.print(table)
    # Paths on lines of their own, never wrapped: a reader copies them whole.
    if html_path:
        console.print(f"HTML report: {escape(str(html_path))}", soft_wrap=True)
    if gx_path:
        written = report.gx_results is not None
        console.print(
            f"GX validation result: {escape(str(gx_path))}"
            if written
            else "No GX validation result written: the file never reached a suite (none, or unreadable)",
            soft_wrap=True,
        )
