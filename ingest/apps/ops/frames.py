"""The monitoring report's tables: the ledger's file items over a period as data frames.

One row per ledger ``FILE`` item (``file_frame``), then per pipeline and hour, per latency
measure, per error type, and per pipeline for the quarantine rate and freshness. Only keys,
counts, times, error types and messages (email-shaped text masked): no rows, so no payer data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from ingest.apps.ops.health import ALARM, OK, Check, failed_for_good
from ingest.apps.ops.metrics import UNROUTED, latency_percentiles
from ingest.apps.reports.present import masked
from ingest.core.model import Status

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

LATEST_FAILURES = 10  # failed files listed with their message
MESSAGE_CHARACTERS = 400  # an error message is cut after this many characters for display


def file_frame(entries: Sequence[Any], max_attempts: int) -> pd.DataFrame:
    """One row per ledger FILE item: times as UTC timestamps, rows counted for loaded files only."""
    columns = [
        "uri",
        "pipeline",
        "status",
        "rows_in",
        "rows_loaded",
        "rows_quarantined",
        "error_type",
        "error_message",
        "retryable",
        "for_good",
        "attempts",
        "event_time",
        "started_at",
        "finished_at",
        "outcome_at",
    ]
    rows = []
    for e in entries:
        loaded = e.status == Status.LOADED
        failed = e.status == Status.FAILED
        rows.append(
            {
                "uri": f"s3://{e.bucket}/{e.key}",
                "pipeline": e.pipeline or UNROUTED,
                "status": str(e.status),
                "rows_in": int(e.rows_in or 0) if loaded else 0,
                "rows_loaded": int(e.rows_loaded or 0) if loaded else 0,
                "rows_quarantined": int(e.rows_quarantined or 0) if loaded else 0,
                "error_type": (e.error_type or "") if failed else "",
                "error_message": (e.error_message or "") if failed else "",
                "retryable": bool(e.retryable) if failed else False,
                "for_good": failed_for_good(e, max_attempts),
                "attempts": int(e.attempts or 0),
                "event_time": e.event_time,
                "started_at": e.started_at,
                "finished_at": e.finished_at,
                "outcome_at": e.finished_at or e.started_at,
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("event_time", "started_at", "finished_at", "outcome_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def headline_figures(files: pd.DataFrame, redeliveries: int) -> dict[str, int]:
    """Files seen, loaded, failed and skipped, and rows read, loaded and quarantined."""
    status = files["status"]
    same_bytes = int((status == Status.SKIPPED_DUPLICATE).sum())
    return {
        "files_seen": len(files),
        "files_loaded": int((status == Status.LOADED).sum()),
        "files_failed": int((status == Status.FAILED).sum()),
        "files_failed_for_good": int(files["for_good"].sum()),
        "files_in_progress": int((status == Status.IN_PROGRESS).sum()),
        "duplicates_skipped": same_bytes + redeliveries,
        "redeliveries_skipped": redeliveries,
        "same_bytes_skipped": same_bytes,
        "rows_in": int(files["rows_in"].sum()),
        "rows_loaded": int(files["rows_loaded"].sum()),
        "rows_quarantined": int(files["rows_quarantined"].sum()),
    }


def hourly_throughput(files: pd.DataFrame) -> pd.DataFrame:
    """Files loaded and failed and rows loaded and quarantined per pipeline and hour of outcome."""
    done = files[files["status"].isin([Status.LOADED, Status.FAILED])]
    columns = ["pipeline", "hour", "files_loaded", "files_failed", "rows_loaded", "rows_quarantined"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    done = done.assign(
        hour=done["outcome_at"].dt.floor("h"),
        loaded=(done["status"] == Status.LOADED).astype(int),
        failed=(done["status"] == Status.FAILED).astype(int),
    )
    per_hour = done.groupby(["pipeline", "hour"], as_index=False).agg(
        files_loaded=("loaded", "sum"),
        files_failed=("failed", "sum"),
        rows_loaded=("rows_loaded", "sum"),
        rows_quarantined=("rows_quarantined", "sum"),
    )
    return per_hour[columns].sort_values(["hour", "pipeline"]).reset_index(drop=True)


def latency_seconds(files: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per measure, one row per file: its pipeline and seconds (the measures of the EMF metrics).

    landed_to_loaded: the object's S3 event time to the ledger's LOADED (FileAgeSeconds).
    claim_to_outcome: the worker's claim to the file's outcome, whatever it was (LoadSeconds).
    """
    loaded = files[(files["status"] == Status.LOADED) & files["event_time"].notna()]
    finished = files[files["finished_at"].notna() & files["started_at"].notna()]
    return {
        "landed_to_loaded": pd.DataFrame(
            {
                "pipeline": loaded["pipeline"],
                "seconds": (loaded["finished_at"] - loaded["event_time"]).dt.total_seconds().clip(lower=0),
            }
        ),
        "claim_to_outcome": pd.DataFrame(
            {
                "pipeline": finished["pipeline"],
                "seconds": (finished["finished_at"] - finished["started_at"])
                .dt.total_seconds()
                .clip(lower=0),
            }
        ),
    }


