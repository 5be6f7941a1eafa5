"""``ingest ...``: parse arguments, call the package, print. No logic of its own."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ingest.core.settings import NOTEBOOKS_DIR

console = Console()
err_console = Console(stderr=True)


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = text.split("-")
        return int(year), int(month)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def cmd_local(args: argparse.Namespace) -> int:
    from ingest.core.settings import Settings
    from ingest_devstack import local

    if args.action == "up":
        stack = local.up(Settings.from_env())
        err_console.print(f"[green]Local stack up[/] (state in {stack.state_dir}). Use it with:")
        err_console.print('  eval "$(.venv/bin/ingest local env)"')
        print(local.export_lines(stack), end="")
    elif args.action == "down":
        stopped = local.down()
        err_console.print("Local stack stopped." if stopped else "No local stack was running.")
    elif args.action == "env":
        stack = local.read_stack()
        if stack is None:
            err_console.print("No local stack is running: `ingest local up` starts one.")
            return 1
        print(local.export_lines(stack), end="")
    else:
        state = local.status()
        if args.json:
            print(json.dumps(state, indent=2))
        else:
            console.print(state)
        return 0 if state["running"] else 1
    return 0


def _no_emf_on_the_console() -> None:
    """The handler prints CloudWatch EMF documents for Lambda's logs; on a console they are noise
    (POWERTOOLS_METRICS_DISABLED=false shows them)."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def cmd_worker(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.apps import lambda_handler as handler
    from ingest.core.settings import Settings
    from ingest_devstack import worker

    _no_emf_on_the_console()
    sqs = aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=Settings.from_env().queue_name)["QueueUrl"]
    err_console.print(f"Draining {queue_url} until idle for {args.idle}s ...")
    stats = worker.drain(
        sqs,
        queue_url,
        handler.handle,
        workers=args.workers,
        idle_seconds=args.idle,
        batch_size=args.batch_size,
        batching_window=args.batching_window,
    )
    console.print(
        f"{stats.messages} messages in {stats.invocations} invocations; "
        f"{stats.failed_messages} left on the queue for retry"
    )
    return 1 if stats.failed_messages else 0


def cmd_load(args: argparse.Namespace) -> int:
    from ingest.core.model import FileRef
    from ingest.ingestion.flow import ingest_file
    from ingest.ingestion.services import Services

    if not args.uri.startswith("s3://") or "/" not in args.uri[5:]:
        err_console.print(f"expected s3://bucket/key, got {args.uri!r}")
        return 2
    bucket, key = args.uri[5:].split("/", 1)
    services = Services.from_env()
    head = services.s3.head_object(Bucket=bucket, Key=key)
    result = ingest_file(FileRef.of(bucket, key, head["ETag"], head["ContentLength"]), services)
    console.print(result)
    return 0 if result.error_type is None else 1


def cmd_run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ingest.ingestion.runs import run_batch
    from ingest.ingestion.services import Services

    services = Services.from_env()
    bucket = args.bucket or services.settings.lake_bucket
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, disable=args.json) as progress:
        task = progress.add_task(f"s3://{bucket}/{args.prefix}", total=None)
        run = run_batch(
            services,
            bucket,
            args.prefix,
            since=_utc_midnight(args.since),
            until=_utc_midnight(args.until),
            pipeline=args.pipeline,
            max_files_per_load=args.max_files_per_load,
            on_listed=lambda total: progress.update(task, total=total),
            on_file=lambda _result: progress.advance(task),
        )
    if args.json:
        print(json.dumps(run.to_dict(), indent=2, default=str))
        return 1 if run.failed else 0
    print_batch_summary(run.to_dict())
    return 1 if run.failed else 0


