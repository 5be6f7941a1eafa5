"""merge mode: a load's rows go to a staging table of their own, then one MERGE keeps the latest
row per business key in the pipeline's table (``sql/merge.sql``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingest.adapters.bigquery.errors import classify
from ingest.adapters.bigquery.sql import quoted, render
from ingest.core.config import Pipeline

if TYPE_CHECKING:
    from google.cloud import bigquery


def merge_staging(client: bigquery.Client, pipeline: Pipeline, staging: str) -> tuple[int | None, int | None]:
    """MERGE a staging table into the pipeline's table; (rows inserted, rows updated)."""
    from google.api_core import exceptions
    from google.cloud import bigquery

    bounds = _partition_bounds(client, pipeline, staging) if pipeline.partition_by else None
    parameters = []
    if bounds is not None:
        partition_type = next(c.type for c in pipeline.columns if c.name == pipeline.partition_by)
        parameters = [
            bigquery.ScalarQueryParameter("partition_low", partition_type, bounds[0]),
            bigquery.ScalarQueryParameter("partition_high", partition_type, bounds[1]),
        ]
    sql = merge_statement(
        pipeline, f"{client.project}.{pipeline.table_id}", f"{client.project}.{staging}", bounds is not None
    )
    try:
        job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=parameters))
        job.result()
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"merging {staging} into {pipeline.table_id}") from err
    stats = job.dml_stats
    if stats is None:
        return None, None
    return int(stats.inserted_row_count or 0), int(stats.updated_row_count or 0)


def _partition_bounds(client: bigquery.Client, pipeline: Pipeline, staging: str) -> tuple[Any, Any] | None:
    """The lowest and highest value of the partitioning column in staging; None if it has none."""
    assert pipeline.partition_by is not None
    sql = render(
        "partition_bounds", column=quoted(pipeline.partition_by), staging=f"{client.project}.{staging}"
    )
    row = next(iter(client.query(sql).result()))
    return None if row["low"] is None else (row["low"], row["high"])


def merge_statement(pipeline: Pipeline, target: str, staging: str, bounded: bool = False) -> str:
    """The MERGE of a staging table into ``target``: one row per business key, latest wins.

    Staging is deduplicated first: the greatest ``latest_by`` wins, then the row ingested last,
    then the last row of the last file. A row replaces the table's only if it is strictly newer,
    so merging the same rows again changes nothing. ``bounded`` limits the table side to the
    partitions between ``@partition_low`` and ``@partition_high`` (the staging rows' range).
    """
    # Every column is quoted: names were checked at config load, and quoting keeps any name
    # (a keyword BigQuery reserves later, say) an identifier.
    columns = [quoted(c.name) for c in pipeline.bigquery_columns()]
    keys = [quoted(k) for k in pipeline.business_key]
    latest = quoted(pipeline.latest_by) if pipeline.latest_by else None
    newest_first = [f"{latest} DESC NULLS LAST"] if latest else []
    newest_first += [f"{quoted(c)} DESC" for c in ("_ingested_at", "_source_uri", "_source_row")]
    version = latest or quoted("_ingested_at")
    on = [f"target.{k} = source.{k}" for k in keys]
    if bounded:
        assert pipeline.partition_by is not None
        on.append(f"target.{quoted(pipeline.partition_by)} BETWEEN @partition_low AND @partition_high")
    return render(
        "merge",
        target=target,
        staging=staging,
        keys=", ".join(keys),
        newest_first=", ".join(newest_first),
        on=" AND ".join(on),
        newer=(
            f"source.{version} > target.{version}"
            f" OR (target.{version} IS NULL AND source.{version} IS NOT NULL)"
        ),
        assignments=",\n    ".join(f"{c} = source.{c}" for c in columns if c not in keys),
        columns=", ".join(columns),
        source_columns=", ".join(f"source.{c}" for c in columns),
    )
