"""The end-to-end demo: a month of generated data lands in S3 and reaches BigQuery.

The scheduler's batch run (``ingest run``) loads the month with a few load jobs. The S3
notifications of the same files then reach the Lambda handler through SQS, and every event is
delivered once more: nothing loads twice and no table changes. Finance's report of the month
(``ingest report``) comes last. The summary is computed from the ledger, from BigQuery and from
the report's files, and compared with what the generator planted.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.adapters.bigquery.queries import TableFingerprint, table_fingerprint
from ingest.adapters.clients import aws_client
from ingest.apps import lambda_handler as handler
from ingest.apps.finance import alerts, report
from ingest.apps.finance.exports import EXCEPTIONS_FILE
from ingest.apps.finance.models import Tables, model_rows
from ingest.apps.finance.period import Period
from ingest.apps.ops import health, monitoring
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Status
from ingest.core.settings import Settings
from ingest.ingestion.flow import FILES_PER_LOAD
from ingest.ingestion.runs import BatchRun, run_batch
from ingest.ingestion.services import Services
from ingest_devstack import local, worker
from ingest_devstack.generate import GeneratedMonth, generate_month


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


def upload(services: Services, generated: GeneratedMonth, console: Console) -> None:
    with progress_bar(console) as progress:
        task = progress.add_task("upload to the lake", total=len(generated.files))
        for file in generated.files:
            services.s3.put_object(Bucket=services.settings.lake_bucket, Key=file.key, Body=file.body)
            progress.advance(task)


def process_queue(sqs: Any, queue_url: str, expected: int, label: str, console: Console) -> worker.DrainStats:
    with progress_bar(console) as progress:
        task = progress.add_task(label, total=expected)
        return worker.drain(
            sqs,
            queue_url,
            handler.handle,
            on_batch=lambda n: progress.advance(task, n),
        )


def _table_exists(services: Services, table_id: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        services.bigquery.get_table(f"{services.bigquery.project}.{table_id}")
    except NotFound:
        return False
    return True


def ledger_summary(entries: list[LedgerEntry], keys: set[str]) -> dict[str, Any]:
    files = [e for e in entries if e.sk == "FILE" and e.key in keys]
    loaded = [e for e in files if e.status == Status.LOADED]
    return {
        "files_seen": len(files),
        "files_loaded": len(loaded),
        "files_failed": sum(e.status == Status.FAILED for e in files),
        "files_in_progress": sum(e.status == Status.IN_PROGRESS for e in files),
        "duplicates_skipped": sum(e.status == Status.SKIPPED_DUPLICATE for e in entries if e.key in keys),
        "rows_in": sum(int(e.rows_in or 0) for e in loaded),
        "rows_loaded": sum(int(e.rows_loaded or 0) for e in loaded),
        "rows_quarantined": sum(int(e.rows_quarantined or 0) for e in loaded),
        "failures": dict(Counter(e.error_type for e in files if e.status == Status.FAILED)),
        "validation_failed": dict(sorted(_validation_counts(loaded, "failed").items())),
        "validation_warnings": dict(sorted(_validation_counts(loaded, "warnings").items())),
    }


def _validation_counts(entries: list[LedgerEntry], kind: str) -> Counter[str]:
    """Rows per expectation id over the files' ledger validation summaries."""
    counts: Counter[str] = Counter()
    for entry in entries:
        counts.update((entry.validation or {}).get(kind, {}))
    return counts


def planted_validation_defects(manifest: dict[str, Any], severity: str) -> dict[str, int]:
    """Rows the generator defaced for each expectation id, as a suite should count them."""
    checks = Counter(
        d["check"]
        for d in manifest.get("defects", [])
        if d["kind"] == "validation" and d["severity"] == severity
    )
    return dict(sorted(checks.items()))


