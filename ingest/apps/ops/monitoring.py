"""The monitoring report: how ingestion went over a period, from the ledger (and the queue).

``read_period`` reads the ledger's file items of the period (and back as far as the alarm rules
look) and evaluates the rules as of its end; ``summarize`` turns them into the report's tables
(``frames``); ``figures`` is the same as JSON, which ``write_figures`` writes as
``monitoring.json`` for a scheduler or a dashboard. ``monitoring_report`` runs
``notebooks/monitoring.py``, which shows them, into a no-code HTML report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ingest.apps.ops import frames, health
from ingest.apps.reports.present import masked
from ingest.core.settings import NOTEBOOKS_DIR

if TYPE_CHECKING:
    from ingest.apps.reports.notebook_run import NotebookRun
    from ingest.core.config import Pipeline
    from ingest.core.settings import Settings

MONITORING_NOTEBOOK = NOTEBOOKS_DIR / "monitoring.py"
FIGURES_FILE = "monitoring.json"


@dataclass(frozen=True)
class MonitoringPeriod:
    """The ledger's file items of a period and the alarm rules as of its end."""

    start: datetime
    end: datetime
    hours: float
    window: timedelta
    quarantine_rate_percent: float
    key_prefix: str
    pipelines: list[Pipeline]
    entries: list[Any]
    """FILE items under the key filter, read back as far as the rules look (see ``read_period``)."""
    every_file: pd.DataFrame
    """``entries`` as ``frames.file_frame``."""
    files: pd.DataFrame
    """The files whose outcome fell in the period."""
    redeliveries: list[Any]
    """Deliveries of a file already taken, skipped in the period."""
    checks: list[health.Check]
    queue_error: str | None
    """Why the queue could not be read (its rules are then NO_DATA), email-shaped text masked."""

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"

    @property
    def scope(self) -> str:
        """`` whose key contains `x` ``, or nothing without a key filter (Markdown)."""
        return f" whose key contains `{self.key_prefix}`" if self.key_prefix else ""


def parse_until(text: str) -> datetime:
    """The end of the period: ``text`` as an aware UTC datetime, or now."""
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _in_scope(entry: Any, key_prefix: str, end: datetime) -> bool:
    """Under the key filter, and claimed by the end of the period."""
    started = _moment(entry.started_at)
    return key_prefix in (entry.key or "") and started is not None and started <= end


def read_period(
    settings: Settings,
    *,
    hours: float,
    until: str = "",
    window_minutes: float = health.WINDOW.total_seconds() / 60,
    quarantine_rate_percent: float = health.QUARANTINE_RATE_PERCENT,
    key_prefix: str = "",
) -> MonitoringPeriod:
    """The ``hours`` ending at ``until`` (ISO 8601, UTC if no offset; empty: now) of the ledger
    named by ``settings``, for the files whose key contains ``key_prefix``."""
    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.core.config import load_pipelines
    from ingest.core.model import Status

    if float(hours) <= 0 or float(window_minutes) <= 0:
        raise ValueError(f"hours and window_minutes must be positive, got {hours} and {window_minutes}")
    pipelines = list(load_pipelines(settings.pipelines_dir))
    ledger = Ledger.from_settings(aws_client("dynamodb"), settings)
    end = parse_until(until)
    start = end - timedelta(hours=float(hours))
    window = timedelta(minutes=float(window_minutes))
    threshold = float(quarantine_rate_percent)
    rules = health.Rules.of(pipelines, threshold)
    longest_freshness = max(rules.freshness.values(), default=timedelta(0))
    # A file's outcome may come up to a lease after its claim, and the ledger's index is by claim time.
    lookback = min(start, end - window, end - longest_freshness) - timedelta(seconds=settings.lease_seconds)

    entries = [e for e in health.read_file_entries(ledger, lookback) if _in_scope(e, key_prefix, end)]
    every_file = frames.file_frame(entries, settings.max_attempts)
    in_period = (every_file["outcome_at"] > start) & (every_file["outcome_at"] <= end)
    files = every_file[in_period].reset_index(drop=True)
    # Redeliveries of a file already taken are items of their own (sk DELIVERY#...), not FILE items.
    skipped = ledger.entries(status=Status.SKIPPED_DUPLICATE, since=start.isoformat(timespec="milliseconds"))
    redeliveries = [e for e in skipped if e.sk != "FILE" and _in_scope(e, key_prefix, end)]

    queue_error = None
    try:
        queue = health.read_queue_state(aws_client("sqs"), aws_client("cloudwatch"), settings.queue_name, end)
    except Exception as err:  # the report still shows the ledger's rules
        queue_error = masked(f"{type(err).__name__}: {err}")
        queue = health.QueueState(visible=0, in_flight=0, dead_letters=0, oldest_message_seconds=None)
    checks = health.evaluate(
        entries,
        queue,
        [p.name for p in pipelines],
        rules,
        now=end,
        window=window,
        max_attempts=settings.max_attempts,
    )
    if queue_error:
        checks = [
            health.Check(c.rule, health.NO_DATA, None, c.threshold, f"queue not readable: {queue_error}")
            if c.rule in {"dead_letters", "oldest_message"}
            else c
            for c in checks
        ]
    return MonitoringPeriod(
        start=start,
        end=end,
        hours=float(hours),
        window=window,
        quarantine_rate_percent=threshold,
        key_prefix=key_prefix,
        pipelines=pipelines,
        entries=entries,
        every_file=every_file,
        files=files,
        redeliveries=redeliveries,
        checks=checks,
        queue_error=queue_error,
    )


