"""BigQuery edges: datasets and tables from pipeline schemas, idempotent load jobs, queries.

Load jobs carry a job id derived from the file identity and the target table. A retry after a
crash between "load done" and "ledger updated" submits the same id, BigQuery answers that the
job already exists, and we take that job's result instead of loading the rows a second time.
Only if that earlier job *failed* do we move on to the next generation of the id.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from ingest.core.config import Column, Pipeline
from ingest.core.errors import IngestError, LoadFailed, TransientError

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.core.validate import Validation

MAX_JOB_GENERATIONS = 5
# BigQuery's fixed limit of modifications (load, copy and query jobs writing to it) per table
# per day; failed jobs count too. It cannot be raised, so batch mode spends it sparingly.
TABLE_OPERATIONS_PER_DAY = 1_500
STAGING_EXPIRY = datetime.timedelta(days=1)
VALIDATION_RESULTS_TABLE = "validation_results"
# One row per expectation per validated file; reports take each file's latest validated_at.
VALIDATION_RESULTS_COLUMNS = (
    Column("validated_at", "TIMESTAMP", "REQUIRED"),
    Column("ledger_key", "STRING", "REQUIRED"),
    Column("source_uri", "STRING", "REQUIRED"),
    Column("pipeline", "STRING", "REQUIRED"),
    Column("suite", "STRING", "REQUIRED"),
    Column("expectation_id", "STRING", "REQUIRED"),
    Column("expectation_type", "STRING", "REQUIRED"),
    Column("column_name", "STRING"),
    Column("severity", "STRING", "REQUIRED"),
    Column("success", "BOOL", "REQUIRED"),
    Column("element_count", "INT64"),
    Column("unexpected_count", "INT64"),
    Column("sample_rows", "STRING"),
    Column("error", "STRING"),
)
# BigQuery error reasons (https://cloud.google.com/bigquery/docs/error-messages) that a retry
# can cure; everything else is the data's or the configuration's fault and fails the file.
TRANSIENT_REASONS = frozenset(
    {
        "backendError",
        "internalError",
        "rateLimitExceeded",
        "quotaExceeded",
        "jobBackendError",
        "jobInternalError",
        "timeout",
        "tableUnavailable",
        "resourcesExceeded",
    }
)


@dataclass(frozen=True)
class LoadResult:
    job_id: str
    output_rows: int
    """Rows the load job wrote (into staging, in merge mode)."""
    reused: bool
    """True when the job already existed (a retry found the earlier load)."""
    inserted: int | None = None
    """merge mode: business keys new to the table (None where the server does not say)."""
    updated: int | None = None
    """merge mode: rows replaced by a later version."""


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: int
    """XOR of a fingerprint of every row: equal for equal contents, whatever the row order."""


def load_job_id(load_identity: str, table_id: str, generation: int = 0) -> str:
    """The job id of one load: a file's identity, or a batch's (see ``batch_identity``)."""
    digest = hashlib.sha256(f"{load_identity}|{table_id}".encode()).hexdigest()[:48]
    return f"ingest_{digest}" + (f"_g{generation}" if generation else "")


def batch_identity(file_identities: list[str]) -> str:
    """One identity for the files of a combined load, whatever order they were listed in."""
    if len(file_identities) == 1:
        return file_identities[0]
    joined = "\n".join(sorted(file_identities))
    return f"batch:{len(file_identities)}:{hashlib.sha256(joined.encode()).hexdigest()}"


def staging_table_id(pipeline: Pipeline, staging_dataset: str, load_identity: str) -> str:
    """A staging table of its own per load, so concurrent loads never see each other's rows."""
    digest = hashlib.sha256(f"{load_identity}|{pipeline.table_id}".encode()).hexdigest()[:32]
    return f"{staging_dataset}.{pipeline.dataset}__{pipeline.table}__{digest}"


def schema_fields(pipeline: Pipeline) -> list[bigquery.SchemaField]:
    return [schema_field(column) for column in pipeline.bigquery_columns()]


def schema_field(column: Column) -> bigquery.SchemaField:
    from google.cloud import bigquery

    nested = [schema_field(f) for f in column.fields]
    return bigquery.SchemaField(column.name, column.type, mode=column.mode, fields=nested)


