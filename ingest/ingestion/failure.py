"""A claimed file that failed: recorded in the ledger, its bytes kept once no retry will come."""

from __future__ import annotations

import logging

from ingest.core.coerce.privacy import mask_free_text
from ingest.core.config import Pipeline
from ingest.core.errors import IngestError, InternalError, MalformedFile
from ingest.core.model import Claim, FileRef, FileResult, Status, now_iso
from ingest.ingestion.services import Services

log = logging.getLogger(__name__)


def as_ingest_error(err: Exception, ref: FileRef) -> IngestError:
    """``err`` as the pipeline records it: our own errors as they are; a file too deep for
    Python's stack or holding a number it cannot represent as MalformedFile, since reading the
    same bytes again meets the same limit; anything else (a bug, an unclassified vendor error) as
    a retryable InternalError, logged with its traceback."""
    if isinstance(err, IngestError):
        return err
    if isinstance(err, RecursionError | OverflowError):
        log.warning("%s does not read within Python's limits: %s: %s", ref.uri, type(err).__name__, err)
        return MalformedFile(f"the file does not read within Python's limits ({type(err).__name__}: {err})")
    log.exception("unexpected error ingesting %s", ref.uri)
    return InternalError(f"{type(err).__name__}: {err}")


def fail(claim: Claim, pipeline: Pipeline | None, err: IngestError, services: Services) -> FileResult:
    """Record the claimed file FAILED with ``err``; its bytes go to the error bucket unless a
    retry may still come (a retryable error with attempts left)."""
    ref = claim.ref
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
            error_key = services.lake.keep_failed_file(ref, sidecar)
        except Exception:
            log.exception("could not copy %s to the error bucket; leaving it retryable", ref.uri)
            retries_left = retryable = True
    # The ledger's message (and the result's, and the log's) is read in reports and terminals; it
    # may quote a refused value (an email in a numeric column), so contact details are masked.
    # The sidecar, beside the file's own bytes in the error bucket, keeps it whole.
    message = mask_free_text(str(err))
    services.ledger.fail(claim, err.error_type, message, retryable=retryable, error_key=error_key)
    # Its bytes never reached the table: files skipped as holding them must load after all.
    if (
        not retries_left
        and pipeline is not None
        and (reopened := services.ledger.release_content(claim, pipeline.table_id))
    ):
        log.warning("%s failed for good: %d file(s) with the same bytes reopened", ref.uri, reopened)
    log.warning("failed %s: %s: %s", ref.uri, err.error_type, message)
    return FileResult(
        ref,
        Status.FAILED,
        pipeline=pipeline_name,
        error_type=err.error_type,
        message=message,
        retryable=retries_left,
        started_at=claim.started_at,
        finished_at=now_iso(),
    )
