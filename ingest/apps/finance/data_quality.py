"""Where the period's figures come from, and what may be missing from them: the files its rows
were loaded from (by the raw tables' lineage columns), their ledger entries, the files that failed
and were not loaded again, (their validation results: ``ingest.apps.ops.validation_results``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ingest.apps.finance.models import Tables, read, render
from ingest.apps.finance.period import Period
from ingest.apps.reports.present import masked

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.core.config import Pipeline

# The raw tables whose rows the period is made of (``sql/report/period_sources.sql`` dates each
# by the column the models read it by), and their names in the report.
SOURCE_NAMES = {"paypal_transactions": "PayPal", "payment_transactions": "Game payments"}


def source_pipelines(pipelines: Iterable[Pipeline]) -> list[Pipeline]:
    """The pipelines loading the raw tables the period is made of."""
    return [p for p in pipelines if p.name in SOURCE_NAMES]


def period_sources(client: bigquery.Client, tables: Tables, period: Period) -> pd.DataFrame:
    """The files the period's PayPal records and payment rows come from: pipeline, URI, ETag,
    ledger key and how many of the period's rows each holds."""
    frame = read(client, render("report/period_sources", tables), period)
    # The ledger and the validation results know a file version by URI and ETag.
    frame["ledger_key"] = frame["source_uri"] + "#" + frame["source_etag"]
    return frame


LEDGER_COLUMNS = [
    "pipeline",
    "source_uri",
    "rows_in_period",
    "status",
    "rows_in",
    "rows_loaded",
    "rows_quarantined",
    "finished_at",
]


def ledger_quality(ledger: Ledger, sources: pd.DataFrame) -> pd.DataFrame:
    """Each source file's ledger entry: status and its rows in, loaded and quarantined (the whole
    file's, which may hold days outside the period)."""
    import pandas as pd

    from ingest.core.model import FileRef

    rows = []
    for source in sources.to_dict("records"):
        bucket, key = source["source_uri"].removeprefix("s3://").split("/", 1)
        entry = ledger.get(FileRef.of(bucket, key, source["source_etag"]))
        rows.append(
            {
                "pipeline": source["pipeline"],
                "source_uri": source["source_uri"],
                "rows_in_period": int(source["rows_in_period"]),
                "status": entry.status if entry else "(not in the ledger)",
                "rows_in": entry.rows_in if entry else None,
                "rows_loaded": entry.rows_loaded if entry else None,
                "rows_quarantined": entry.rows_quarantined if entry else None,
                "finished_at": entry.finished_at if entry else None,
            }
        )
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    for column in ("rows_in", "rows_loaded", "rows_quarantined"):
        frame[column] = frame[column].astype("Int64")
    return frame


def ledger_totals(files: pd.DataFrame) -> pd.DataFrame:
    """Per pipeline: files, the period's rows, and the files' rows in, loaded and quarantined."""
    totals = files.groupby("pipeline").agg(
        files=("source_uri", "nunique"),
        rows_in_period=("rows_in_period", "sum"),
        rows_in=("rows_in", "sum"),
        rows_loaded=("rows_loaded", "sum"),
        rows_quarantined=("rows_quarantined", "sum"),
        files_with_quarantined_rows=("rows_quarantined", lambda rows: int((rows.fillna(0) > 0).sum())),
        files_not_in_ledger=("status", lambda status: int((status == "(not in the ledger)").sum())),
    )
    return totals


FAILED_COLUMNS = ["pipeline", "source_uri", "error_type", "message", "failed_at", "attempts"]


def unreplayed_failures(ledger: Ledger, pipelines: Iterable[Pipeline]) -> pd.DataFrame:
    """Files of ``pipelines`` whose ingestion failed and that ``ingest replay`` has not ingested
    since, whenever they failed: rows of any day may be in them."""
    import pandas as pd

    from ingest.adapters.dynamodb.items import FILE_ITEM
    from ingest.core.model import Status

    # The table tells the pipeline apart from a namesake reading into another table.
    by_table = {p.table_id: p.name for p in pipelines}
    rows = [
        {
            "pipeline": by_table[entry.table],
            "source_uri": f"s3://{entry.bucket}/{entry.key}",
            "error_type": entry.error_type,
            "message": masked(entry.error_message),
            "failed_at": entry.finished_at,
            "attempts": entry.attempts,
        }
        # A replayed failure's FILE item holds the replay's outcome; FAILED ones are still failing.
        for entry in ledger.entries(status=Status.FAILED)
        if entry.sk == FILE_ITEM and entry.table in by_table
    ]
    return pd.DataFrame(rows, columns=FAILED_COLUMNS).sort_values(
        ["pipeline", "source_uri"], ignore_index=True
    )
