"""The end-to-end demo: a month of generated data lands in S3 and reaches BigQuery.

The scheduler's batch (``ingest batch``, the papermill batch notebook) loads the month with a
few load jobs and keeps its report. The S3 notifications of the same files then reach the
Lambda handler through SQS, and every event is delivered once more: nothing loads twice and no
table changes. Finance's report of the month (``ingest report``), the alarm rules (``ingest
health``) and the monitoring report (``ingest monitor``) come last. The summary is computed from
the ledger, from BigQuery and from the reports' files, and compared with what the generator
planted; the last lines list the reports, ``reports/index.html`` first.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ingest.adapters.bigquery.queries import TableFingerprint, table_fingerprint
from ingest.adapters.clients import aws_client
from ingest.apps import lambda_handler as handler
from ingest.apps.finance import alerts, report
from ingest.apps.finance.exports import EXCEPTIONS_FILE
from ingest.apps.finance.models import Tables, model_rows
from ingest.apps.finance.period import Period
from ingest.apps.ops import health, monitoring
from ingest.apps.reports import report_index
from ingest.core.settings import Settings
from ingest.ingestion.flow import FILES_PER_LOAD
from ingest.ingestion.services import Services
from ingest_devstack import local, worker
from ingest_devstack.demo_checks import (
    balance_key,
    cents,
    checks,
    ledger_summary,
    most_load_jobs,
    planted_failures,
)
from ingest_devstack.demo_console import (
    batch_lines,
    demo_console,
    health_table,
    human_logs,
    print_reports,
    print_summary,
    progress_bar,
)
from ingest_devstack.generate import GeneratedMonth, generate_month

__all__ = ["progress_bar", "run"]  # the load test draws the same bars

Handle = Callable[[dict[str, Any], Any], dict[str, Any]]


def upload(services: Services, generated: GeneratedMonth, console: Console) -> None:
    with progress_bar(console) as progress:
        task = progress.add_task("upload to the lake", total=len(generated.files))
        for file in generated.files:
            services.s3.put_object(Bucket=services.settings.lake_bucket, Key=file.key, Body=file.body)
            progress.advance(task)


def files_in_message(body: str) -> int:
    """Files an SQS message's S3 notification names, as the handler reads it: 0 for the
    ``s3:TestEvent`` S3 sends once when a bucket's notifications are set up."""
    try:
        message = json.loads(body)
    except ValueError:
        return 0
    return sum(1 for _ in handler.file_refs(message)) if isinstance(message, dict) else 0


def files_in(bodies: Iterable[str]) -> int:
    return sum(map(files_in_message, bodies))


def process_queue(
    sqs: Any,
    queue_url: str,
    files: int,
    label: str,
    console: Console,
    *,
    handle: Handle = handler.handle,
    idle_seconds: float = 3.0,
) -> worker.DrainStats:
    """Drain the queue through ``handle``; the bar counts files, ``files`` in all.

    The bar advances by the files a message names once the handler is done with it: the queue
    also holds S3's test event, which names none, and a message the handler hands back for a
    retry is counted when it comes back, so the count never passes the total.
    """
    with progress_bar(console) as progress:
        task = progress.add_task(label, total=files)

        def counted(event: dict[str, Any], context: Any) -> dict[str, Any]:
            response = handle(event, context)
            retried = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            done = [r["body"] for r in event["Records"] if r["messageId"] not in retried]
            progress.advance(task, files_in(done))
            return response

        return worker.drain(sqs, queue_url, counted, idle_seconds=idle_seconds)


