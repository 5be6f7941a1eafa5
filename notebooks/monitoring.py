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
quarantine_rate_percent = 5.0  # alarm threshold; the alarms' default is health.QUARANTINE_RATE_PERCENT
key_prefix = ""  # only files whose S3 key contains this text; empty: every file
output_dir = ""  # where monitoring.json is written; empty: the working folder

# %%
import logging

import pandas as pd
from IPython.display import Image, Markdown, display

from ingest.apps.ops import charts, frames, health, monitoring
from ingest.core.settings import Settings

logging.getLogger("ingest").setLevel(logging.ERROR)
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_colwidth", None)

period = monitoring.read_period(
    Settings.from_env(),
    hours=float(hours),
    until=until,
    window_minutes=float(window_minutes),
    quarantine_rate_percent=float(quarantine_rate_percent),
    key_prefix=key_prefix,
)
tables = monitoring.summarize(period)
# The figures, written before anything that could break.
monitoring.write_figures(monitoring.figures(period, tables), output_dir)

files, headline, checks = period.files, tables.headline, period.checks
label, scope = period.label, period.scope
NOTHING = "No files in this period."
if not charts.available():  # the report goes on without its charts
    print("No charts: matplotlib is not installed (pip install 'ingest[notebooks]').")

# %%
if files.empty and not period.redeliveries:
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
            f"{headline['files_seen']:,} files{scope} in the {period.hours:g} hours: "
            f"{headline['files_loaded']:,} loaded, {failed_line}, "
            f"{headline['duplicates_skipped']:,} duplicate deliveries skipped. "
            f"{headline['rows_loaded']:,} rows loaded and {headline['rows_quarantined']:,} quarantined."
        )
    )
    display(frames.styled(frames.headline_table(headline), index=True))

# %% [markdown]
# ## Alarm rules
#
# Every alarm rule as of the end of the period: failed files and the quarantine rate over the
# last `window_minutes`, the dead-letter queue and the age of the oldest waiting event, and per
# pipeline with an expected interval (`freshness_minutes`) the time since its last load. These
# are the rules of the CloudWatch alarms in `deploy/template.yaml`, with the same thresholds
# (`ingest.apps.ops.health` holds both, and a test keeps them equal); `ingest health` applies them too.
# The queue is read as it is now, whatever the period. A rule with nothing to judge is OK, as
# the alarms treat missing data, except freshness: silence is what it catches.

# %%
verdict = "**Healthy**: no rule is in alarm." if health.healthy(checks) else None
if verdict is None:
    alarms = [c for c in checks if c.state == health.ALARM]
    verdict = f"**{len(alarms)} rule(s) in alarm**, highlighted below."
files_judged = f", for the files{scope}" if scope else ""
display(Markdown(f"As of {period.end:%Y-%m-%d %H:%M} UTC{files_judged}: {verdict}"))
if period.queue_error:
    print(f"The event queue could not be read: {period.queue_error}")
# Every table goes through frames.styled, which escapes its cells: keys, messages and error
# texts come from the lake.
display(frames.styled(frames.rule_table(tables.checks), highlight=True))

# %% [markdown]
# ## Throughput
#
# Per pipeline and hour (UTC) of their outcome: files loaded and failed, rows loaded and
# quarantined. Hours without any file are left out of the table; the chart shows them as zero.
# `unrouted` holds files no pipeline takes.

# %%
throughput = tables.throughput
if throughput.empty:
    print(NOTHING)
else:
    shown = throughput.assign(hour=throughput["hour"].dt.strftime("%Y-%m-%d %H:00"))
    display(frames.styled(shown))

# %%
if charts.available() and not throughput.empty:
    alt = "Files and rows loaded per hour as bars stacked by pipeline, with files failed per hour as crosses"
    png = charts.throughput_png(throughput, period.start, period.end, label)
    display(Image(data=png, format="png", alt=alt))

# %% [markdown]
# ## Latency
#
# Two measures per pipeline, in seconds, as the pipeline's metrics have them:
# **landed to loaded** (`FileAgeSeconds`), from the object's S3 event time to its load, for
# loaded files (older ledger items without an event time are left out); and **claim to outcome**
# (`LoadSeconds`), from a worker taking the file to its outcome, whatever it was. Landed to
# loaded includes the time in the event queue and any retries. p50, p90 and p99 are
# interpolated linearly between the closest ranks (`ingest.apps.ops.metrics.latency_percentiles`).

# %%
latency = tables.latency
if latency.empty:
    print(NOTHING)
else:
    display(frames.styled(latency, {c: "{:.1f}" for c in ("p50", "p90", "p99", "max")}))

# %%
if charts.available() and not latency.empty:
    alt = "Histograms of landed-to-loaded and claim-to-outcome seconds per file, one outline per pipeline"
    display(Image(data=charts.latency_png(tables.latencies), format="png", alt=alt))

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
elif tables.failures.empty:
    print("No file failed in this period.")
else:
    display(frames.styled(tables.failures))
    latest = tables.latest_failures
    display(Markdown(f"**The latest {len(latest)} failed file(s)**"))
    display(frames.styled(latest))

# %% [markdown]
# ## Quarantine rate
#
# Rows quarantined as a share of rows read, per pipeline, over the loaded files of the whole
# period, against the threshold (`quarantine_rate_percent`; the alarm judges each hour, so a
# bad hour can alarm while the period stays under it). Quarantined rows failed a conversion or
# a critical expectation; they are in the error bucket's `quarantine/` folder with their reason.

# %%
quarantine = tables.quarantine
if quarantine.empty:
    print(NOTHING if files.empty else "No file was loaded in this period.")
else:
    rate_formats = {"rate_percent": "{:.2f}", "threshold_percent": "{:g}"}
    display(frames.styled(quarantine, rate_formats, highlight=True))

# %%
if charts.available() and not quarantine.empty:
    alt = "Quarantine rate per pipeline as horizontal bars, with the alarm threshold as a dashed line"
    png = charts.quarantine_png(quarantine, period.quarantine_rate_percent, label)
    display(Image(data=png, format="png", alt=alt))

# %% [markdown]
# ## Freshness
#
# Per pipeline: when its last file loaded, how long it has been silent at the end of the
# period, and how often a file is expected (`freshness_minutes` in its YAML). A pipeline
# without an expected interval is *not watched*: its sources arrive when they arrive. The ledger
# is read back to the longest expected interval (or the period, if longer): an earlier last load
# shows as none.

# %%
shown = frames.freshness_shown(tables.freshness)
if shown.empty:
    print("No pipelines are configured.")
else:
    display(frames.styled(shown, highlight=True))
