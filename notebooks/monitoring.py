# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ingestion monitoring
#
# How ingestion went over a period, from the ingestion ledger (DynamoDB) alone: the files seen,
# loaded, failed and skipped; the alarm rules as they stand at the end of the period; throughput
# per pipeline and hour; how long files took from landing in the lake to being loaded; the
# failures by type; the share of rows quarantined; and how long each pipeline has been silent.
#
# Run it with papermill (or `ingest.apps.reports.notebook_run.run_notebook`, which also writes the no-code
# HTML report) for the `hours` ending at `until`. Next to the report it writes `monitoring.json`
# with the same figures, for a scheduler or a dashboard. Only S3 keys, counts, times, error types
# and error messages are shown, with anything shaped like an email address masked: no rows, so
# no payer data.

# %% tags=["parameters"]
hours = 24.0  # length of the period, ending at `until`
until = ""  # end of the period, ISO 8601 (UTC if no offset is given); empty: now
window_minutes = 60  # the window of the alarm rules (failed files, quarantine rate), as the alarms use
quarantine_rate_percent = 5.0  # alarm threshold; the alarms' default is monitor.QUARANTINE_RATE_PERCENT
key_prefix = ""  # only files whose S3 key contains this text; empty: every file
output_dir = ""  # where monitoring.json is written; empty: the working folder

# %%
import io
import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb_ledger import Ledger
from ingest.apps.finance.report import masked
from ingest.apps.ops import monitor
from ingest.core.config import load_pipelines
from ingest.core.model import Status
from ingest.core.settings import Settings

logging.getLogger("ingest").setLevel(logging.ERROR)
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_colwidth", None)

LATEST_FAILURES = 10  # failed files listed with their message
MESSAGE_CHARACTERS = 400  # an error message is cut after this many characters for display


def parse_until(text: str) -> datetime:
    """The end of the period: ``text`` as an aware UTC datetime, or now."""
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def in_scope(entry: Any, end: datetime) -> bool:
    """Under the key filter, and claimed by the end of the period."""
    started = moment(entry.started_at)
    return key_prefix in (entry.key or "") and started is not None and started <= end


def file_frame(entries: list[Any], max_attempts: int) -> pd.DataFrame:
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
                "pipeline": e.pipeline or monitor.UNROUTED,
                "status": str(e.status),
                "rows_in": int(e.rows_in or 0) if loaded else 0,
                "rows_loaded": int(e.rows_loaded or 0) if loaded else 0,
                "rows_quarantined": int(e.rows_quarantined or 0) if loaded else 0,
                "error_type": (e.error_type or "") if failed else "",
                "error_message": (e.error_message or "") if failed else "",
                "retryable": bool(e.retryable) if failed else False,
                "for_good": monitor.failed_for_good(e, max_attempts),
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
    rows = []
    for measure, seconds in measures.items():
        for pipeline, group in seconds.groupby("pipeline"):
            values = [float(s) for s in group["seconds"]]
            rows.append(
                {
                    "pipeline": pipeline,
                    "measure": measure,
                    "files": len(values),
                    **monitor.latency_percentiles(values),
                    "max": max(values),
                }
            )
    frame = pd.DataFrame(rows, columns=["pipeline", "measure", "files", "p50", "p90", "p99", "max"])
    return frame.sort_values(["pipeline", "measure"]).reset_index(drop=True)