def latency_table(measures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per pipeline and measure: files, p50, p90, p99 and the longest, in seconds."""
    rows = []
    for measure, seconds in measures.items():
        for pipeline, group in seconds.groupby("pipeline"):
            values = [float(s) for s in group["seconds"]]
            rows.append(
                {
                    "pipeline": pipeline,
                    "measure": measure,
                    "files": len(values),
                    **latency_percentiles(values),
                    "max": max(values),
                }
            )
    frame = pd.DataFrame(rows, columns=["pipeline", "measure", "files", "p50", "p90", "p99", "max"])
    return frame.sort_values(["pipeline", "measure"]).reset_index(drop=True)


def failures_by_type(files: pd.DataFrame) -> pd.DataFrame:
    """Failed files per error type and pipeline: how many, failed for good and to be retried."""
    failed = files[files["status"] == Status.FAILED]
    columns = ["error_type", "pipeline", "files", "failed_for_good", "will_retry"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    groups = failed.assign(retrying=~failed["for_good"]).groupby(["error_type", "pipeline"], as_index=False)
    counts: pd.DataFrame = groups.agg(
        files=("uri", "size"), failed_for_good=("for_good", "sum"), will_retry=("retrying", "sum")
    )
    return (
        counts[columns].sort_values(["files", "error_type"], ascending=[False, True]).reset_index(drop=True)
    )


def latest_failures(files: pd.DataFrame, count: int = LATEST_FAILURES) -> pd.DataFrame:
    """The latest ``count`` failed files with their error message (email-shaped text masked, long
    messages cut)."""
    failed = files[files["status"] == Status.FAILED].sort_values("outcome_at", ascending=False).head(count)

    def short(message: str) -> str:
        text = masked(message)
        return text if len(text) <= MESSAGE_CHARACTERS else text[:MESSAGE_CHARACTERS] + "…"

    return pd.DataFrame(
        {
            "failed_at": failed["outcome_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "pipeline": failed["pipeline"],
            "file": failed["uri"].map(masked),
            "error_type": failed["error_type"],
            "attempts": failed["attempts"],
            "will_retry": ~failed["for_good"],
            "message": failed["error_message"].map(short),
        }
    ).reset_index(drop=True)


def quarantine_rates(files: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Rows quarantined as a share of rows read, over the period's loaded files, per pipeline."""
    loaded = files[files["status"] == Status.LOADED]
    columns = ["pipeline", "files", "rows_in", "rows_loaded", "rows_quarantined", "rate_percent"]
    if loaded.empty:
        return pd.DataFrame(columns=[*columns, "threshold_percent", "state"])
    rates = loaded.groupby("pipeline", as_index=False).agg(
        files=("uri", "size"),
        rows_in=("rows_in", "sum"),
        rows_loaded=("rows_loaded", "sum"),
        rows_quarantined=("rows_quarantined", "sum"),
    )
    rates["rate_percent"] = [
        round(100.0 * q / n, 4) if n else 0.0
        for q, n in zip(rates["rows_quarantined"], rates["rows_in"], strict=True)
    ]
    rates["threshold_percent"] = threshold
    rates["state"] = [ALARM if rate > threshold else OK for rate in rates["rate_percent"]]
    return rates.reset_index(drop=True)


def freshness_table(
    every: pd.DataFrame, pipelines: Sequence[Any], checks: Sequence[Check], end: datetime
) -> pd.DataFrame:
    """Per pipeline: the last file loaded, the silence since, the expected interval and the rule's state."""
    states = {c.pipeline: c.state for c in checks if c.rule == "freshness"}
    loaded = every[every["status"] == Status.LOADED]
    last = loaded.groupby("pipeline")["finished_at"].max()
    rows = []
    for pipeline in sorted(pipelines, key=lambda p: p.name):
        at = last.get(pipeline.name)
        at = None if at is None or pd.isna(at) else at.to_pydatetime()
        rows.append(
            {
                "pipeline": pipeline.name,
                "last_loaded_at": at,
                "silence_seconds": (end - at).total_seconds() if at else None,
                "expected_seconds": 60.0 * pipeline.freshness_minutes if pipeline.freshness_minutes else None,
                "state": states.get(pipeline.name, "not watched"),
            }
        )
    return pd.DataFrame(
        rows, columns=["pipeline", "last_loaded_at", "silence_seconds", "expected_seconds", "state"]
    )


def span(seconds: float | None) -> str:
    """``5400`` -> ``1 h 30 min``; for tables."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours_, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours_} h" if hours_ else "",
        f"{minutes} min" if minutes else "",
    ]
    if not days and not hours_:
        parts.append(f"{secs} s" if secs or not minutes else "")
    return " ".join(p for p in parts if p) or "0 s"


# -- as the report shows them --------------------------------------------------------------------

HEADLINE_LABELS = {
    "files_seen": "files seen",
    "files_loaded": "loaded",
    "files_failed": "failed",
    "files_failed_for_good": "of which failed for good (no retry will come)",
    "files_in_progress": "being loaded now",
    "duplicates_skipped": "duplicates skipped",
    "redeliveries_skipped": "of which redeliveries of a file already taken",
    "same_bytes_skipped": "of which files with the same bytes as one loaded",
    "rows_in": "rows read",
    "rows_loaded": "rows loaded",
    "rows_quarantined": "rows quarantined",
}


def headline_table(headline: dict[str, int]) -> pd.DataFrame:
    """The headline's counts, one labelled row each."""
    counts = [headline[k] for k in HEADLINE_LABELS]
    return pd.DataFrame({"count": counts}, index=list(HEADLINE_LABELS.values()))


def rule_table(checks: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rules' verdicts (``health.checks_as_json``) one per row, values rounded for reading."""
    return pd.DataFrame(
        [
            {
                "rule": c["rule"],
                "pipeline": c["pipeline"] or "",
                "state": c["state"],
                "value": _figure(c["value"]),
                "threshold": _figure(c["threshold"]),
                "message": c["message"],
            }
            for c in checks
        ]
    )


def _figure(value: float | None) -> str:
    """A rule's value or threshold as people write it: 2, 0.74, 3,600 (a float column showed 2.000000)."""
    if value is None:
        return ""
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def freshness_shown(freshness: pd.DataFrame) -> pd.DataFrame:
    """``freshness_table`` with its times and intervals written for people."""
    return freshness.assign(
        last_loaded_at=[
            f"{at:%Y-%m-%d %H:%M:%S}" if pd.notna(at) else "none" for at in freshness["last_loaded_at"]
        ],
        silence=freshness["silence_seconds"].map(span),
        expected_every=freshness["expected_seconds"].map(span),
    )[["pipeline", "last_loaded_at", "silence", "expected_every", "state"]]


def highlight_alarm(row: pd.Series) -> list[str]:
    """A row style of ``styled``: rows in alarm stand out."""
    colour = "background-color: #fde0dc; font-weight: bold" if row["state"] == ALARM else ""
    return [colour] * len(row)


def styled(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    highlight: bool = False,
    index: bool = False,
) -> Styler:
    """``frame`` as the monitoring report shows it, every cell escaped as HTML.

    Keys, error messages and pipeline names come from the lake and the ledger, so no cell may
    become markup. ``formats`` (column -> format string) are escaped as well: a later
    ``Styler.format`` call without ``escape`` would replace the escaping of its columns.
    ``highlight`` marks rows in alarm (the frame needs a ``state`` column).
    """
    shown = frame.style.format(escape="html")
    if formats:
        shown = shown.format(dict(formats), escape="html")
    if highlight:
        shown = shown.apply(highlight_alarm, axis=1)
    return shown if index else shown.hide(axis="index")