def ensure_dataset(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ref = bigquery.Dataset(f"{client.project}.{dataset}")
    ref.location = client.location
    client.create_dataset(ref, exists_ok=True)


def ensure_table(client: bigquery.Client, pipeline: Pipeline) -> None:
    """Create the pipeline's table, partitioned and clustered as configured, if it does not exist.

    An existing table is left as it is: BigQuery cannot partition a table after the fact.
    """
    from google.cloud import bigquery

    ensure_dataset(client, pipeline.dataset)
    table = bigquery.Table(f"{client.project}.{pipeline.table_id}", schema=schema_fields(pipeline))
    if pipeline.partition_by:
        table.time_partitioning = bigquery.TimePartitioning(field=pipeline.partition_by)
    if pipeline.cluster_by:
        table.clustering_fields = list(pipeline.cluster_by)
    client.create_table(table, exists_ok=True)


def _create_staging_table(client: bigquery.Client, pipeline: Pipeline, table_id: str) -> bool:
    """Create a staging table that expires on its own; False if it already existed.

    The expiry cleans up after a crash between load and MERGE, once no retry will come.
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    table = bigquery.Table(f"{client.project}.{table_id}", schema=schema_fields(pipeline))
    table.expires = datetime.datetime.now(datetime.UTC) + STAGING_EXPIRY
    try:
        client.create_table(table)
    except exceptions.Conflict:
        return False
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"creating staging table {table_id}") from err
    return True


def ensure_validation_results_table(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ensure_dataset(client, dataset)
    schema = [schema_field(column) for column in VALIDATION_RESULTS_COLUMNS]
    table = bigquery.Table(f"{client.project}.{dataset}.{VALIDATION_RESULTS_TABLE}", schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(field="validated_at")
    client.create_table(table, exists_ok=True)


@dataclass(frozen=True)
class FileValidation:
    """One file's suite outcome, as the results table keeps it."""

    ledger_key: str
    source_uri: str
    pipeline: str
    validation: Validation


# insertAll takes at most 50,000 rows a request (10 MB); an expectation's row is small.
VALIDATION_ROWS_PER_INSERT = 5_000


def insert_validation_results(client: bigquery.Client, dataset: str, files: list[FileValidation]) -> None:
    """Stream the files' expectation results into the results table, one request per 5,000 rows.

    A streaming insert, not a load job: per-file load jobs here would spend the table's daily
    quota of 1,500. Row ids make a retry of the same attempt a no-op on BigQuery's side.
    """
    import json

    from google.api_core import exceptions

    validated_at = datetime.datetime.now(datetime.UTC).isoformat()
    rows, row_ids = [], []
    for file in files:
        validation = file.validation
        for check in validation.checks.values():
            rows.append(
                {
                    "validated_at": validated_at,
                    "ledger_key": file.ledger_key,
                    "source_uri": file.source_uri,
                    "pipeline": file.pipeline,
                    "suite": validation.suite,
                    "expectation_id": check.id,
                    "expectation_type": check.type,
                    "column_name": check.column,
                    "severity": check.severity,
                    "success": check.success,
                    "element_count": check.element_count,
                    "unexpected_count": check.unexpected_count,
                    "sample_rows": json.dumps(list(check.sample_rows)),
                    "error": check.error,
                }
            )
            row_ids.append(
                hashlib.sha256(f"{file.ledger_key}|{check.id}|{validated_at}".encode()).hexdigest()
            )
    destination = f"{client.project}.{dataset}.{VALIDATION_RESULTS_TABLE}"
    for start in range(0, len(rows), VALIDATION_ROWS_PER_INSERT):
        end = start + VALIDATION_ROWS_PER_INSERT
        try:
            errors = client.insert_rows_json(destination, rows[start:end], row_ids=row_ids[start:end])
        except exceptions.GoogleAPICallError as err:
            raise classify(err, "recording validation results") from err
        if errors:
            raise LoadFailed(f"recording validation results: {errors[:3]}")


def classify(err: Exception, what: str) -> IngestError:
    """Translate a google-cloud error into ours by its reason codes, not its wording."""
    reasons = {e.get("reason") for e in getattr(err, "errors", None) or [] if isinstance(e, dict)}
    code = getattr(err, "code", None)
    message = f"{what}: {getattr(err, 'message', None) or err}"
    if reasons & TRANSIENT_REASONS or (isinstance(code, int) and code >= 500):
        return TransientError(message)
    if not reasons and not isinstance(code, int):
        # No HTTP answer at all: connection refused, DNS, timeouts. Worth retrying.
        return TransientError(message)
    return LoadFailed(message)


def _job_failure(job: Any) -> IngestError:
    result = job.error_result or {}
    reason = result.get("reason")
    message = f"load job {job.job_id} failed: {result.get('message')}"
    if reason in TRANSIENT_REASONS:
        return TransientError(message)
    return LoadFailed(message)


def write_rows(
    client: bigquery.Client,
    pipeline: Pipeline,
    parquet: IO[bytes],
    load_identity: str,
    staging_dataset: str,
) -> LoadResult:
    """Put one load's rows (one file, or a batch of files) into the pipeline's table.

    merge: a load job into a staging table of this load, then a MERGE keeping the latest row
    per business key, then the staging table is dropped. replace: one truncating load job, which
    swaps the table's contents atomically. append: one appending load job.

    A retry with the same ``load_identity`` finds the earlier load job instead of loading twice.
    """
    if pipeline.write_mode != "merge":
        truncate = pipeline.write_mode == "replace"
        return _load_job(client, pipeline, parquet, load_identity, pipeline.table_id, truncate=truncate)
    staging = staging_table_id(pipeline, staging_dataset, load_identity)
    created = _create_staging_table(client, pipeline, staging)
    loaded = _load_job(client, pipeline, parquet, load_identity, staging, truncate=True)
    if loaded.reused and created:
        # The earlier attempt's staging table is gone: dropped after its MERGE, or expired
        # before one. Which, we cannot tell; loading again is safe because the MERGE is idempotent.
        loaded = _load_job(client, pipeline, parquet, load_identity, staging, truncate=True, fresh=True)
    inserted, updated = merge_staging(client, pipeline, staging)
    drop_table(client, staging)
    return LoadResult(loaded.job_id, loaded.output_rows, loaded.reused, inserted, updated)


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
    column = pipeline.partition_by
    row = next(
        iter(
            client.query(
                f"SELECT MIN({column}) AS low, MAX({column}) AS high FROM `{client.project}.{staging}`"
            ).result()
        )
    )
    return None if row["low"] is None else (row["low"], row["high"])


def merge_statement(pipeline: Pipeline, target: str, staging: str, bounded: bool = False) -> str:
    """The MERGE of a staging table into ``target``: one row per business key, latest wins.

    Staging is deduplicated first: the greatest ``latest_by`` wins, then the row ingested last,
    then the last row of the last file. A row replaces the table's only if it is strictly newer,
    so merging the same rows again changes nothing. ``bounded`` limits the table side to the
    partitions between ``@partition_low`` and ``@partition_high`` (the staging rows' range).
    """
    columns = [c.name for c in pipeline.bigquery_columns()]
    keys = list(pipeline.business_key)
    newest_first = [f"{pipeline.latest_by} DESC NULLS LAST"] if pipeline.latest_by else []
    newest_first += ["_ingested_at DESC", "_source_uri DESC", "_source_row DESC"]
    version = pipeline.latest_by or "_ingested_at"
    on = [f"target.{k} = source.{k}" for k in keys]
    if bounded:
        partition = pipeline.partition_by
        on.append(f"target.{partition} BETWEEN @partition_low AND @partition_high")
    newer = (
        f"source.{version} > target.{version} OR (target.{version} IS NULL AND source.{version} IS NOT NULL)"
    )
    assignments = ",\n    ".join(f"{c} = source.{c}" for c in columns if c not in keys)
    window = f"PARTITION BY {', '.join(keys)} ORDER BY {', '.join(newest_first)}"
    column_list = ", ".join(columns)
    source_list = ", ".join(f"source.{c}" for c in columns)
    return f"""MERGE `{target}` AS target
USING (
  SELECT * EXCEPT (_latest_rank)
  FROM (
    SELECT *, ROW_NUMBER() OVER ({window}) AS _latest_rank
    FROM `{staging}`
  )
  WHERE _latest_rank = 1
) AS source
ON {" AND ".join(on)}
WHEN MATCHED AND ({newer}) THEN UPDATE SET
    {assignments}
WHEN NOT MATCHED THEN
  INSERT ({column_list})
  VALUES ({source_list})"""


def drop_table(client: bigquery.Client, table_id: str) -> None:
    from google.api_core import exceptions

    try:
        client.delete_table(f"{client.project}.{table_id}", not_found_ok=True)
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"dropping {table_id}") from err


