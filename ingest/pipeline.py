"""Ingest one lake object: route, claim, read, coerce, quarantine, load, record. The only orchestrator.

The Lambda handler, the local queue worker and the CLI all call ``ingest_file``; everything
vendor-specific sits behind ``lake``, ``ledger`` and ``warehouse``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from ingest import lake, warehouse
from ingest.config import Pipeline, load_pipelines, route
from ingest.errors import IngestError, InternalError, LoadFailed, NoValidRows, UnknownPipeline
from ingest.formats import read_rows
from ingest.lake import FileRef
from ingest.ledger import Claim, Duplicate, Ledger, LoadOutcome, Status, now_iso
from ingest.schema import RecordCoercer, to_arrow
from ingest.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The collaborators of a run, built once (per Lambda container, per CLI call)."""

    settings: Settings
    s3: Any
    dynamodb: Any
    bigquery: Any
    pipelines: tuple[Pipeline, ...]
    ledger: Ledger
    _tables_ready: set[str] = field(default_factory=set)

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Services:
        from ingest.clients import aws_client, bigquery_client

        settings = settings or Settings.from_env()
        dynamodb = aws_client("dynamodb")
        return cls(
            settings=settings,
            s3=aws_client("s3"),
            dynamodb=dynamodb,
            bigquery=bigquery_client(settings.bq_project, settings.bq_location),
            pipelines=load_pipelines(settings.pipelines_dir),
            ledger=Ledger(dynamodb, settings.ledger_table, settings.lease_seconds, settings.max_attempts),
        )

    def ensure_table(self, pipeline: Pipeline) -> None:
        if pipeline.table_id not in self._tables_ready:
            warehouse.ensure_table(self.bigquery, pipeline)
            self._tables_ready.add(pipeline.table_id)


@dataclass(frozen=True)
class FileResult:
    """What became of one delivery of one file."""

    ref: FileRef
    status: Status
    pipeline: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    load_job_id: str | None = None
    error_type: str | None = None
    message: str = ""
    retryable: bool = False


def ingest_file(ref: FileRef, services: Services) -> FileResult:
    """Ingest one object version exactly once; never raises for bad data."""
    try:
        pipeline: Pipeline | None = route(ref.key, services.pipelines)
        routing_error: IngestError | None = None
    except UnknownPipeline as err:
        pipeline, routing_error = None, err

    claim = services.ledger.claim(
        ref, pipeline.name if pipeline else "", pipeline.table_id if pipeline else ""
    )
    if isinstance(claim, Duplicate):
        log.info("skipped duplicate delivery of %s: %s", ref.uri, claim.reason)
        return FileResult(ref, Status.SKIPPED_DUPLICATE, message=claim.reason)

    try:
        if routing_error is not None:
            raise routing_error
        assert pipeline is not None
        outcome = _load(ref, pipeline, services)
    except IngestError as err:
        return _fail(ref, pipeline, claim, err, services)
    except Exception as err:  # a bug or an unclassified vendor error: keep it, retry, then stop
        log.exception("unexpected error ingesting %s", ref.uri)
        wrapped = InternalError(f"{type(err).__name__}: {err}")
        return _fail(ref, pipeline, claim, wrapped, services)

    if not services.ledger.complete(claim, outcome):
        log.warning("claim on %s was taken over before completion; its load job is shared", ref.uri)
    log.info(
        "loaded %s into %s: %d rows, %d quarantined",
        ref.uri,
        outcome.table,
        outcome.rows_loaded,
        outcome.rows_quarantined,
    )
    return FileResult(
        ref,
        Status.LOADED,
        pipeline=outcome.pipeline,
        rows_in=outcome.rows_in,
        rows_loaded=outcome.rows_loaded,
        rows_quarantined=outcome.rows_quarantined,
        load_job_id=outcome.load_job_id,
    )


def _load(ref: FileRef, pipeline: Pipeline, services: Services) -> LoadOutcome:
    body = lake.open_object(services.s3, ref)
    try:
        detected, rows = read_rows(body, pipeline.format)
        coercer = RecordCoercer(pipeline, empty_is_null=detected.format == "csv")
        if detected.header is not None:
            coercer.check_header(detected.header)
        coerced = coercer.coerce(rows)
    finally:
        body.close()

    good = len(coerced.row_numbers)
    if good == 0:
        first = coerced.rejected[0]
        raise NoValidRows(f"none of {coerced.rows_in} rows is valid; row {first.number}: {first.reason}")
    quarantine_key = None
    if coerced.rejected:
        quarantine_key = lake.write_quarantine(
            services.s3,
            ref,
            services.settings.error_bucket,
            (
                {"source": ref.uri, "etag": ref.etag, "row": r.number, "reason": r.reason, "raw": r.raw}
                for r in coerced.rejected
            ),
        )

    lineage = {"_source_uri": ref.uri, "_source_etag": ref.etag, "_ingested_at": _now()}
    table = to_arrow(pipeline, coerced, lineage)
    services.ensure_table(pipeline)
    # A real file, not memory: load files can be large, and the client streams from disk.
    with tempfile.TemporaryFile() as parquet:
        pq.write_table(table, parquet, compression="zstd")
        result = warehouse.load_parquet(services.bigquery, pipeline, parquet, ref.identity)
    if result.output_rows != table.num_rows:
        raise LoadFailed(
            f"load job {result.job_id} wrote {result.output_rows} rows, expected {table.num_rows}"
        )
    return LoadOutcome(
        pipeline=pipeline.name,
        table=pipeline.table_id,
        rows_in=coerced.rows_in,
        rows_loaded=result.output_rows,
        rows_quarantined=len(coerced.rejected),
        load_job_id=result.job_id,
        file_format=detected.format + (f"+{detected.compression}" if detected.compression else ""),
        quarantine_key=quarantine_key,
        extra_fields=tuple(sorted(coerced.extra_fields)),
    )


def _fail(
    ref: FileRef, pipeline: Pipeline | None, claim: Claim, err: IngestError, services: Services
) -> FileResult:
    pipeline_name = pipeline.name if pipeline else None
    retries_left = err.retryable and claim.attempt < services.settings.max_attempts
    retryable = err.retryable
    error_key = None
    # A retryable failure is not the file's fault; its bytes are kept once retries run out.
    if not retries_left:
        sidecar = {
            "ledger_key": ref.identity,
            "source": ref.uri,
            "etag": ref.etag,
            "pipeline": pipeline_name,
            "error_type": err.error_type,
            "message": str(err),
            "attempt": claim.attempt,
            "failed_at": now_iso(),
        }
        try:
            error_key = lake.keep_failed_file(services.s3, ref, services.settings.error_bucket, sidecar)
        except Exception:
            log.exception("could not copy %s to the error bucket; leaving it retryable", ref.uri)
            retries_left = retryable = True
    services.ledger.fail(claim, err.error_type, str(err), retryable=retryable, error_key=error_key)
    log.warning("failed %s: %s: %s", ref.uri, err.error_type, err)
    return FileResult(
        ref,
        Status.FAILED,
        pipeline=pipeline_name,
        error_type=err.error_type,
        message=str(err),
        retryable=retries_left,
    )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
