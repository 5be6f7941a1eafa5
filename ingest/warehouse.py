"""BigQuery edges: datasets and tables from pipeline schemas, idempotent load jobs, queries.

Load jobs carry a job id derived from the file identity and the target table. A retry after a
crash between "load done" and "ledger updated" submits the same id, BigQuery answers that the
job already exists, and we take that job's result instead of loading the rows a second time.
Only if that earlier job *failed* do we move on to the next generation of the id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from ingest.config import Column, Pipeline
from ingest.errors import IngestError, LoadFailed, TransientError

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.validate import Validation

MAX_JOB_GENERATIONS = 5
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
    reused: bool
    """True when the job already existed (a retry found the earlier load)."""


def load_job_id(file_identity: str, table_id: str, generation: int = 0) -> str:
    digest = hashlib.sha256(f"{file_identity}|{table_id}".encode()).hexdigest()[:48]
    return f"ingest_{digest}" + (f"_g{generation}" if generation else "")


def schema_fields(pipeline: Pipeline) -> list[bigquery.SchemaField]:
    return [_schema_field(column) for column in pipeline.bigquery_columns()]


def _schema_field(column: Column) -> bigquery.SchemaField:
    from google.cloud import bigquery

    nested = [_schema_field(f) for f in column.fields]
    return bigquery.SchemaField(column.name, column.type, mode=column.mode, fields=nested)


def ensure_dataset(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ref = bigquery.Dataset(f"{client.project}.{dataset}")
    ref.location = client.location
    client.create_dataset(ref, exists_ok=True)


def ensure_table(client: bigquery.Client, pipeline: Pipeline) -> None:
    """Create the pipeline's table from its schema if it does not exist yet."""
    from google.cloud import bigquery

    ensure_dataset(client, pipeline.dataset)
    table = bigquery.Table(f"{client.project}.{pipeline.table_id}", schema=schema_fields(pipeline))
    client.create_table(table, exists_ok=True)


def ensure_validation_results_table(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ensure_dataset(client, dataset)
    schema = [_schema_field(column) for column in VALIDATION_RESULTS_COLUMNS]
    table = bigquery.Table(f"{client.project}.{dataset}.{VALIDATION_RESULTS_TABLE}", schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(field="validated_at")
    client.create_table(table, exists_ok=True)


def insert_validation_results(
    client: bigquery.Client,
    dataset: str,
    ledger_key: str,
    source_uri: str,
    pipeline: str,
    validation: Validation,
) -> None:
    """Stream one file's expectation results into the results table.

    A streaming insert, not a load job: per-file load jobs here would spend the table's daily
    quota of 1,500. Row ids make a retry of the same attempt a no-op on BigQuery's side.
    """
    import datetime
    import json

    from google.api_core import exceptions

    validated_at = datetime.datetime.now(datetime.UTC).isoformat()
    rows, row_ids = [], []
    for check in validation.checks.values():
        rows.append(
            {
                "validated_at": validated_at,
                "ledger_key": ledger_key,
                "source_uri": source_uri,
                "pipeline": pipeline,
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
        row_ids.append(hashlib.sha256(f"{ledger_key}|{check.id}|{validated_at}".encode()).hexdigest())
    destination = f"{client.project}.{dataset}.{VALIDATION_RESULTS_TABLE}"
    try:
        errors = client.insert_rows_json(destination, rows, row_ids=row_ids)
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


def load_parquet(
    client: bigquery.Client, pipeline: Pipeline, parquet: IO[bytes], file_identity: str
) -> LoadResult:
    """Load one Parquet file into the pipeline's table exactly once per file identity."""
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
            bigquery.WriteDisposition.WRITE_TRUNCATE
            if pipeline.write_mode == "replace"
            else bigquery.WriteDisposition.WRITE_APPEND
        ),
    )
    destination = f"{client.project}.{pipeline.table_id}"
    last_failure: IngestError | None = None
    for generation in range(MAX_JOB_GENERATIONS):
        job_id = load_job_id(file_identity, pipeline.table_id, generation)
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
        if job.error_result is None:
            return LoadResult(job_id=job_id, output_rows=int(job.output_rows or 0), reused=reused)
        last_failure = _job_failure(job)
        if not reused:
            raise last_failure
        # The earlier attempt's job failed; its id is spent, so the next generation is used.
    raise last_failure or LoadFailed(f"no load job generation left for {file_identity}")


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


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    import datetime
    import decimal

    from google.cloud import bigquery

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
