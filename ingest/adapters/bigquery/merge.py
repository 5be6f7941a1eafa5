"""merge mode: a load's rows go to a staging table of their own, then one MERGE keeps the latest
row per business key in the pipeline's table (``sql/merge.sql``)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from ingest.adapters.bigquery.errors import classify
from ingest.adapters.bigquery.sql import quoted, render
from ingest.core.config import Pipeline

if TYPE_CHECKING:
    from google.cloud import bigquery


def merge_staging(
    client: bigquery.Client, pipeline: Pipeline, staging: str, loaded: IO[bytes] | None = None
) -> tuple[int | None, int | None]:
    """MERGE a staging table into the pipeline's table; (rows inserted, rows updated).

    ``loaded`` is the Parquet file the staging table was loaded from: its statistics give the
    partition bounds without a query job (one job fewer per load: about 5 ms of our CPU and a
    job's latency per warm Lambda file). Without it, or without statistics, staging is queried.
    Its key columns also tell whether staging needs deduplicating (``keys_unique``); without
    it, staging is always deduplicated.
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    bounds = None
    if pipeline.partition_by:
        known = parquet_bounds(loaded, pipeline.partition_by) if loaded is not None else UNKNOWN
        bounds = _partition_bounds(client, pipeline, staging) if isinstance(known, _Unknown) else known
    parameters = []
    if bounds is not None:
        partition_type = next(c.type for c in pipeline.columns if c.name == pipeline.partition_by)
        parameters = [
            bigquery.ScalarQueryParameter("partition_low", partition_type, bounds[0]),
            bigquery.ScalarQueryParameter("partition_high", partition_type, bounds[1]),
        ]
    sql = merge_statement(
        pipeline,
        f"{client.project}.{pipeline.table_id}",
        f"{client.project}.{staging}",
        bounded=bounds is not None,
        deduplicate=loaded is None or not keys_unique(loaded, pipeline.business_key),
    )
    try:
        job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=parameters))
        # A job that came back done (a small MERGE can) already holds its statistics: waiting
        # would ask for its results once more, a request the warm Lambda file does not need.
        if job.state != "DONE" or job.error_result is not None:
            job.result()
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"merging {staging} into {pipeline.table_id}") from err
    stats = job.dml_stats
    if stats is None:
        return None, None
    return int(stats.inserted_row_count or 0), int(stats.updated_row_count or 0)


class _Unknown:
    """``parquet_bounds``' answer when the file's statistics cannot say."""


UNKNOWN = _Unknown()


def parquet_bounds(parquet: IO[bytes], column: str) -> tuple[Any, Any] | _Unknown | None:
    """The lowest and highest value of ``column`` in a Parquet file, from its row groups'
    statistics; None if it holds no value; ``UNKNOWN`` if a row group has values but no
    statistics or the column's type is one whose statistics BigQuery may round (not a DATE,
    an integer, or a TIMESTAMP in whole microseconds or coarser)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet.seek(0)
    metadata = pq.ParquetFile(parquet).metadata
    parquet.seek(0)
    schema = metadata.schema.to_arrow_schema()
    if column not in schema.names:
        return UNKNOWN
    field = schema.field(column)
    exact = pa.types.is_date32(field.type) or pa.types.is_integer(field.type)
    exact |= pa.types.is_timestamp(field.type) and field.type.unit in ("s", "ms", "us")
    if not exact:
        return UNKNOWN
    low = high = None
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        chunk = next(
            (
                row_group.column(i)
                for i in range(row_group.num_columns)
                if row_group.column(i).path_in_schema == column
            ),
            None,
        )
        if chunk is None:
            return UNKNOWN
        statistics = chunk.statistics
        if statistics is not None and statistics.null_count == row_group.num_rows:
            continue  # every value null: nothing to bound
        if statistics is None or not statistics.has_min_max:
            return UNKNOWN
        low = statistics.min if low is None else min(low, statistics.min)
        high = statistics.max if high is None else max(high, statistics.max)
    return None if low is None else (low, high)


def keys_unique(parquet: IO[bytes], keys: tuple[str, ...]) -> bool:
    """True if no two rows of a Parquet file hold the same business key (nulls alike counting as
    the same, as ``PARTITION BY`` groups them), compared as BigQuery will compare the loaded
    values; False if they may repeat or the key's type is one BigQuery may round or compare
    otherwise (floats, nanosecond timestamps).

    Deduplicating a staging table whose keys are unique keeps every row, and costs the MERGE a
    sort of staging by key: about a sixth of the MERGE's work on the emulator. Being wrong here
    is not a performance bug: two source rows of one new key would both be inserted.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet.seek(0)
    try:
        schema = pq.read_schema(parquet)
        parquet.seek(0)
        if any(key not in schema.names or not _compared_exactly(schema.field(key).type) for key in keys):
            return False
        table = pq.read_table(parquet, columns=list(keys))
    finally:
        parquet.seek(0)
    if len(keys) == 1:
        distinct = pc.count_distinct(table.column(0), mode="all").as_py()
    else:
        distinct = table.group_by(list(keys)).aggregate([]).num_rows
    return bool(distinct == table.num_rows)


def _compared_exactly(kind: Any) -> bool:
    """Arrow types whose values BigQuery loads unchanged and compares byte for byte."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return bool(kind.unit in ("s", "ms", "us"))
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_boolean(kind)
    )


def _partition_bounds(client: bigquery.Client, pipeline: Pipeline, staging: str) -> tuple[Any, Any] | None:
    """The lowest and highest value of the partitioning column in staging; None if it has none."""
    assert pipeline.partition_by is not None
    sql = render(
        "partition_bounds", column=quoted(pipeline.partition_by), staging=f"{client.project}.{staging}"
    )
    row = next(iter(client.query(sql).result()))
    return None if row["low"] is None else (row["low"], row["high"])


def merge_statement(
    pipeline: Pipeline, target: str, staging: str, *, bounded: bool = False, deduplicate: bool = True
) -> str:
    """The MERGE of a staging table into ``target``: one row per business key, latest wins.

    With ``deduplicate``, staging is deduplicated first: the greatest ``latest_by`` wins, then
    the row ingested last, then the last row of the last file; without, staging is merged as it
    is (only for keys known unique: ``keys_unique``). A row replaces the table's only if it is
    strictly newer, so merging the same rows again changes nothing. ``bounded`` limits the table
    side to the partitions between ``@partition_low`` and ``@partition_high`` (the staging rows' range).
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
    source = f"`{staging}`"
    if deduplicate:
        source = render(
            "merge_source", staging=staging, keys=", ".join(keys), newest_first=", ".join(newest_first)
        )
    return render(
        "merge",
        target=target,
        source=source,
        on=" AND ".join(on),
        newer=(
            f"source.{version} > target.{version}"
            f" OR (target.{version} IS NULL AND source.{version} IS NOT NULL)"
        ),
        assignments=",\n    ".join(f"{c} = source.{c}" for c in columns if c not in keys),
        columns=", ".join(columns),
        source_columns=", ".join(f"source.{c}" for c in columns),
    )
