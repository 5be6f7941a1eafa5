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
# # Ingest batch
#
# One batch run from the lake into BigQuery, and what it did: the files it found, loaded,
# skipped and failed per pipeline, its load jobs, the validation results of its files and each
# failure with its reason. A run for `run_date` D ingests every object under the prefix that
# landed by the end of D (UTC) and is not in the ledger yet, so a day a run missed is picked up
# by the next one, and a second run for the same day loads nothing twice.
#
# A scheduler runs it as `ingest batch --date D`, which executes this notebook with papermill and
# keeps it, with a no-code HTML report, under `reports/batches/<run_id>/`. The last cell fails
# the run when a file failed, once everything is documented. Only URIs, counts, error types and
# messages are shown: no rows, so no payer data.

# %% tags=["parameters"]
bucket = ""  # empty: the lake bucket of the environment (INGEST_LAKE_BUCKET)
prefix = ""  # only keys under this prefix
run_date = ""  # YYYY-MM-DD: objects that landed by the end of this day (UTC); empty: today
pipeline = ""  # only files of this pipeline; empty: all pipelines
max_files_per_load = 250  # files combined into one load job
run_id = ""  # empty: the run makes one up
output_dir = ""  # where batch.json is written; empty: the working folder

# %%
import io
import json
import logging
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from ingest.apps.ops import validation_results
from ingest.apps.reports.batch_notebook import FilesFailed
from ingest.core.model import Status
from ingest.ingestion.runs import run_batch
from ingest.ingestion.services import Services

# Every failure is tabled below; the package's per-file warnings on stderr would only repeat them.
logging.getLogger("ingest").setLevel(logging.ERROR)
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_colwidth", None)

services = Services.from_env()
settings = services.settings
bucket = bucket or settings.lake_bucket
day = date.fromisoformat(run_date) if run_date else datetime.now(UTC).date()
until = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)

run = run_batch(
    services,
    bucket,
    prefix,
    until=until,
    pipeline=pipeline or None,
    max_files_per_load=int(max_files_per_load),
    run_id=run_id or None,
)
# Before anything that could break: the scheduler's exit code is read from this file.
account = run.to_dict()
batch_json = Path(output_dir or ".") / "batch.json"
batch_json.parent.mkdir(parents=True, exist_ok=True)
with batch_json.open("w", encoding="utf-8") as out:
    json.dump(account, out, indent=2, default=str)

# %%
statuses = [result.status for result in run.results]
headline = pd.DataFrame(
    {
        "files": [
            run.listed,
            run.already_done,
            len(run.results),
            statuses.count(Status.LOADED),
            statuses.count(Status.SKIPPED_DUPLICATE) + statuses.count(Status.IGNORED),
            len(run.failed),
            len(run.loads),
        ]
    },
    index=[
        "listed (landed by the end of the day)",
        "already in the ledger",
        "processed in this run",
        "loaded",
        "skipped (duplicates, folder markers)",
        "failed",
        "load jobs",
    ],
)
scope = f"Objects under `s3://{bucket}/{prefix}` last modified before `{until.isoformat()}`"
if pipeline:
    scope += f", pipeline `{pipeline}` only"
times = f"started `{run.started_at}`, finished `{run.finished_at}`"
failed = len(run.failed)
verdict = f"**Failed: {failed} of {len(run.results)} files.**" if failed else "**No file failed.**"
display(Markdown(f"## Run `{run.run_id}`\n\n{scope}; {times}. {verdict}"))
display(headline)
for warning in run.warnings:
    print(f"warning: {warning}")

# %% [markdown]
# ## Per pipeline
#
# `(none)` holds files no pipeline took: unroutable keys and folder markers. For every pipeline
# `rows_in = rows_loaded + rows_quarantined` over its loaded files.

# %%
per_pipeline = pd.DataFrame.from_dict(run.by_pipeline(), orient="index")
if per_pipeline.empty:
    print("Nothing new to ingest.")
else:
    per_pipeline.index = [name or "(none)" for name in per_pipeline.index]
    per_pipeline.index.name = "pipeline"
    display(per_pipeline)

# %% [markdown]
# ## Rows loaded and quarantined

# %%
try:
    from matplotlib.figure import Figure
except ImportError:  # the report goes on without its chart
    Figure = None
    print("No chart: matplotlib is not installed (pip install 'ingest[notebooks]').")