def run(year: int, month: int, keep: bool, out_dir: Path, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    # The handler logs a JSON line per file, as it should on Lambda; the demo shows a summary.
    handler.logger.setLevel(logging.WARNING)
    settings = Settings.from_env()
    console.rule("[bold]Local stack")
    stack = local.up(settings)
    local.apply_environment(stack)
    try:
        return _run(settings, year, month, out_dir, console)
    finally:
        if keep:
            console.print(
                'Stack left running (KEEP=1). Point a shell at it with: eval "$(.venv/bin/ingest local env)"'
            )
        else:
            local.down()
            console.print("Stack stopped (set KEEP=1 to leave it running).")


def batch_run(services: Services, console: Console) -> BatchRun:
    with progress_bar(console) as progress:
        task = progress.add_task("batch run (ingest run)", total=None)
        return run_batch(
            services,
            services.settings.lake_bucket,
            on_listed=lambda total: progress.update(task, total=total),
            on_file=lambda _result: progress.advance(task),
        )


def fingerprints(services: Services) -> dict[str, TableFingerprint]:
    return {
        p.table_id: table_fingerprint(services.bigquery, p.table_id)
        for p in services.pipelines
        if _table_exists(services, p.table_id)
    }


def most_load_jobs(services: Services, manifest: dict[str, Any]) -> int:
    """Load jobs a batch of the month may use: one per FILES_PER_LOAD files of a merge or append
    pipeline, one per file of a replace pipeline."""
    files = Counter(f["pipeline"] for f in manifest["files"] if f["pipeline"] and not f["expect_failure"])
    modes = {p.name: p.write_mode for p in services.pipelines}
    return sum(n if modes[name] == "replace" else -(-n // FILES_PER_LOAD) for name, n in files.items())


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
            balance_key(r["day"], r["currency"]): _cents(r["difference"]) for r in balances.to_dict("records")
        },
    }


def balance_key(day: Any, currency: Any) -> str:
    """``2021-07-13 USD``: one daily statement of one currency."""
    return f"{str(day)[:10]} {currency}"


def _cents(value: Any) -> str | None:
    """An amount as ``-12.30`` whatever type the client returned it as; None stays None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"


def planted_balance_differences(manifest: dict[str, Any]) -> dict[str, str | None]:
    """What each day's statement in each currency must be short of: the net of that currency's
    records of the day that did not load (quarantined rows, the failed page)."""
    return {balance_key(b["date"], b["currency"]): _cents(b["not_loaded"]) for b in manifest["balances"]}


def operations_view(settings: Settings, out_root: Path, console: Console) -> dict[str, Any]:
    """``ingest health`` and ``ingest monitor`` on what the demo just did."""
    checks = health.check_health(settings)
    table = Table(title="ingest health: the template's alarm rules on the ledger and the queue")
    for column in ("rule", "pipeline", "state", "message"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(check.rule, check.pipeline or "", check.state, check.message)
    console.print(table)
    with console.status("running the monitoring notebook ..."):
        run = monitoring.monitoring_report(out_root, hours=6)
    figures: dict[str, Any] = {}
    if run.error is None and (run.executed.parent / "monitoring.json").is_file():
        figures = json.loads((run.executed.parent / "monitoring.json").read_text(encoding="utf-8"))
    failed = next(c for c in checks if c.rule == "failed_files")
    return {
        "healthy": health.healthy(checks),
        "alarms": sorted(f"{c.rule} {c.pipeline or ''}".strip() for c in checks if c.state == health.ALARM),
        "failed_files": set(failed.details.get("files", [])),
        "report": str(run.html) if run.html else None,
        "report_error": run.error,
        "files_failed_for_good": figures.get("headline", {}).get("files_failed_for_good", 0),
    }


def exception_keys(found: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """What the report's exceptions and the generator's discrepancies both name, comparably."""
    keys = [
        (str(d["date"]), d["kind"], d["paypal_transaction_id"] or "", d["item_code"] or "") for d in found
    ]
    return sorted(keys)


def _run(settings: Settings, year: int, month: int, out_dir: Path, console: Console) -> dict[str, Any]:
    services = Services.from_env(settings)
    sqs = aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]

    generated = generate_month(year, month)
    manifest = generated.manifest()
    keys = {f.key for f in generated.files}
    console.rule(f"[bold]{year}-{month:02d}: {len(generated.files)} files generated")
    upload(services, generated, console)

    console.rule("[bold]The scheduler's batch run")
    run = batch_run(services, console)
    after_batch = ledger_summary(services.ledger.entries(), keys)
    tables_after_batch = fingerprints(services)

    console.rule("[bold]The same files' S3 events reach the Lambda handler, then arrive once more")
    first = process_queue(sqs, queue_url, len(generated.files), "Lambda handler (S3 events)", console)
    for start in range(0, len(first.bodies), 10):
        batch = first.bodies[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)],
        )
    process_queue(sqs, queue_url, len(first.bodies), "Lambda handler (redelivery)", console)
    after_events = ledger_summary(services.ledger.entries(), keys)
    tables_after_events = fingerprints(services)

    console.rule("[bold]Finance: the month reconciled and reported (ingest report)")
    days = sorted({date.fromisoformat(b["date"]) for b in manifest["balances"]})
    finance = finance_report(services, Period(days[0], days[-1]), out_dir.parent / "reconciliation", console)

    console.rule(
        "[bold]Operations: the alarm rules (ingest health) and the monitoring report (ingest monitor)"
    )
    operations = operations_view(settings, out_dir.parent / "monitoring", console)
    failed_uris = {
        f"s3://{settings.lake_bucket}/{f['key']}" for f in manifest["files"] if f["expect_failure"]
    }

    totals = manifest["totals"]
    manifest_currencies = {b["currency"] for b in manifest["balances"]}  # USD, and EUR once converted
    expected_rows = {p.table_id: manifest["expected_tables"].get(p.name) for p in services.pipelines}
    summary = {
        "month": f"{year}-{month:02d}",
        **after_events,
        "load_jobs": len(run.loads),
        "events_delivered": first.messages * 2,
        "events": {
            "files_loaded_added": after_events["files_loaded"] - after_batch["files_loaded"],
            "tables_changed": sorted(
                t for t in tables_after_events if tables_after_events[t] != tables_after_batch.get(t)
            ),
            "duplicates_skipped": after_events["duplicates_skipped"] - after_batch["duplicates_skipped"],
        },
        "bigquery_rows": {table: fingerprint.rows for table, fingerprint in tables_after_events.items()},
        "expected": {
            "files": totals["files"],
            "files_expected_to_fail": totals["files_expected_to_fail"],
            "rows_expected_loaded": totals["rows_expected_loaded"],
            "rows_expected_quarantined": totals["rows_expected_quarantined"],
            "rows_per_table": expected_rows,
            "at_most_load_jobs": most_load_jobs(services, manifest),
        },
    }
    summary["checks"] = {
        "rows_in_equals_loaded_plus_quarantined": summary["rows_in"]
        == summary["rows_loaded"] + summary["rows_quarantined"],
        "events_after_the_batch_change_nothing": summary["events"]["files_loaded_added"] == 0
        and not summary["events"]["tables_changed"],
        "every_file_seen": summary["files_seen"] == totals["files"],
        "rows_match_generator": summary["rows_loaded"] == totals["rows_expected_loaded"]
        and summary["rows_quarantined"] == totals["rows_expected_quarantined"],
        "failures_match_generator": summary["files_failed"] == totals["files_expected_to_fail"],
        "validation_finds_exactly_the_planted_defects": summary["validation_failed"]
        == planted_validation_defects(manifest, "critical")
        and summary["validation_warnings"] == planted_validation_defects(manifest, "warning"),
        "one_row_per_business_key": summary["bigquery_rows"] == expected_rows,
        "few_load_jobs": summary["load_jobs"] <= summary["expected"]["at_most_load_jobs"],
        "report_written": finance["error"] is None and len(finance["files"]) == len(report.OUTPUT_FILES),
        "exceptions_are_the_planted_discrepancies": exception_keys(finance["exceptions"])
        == exception_keys(manifest["discrepancies"]),
        "balance_differences_are_what_did_not_load": finance["balance_differences"]
        == planted_balance_differences(manifest),
        "figures_cover_every_currency": bool(manifest_currencies)
        and manifest_currencies <= set((finance["figures"] or {}).get("by_currency") or {}),
        "alert_sent_for_reversals_and_chargebacks": finance["alert_sent"]
        == any(d["kind"] in ("reversal", "chargeback") for d in manifest["discrepancies"]),
        "health_names_every_failed_file": operations["failed_files"] >= failed_uris,
        "monitoring_report_counts_the_failures": operations["report_error"] is None
        and operations["files_failed_for_good"] >= len(failed_uris),
    }
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
    _print_summary(summary, out_dir, console)
    return summary


def _print_summary(summary: dict[str, Any], out_dir: Path, console: Console) -> None:
    table = Table(title=f"Demo {summary['month']}: what the ledger and BigQuery say")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name in (
        "files_seen",
        "files_loaded",
        "files_failed",
        "duplicates_skipped",
        "rows_in",
        "rows_loaded",
        "rows_quarantined",
    ):
        table.add_row(name, f"{summary[name]:,}")
    table.add_row("failures by type", ", ".join(f"{k}: {v}" for k, v in summary["failures"].items()) or "-")
    for kind in ("validation_failed", "validation_warnings"):
        label = "rows quarantined by check" if kind == "validation_failed" else "warnings by check"
        table.add_row(label, "\n".join(f"{k}: {v}" for k, v in summary[kind].items()) or "-")
    table.add_row("load jobs (batch run)", str(summary["load_jobs"]))
    table.add_row("S3 events delivered after the batch", f"{summary['events_delivered']:,}")
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
    console.print(table)
    for check, passed in summary["checks"].items():
        console.print(f"  {'[green]ok' if passed else '[red]FAILED'}[/] {check}")
    console.print(f"Summary written to {out_dir / 'summary.json'}")
    if summary["reconciliation"]["error"]:
        console.print(f"[red]The month's report failed: {summary['reconciliation']['error']}")
