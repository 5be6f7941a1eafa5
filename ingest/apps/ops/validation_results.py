"""What the validation results table says about some files: each file's latest results, the
suites' outcomes and the expectations that failed.

The batch notebook reads it for the files of a run, the reconciliation report for the files of
a period. Only counts and names are read: the rows an expectation caught (``sample_rows``) stay
in the table, and the quarantined rows in the error bucket.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.adapters.bigquery.validation_results import VALIDATION_RESULTS_COLUMNS, VALIDATION_RESULTS_TABLE
from ingest.core.bigquery_names import table_id_problem
from ingest.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

SQL_FILE = Path(__file__).resolve().parent / "sql" / "validation_results.sql"
VALIDATION_COLUMNS = [
    c.name for c in VALIDATION_RESULTS_COLUMNS if c.name != "sample_rows"
]  # sample rows are row data: never read into a report


def results_table(project: str, ops_dataset: str) -> str:
    """``project.ops_dataset.validation_results``, once both parts are BigQuery names."""
    table = f"{project}.{ops_dataset}.{VALIDATION_RESULTS_TABLE}"
    # The settings' project and ops dataset reach SQL here: BigQuery names, by the core's rules.
    if problem := table_id_problem(table):
        raise ConfigError(f"not a BigQuery project and dataset: {problem}")
    return table


def latest_results(
    client: bigquery.Client,
    ops_dataset: str,
    ledger_keys: Iterable[str],
    *,
    since: datetime | None = None,
) -> pd.DataFrame:
    """The latest validation results of the files ``ledger_keys`` (validated at ``since`` or
    later, when given), one row per expectation; empty when no file was ever validated."""
    import pandas as pd
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    keys = sorted(set(ledger_keys))
    table = results_table(client.project, ops_dataset)
    empty = pd.DataFrame(columns=VALIDATION_COLUMNS)
    if not keys:
        return empty
    try:
        client.get_table(table)
    except NotFound:
        return empty  # no file has been validated in this project yet
    sql = string.Template(SQL_FILE.read_text(encoding="utf-8")).substitute(
        table=table, columns=", ".join(VALIDATION_COLUMNS)
    )
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ArrayQueryParameter("keys", "STRING", keys)])
    frame = pd.DataFrame(
        [dict(row.items()) for row in client.query(sql, job_config=config).result()],
        columns=VALIDATION_COLUMNS,
    )
    if since is not None and not frame.empty:
        frame = frame[pd.to_datetime(frame["validated_at"], utc=True) >= pd.Timestamp(since)]
    if frame.empty:
        return frame.reset_index(drop=True)
    # A file validated more than once (a group load that failed, then one by one) counts once.
    latest = frame.groupby("ledger_key")["validated_at"].transform("max")
    return frame[frame["validated_at"] == latest].reset_index(drop=True)


def suite_outcomes(results: pd.DataFrame) -> pd.DataFrame:
    """Per pipeline and suite: files validated, expectations, and checks that failed or errored."""
    return results.groupby(["pipeline", "suite"]).agg(
        files=("ledger_key", "nunique"),
        expectations=("expectation_id", "nunique"),
        checks_failed=("success", lambda success: int((~success.astype(bool)).sum())),
        checks_errored=("error", lambda error: int(error.notna().sum())),
    )


def failed_expectations(results: pd.DataFrame, *, with_errors: bool = True) -> pd.DataFrame:
    """Per pipeline and expectation that failed (or, ``with_errors``, errored): files and rows it
    found unexpected, the most rows first."""
    import pandas as pd

    failing = ~results["success"].astype(bool)
    if with_errors:
        failing = failing | results["error"].notna()
    failed = results[failing]
    if failed.empty:
        return pd.DataFrame(columns=["files", "unexpected_rows"])
    return (
        failed.fillna({"column_name": "", "unexpected_count": 0})
        .groupby(["pipeline", "expectation_id", "severity", "column_name"])
        .agg(files=("ledger_key", "nunique"), unexpected_rows=("unexpected_count", "sum"))
        .sort_values(["pipeline", "unexpected_rows"], ascending=[True, False])
    )