def _load_job(
    client: bigquery.Client,
    pipeline: Pipeline,
    parquet: IO[bytes],
    load_identity: str,
    destination_table: str,
    *,
    truncate: bool,
    fresh: bool = False,
) -> LoadResult:
    """Run the load job of ``load_identity`` into ``destination_table``, or find it done.

    The job id is derived from the load identity and the pipeline's table, so a retry meets its
    earlier job. ``fresh`` skips earlier generations that succeeded and loads again.
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    parquet_options = bigquery.ParquetOptions()
    # Read Parquet lists as REPEATED fields rather than as records wrapping a "list" field.
    parquet_options.enable_list_inference = True
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        parquet_options=parquet_options,
        schema=schema_fields(pipeline),
        write_disposition=(
            bigquery.WriteDisposition.WRITE_TRUNCATE if truncate else bigquery.WriteDisposition.WRITE_APPEND
        ),
    )
    destination = f"{client.project}.{destination_table}"
    last_failure: IngestError | None = None
    for generation in range(MAX_JOB_GENERATIONS):
        job_id = load_job_id(load_identity, pipeline.table_id, generation)
        parquet.seek(0)
        try:
            job = client.load_table_from_file(parquet, destination, job_id=job_id, job_config=config)
            reused = False
        except exceptions.Conflict:
            job = client.get_job(job_id)
            reused = True
        except exceptions.GoogleAPICallError as err:
            raise classify(err, f"submitting load job {job_id}") from err
        try:
            job.result()
        except exceptions.GoogleAPICallError as err:
            if job.error_result is None:
                raise classify(err, f"waiting for load job {job_id}") from err
        if job.error_result is None and not (reused and fresh):
            return LoadResult(job_id=job_id, output_rows=int(job.output_rows or 0), reused=reused)
        if job.error_result is not None:
            last_failure = _job_failure(job)
            if not reused:
                raise last_failure
        # That id is spent (its job failed, or ``fresh`` wants a new load): next generation.
    raise last_failure or LoadFailed(f"no load job generation left for {load_identity}")


def table_fingerprint(client: bigquery.Client, table_id: str) -> TableFingerprint:
    """Row count and an order-independent checksum of every column of every row."""
    frame = query_dataframe(
        client,
        f"SELECT COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(t))) AS checksum"
        f" FROM `{client.project}.{table_id}` AS t",
    )
    checksum = frame["checksum"].iloc[0]
    return TableFingerprint(
        int(frame["n"].iloc[0]), 0 if checksum is None or checksum != checksum else int(checksum)
    )


def query_dataframe(client: bigquery.Client, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a parameterised Standard SQL query and return a DataFrame (emulator or BigQuery).

    pandas-gbq reads the result over the REST API unless a Storage Read client is at hand;
    note it wants ``BIGQUERY_EMULATOR_HOST`` in the environment even when given a client.
    """
    import pandas_gbq

    parameters = [_parameter(name, value).to_api_repr() for name, value in (params or {}).items()]
    return pandas_gbq.read_gbq(
        sql,
        project_id=client.project,
        bigquery_client=client,
        configuration={"query": {"useLegacySql": False, "queryParameters": parameters}},
        progress_bar_type=None,
    )


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    import decimal

    from google.cloud import bigquery

    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return bigquery.ArrayQueryParameter(name, "STRING", list(value))

    types = [
        (bool, "BOOL"),
        (int, "INT64"),
        (float, "FLOAT64"),
        (decimal.Decimal, "NUMERIC"),
        (datetime.datetime, "TIMESTAMP"),
        (datetime.date, "DATE"),
        (str, "STRING"),
    ]
    for python_type, bq_type in types:
        if isinstance(value, python_type):
            return bigquery.ScalarQueryParameter(name, bq_type, value)
    raise TypeError(f"unsupported query parameter {name}={value!r}")


def count_rows(client: bigquery.Client, table_id: str, where: str = "TRUE", **params: Any) -> int:
    frame = query_dataframe(
        client, f"SELECT COUNT(*) AS n FROM `{client.project}.{table_id}` WHERE {where}", params
    )
    return int(frame["n"].iloc[0])