def _table_exists(services: Services, table_id: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        services.bigquery.get_table(f"{services.bigquery.project}.{table_id}")
    except NotFound:
        return False
    return True


def fingerprints(services: Services) -> dict[str, TableFingerprint]:
    return {
        p.table_id: table_fingerprint(services.bigquery, p.table_id)
        for p in services.pipelines
        if _table_exists(services, p.table_id)
    }


def batch_notebook(
    run_day: date,
    out_root: Path,
    planted: dict[str, str],
    console: Console,
    *,
    bucket: str = "",
    prefix: str = "",
) -> dict[str, Any]:
    """``ingest batch --date run_day``: the batch notebook over what landed by the end of the
    day, with its report under ``<out_root>/<run_id>/``; what it did and where the report is.

    The notebook's last cell fails the run when a file failed, as a scheduler needs
    (``FilesFailed``); with the generator's planted failures that is expected, and
    ``batch_notebook.run`` leaves it out of the run's error. An empty ``bucket`` is the
    environment's lake bucket, as for the CLI.
    """
    from ingest.apps.reports import batch_notebook as batch

    with console.status("running the batch notebook ..."):
        run = batch.run(
            run_day.isoformat(), out_root, bucket=bucket, prefix=prefix, max_files_per_load=FILES_PER_LOAD
        )
    return batch_outcome(run.run_id, run.account, run.html, run.error, planted)


def batch_outcome(
    run_id: str, account: dict[str, Any] | None, html: Path | None, error: str | None, planted: dict[str, str]
) -> dict[str, Any]:
    """The demo's account of a batch run from what its ``batch.json`` says (``account``):
    counts, each failed file and whether the generator planted it, and the report unless an
    ``error`` (other than the notebook's deliberate ``FilesFailed``) broke it."""
    if account is None:
        error = error or "no batch.json written"
        nothing = {"listed": 0, "files_processed": 0, "load_jobs": 0, "failed": []}
        return {"run_id": run_id, "report": None, "error": error, **nothing}
    failed = [
        {
            "uri": f["uri"],
            "error_type": f["error_type"],
            "message": f["message"],
            "planted": planted.get(f["uri"]) == f["error_type"],
        }
        for f in account["files"]
        if f["status"] == "FAILED"
    ]
    return {
        "run_id": run_id,
        "report": str(html) if html is not None and error is None else None,
        "error": error,
        "listed": account["listed"],
        "files_processed": len(account["files"]),
        "load_jobs": len(account["loads"]),
        "failed": failed,
    }


def finance_report(services: Services, period: Period, out_root: Path, console: Console) -> dict[str, Any]:
    """``ingest report`` for the period: reconcile, run the notebook, alert; what it wrote."""
    with console.status(f"reconciling {period} and running the report notebook ..."):
        produced = report.produce(period, out_root)
    alert = None
    if produced.figures is not None:
        alert = alerts.publish_alert(services, produced.figures, produced.report_path)
    balances = model_rows(services.bigquery, Tables.for_services(services), "daily_balances", period)
    exceptions_csv = produced.out_dir / EXCEPTIONS_FILE
    exceptions: list[dict[str, Any]] = []
    if exceptions_csv.is_file():
        with exceptions_csv.open(encoding="utf-8", newline="") as rows:
            exceptions = list(csv.DictReader(rows))
    return {
        "out_dir": str(produced.out_dir),
        "report": str(produced.report_path),
        "files": sorted(path.name for path in produced.files.values()),
        "error": produced.error,
        "figures": produced.figures,
        "alert_sent": alert is not None,
        "exceptions": exceptions,
        # Per day and currency: what PayPal's balance moved that the loaded records do not explain.
        "balance_differences": {
            balance_key(r["day"], r["currency"]): cents(r["difference"]) for r in balances.to_dict("records")
        },
    }


def operations_view(settings: Settings, out_root: Path, console: Console) -> dict[str, Any]:
    """``ingest health`` and ``ingest monitor`` on what the demo just did."""
    found = health.check_health(settings)
    console.print(health_table(found))
    with console.status("running the monitoring notebook ..."):
        run = monitoring.monitoring_report(out_root, hours=6)
    figures: dict[str, Any] = {}
    if run.error is None and (run.executed.parent / "monitoring.json").is_file():
        figures = json.loads((run.executed.parent / "monitoring.json").read_text(encoding="utf-8"))
    failed = next(c for c in found if c.rule == "failed_files")
    return {
        "healthy": health.healthy(found),
        "alarms": sorted(f"{c.rule} {c.pipeline or ''}".strip() for c in found if c.state == health.ALARM),
        "failed_files": set(failed.details.get("files", [])),
        "report": str(run.html) if run.html else None,
        "report_error": run.error,
        "files_failed_for_good": figures.get("headline", {}).get("files_failed_for_good", 0),
    }


def written_reports(summary: dict[str, Any], reports_root: Path) -> list[tuple[str, Path]]:
    """What the demo wrote, the index first, then each report it ran; paths relative to the
    working folder where they are under it."""
    found = [
        ("index", report_index.index_path(reports_root)),
        ("reconciliation", summary["reconciliation"]["report"]),
        ("monitoring", summary["operations"]["report"]),
        ("batch", summary["batch"]["report"]),
        ("demo summary", reports_root / "demo" / "summary.json"),
    ]
    return [(label, _shown(Path(path))) for label, path in found if path]


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path.resolve()


def run(year: int, month: int, keep: bool, out_dir: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or demo_console()
    # The handler logs a JSON line per file, as it should on Lambda; the demo shows a summary.
    handler.logger.setLevel(logging.WARNING)
    settings = Settings.from_env()
    console.rule("[bold]Local stack")
    stack = local.up(settings)
    local.apply_environment(stack)
    console.print(
        f"AWS (moto server) at {stack.aws_endpoint}, BigQuery emulator at "
        f"{stack.bigquery_endpoint}; state in {stack.state_dir}",
        highlight=False,
    )
    try:
        summary = _run(settings, year, month, out_dir, console)
    finally:
        if keep:
            console.print('Stack left running (KEEP=1). Use it with: eval "$(.venv/bin/ingest local env)"')
        else:
            local.down()
            console.print("Stack stopped (set KEEP=1 to leave it running).")
    report_index.write_index(out_dir.parent)
    print_reports(written_reports(summary, out_dir.parent), console)
    return summary


def _run(settings: Settings, year: int, month: int, out_dir: Path, console: Console) -> dict[str, Any]:
    services = Services.from_env(settings)
    sqs = aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    reports_root = out_dir.parent

    generated = generate_month(year, month)
    manifest = generated.manifest()
    keys = {f.key for f in generated.files}
    planted = planted_failures(manifest, settings.lake_bucket)
    with human_logs(console, planted):
        console.rule(f"[bold]{year}-{month:02d}: {len(generated.files)} files generated")
        upload(services, generated, console)
        # The batch selects by S3 last-modified time: the files landed today (UTC).
        run_day = datetime.now(UTC).date()

        console.rule(f"[bold]The scheduler's batch run (ingest batch --date {run_day})")
        batch = batch_notebook(run_day, reports_root / "batches", planted, console)
        for line in batch_lines(batch) if batch["listed"] else []:
            console.print(line)
        if batch["error"]:
            console.print(Text(f"The batch notebook failed: {batch['error']}", style="red"))
        after_batch = ledger_summary(services.ledger.entries(), keys)
        tables_after_batch = fingerprints(services)

        console.rule("[bold]The same files' S3 events reach the Lambda handler, twice")
        first = process_queue(sqs, queue_url, len(generated.files), "Lambda handler (S3 events)", console)
        for start in range(0, len(first.bodies), 10):
            chunk = first.bodies[start : start + 10]
            sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )
        second = process_queue(sqs, queue_url, files_in(first.bodies), "Lambda handler (redelivery)", console)
        after_events = ledger_summary(services.ledger.entries(), keys)
        tables_after_events = fingerprints(services)

        console.rule("[bold]Finance: the month reconciled and reported (ingest report)")
        days = sorted({date.fromisoformat(b["date"]) for b in manifest["balances"]})
        month_period = Period(days[0], days[-1])
        finance = finance_report(services, month_period, reports_root / "reconciliation", console)

        console.rule("[bold]Operations: ingest health and ingest monitor")
        operations = operations_view(settings, reports_root / "monitoring", console)

    bodies = first.bodies + second.bodies
    expected_tables = manifest["expected_tables"]
    summary: dict[str, Any] = {
        "month": f"{year}-{month:02d}",
        **after_events,
        "load_jobs": batch.get("load_jobs", 0),
        "events_delivered": len(bodies),
        "events": {
            "files": len(generated.files),
            "file_events": files_in(bodies),
            "test_events": sum(files_in_message(body) == 0 for body in bodies),
            "files_loaded_added": after_events["files_loaded"] - after_batch["files_loaded"],
            "tables_changed": sorted(
                t for t in tables_after_events if tables_after_events[t] != tables_after_batch.get(t)
            ),
            "duplicates_skipped": after_events["duplicates_skipped"] - after_batch["duplicates_skipped"],
        },
        "bigquery_rows": {table: fingerprint.rows for table, fingerprint in tables_after_events.items()},
        "expected": {
            **{k: v for k, v in manifest["totals"].items() if k != "rows_in"},
            "rows_per_table": {p.table_id: expected_tables.get(p.name) for p in services.pipelines},
            "at_most_load_jobs": most_load_jobs({p.name: p.write_mode for p in services.pipelines}, manifest),
        },
    }
    summary["checks"] = checks(
        summary,
        manifest,
        finance,
        operations,
        batch,
        failed_uris=set(planted),
        report_files=len(report.OUTPUT_FILES),
    )
    summary["batch"] = batch
    summary["operations"] = {k: v for k, v in operations.items() if k != "failed_files"}
    figures = finance["figures"] or {}
    summary["reconciliation"] = {
        "report": finance["report"],
        "files": finance["files"],
        "error": finance["error"],
        "exceptions": figures.get("exceptions"),
        "headline": {k: v for k, v in figures.items() if k not in ("exceptions", "by_currency")},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print_summary(summary, console)
    return summary
