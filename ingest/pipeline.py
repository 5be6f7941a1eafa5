"""Ingest one lake object: route, claim, read, coerce, quarantine, load, record. The only orchestrator.

The Lambda handler, the local queue worker and the CLI all call ``ingest_file``; everything
vendor-specific sits behind ``lake``, ``ledger`` and ``warehouse``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ingest import lake, warehouse
from ingest.config import ConfigError, Pipeline, load_pipelines, route
from ingest.errors import IngestError, InternalError, LoadFailed, UnknownPipeline
from ingest.lake import FileRef
from ingest.ledger import Claim, Duplicate, Ledger, LoadOutcome, Status, now_iso
from ingest.prepare import prepare_file
from ingest.schema import RecordCoercer
from ingest.settings import Settings
from ingest.validate import Suite, Validation, suite_for

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
    _pseudonym_key: bytes | None = None

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

    def suite(self, pipeline: Pipeline) -> Suite | None:
        return suite_for(pipeline, self.settings.expectations_dir)

    def coercer(self, pipeline: Pipeline, empty_is_null: bool) -> RecordCoercer:
        key = self.pseudonym_key() if pipeline.pseudonymises else None
        return RecordCoercer(pipeline, empty_is_null=empty_is_null, pseudonym_key=key)

    def pseudonym_key(self) -> bytes:
        """The pseudonym key from the settings, else from Secrets Manager (read once)."""
        if self._pseudonym_key is None:
            key = self.settings.pseudonym_key
            if not key:
                from botocore.exceptions import ClientError

                from ingest.clients import aws_client

                name = self.settings.pseudonym_key_secret
                try:
                    key = aws_client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
                except ClientError as err:
                    raise ConfigError(
                        f"pseudonym key: secret {name!r} unreadable ({err.response['Error']['Code']}); "
                        "set INGEST_PSEUDONYM_KEY or INGEST_PSEUDONYM_KEY_SECRET"
                    ) from err
            self._pseudonym_key = key.encode()
        return self._pseudonym_key

    def record_validation(self, ref: FileRef, pipeline: Pipeline, validation: Validation) -> None:
        """Keep the suite's results of one file in the ops dataset, for batch and finance reports."""
        table_id = f"{self.settings.ops_dataset}.{warehouse.VALIDATION_RESULTS_TABLE}"
        if table_id not in self._tables_ready:
            warehouse.ensure_validation_results_table(self.bigquery, self.settings.ops_dataset)
            self._tables_ready.add(table_id)
        warehouse.insert_validation_results(
            self.bigquery, self.settings.ops_dataset, ref.identity, ref.uri, pipeline.name, validation
        )


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


def ingest_file(
    ref: FileRef, services: Services, *, replay: bool = False, read_from: FileRef | None = None
) -> FileResult:
    """Ingest one object version exactly once; never raises for bad data.

    ``replay`` re-ingests a file the ledger has as FAILED (``ingest replay``); ``read_from``
    reads its bytes from elsewhere, such as the error bucket's copy, when the lake's are gone.
    """
    if ref.key.endswith("/"):
        services.ledger.record_ignored(ref, "folder marker: a key ending in '/' holds no data")
        return FileResult(ref, Status.IGNORED, message="folder marker")
    try:
        pipeline: Pipeline | None = route(ref.key, services.pipelines)
        routing_error: IngestError | None = None
    except UnknownPipeline as err:
        pipeline, routing_error = None, err

    claim = services.ledger.claim(
        ref, pipeline.name if pipeline else "", pipeline.table_id if pipeline else "", replay=replay
    )
    if isinstance(claim, Duplicate):
        log.info("skipped duplicate delivery of %s: %s", ref.uri, claim.reason)
        return FileResult(ref, Status.SKIPPED_DUPLICATE, message=claim.reason)

    try:
        if routing_error is not None:
            raise routing_error
        assert pipeline is not None
        same_bytes_as = services.ledger.claim_content(claim, pipeline.name)
        if same_bytes_as is not None:
            services.ledger.skip_duplicate_content(claim, pipeline.name, same_bytes_as)
            message = f"same bytes as {same_bytes_as.rsplit('#', 1)[0]}"
            log.info("skipped %s: %s", ref.uri, message)
            return FileResult(ref, Status.SKIPPED_DUPLICATE, pipeline=pipeline.name, message=message)
        outcome = _load(ref, read_from or ref, pipeline, services)
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