@dataclass(frozen=True)
class MonitoringTables:
    """The report's tables of a period, as ``frames`` computes them."""

    headline: dict[str, int]
    throughput: pd.DataFrame
    latencies: dict[str, pd.DataFrame]
    latency: pd.DataFrame
    failures: pd.DataFrame
    latest_failures: pd.DataFrame
    quarantine: pd.DataFrame
    freshness: pd.DataFrame
    checks: list[dict[str, Any]]
    """The rules' verdicts as JSON, email-shaped text in messages and file names masked."""


def summarize(period: MonitoringPeriod) -> MonitoringTables:
    files = period.files
    latencies = frames.latency_seconds(files)
    checks = health.checks_as_json(period.checks)
    for check in checks:
        check["message"] = masked(check["message"])
        if "files" in check["details"]:
            check["details"]["files"] = [masked(uri) for uri in check["details"]["files"]]
    return MonitoringTables(
        headline=frames.headline_figures(files, len(period.redeliveries)),
        throughput=frames.hourly_throughput(files),
        latencies=latencies,
        latency=frames.latency_table(latencies),
        failures=frames.failures_by_type(files),
        latest_failures=frames.latest_failures(files),
        quarantine=frames.quarantine_rates(files, period.quarantine_rate_percent),
        freshness=frames.freshness_table(period.every_file, period.pipelines, period.checks, period.end),
        checks=checks,
    )


def figures(period: MonitoringPeriod, tables: MonitoringTables) -> dict[str, Any]:
    """The period's figures as ``monitoring.json`` holds them: plain JSON, no NaN."""
    figures: dict[str, Any] = plain(
        {
            "period": {
                "start": period.start,
                "until": period.end,
                "hours": period.hours,
                "key_prefix": period.key_prefix,
                "window_minutes": period.window.total_seconds() / 60,
                "quarantine_rate_percent": period.quarantine_rate_percent,
            },
            "headline": tables.headline,
            "throughput": records(tables.throughput),
            "latency": {
                pipeline: {
                    row["measure"]: {k: row[k] for k in ("files", "p50", "p90", "p99", "max")}
                    for row in records(group)
                }
                for pipeline, group in tables.latency.groupby("pipeline")
            },
            "failures_by_type": {
                error_type: int(group["files"].sum())
                for error_type, group in tables.failures.groupby("error_type")
            },
            "failures": records(tables.failures),
            "quarantine_rate": {row.pop("pipeline"): row for row in records(tables.quarantine)},
            "freshness": records(tables.freshness),
            "checks": tables.checks,
            "healthy": health.healthy(period.checks),
        }
    )
    return figures


def write_figures(figures: dict[str, Any], output_dir: str | Path) -> Path:
    """Write ``monitoring.json`` into ``output_dir`` (empty: the working folder)."""
    path = Path(output_dir or ".") / FIGURES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, allow_nan=False), encoding="utf-8")
    return path


def plain(value: Any) -> Any:
    """JSON-ready: numpy and pandas scalars as Python's, NaN and NaT as null, times as ISO text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [plain(row) for row in frame.to_dict("records")]


def monitoring_report(
    out_root: Path,
    *,
    hours: float = 24.0,
    until: datetime | None = None,
    window: timedelta = health.WINDOW,
    quarantine_rate_percent: float = health.QUARANTINE_RATE_PERCENT,
) -> NotebookRun:
    """Run ``notebooks/monitoring.py`` over the ``hours`` before ``until`` (now) into
    ``<out_root>/<until>/``: ``report.html``, ``monitoring.json`` and the executed notebook."""
    from ingest.apps.reports.notebook_run import run_notebook

    until = until or datetime.now(UTC)
    out_dir = out_root / until.strftime("%Y-%m-%dT%H%M%SZ")
    parameters = {
        "hours": float(hours),
        "until": until.isoformat(timespec="seconds"),
        "window_minutes": int(window.total_seconds() // 60),
        "quarantine_rate_percent": float(quarantine_rate_percent),
    }
    return run_notebook(MONITORING_NOTEBOOK, out_dir, parameters, title="Ingest monitoring")
