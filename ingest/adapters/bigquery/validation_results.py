"""The suite's results per validated file, kept in the ops dataset for batch and finance reports."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.adapters.bigquery.errors import classify, job_failure
from ingest.adapters.bigquery.load_jobs import submit_or_find
from ingest.adapters.bigquery.tables import ensure_dataset, schema_field
from ingest.core.config import Column, Pipeline
from ingest.core.errors import LoadFailed, TransientError
from ingest.core.model import FileRef

if TYPE_CHECKING:
    from google.cloud import bigquery

    from ingest.core.validate.results import Validation

log = logging.getLogger(__name__)

VALIDATION_RESULTS_TABLE = "validation_results"
Row = dict[str, Any]
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
# insertAll takes at most 50,000 rows a request (10 MB); an expectation's row is small.
VALIDATION_ROWS_PER_INSERT = 5_000
# A group of more files than this writes its results by one load job instead of streaming them:
# on the local stack 250 files' 4,500 rows took the emulator about 0.25 s of CPU by insertAll,
# and on BigQuery load jobs are free where streaming is billed. Up to an SQS batch (the
# template's BatchSize, 100 files) streams, so Lambda deliveries do not spend the results
# table's 1,500 load jobs a day; batch mode's groups spend them no faster than its tables'.
STREAMED_FILES_AT_MOST = 100


@dataclass(frozen=True)
class FileValidation:
    """One file's suite outcome, as the results table keeps it."""

    ledger_key: str
    source_uri: str
    pipeline: str
    validation: Validation


class BigQueryValidationResults:
    """The ``ValidationSink`` port on the ops dataset's results table (created on first use)."""

    def __init__(self, client: bigquery.Client, ops_dataset: str) -> None:
        self.client = client
        self.ops_dataset = ops_dataset
        self._ready = False
        # Worker threads share the sink: the table is created once, not raced for.
        self._lock = threading.Lock()

    def record(self, pipeline: Pipeline, files: list[tuple[FileRef, Validation]]) -> None:
        if not files:
            return
        with self._lock:
            if not self._ready:
                ensure_validation_results_table(self.client, self.ops_dataset)
                self._ready = True
        insert_validation_results(
            self.client,
            self.ops_dataset,
            [FileValidation(ref.identity, ref.uri, pipeline.name, v) for ref, v in files],
        )


def ensure_validation_results_table(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ensure_dataset(client, dataset)
    schema = [schema_field(column) for column in VALIDATION_RESULTS_COLUMNS]
    table = bigquery.Table(f"{client.project}.{dataset}.{VALIDATION_RESULTS_TABLE}", schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(field="validated_at")
    client.create_table(table, exists_ok=True)


def insert_validation_results(client: bigquery.Client, dataset: str, files: list[FileValidation]) -> None:
    """Write the files' expectation results into the results table: by one load job for a group
    of more than ``STREAMED_FILES_AT_MOST`` files, else streamed (``insertAll``), 5,000 rows a request.

    Row ids make a retry of the same attempt a no-op on BigQuery's side: insertAll drops the
    rows it has seen, and the load job's id is made of them, so a retry finds that job.
    """
    validated_at = datetime.datetime.now(datetime.UTC).isoformat()
    rows: list[Row] = []
    row_ids: list[str] = []
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
    if len(files) > STREAMED_FILES_AT_MOST and rows:
        try:
            _load_rows(client, destination, rows, row_ids)
            return
        except TransientError as err:  # the table's daily load jobs spent, say: stream instead
            log.warning("validation results streamed after their load job failed: %s", err)
    _stream_rows(client, destination, rows, row_ids)


def _stream_rows(client: bigquery.Client, destination: str, rows: list[Row], row_ids: list[str]) -> None:
    from google.api_core import exceptions

    for start in range(0, len(rows), VALIDATION_ROWS_PER_INSERT):
        end = start + VALIDATION_ROWS_PER_INSERT
        try:
            errors = client.insert_rows_json(destination, rows[start:end], row_ids=row_ids[start:end])
        except exceptions.GoogleAPICallError as err:
            raise classify(err, "recording validation results") from err
        if errors:
            raise LoadFailed(f"recording validation results: {errors[:3]}")


def _load_rows(client: bigquery.Client, destination: str, rows: list[Row], row_ids: list[str]) -> None:
    """Append ``rows`` by one NDJSON load job, whose id is made of the rows' ids."""
    from google.cloud import bigquery

    # ASCII, as insertAll's JSON is: text from the lake may hold a lone surrogate, which UTF-8 cannot.
    body = "\n".join(json.dumps(row) for row in rows).encode()
    job_id = "ingest_results_" + hashlib.sha256("\n".join(row_ids).encode()).hexdigest()[:48]
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[schema_field(column) for column in VALIDATION_RESULTS_COLUMNS],
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    what = "recording validation results"
    # Found submitted: a retry of this attempt, whose job ran already.
    job, _ = submit_or_find(
        client, io.BytesIO(body), destination, job_id, config, submitting=what, waiting=what
    )
    if job.error_result is not None:
        raise job_failure(job)