rows = per_pipeline.reindex(columns=["rows_loaded", "rows_quarantined"]).fillna(0)
rows = rows[rows.sum(axis=1) > 0]
if Figure is not None and not rows.empty:
    # A figure of its own, rendered to PNG here: no pyplot state or backend, and the PNG is
    # what the HTML report embeds.
    figure = Figure(figsize=(8, 0.5 * len(rows) + 1.2))
    axes = figure.subplots()
    names = list(rows.index)
    loaded, quarantined = rows["rows_loaded"], rows["rows_quarantined"]
    axes.barh(names, loaded, height=0.6, label="loaded", color="#2e7d32")
    axes.barh(names, quarantined, height=0.6, left=loaded, label="quarantined", color="#c62828")
    axes.invert_yaxis()
    axes.set_xlabel("rows")
    axes.set_title(f"Rows per pipeline, run {run.run_id}")
    axes.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), frameon=False)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100, bbox_inches="tight")
    display(Image(data=png.getvalue(), format="png", alt="Rows loaded and quarantined per pipeline"))
elif Figure is not None:
    print("No rows loaded or quarantined in this run.")

# %% [markdown]
# ## Load jobs
#
# Files of one append or merge pipeline share load jobs; each file of a replace pipeline is a
# load of its own. Inserted and updated rows are known for merge pipelines.

# %%
load_columns = ["job_id", "pipeline", "table", "files", "rows_loaded", "rows_inserted", "rows_updated"]
loads = pd.DataFrame([asdict(load) for load in run.loads], columns=load_columns)
# Inserted and updated counts exist for merge loads only; "-" elsewhere. Int64 first: a column
# with a missing count is float to pandas, and 933 would show as 933.0.
counts = {"rows_inserted": "Int64", "rows_updated": "Int64"}
loads = loads.astype(counts).astype({name: object for name in counts}).fillna("-")
if loads.empty:
    print("No load jobs in this run.")
else:
    display(loads)

# %% [markdown]
# ## Failures
#
# A failed file is kept in the error bucket (`failed/<bucket>/<key>`, with a `.error.json`
# sidecar) unless it will be retried; `ingest replay` ingests it again after a fix.

# %%
failures = pd.DataFrame(
    [
        {
            "source_uri": result.ref.uri,
            "pipeline": result.pipeline or "(none)",
            "error_type": result.error_type,
            "message": result.message,
            "will_retry": result.retryable,
        }
        for result in run.failed
    ],
    columns=["source_uri", "pipeline", "error_type", "message", "will_retry"],
)
if failures.empty:
    print("No file failed.")
else:
    display(failures.groupby("error_type").size().rename("files").to_frame())
    display(failures)

# %% [markdown]
# ## Files with quarantined rows
#
# Their rows that could not be coerced or failed a critical expectation are in the error
# bucket's `quarantine/` folder, one line each with its reason; the other rows loaded.

# %%
files = pd.DataFrame(
    account["files"], columns=["uri", "pipeline", "status", "rows_in", "rows_loaded", "rows_quarantined"]
)
quarantining = files[files["rows_quarantined"] > 0].sort_values("rows_quarantined", ascending=False)
if quarantining.empty:
    print("No file of this run had rows quarantined.")
else:
    display(quarantining.reset_index(drop=True))

# %% [markdown]
# ## Validation results
#
# Each validated file's latest results in `<ops dataset>.validation_results`, for the files of
# this run. Only counts: the rows that failed stay in the quarantine files.

# %%
# Validated since the run started: what an earlier run found in the same file is not this run's.
validation = validation_results.latest_results(
    services.bigquery,
    settings.ops_dataset,
    [result.ref.identity for result in run.results],
    since=datetime.fromisoformat(run.started_at),
)

if validation.empty:
    print("No file of this run was validated (its pipelines have no suite, or nothing was processed).")
else:
    display(validation_results.suite_outcomes(validation))

# %%
if not validation.empty:
    by_expectation = validation_results.failed_expectations(validation, with_errors=False)
    if by_expectation.empty:
        print("Every expectation passed on every validated file.")
    else:
        display(Markdown("**Failed expectations** (critical ones quarantine rows or fail the file)"))
        display(by_expectation)

# %% [markdown]
# ## Outcome

# %%
if run.failed:
    raise FilesFailed(
        f"{len(run.failed)} of {len(run.results)} files failed in run {run.run_id}: see Failures above"
    )
print(f"Run {run.run_id}: {len(run.results)} files processed, none failed.")