def print_batch_summary(account: dict[str, Any]) -> None:
    """A batch run's account (``BatchRun.to_dict()``): per-pipeline totals, failures, warnings."""
    from rich.markup import escape

    files = account["files"]
    console.print(
        f"Run {account['run_id']}: {account['listed']} objects listed, {account['already_done']} already "
        f"in the ledger, {len(files)} processed with {len(account['loads'])} load jobs"
    )
    names = ("files", "loaded", "skipped", "failed", "rows_in", "rows_loaded", "rows_quarantined")
    names += ("load_jobs",)
    table = Table(title="By pipeline")
    table.add_column("pipeline")
    for name in names:
        table.add_column(name, justify="right")
    for pipeline, row in account["by_pipeline"].items():
        table.add_row(pipeline or "(none)", *(f"{row[name]:,}" for name in names))
    console.print(table)
    failed = [f for f in files if f["status"] == "FAILED"]
    for failure in failed[:20]:
        uri, reason = escape(failure["uri"]), escape(f"{failure['error_type']}: {failure['message']}")
        console.print(f"[red]FAILED[/] {uri}: {reason}")
    if len(failed) > 20:
        console.print(f"... and {len(failed) - 20} more failures (`ingest ledger --status FAILED`)")
    for warning in account["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def _utc_midnight(day: str | None) -> Any:
    from datetime import UTC, datetime

    return datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None


def cmd_batch(args: argparse.Namespace) -> int:
    import uuid
    from datetime import UTC, datetime

    from rich.markup import escape

    from ingest.apps.reports.notebook_run import NotebookToolsMissing, run_notebook

    notebook = NOTEBOOKS_DIR / "ingest_batch.py"
    if not notebook.is_file():
        err_console.print(
            f"[red]batch notebook not found: {escape(str(notebook))} "
            "(`ingest batch` runs from a checkout of the repository)"
        )
        return 2
    now = datetime.now(UTC)
    day = args.date or now.date().isoformat()
    # Sorts by the day it covers, then by when it ran; the suffix tells apart runs in one second.
    run_id = f"{day}-{now:%H%M%S}-{uuid.uuid4().hex[:6]}"
    out_dir = (args.out / run_id).resolve()
    parameters = {
        "bucket": args.bucket or "",
        "prefix": args.prefix,
        "run_date": day,
        "pipeline": args.pipeline or "",
        "max_files_per_load": args.max_files_per_load,
        "run_id": run_id,
        "output_dir": str(out_dir),
    }
    err_console.print(f"Batch {run_id} ...")
    try:
        result = run_notebook(notebook, out_dir, parameters, title=f"Ingest batch {run_id}")
    except NotebookToolsMissing as err:
        err_console.print(f"[red]{escape(str(err))}")
        return 2
    batch_json = out_dir / "batch.json"
    account = json.loads(batch_json.read_text(encoding="utf-8")) if batch_json.is_file() else None
    if account is not None:
        print_batch_summary(account)
    # Plain prints: a scheduler's log keeps the paths whole, unwrapped.
    print(f"executed notebook: {result.executed}")
    if result.html is not None:
        print(f"report: {result.html}")
    print_index(args.out)
    if account is None:
        err_console.print(f"[red]the batch did not run: {escape(result.error or 'no batch.json written')}")
        return 2
    if account["failed"]:
        return 1
    if result.error:
        err_console.print(f"[red]the report failed after the run: {escape(result.error)}")
        return 2
    return 0


def reconcile_period(args: argparse.Namespace) -> Any:
    """The period of --start/--end, or None after saying what is wrong with it."""
    from rich.markup import escape

    from ingest.apps.finance.reconcile import Period

    try:
        return Period.parse(args.start, args.end)
    except ValueError as err:
        err_console.print(f"[red]{escape(str(err))}")
        return None


def cmd_reconcile(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from ingest.apps.finance import reconcile
    from ingest.ingestion.services import Services

    period = reconcile_period(args)
    if period is None:
        return 2
    services = Services.from_env()
    tables = reconcile.Tables.for_services(services)
    options = reconcile.Options(late_window_days=args.late_window_days, vat_basis=args.vat_basis)
    with err_console.status(f"Reconciling {period} ..."):
        try:
            run = reconcile.run(services.bigquery, tables, period, options)
        except reconcile.MissingSourceTable as err:
            err_console.print(f"[red]{escape(str(err))}")
            return 2
        figures = reconcile.figures(services.bigquery, tables, period, options=options)
    if args.json:
        print(json.dumps({**run.to_dict(), "figures": figures}, indent=2, default=str))
        return 0
    table = Table(title=f"Reconciliation {period}: days replaced in {tables.recon_dataset}")
    for column in ("model", "rows", "replaced", "seconds"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model in run.models:
        table.add_row(model.model, _count(model.inserted), _count(model.deleted), f"{model.seconds:.1f}")
    console.print(table)
    print_figures(figures)
    return 0


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


def print_index(out: Path) -> None:
    """Rewrite the index of every report beside ``out`` (``reports/index.html`` for the default
    folders) and say where it is: the one page finance bookmarks."""
    from ingest.apps.reports.report_index import write_index

    print(f"all reports: {write_index(out.resolve().parent)}")


def cmd_report(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from ingest.apps.finance import report
    from ingest.apps.finance.reconcile import Options
    from ingest.apps.reports.notebook_run import NotebookToolsMissing

    period = reconcile_period(args)
    if period is None:
        return 2
    options = Options(late_window_days=args.late_window_days, nominal=args.nominal, vat_basis=args.vat_basis)
    err_console.print(f"Reconciliation report {period} ...")
    try:
        produced = report.produce(period, args.out, options)
    except (NotebookToolsMissing, FileNotFoundError) as err:
        err_console.print(f"[red]{escape(str(err))}")
        return 2
    if produced.figures is not None:
        print_figures(produced.figures)
    # Plain prints: a scheduler's log keeps the paths whole, unwrapped.
    print(f"executed notebook: {produced.notebook.executed}")
    for label, path in produced.files.items():
        print(f"{label}: {path}")
    print_index(args.out)
    if produced.error is not None:
        err_console.print(
            f"[red]the report failed: {escape(produced.error)}; "
            f"the executed notebook shows where: {escape(str(produced.notebook.executed))}"
        )
        return 2
    if args.alert:
        from botocore.exceptions import BotoCoreError, ClientError

        from ingest.ingestion.services import Services

        try:
            message_id = report.publish_alert(Services.from_env(), produced.figures, produced.report_path)
        except (report.AlertTopicNotFound, BotoCoreError, ClientError) as err:
            err_console.print(f"[red]the report is complete, but no alert was sent: {escape(str(err))}")
            return 1
        if message_id is not None:
            err_console.print(f"Alert sent: {escape(report.alert_subject(produced.figures))}")
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb_ledger import Ledger, summarize
    from ingest.core.model import Status
    from ingest.core.settings import Settings

    settings = Settings.from_env()
    ledger = Ledger(aws_client("dynamodb"), settings.ledger_table)
    status = Status(args.status) if args.status else None
    entries = ledger.entries(status=status, since=args.since)
    summary = summarize(entries)
    if args.json:
        print(json.dumps({"summary": summary, "entries": [e.item for e in entries]}, indent=2, default=str))
        return 0
    table = Table(title=f"Ledger {settings.ledger_table}: {len(entries)} entries")
    for column in ("started_at", "status", "pipeline", "key", "rows_loaded", "rows_quarantined", "error"):
        table.add_column(column, overflow="fold")
    for e in entries[: args.limit]:
        error = f"{e.error_type}: {e.error_message}" if e.error_type else (e.reason or "")
        table.add_row(
            e.started_at or "",
            e.status or "",
            e.pipeline or "",
            e.key or "",
            _count(e.rows_loaded),
            _count(e.rows_quarantined),
            error,
        )
    console.print(table)
    if len(entries) > args.limit:
        console.print(f"(showing {args.limit} of {len(entries)}; --limit to see more)")
    console.print(summary)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ingest.apps.ops import monitor
    from ingest.core.settings import Settings

    checks = monitor.check_health(
        Settings.from_env(),
        window=timedelta(minutes=args.window_minutes),
        quarantine_rate_percent=args.quarantine_rate_percent,
    )
    healthy = monitor.healthy(checks)
    if args.json:
        print(
            json.dumps({"healthy": healthy, "checks": monitor.checks_as_json(checks)}, indent=2, default=str)
        )
        return 0 if healthy else 1
    colours = {monitor.OK: "green", monitor.ALARM: "bold red", monitor.NO_DATA: "yellow"}
    table = Table(title="Alarm rules (the template's CloudWatch alarms, evaluated on the ledger and queue)")
    for column in ("rule", "pipeline", "state", "message"):
        table.add_column(column, overflow="fold")
    for check in checks:
        state = f"[{colours[check.state]}]{check.state}"
        table.add_row(check.rule, check.pipeline or "", state, check.message)
    console.print(table)
    for check in checks:
        for uri in check.details.get("files", [])[:20]:
            console.print(f"  failed: {uri}")
    console.print("[green]healthy" if healthy else "[bold red]unhealthy: some rules are in ALARM")
    return 0 if healthy else 1


def cmd_monitor(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from ingest.apps.ops import monitor

    with err_console.status(f"running the monitoring notebook over the last {args.hours:g} h ..."):
        run = monitor.monitoring_report(
            args.out,
            hours=args.hours,
            window=timedelta(minutes=args.window_minutes),
            quarantine_rate_percent=args.quarantine_rate_percent,
        )
    print_index(args.out)
    if run.error:
        err_console.print(f"[red]The monitoring notebook failed: {run.error}; see {run.executed}")
        return 2
    print(f"Monitoring report: {run.html}")
    return 0


def _count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return int(text)


_SHOWN = 10  # errors and quarantined rows printed; --json has more


def cmd_inspect(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from ingest.apps.tools.inspect import InspectError, inspect_file

    try:
        report = inspect_file(args.target, pipeline=args.pipeline, sample=args.sample)
    except InspectError as err:
        err_console.print(f"[red]{escape(str(err))}")
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str, ensure_ascii=False))
        return 0 if report.ok else 1

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
        columns.add_row(escape(column.name) or "[dim](no name)[/]", column.type, f"{column.nulls:,}")
    console.print(columns)
    if report.errors:
        errors = Table(title=f"Row errors ({report.rows_with_errors:,})")
        errors.add_column("row", justify="right")
        errors.add_column("error", overflow="fold")
        for error in report.errors[:_SHOWN]:
            errors.add_row(str(error.row), escape(error.error))
        console.print(errors)
        if report.rows_with_errors > _SHOWN:
            console.print(f"(first {_SHOWN} shown; --json lists up to {len(report.errors)})")
    for row in report.sample:
        console.print(f"[dim]row {row['row']}[/]")
        console.print_json(json.dumps(row["record"], default=str, ensure_ascii=False))
    if report.pipeline:
        check = report.pipeline
        console.print(
            f"[bold]pipeline {check.name or '(none)'}[/] -> {check.table or '-'}: "
            f"would load {check.would_load:,}, would quarantine {check.would_quarantine:,}"
        )
        for row in check.quarantined[:_SHOWN]:
            console.print(f"  quarantine row {row.row}: {escape(row.reason)}")
        for label, names in (
            ("extra (drift) fields", check.extra_fields),
            ("missing required columns", check.missing_columns),
            ("optional columns not in the file", check.unmatched_columns),
        ):
            if names:
                console.print(f"  {label}: {escape(', '.join(names))}")
        if check.file_error:
            error = check.file_error
            console.print(f"  [red]the file would fail: {error.error_type}: {escape(error.message)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning: {escape(warning)}")
    if report.file_error:
        error = report.file_error
        console.print(f"[red]{error.error_type}: {escape(error.message)}")
    return 0 if report.ok else 1


def cmd_replay(args: argparse.Namespace) -> int:
    from ingest.ingestion.runs import replay_failed
    from ingest.ingestion.services import Services

    results = replay_failed(
        Services.from_env(),
        since=args.since,
        error_type=args.error_type,
        key_contains=args.key,
        dry_run=args.dry_run,
    )
    table = Table(title=("Would replay" if args.dry_run else "Replayed") + f": {len(results)} files")
    for column in ("key", "outcome", "rows_loaded", "rows_quarantined", "error"):
        table.add_column(column, overflow="fold")
    for ref, result in results:
        if result is None:
            table.add_row(ref.key, "-", "", "", "")
            continue
        error = f"{result.error_type}: {result.message}" if result.error_type else result.message
        table.add_row(
            ref.key, result.status.value, _count(result.rows_loaded), _count(result.rows_quarantined), error
        )
    console.print(table)
    failed = [r for _, r in results if r is not None and r.error_type]
    return 1 if failed else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from ingest.apps.tools.inspect import InspectError
    from ingest.apps.tools.validate_file import to_html, validate_file

    try:
        report = validate_file(args.target, pipeline=args.pipeline)
    except InspectError as err:
        err_console.print(f"[red]{escape(str(err))}")
        return 2
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(to_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str, ensure_ascii=False))
        return 0 if report.ok else 1

    console.print(
        f"[bold]{escape(report.source)}[/]  pipeline {report.pipeline}  suite {report.suite or 'none'}"
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
        for name in ("check", "column", "rows failing", "first rows"):
            table.add_column(name, overflow="fold")
        for check in checks:
            rows = ", ".join(map(str, check["sample_rows"]))
            table.add_row(
                f"[{style}]{check['id']}", check["column"] or "", f"{check['unexpected_count']:,}", rows
            )
        console.print(table)
    if args.html:
        console.print(f"HTML report: {args.html}")
    return 0 if report.ok else 1


def cmd_generate(args: argparse.Namespace) -> int:
    import time
    from collections import Counter

    from ingest_devstack.generate import publish_month

    if args.scale < 1:
        err_console.print(f"[red]--scale must be at least 1, got {args.scale}")
        return 2
    year, month = args.month
    started = time.perf_counter()
    manifest = publish_month(args.out, year, month, seed=args.seed, scale=args.scale)
    elapsed = time.perf_counter() - started
    totals = manifest["totals"]
    console.print(
        f"Wrote {totals['files']:,} files ({totals['rows_in']:,} rows) and manifest.json to {args.out} "
        f"in {elapsed:.1f}s"
    )
    console.print(
        f"  expected: {totals['rows_expected_loaded']:,} rows loaded, "
        f"{totals['rows_expected_quarantined']:,} quarantined, "
        f"{totals['files_expected_to_fail']} files failing"
    )
    kinds = Counter(d["kind"] for d in manifest["discrepancies"])
    console.print("  discrepancies: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items())))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ingest_devstack import demo

    _no_emf_on_the_console()
    year, month = args.month
    summary = demo.run(year, month, keep=args.keep, out_dir=args.out)
    # Last, and plain: the paths stay whole to copy, unwrapped.
    print(f"The month's reconciliation report: {summary['reconciliation']['report']}")
    print_index(args.out)
    return 0 if all(summary["checks"].values()) else 1


def build_parser() -> argparse.ArgumentParser:
    from ingest.apps.ops import monitor
    from ingest.core.model import Status
    from ingest.ingestion.flow import FILES_PER_LOAD

    parser = argparse.ArgumentParser(
        prog="ingest",
        description="Land payment files from S3 in BigQuery exactly once; keep what fails.",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help='use the running local stack\'s endpoints (as `eval "$(ingest local env)"` would)',
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each file")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # What a batch takes, for `run` and for `batch`, which runs the same batch in a notebook.
    batch_options = argparse.ArgumentParser(add_help=False)
    batch_options.add_argument("--bucket", help="the lake bucket (default INGEST_LAKE_BUCKET)")
    batch_options.add_argument("--prefix", default="", help="only keys under this prefix")
    batch_options.add_argument("--pipeline", metavar="NAME", help="only files of this pipeline")
    batch_options.add_argument(
        "--max-files-per-load",
        type=_positive,
        default=FILES_PER_LOAD,
        help=f"files combined into one load job (default {FILES_PER_LOAD})",
    )

    p = commands.add_parser("local", help="start, stop or inspect the local emulators")
    p.add_argument("action", choices=["up", "down", "status", "env"])
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.set_defaults(run=cmd_local)

    p = commands.add_parser("worker", help="run the Lambda handler on the SQS queue until it is idle")
    p.add_argument("--workers", type=int, default=2, help="concurrent pollers (default 2)")
    p.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")
    p.add_argument(
        "--batch-size", type=_positive, default=10, help="most messages per invocation (default 10)"
    )
    p.add_argument(
        "--batching-window",
        type=float,
        default=0.0,
        help="seconds to wait for a batch to fill, like MaximumBatchingWindowInSeconds (default 0)",
    )
    p.set_defaults(run=cmd_worker)

    p = commands.add_parser("load", help="ingest one object now: ingest load s3://bucket/key")
    p.add_argument("uri")
    p.set_defaults(run=cmd_load)

    p = commands.add_parser(
        "run",
        parents=[batch_options],
        help="batch mode: ingest every new object under a prefix, many small files per load job",
        description="Lists objects, skips what the ledger has, loads the rest with few load jobs. "
        "Exit code 0: no file failed; 1: some failed (listed in the summary).",
    )
    p.add_argument("--since", type=_day, help="only objects last modified on or after YYYY-MM-DD (UTC)")
    p.add_argument("--until", type=_day, help="only objects last modified before YYYY-MM-DD (UTC)")
    p.add_argument("--json", action="store_true", help="the run's account as JSON, no progress bar")
    p.set_defaults(run=cmd_run)

    p = commands.add_parser(
        "batch",
        parents=[batch_options],
        help="scheduled batch: one day's new objects through the batch notebook, kept as a report",
        description="Runs notebooks/ingest_batch.py with papermill: ingests every object under the "
        "prefix that landed by the end of --date (UTC) and is not in the ledger yet, then writes the "
        "executed notebook, report.html (no code, renders offline) and batch.json to <out>/<run_id>/. "
        "Exit code 0: no file failed; 1: some file failed; 2: the run itself failed (the executed "
        "notebook says why).",
    )
    p.add_argument(
        "--date",
        type=_day,
        help="YYYY-MM-DD: objects that landed by the end of this day (UTC); default today",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/batches"),
        help="folder of the run folders (default reports/batches)",
    )
    p.set_defaults(run=cmd_batch)

    period_options = argparse.ArgumentParser(add_help=False)
    period_options.add_argument(
        "--start", required=True, help="first day YYYY-MM-DD, or a month YYYY-MM (all of its days)"
    )
    period_options.add_argument(
        "--end", help="last day YYYY-MM-DD or month YYYY-MM (default: the end of --start)"
    )
    period_options.add_argument(
        "--late-window-days",
        type=_non_negative,
        default=3,
        help="days our payment row may be dated after PayPal's and still match, as late (default 3)",
    )
    period_options.add_argument(
        "--vat-basis",
        choices=("transaction", "line"),
        default="transaction",
        help="round VAT per transaction, as each invoice (default), or once per day and country line",
    )

    p = commands.add_parser(
        "reconcile",
        parents=[period_options],
        help="reconcile PayPal with our payments for a day or a month (recomputes those days)",
        description="Runs the SQL models in ingest/sql/ for every day of the period and replaces "
        "those days in the reconciliation tables (INGEST_RECON_DATASET): matches, adjustments, "
        "daily_balances, balance_breaks, revenue_by_country. Running a day again replaces it. "
        "Exit code 0: reconciled; 2: a source table is missing (the message says which to load).",
    )
    p.add_argument("--json", action="store_true", help="rows per model and the headline figures as JSON")
    p.set_defaults(run=cmd_reconcile)

    p = commands.add_parser(
        "report",
        parents=[period_options],
        help="the finance report of a day or a month: reconciles, then writes the report and its files",
        description="Runs notebooks/reconciliation_report.py with papermill: reconciles the period "
        "(as `ingest reconcile`), then writes report.html (no code, renders offline), "
        "accounting_export.csv, exceptions.csv, figures.json and the executed notebook to "
        "<out>/<start>_<end>/. When the period has reversals or chargebacks it publishes an alert to "
        "the alerts topic (INGEST_ALERTS_TOPIC). Exceptions are the report's content, not a failure. "
        "Exit code 0: the report is complete; 1: it is, but the alert could not be sent; 2: the "
        "report failed (the executed notebook says why).",
    )
    p.add_argument(
        "--nominal",
        default="4000",
        metavar="CODE",
        help="nominal account the accounting export books sales to (default 4000)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/reconciliation"),
        help="folder of the period folders (default reports/reconciliation)",
    )
    p.add_argument(
        "--no-alert", dest="alert", action="store_false", help="do not alert about reversals and chargebacks"
    )
    p.set_defaults(run=cmd_report)

    p = commands.add_parser("ledger", help="list and summarise the ingestion ledger")
    p.add_argument("--status", choices=[s.value for s in Status])
    p.add_argument("--since", type=_day, help="entries started on or after YYYY-MM-DD")
    p.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    p.add_argument("--json", action="store_true", help="entries and summary as JSON")
    p.set_defaults(run=cmd_ledger)

    rule_options = argparse.ArgumentParser(add_help=False)
    rule_options.add_argument(
        "--window-minutes",
        type=_positive,
        default=int(monitor.WINDOW.total_seconds() // 60),
        help="look back this far for failed files and quarantined rows (default %(default)s)",
    )
    rule_options.add_argument(
        "--quarantine-rate-percent",
        type=float,
        default=monitor.QUARANTINE_RATE_PERCENT,
        help="alarm above this share of rows quarantined, per pipeline (default %(default)s)",
    )
    p = commands.add_parser(
        "health",
        parents=[rule_options],
        help="evaluate the alarm rules on the ledger and the queue",
        description="The CloudWatch alarms of deploy/template.yaml, evaluated here: failed files, "
        "dead letters, oldest queued event, quarantine rate and freshness per pipeline. "
        "Exit code 0: no rule in ALARM; 1: some are.",
    )
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.set_defaults(run=cmd_health)

    p = commands.add_parser(
        "monitor",
        parents=[rule_options],
        help="the monitoring report: throughput, latency, failures, quarantine, freshness",
        description="Runs notebooks/monitoring.py with papermill over the ledger's last hours and "
        "writes report.html and monitoring.json to <out>/<time>/. Exit 2 if the notebook failed.",
    )
    p.add_argument("--hours", type=float, default=24.0, help="the period, ending now (default 24)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports/monitoring"),
        help="folder of the reports (default %(default)s)",
    )
    p.set_defaults(run=cmd_monitor)

    p = commands.add_parser("inspect", help="profile a raw file (path or s3://bucket/key); nothing is loaded")
    p.add_argument("target", metavar="PATH_OR_S3_URI")
    p.add_argument("--pipeline", metavar="NAME", help="also check it with a pipeline; 'auto' routes by key")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.add_argument("--sample", type=_non_negative, default=5, help="rows to show, masked (default 5)")
    p.set_defaults(run=cmd_inspect)

    p = commands.add_parser("replay", help="ingest FAILED files again after a fix (config, code)")
    p.add_argument("--since", type=_day, help="failures started on or after YYYY-MM-DD")
    p.add_argument("--error-type", help="only this error type, e.g. UnknownPipeline")
    p.add_argument("--key", help="only keys containing this text")
    p.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    p.set_defaults(run=cmd_replay)

    p = commands.add_parser(
        "validate",
        help="run a pipeline's Great Expectations suite on a local or S3 file, without loading it",
        description="Exit code 0: every row would load; 1: rows would be quarantined or the file "
        "would fail; 2: the file or pipeline cannot be found.",
    )
    p.add_argument("target", help="a local path or s3://bucket/key")
    p.add_argument("--pipeline", default="auto", help="a pipeline name, or auto to route by the key")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--html", type=Path, help="also write a self-contained HTML report to this path")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("generate", help="write a month of deterministic demo data to a folder or S3")
    p.add_argument("--month", type=_month, default=(2021, 7), help="YYYY-MM (default 2021-07)")
    p.add_argument("--scale", type=int, default=1, help="multiply the sales, about 30 a day (default 1)")
    p.add_argument("--seed", type=int, default=7, help="same month, seed and scale give the same bytes")
    p.add_argument("--out", required=True, metavar="DIR_OR_S3_URI", help="a folder or s3://bucket/prefix")
    p.set_defaults(run=cmd_generate)

    p = commands.add_parser("demo", help="a month of data end to end on the local emulators")
    p.add_argument("--month", type=_month, default=(2021, 7), help="YYYY-MM (default 2021-07)")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.add_argument("--out", type=Path, default=Path("reports/demo"))
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.local and args.command != "local":
        from ingest_devstack import local

        local.apply_environment()
    try:
        return args.run(args)
    except Exception as err:
        from ingest_devstack.local import StackError

        if isinstance(err, StackError):
            err_console.print(f"[red]{err}")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