def failures_by_type(files: pd.DataFrame) -> pd.DataFrame:
    failed = files[files["status"] == Status.FAILED]
    columns = ["error_type", "pipeline", "files", "failed_for_good", "will_retry"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    counts = failed.assign(retrying=~failed["for_good"]).groupby(["error_type", "pipeline"], as_index=False)
    counts = counts.agg(
        files=("uri", "size"), failed_for_good=("for_good", "sum"), will_retry=("retrying", "sum")
    )
    return (
        counts[columns].sort_values(["files", "error_type"], ascending=[False, True]).reset_index(drop=True)
    )


def latest_failures(files: pd.DataFrame, count: int) -> pd.DataFrame:
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
    rates["state"] = [monitor.ALARM if rate > threshold else monitor.OK for rate in rates["rate_percent"]]
    return rates.reset_index(drop=True)


def freshness_table(
    every: pd.DataFrame, pipelines: list[Any], checks: list[monitor.Check], end: datetime
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


def png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out.getvalue()


# --- read the ledger and the queue ----------------------------------------------------------------

settings = Settings.from_env()
pipelines = list(load_pipelines(settings.pipelines_dir))
ledger = Ledger(aws_client("dynamodb"), settings.ledger_table, settings.lease_seconds, settings.max_attempts)
if float(hours) <= 0 or float(window_minutes) <= 0:
    raise ValueError(f"hours and window_minutes must be positive, got {hours} and {window_minutes}")
end = parse_until(until)
start = end - timedelta(hours=float(hours))
window = timedelta(minutes=float(window_minutes))
threshold = float(quarantine_rate_percent)
rules = monitor.Rules.of(pipelines, threshold)
longest_freshness = max(rules.freshness.values(), default=timedelta(0))
# A file's outcome may come up to a lease after its claim, and the ledger's index is by claim time.
lookback = min(start, end - window, end - longest_freshness) - timedelta(seconds=settings.lease_seconds)

entries = [e for e in monitor.read_file_entries(ledger, lookback) if in_scope(e, end)]
every_file = file_frame(entries, settings.max_attempts)
files = every_file[(every_file["outcome_at"] > start) & (every_file["outcome_at"] <= end)].reset_index(
    drop=True
)
# Redeliveries of a file already taken are items of their own (sk DELIVERY#...), not FILE items.
redeliveries = [
    e
    for e in ledger.entries(status=Status.SKIPPED_DUPLICATE, since=start.isoformat(timespec="milliseconds"))
    if e.sk != "FILE" and in_scope(e, end)
]

queue_error = None
try:
    queue = monitor.read_queue_state(aws_client("sqs"), aws_client("cloudwatch"), settings.queue_name, end)
except Exception as err:  # the report still shows the ledger's rules
    queue_error = f"{type(err).__name__}: {err}"
    queue = monitor.QueueState(visible=0, in_flight=0, dead_letters=0, oldest_message_seconds=None)
checks = monitor.evaluate(
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
        monitor.Check(
            c.rule, monitor.NO_DATA, None, c.threshold, f"queue not readable: {masked(queue_error)}"
        )
        if c.rule in {"dead_letters", "oldest_message"}
        else c
        for c in checks
    ]

# --- the figures, written before anything that could break ----------------------------------------

headline = headline_figures(files, len(redeliveries))
throughput = hourly_throughput(files)
latencies = latency_seconds(files)
latency = latency_table(latencies)
failures = failures_by_type(files)
quarantine = quarantine_rates(files, threshold)
freshness = freshness_table(every_file, pipelines, checks, end)
checks_json = monitor.checks_as_json(checks)
for check in checks_json:
    check["message"] = masked(check["message"])
    if "files" in check["details"]:
        check["details"]["files"] = [masked(uri) for uri in check["details"]["files"]]

figures = plain(
    {
        "period": {
            "start": start,
            "until": end,
            "hours": float(hours),
            "key_prefix": key_prefix,
            "window_minutes": float(window_minutes),
            "quarantine_rate_percent": threshold,
        },
        "headline": headline,
        "throughput": records(throughput),
        "latency": {
            pipeline: {
                row["measure"]: {k: row[k] for k in ("files", "p50", "p90", "p99", "max")}
                for row in records(group)
            }
            for pipeline, group in latency.groupby("pipeline")
        },
        "failures_by_type": {
            error_type: int(group["files"].sum()) for error_type, group in failures.groupby("error_type")
        },
        "failures": records(failures),
        "quarantine_rate": {row.pop("pipeline"): row for row in records(quarantine)},
        "freshness": records(freshness),
        "checks": checks_json,
        "healthy": monitor.healthy(checks),
    }
)
monitoring_json = Path(output_dir or ".") / "monitoring.json"
monitoring_json.parent.mkdir(parents=True, exist_ok=True)
monitoring_json.write_text(json.dumps(figures, indent=2, allow_nan=False), encoding="utf-8")

try:
    from matplotlib.figure import Figure
except ImportError:  # the report goes on without its charts
    Figure = None
    print("No charts: matplotlib is not installed (pip install 'ingest[notebooks]').")

NOTHING = "No files in this period."
scope = f" whose key contains `{key_prefix}`" if key_prefix else ""

# %%
label = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
if files.empty and not redeliveries:
    display(Markdown(f"## Headline: {label}\n\n**No files in this period**{scope}."))
else:
    failed_line = (
        f"**{headline['files_failed']} failed** ({headline['files_failed_for_good']} for good)"
        if headline["files_failed"]
        else "none failed"
    )
    display(
        Markdown(
            f"## Headline: {label}\n\n"
            f"{headline['files_seen']:,} files{scope} in the {float(hours):g} hours: "
            f"{headline['files_loaded']:,} loaded, {failed_line}, "
            f"{headline['duplicates_skipped']:,} duplicate deliveries skipped. "
            f"{headline['rows_loaded']:,} rows loaded and {headline['rows_quarantined']:,} quarantined."
        )
    )
    names = {
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
    display(pd.DataFrame({"count": [headline[k] for k in names]}, index=list(names.values())))

# %% [markdown]
# ## Alarm rules
#
# Every alarm rule as of the end of the period: failed files and the quarantine rate over the
# last `window_minutes`, the dead-letter queue and the age of the oldest waiting event, and per
# pipeline with an expected interval (`freshness_minutes`) the time since its last load. These
# are the rules of the CloudWatch alarms in `deploy/template.yaml`, with the same thresholds
# (`ingest.apps.ops.monitor` holds both, and a test keeps them equal); `ingest health` applies them too.
# The queue is read as it is now, whatever the period. A rule with nothing to judge is OK, as
# the alarms treat missing data, except freshness: silence is what it catches.

# %%
verdict = "**Healthy**: no rule is in alarm." if monitor.healthy(checks) else None
if verdict is None:
    alarms = [c for c in checks if c.state == monitor.ALARM]
    verdict = f"**{len(alarms)} rule(s) in alarm**, highlighted below."
files_judged = f", for the files{scope}" if scope else ""
display(Markdown(f"As of {end:%Y-%m-%d %H:%M} UTC{files_judged}: {verdict}"))
if queue_error:
    print(f"The event queue could not be read: {masked(queue_error)}")
rule_table = pd.DataFrame(
    [
        {
            "rule": c["rule"],
            "pipeline": c["pipeline"] or "",
            "state": c["state"],
            "value": "" if c["value"] is None else round(float(c["value"]), 2),
            "threshold": c["threshold"],
            "message": c["message"],
        }
        for c in checks_json
    ]
)


def highlight_alarm(row: pd.Series) -> list[str]:
    colour = "background-color: #fde0dc; font-weight: bold" if row["state"] == monitor.ALARM else ""
    return [colour] * len(row)


# Every Styler below escapes its cells: keys, messages and error texts come from the lake.
display(rule_table.style.format(escape="html").apply(highlight_alarm, axis=1).hide(axis="index"))

# %% [markdown]
# ## Throughput
#
# Per pipeline and hour (UTC) of their outcome: files loaded and failed, rows loaded and
# quarantined. Hours without any file are left out of the table; the chart shows them as zero.
# `unrouted` holds files no pipeline takes.

# %%
if throughput.empty:
    print(NOTHING)
else:
    shown = throughput.assign(hour=throughput["hour"].dt.strftime("%Y-%m-%d %H:00"))
    display(shown.style.format(escape="html").hide(axis="index"))

# %%
if Figure is not None and not throughput.empty:
    from matplotlib.dates import DateFormatter, HourLocator

    first, last = (pd.Timestamp(t).tz_convert(None).floor("h") for t in (start, end))
    hours_axis = pd.date_range(first, last, freq="h")
    per_hour = throughput.assign(hour=throughput["hour"].dt.tz_convert(None))

    def hourly(column: str) -> pd.DataFrame:
        """Hours by pipelines, zero where nothing happened; pipelines with nothing at all left out."""
        table = per_hour.pivot_table(index="hour", columns="pipeline", values=column, aggfunc="sum")
        table = table.reindex(hours_axis).fillna(0)
        return table.loc[:, table.sum() > 0]

    figure = Figure(figsize=(10, 6))
    files_axes, rows_axes = figure.subplots(2, 1, sharex=True)
    width = 0.8 / 24  # days, the unit of matplotlib's date axis: 80% of an hour
    for axes, column, ylabel in (
        (files_axes, "files_loaded", "files loaded"),
        (rows_axes, "rows_loaded", "rows loaded"),
    ):
        table = hourly(column)
        bottom = pd.Series(0.0, index=hours_axis)
        for pipeline in table.columns:
            axes.bar(hours_axis, table[pipeline], bottom=bottom, width=width, align="edge", label=pipeline)
            bottom = bottom + table[pipeline]
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", alpha=0.3)
    failed_per_hour = hourly("files_failed").sum(axis=1)
    failed_per_hour = failed_per_hour[failed_per_hour > 0]
    if not failed_per_hour.empty:
        files_axes.plot(
            failed_per_hour.index + pd.Timedelta(minutes=24),
            failed_per_hour,
            linestyle="none",
            marker="x",
            color="#c62828",
            label="files failed (all pipelines)",
        )
    files_axes.set_title(f"Files and rows loaded per hour, {label}")
    files_axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    rows_axes.set_xlabel("hour (UTC)")
    rows_axes.set_xlim(hours_axis[0], hours_axis[-1] + pd.Timedelta(hours=1))
    rows_axes.xaxis.set_major_locator(HourLocator(interval=max(1, math.ceil(len(hours_axis) / 12))))
    rows_axes.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M"))
    figure.autofmt_xdate()
    alt = "Files and rows loaded per hour as bars stacked by pipeline, with files failed per hour as crosses"
    display(Image(data=png(figure), format="png", alt=alt))

# %% [markdown]
# ## Latency
#
# Two measures per pipeline, in seconds, as the pipeline's metrics have them:
# **landed to loaded** (`FileAgeSeconds`), from the object's S3 event time to its load, for
# loaded files (older ledger items without an event time are left out); and **claim to outcome**
# (`LoadSeconds`), from a worker taking the file to its outcome, whatever it was. Landed to
# loaded includes the time in the event queue and any retries. p50, p90 and p99 are
# interpolated linearly between the closest ranks (`ingest.apps.ops.monitor.latency_percentiles`).

# %%
if latency.empty:
    print(NOTHING)
else:
    display(
        latency.style.format(escape="html")
        .format({c: "{:.1f}" for c in ("p50", "p90", "p99", "max")})
        .hide(axis="index")
    )

# %%
if Figure is not None and not latency.empty:
    figure = Figure(figsize=(11, 4))
    measure_axes = figure.subplots(1, 2)
    titles = {"landed_to_loaded": "landed to loaded", "claim_to_outcome": "claim to outcome"}
    for axes, (measure, seconds) in zip(measure_axes, latencies.items(), strict=True):
        axes.set_title(titles[measure])
        axes.set_xlabel("seconds")
        axes.set_ylabel("files")
        if seconds.empty:
            axes.text(0.5, 0.5, "no files", ha="center", va="center", transform=axes.transAxes)
            continue
        low, high = max(float(seconds["seconds"].min()), 0.01), max(float(seconds["seconds"].max()), 0.02)
        # Latencies spread over orders of magnitude: log-spaced bins when they do.
        wide = high / low > 50
        bins = np.geomspace(low, high * 1.05, 30) if wide else np.linspace(0, high * 1.05, 30)
        for pipeline, group in seconds.groupby("pipeline"):
            axes.hist(
                group["seconds"].clip(lower=low), bins=bins, histtype="step", linewidth=1.5, label=pipeline
            )
        if wide:
            axes.set_xscale("log")
        axes.legend(frameon=False, fontsize="small")
    alt = "Histograms of landed-to-loaded and claim-to-outcome seconds per file, one outline per pipeline"
    display(Image(data=png(figure), format="png", alt=alt))

# %% [markdown]
# ## Failures
#
# Failed files by error type and pipeline. A file *failed for good* when its error is not one
# a retry can cure, or its attempts ran out: it is in the error bucket with its `.error.json`
# sidecar, and `ingest replay` loads it again after a fix. The others will be retried by the
# next delivery of their event. Below the counts, the latest failed files with their error
# message (email-shaped text masked; long messages cut).

# %%
if files.empty:
    print(NOTHING)
elif failures.empty:
    print("No file failed in this period.")
else:
    display(failures.style.format(escape="html").hide(axis="index"))
    latest = latest_failures(files, LATEST_FAILURES)
    display(Markdown(f"**The latest {len(latest)} failed file(s)**"))
    display(latest.style.format(escape="html").hide(axis="index"))

# %% [markdown]
# ## Quarantine rate
#
# Rows quarantined as a share of rows read, per pipeline, over the loaded files of the whole
# period, against the threshold (`quarantine_rate_percent`; the alarm judges each hour, so a
# bad hour can alarm while the period stays under it). Quarantined rows failed a conversion or
# a critical expectation; they are in the error bucket's `quarantine/` folder with their reason.

# %%
if quarantine.empty:
    print(NOTHING if files.empty else "No file was loaded in this period.")
else:
    rates_shown = quarantine.style.format(escape="html").apply(highlight_alarm, axis=1).hide(axis="index")
    display(rates_shown.format({"rate_percent": "{:.2f}", "threshold_percent": "{:g}"}, escape="html"))

# %%
if Figure is not None and not quarantine.empty:
    figure = Figure(figsize=(8, 0.5 * len(quarantine) + 1.5))
    axes = figure.subplots()
    colours = ["#c62828" if state == monitor.ALARM else "#2e7d32" for state in quarantine["state"]]
    axes.barh(quarantine["pipeline"], quarantine["rate_percent"], height=0.6, color=colours)
    axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}%")
    axes.invert_yaxis()
    axes.set_xlabel("rows quarantined, % of rows read")
    axes.set_xlim(left=0, right=max(threshold, float(quarantine["rate_percent"].max())) * 1.15)
    axes.set_title(f"Quarantine rate per pipeline, {label}")
    axes.legend(loc="lower right", frameon=False)
    alt = "Quarantine rate per pipeline as horizontal bars, with the alarm threshold as a dashed line"
    display(Image(data=png(figure), format="png", alt=alt))

# %% [markdown]
# ## Freshness
#
# Per pipeline: when its last file loaded, how long it has been silent at the end of the
# period, and how often a file is expected (`freshness_minutes` in its YAML). A pipeline
# without an expected interval is *not watched*: its sources arrive when they arrive. The ledger
# is read back to the longest expected interval (or the period, if longer): an earlier last load
# shows as none.

# %%
shown = freshness.assign(
    last_loaded_at=[
        f"{at:%Y-%m-%d %H:%M:%S}" if pd.notna(at) else "none" for at in freshness["last_loaded_at"]
    ],
    silence=freshness["silence_seconds"].map(span),
    expected_every=freshness["expected_seconds"].map(span),
)[["pipeline", "last_loaded_at", "silence", "expected_every", "state"]]
if shown.empty:
    print("No pipelines are configured.")
else:
    display(shown.style.format(escape="html").apply(highlight_alarm, axis=1).hide(axis="index"))
