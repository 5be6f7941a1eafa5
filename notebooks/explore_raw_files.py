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
# # Explore raw lake files
#
# Look at what landed in the lake before (or after) it is ingested: the newest objects under a
# prefix, how one of them reads (format, columns, errors, a masked sample), what a pipeline
# would load and quarantine, and what the ledger says about it. Nothing here loads or moves data.
#
# Run it in JupyterLab with `make lab` (local stack), or with papermill:
# `papermill explore_raw_files.ipynb ../reports/explore.ipynb -p prefix paypal/transactions/`.
# All the logic lives in `ingest.apps.tools`; this notebook only calls it and shows the results.

# %% tags=["parameters"]
bucket = ""  # empty: the lake bucket of the environment (INGEST_LAKE_BUCKET)
prefix = "payments/transactions/"  # where to list objects
key = ""  # empty: the newest object under the prefix
pipeline = "auto"  # a pipeline name, "auto" to route by key, or "" to skip the pipeline check

# %%
import pandas as pd
from IPython.display import JSON, display

from ingest.apps.tools.browse import ledger_entries, recent_objects
from ingest.apps.tools.inspect import inspect_file
from ingest.core.settings import Settings
from ingest_devstack import local

# A running local stack wins; otherwise the environment as it is (real AWS, or exports).
if local.status()["running"]:
    stack = local.apply_environment()
    print(f"Using the local stack: {stack.aws_endpoint}")
else:
    print("No local stack running: using the environment as it is.")
bucket = bucket or Settings.from_env().lake_bucket

# %% [markdown]
# ## Newest objects under the prefix

# %%
objects = pd.DataFrame(recent_objects(bucket, prefix, limit=20), columns=["key", "size", "last_modified"])
if not key:
    if objects.empty:
        raise LookupError(f"no objects under s3://{bucket}/{prefix}; set `key` or another `prefix`")
    key = objects.iloc[0]["key"]
print(f"Inspecting s3://{bucket}/{key}")
objects

# %% [markdown]
# ## How the file reads

# %%
report = inspect_file(f"s3://{bucket}/{key}", pipeline=pipeline or None)
print(
    f"format: {report.format}, compression: {report.compression or 'none'}, "
    f"encoding: {report.encoding}, rows: {report.rows}, rows with errors: {report.rows_with_errors}"
)
for warning in report.warnings:
    print(f"warning: {warning}")
if report.file_error:
    print(f"file error: {report.file_error.error_type}: {report.file_error.message}")
pd.DataFrame(report.to_dict()["columns"], columns=["name", "type", "nulls"])

# %%
pd.DataFrame(report.to_dict()["errors"], columns=["row", "error"])

# %% [markdown]
# A few rows as they are in the file, with payer emails, names and addresses masked.

# %%
display(JSON(report.to_dict()["sample"], expanded=True))

# %% [markdown]
# ## What the pipeline would do with it

# %%
check = report.pipeline
if check is None:
    print("No pipeline check (set `pipeline`).")
else:
    print(f"pipeline: {check.name} -> {check.table}")
    print(f"would load {check.would_load} rows, would quarantine {check.would_quarantine}")
    print(f"extra (drift) fields: {check.extra_fields or 'none'}")
    print(f"missing required columns: {check.missing_columns or 'none'}")
    print(f"optional columns not in the file: {check.unmatched_columns or 'none'}")
    if check.file_error:
        print(f"the file would fail: {check.file_error.error_type}: {check.file_error.message}")
quarantined = report.to_dict()["pipeline"]["quarantined"] if check else []
pd.DataFrame(quarantined, columns=["row", "reason"])

# %% [markdown]
# ## Ledger entries of this object (every version: claims and skipped redeliveries)

# %%
ledger_columns = ["started_at", "status", "etag", "pipeline", "rows_in", "rows_loaded", "rows_quarantined"]
entries = pd.DataFrame(ledger_entries(bucket, key))
entries.reindex(columns=[*ledger_columns, "error_type", "error_message", "reason"]).dropna(axis=1, how="all")