def _load(ref: FileRef, source: FileRef, pipeline: Pipeline, services: Services) -> LoadOutcome:
    """Stream the file through coercion into a Parquet load file, chunk by chunk.

    Memory holds one chunk of records at a time; good rows go to a temporary Parquet file and
    rejected rows to a temporary NDJSON file, and each is uploaded once the file is read.
    """
    lineage = {"_source_uri": ref.uri, "_source_etag": ref.etag, "_ingested_at": _now()}
    body = lake.open_object(services.s3, source)
    with contextlib.ExitStack() as temporary:
        try:
            prepared = prepare_file(
                body,
                pipeline,
                lambda detected: services.coercer(pipeline, empty_is_null=detected.format == "csv"),
                services.suite(pipeline),
                lineage,
                temporary,
            )
        finally:
            body.close()
        tally, detected, validation = prepared.tally, prepared.detected, prepared.validation
        if validation is not None:
            services.record_validation(ref, pipeline, validation)
        prepared.raise_if_file_fails()
        rows_quarantined = tally.rows_quarantined
        quarantine_key = None
        if rows_quarantined:
            summary = {
                "ledger_key": ref.identity,
                "pipeline": pipeline.name,
                "rows_in": tally.rows_in,
                "rows_quarantined": rows_quarantined,
                "reasons": dict(tally.reasons.most_common()),
            }
            quarantine_key = lake.write_quarantine(
                services.s3, ref, services.settings.error_bucket, prepared.rejected, summary
            )
        services.ensure_table(pipeline)
        result = warehouse.load_parquet(services.bigquery, pipeline, prepared.parquet, ref.identity)
    if result.output_rows != tally.rows_loaded:
        raise LoadFailed(
            f"load job {result.job_id} wrote {result.output_rows} rows, expected {tally.rows_loaded}"
        )
    return LoadOutcome(
        pipeline=pipeline.name,
        table=pipeline.table_id,
        rows_in=tally.rows_in,
        rows_loaded=result.output_rows,
        rows_quarantined=rows_quarantined,
        load_job_id=result.job_id,
        file_format=detected.format + (f"+{detected.compression}" if detected.compression else ""),
        quarantine_key=quarantine_key,
        extra_fields=tuple(sorted(tally.extra_fields)),
        validation=validation.summary() if validation else None,
    )


def replay_failed(
    services: Services,
    *,
    since: str | None = None,
    error_type: str | None = None,
    key_contains: str | None = None,
    dry_run: bool = False,
) -> list[tuple[FileRef, FileResult | None]]:
    """Ingest FAILED files again, after a fix, through the same exactly-once path.

    Bytes come from the lake when the failed version is still there, else from the error
    bucket's copy. The ledger keeps each failure as a REPLAYED history item. ``dry_run``
    only lists what would be replayed (each result None).
    """
    replayed: list[tuple[FileRef, FileResult | None]] = []
    for entry in services.ledger.entries(status=Status.FAILED, since=since):
        if entry.sk != "FILE" or (error_type and entry.error_type != error_type):
            continue
        if key_contains and key_contains not in entry.key:
            continue
        size = int(entry.bytes) if entry.bytes is not None and int(entry.bytes) >= 0 else None
        ref = FileRef.of(entry.bucket, entry.key, entry.etag, size)
        if dry_run:
            replayed.append((ref, None))
            continue
        source = lake.replay_source(services.s3, ref, services.settings.error_bucket)
        replayed.append((ref, ingest_file(ref, services, replay=True, read_from=source)))
    return replayed


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
