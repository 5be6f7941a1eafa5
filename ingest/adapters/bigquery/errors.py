"""BigQuery's errors translated into ours by reason code, by what the caller does next."""

from __future__ import annotations

from typing import Any

from ingest.core.errors import IngestError, LoadFailed, TransientError

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


def job_failure(job: Any) -> IngestError:
    """The error of a finished job that failed, by its ``error_result`` reason."""
    result = job.error_result or {}
    reason = result.get("reason")
    message = f"load job {job.job_id} failed: {result.get('message')}"
    if reason in TRANSIENT_REASONS:
        return TransientError(message)
    return LoadFailed(message)
