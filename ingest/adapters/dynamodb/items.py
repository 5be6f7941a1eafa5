"""The ledger's items and the fields each write sets, as plain values (``codec`` marshals them).

Items (``pk`` = file identity ``s3://bucket/key#etag``):

    sk = "FILE"                      one per file version: the claim and its outcome
    sk = "DELIVERY#<time>#<id>"      one per redelivery that found the file already taken
    sk = "HISTORY#<time>"            a failure that ``ingest replay`` took again
    pk = "content#<table>#<etag>#<size>", sk = "CONTENT"
                                     which file's bytes are loading, or loaded, into a table
    pk = "loads#<table>#<UTC day>", sk = "LOAD#<job id>"
                                     one per load job, for the daily quota and for audits
    pk = "schema#<table>", sk = "COLUMN#<name>"
                                     a column schema_drift: add_columns added, and the file that brought it
"""

from __future__ import annotations

import uuid
from typing import Any

from ingest.core.drift_columns import NewColumn
from ingest.core.model import EXTRA_FIELDS_LISTED, Duplicate, FileRef, LoadOutcome, Status, now_iso

FILE_ITEM = "FILE"
CONTENT_ITEM = "CONTENT"
MESSAGE_LIMIT = 2000
# A DynamoDB item holds at most 400 KB. Drift field names come from the lake: a CSV with 10,000
# long column names once made the LOADED write fail after the load, leaving the file IN_PROGRESS.
# The ledger keeps the first names, each cut short, and how many there were (the rows themselves
# keep every field in `_extra`).
FIELD_NAME_LIMIT = 256
# A claim's outcome replaces these fields of the previous attempt.
PREVIOUS_OUTCOME = ("error_type", "error_message", "retryable", "finished_at")


def file_key(ref: FileRef) -> dict[str, str]:
    """The key of a file version's FILE item."""
    return {"pk": ref.identity, "sk": FILE_ITEM}


def content_pk(table: str, ref: FileRef) -> str:
    """The content item of a file's bytes bound for ``table`` (the ETag stands for the bytes)."""
    return f"content#{table}#{ref.etag}#{ref.size}"


def loads_pk(table: str, day: str) -> str:
    """Where the load records of ``table`` on the UTC day ``day`` (YYYY-MM-DD) live."""
    return f"loads#{table}#{day}"


def claim_fields(ref: FileRef, pipeline: str, table: str, now: float, lease_seconds: int) -> dict[str, Any]:
    """The fields a claim sets on the FILE item: a fresh token, and a lease until ``now + lease``."""
    started_at = now_iso()
    return {
        "status": Status.IN_PROGRESS.value,
        "claim_token": uuid.uuid4().hex,
        "lease_expires_at": int(now + lease_seconds),
        "started_at": started_at,
        "updated_at": started_at,
        "bucket": ref.bucket,
        "key": ref.key,
        "etag": ref.etag,
        "pipeline": pipeline,
        "table": table,
        "bytes": ref.size if ref.size is not None else -1,
        # Landing time, so latency (landed -> loaded) and freshness come from the ledger alone.
        **({"event_time": ref.event_time} if ref.event_time else {}),
    }


def loaded_fields(outcome: LoadOutcome) -> dict[str, Any]:
    """The fields a LOADED outcome sets on its FILE item."""
    finished_at = now_iso()
    return {
        "status": Status.LOADED.value,
        "pipeline": outcome.pipeline,
        "table": outcome.table,
        "rows_in": outcome.rows_in,
        "rows_loaded": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined,
        "load_job_id": outcome.load_job_id or "",
        "load_files": outcome.load_files,
        "file_format": outcome.file_format,
        "quarantine_key": outcome.quarantine_key or "",
        **bounded_extra_fields(outcome.extra_fields),
        **({"extra_fields_key": outcome.extra_fields_key} if outcome.extra_fields_key else {}),
        **({"validation": outcome.validation} if outcome.validation else {}),
        **_quarantine_reasons(outcome.quarantine_reasons),
        "finished_at": finished_at,
        "updated_at": finished_at,
    }


def _quarantine_reasons(reasons: dict[str, int] | None) -> dict[str, Any]:
    """Quarantined rows per reason; a reason names a column or a check, cut like a field name."""
    if not reasons:
        return {}
    return {"quarantine_reasons": {reason[:FIELD_NAME_LIMIT]: count for reason, count in reasons.items()}}


def bounded_extra_fields(names: tuple[str, ...]) -> dict[str, Any]:
    """``extra_fields`` small enough for any item, and ``extra_fields_total`` when it is cut."""
    listed = [name[:FIELD_NAME_LIMIT] for name in names[:EXTRA_FIELDS_LISTED]]
    if len(names) <= EXTRA_FIELDS_LISTED:
        return {"extra_fields": listed}
    return {"extra_fields": listed, "extra_fields_total": len(names)}


def failed_fields(error_type: str, message: str, retryable: bool, details: dict[str, Any]) -> dict[str, Any]:
    """The fields a FAILED outcome sets on its FILE item; ``details`` that are None are left out."""
    return {
        "status": Status.FAILED.value,
        "error_type": error_type,
        "error_message": message[:MESSAGE_LIMIT],
        "retryable": retryable,
        "finished_at": now_iso(),
        "updated_at": now_iso(),
        **{k: v for k, v in details.items() if v is not None},
    }


def same_bytes_fields(pipeline: str, duplicate_of: str) -> dict[str, Any]:
    """The fields that record a file holding the same bytes as ``duplicate_of``, not loaded."""
    return {
        "status": Status.SKIPPED_DUPLICATE.value,
        "pipeline": pipeline,
        "duplicate_of": duplicate_of,
        "reason": f"same bytes as {duplicate_of.rsplit('#', 1)[0]}",
        "finished_at": now_iso(),
        "updated_at": now_iso(),
    }


# A file skipped for holding the same bytes as another, whose owner then failed for good.
OWNER_FAILED = "DuplicateOwnerFailed"


def reopened_fields(owner: str) -> dict[str, Any]:
    """The fields that turn a same-bytes skip back into a file to load, once ``owner`` failed for
    good: FAILED and retryable, so the next delivery, `ingest run` or `ingest replay` loads it."""
    at = now_iso()
    return {
        "status": Status.FAILED.value,
        "error_type": OWNER_FAILED,
        "error_message": (
            f"skipped for holding the same bytes as {owner.rsplit('#', 1)[0]}, which then failed for "
            "good; this file is loaded on its own at its next delivery, ingest run or ingest replay"
        ),
        "retryable": True,
        "finished_at": at,
        "updated_at": at,
    }


def content_item(ref: FileRef, table: str) -> dict[str, Any]:
    """The item claiming ``ref``'s bytes for ``table``."""
    return {
        "pk": content_pk(table, ref),
        "sk": CONTENT_ITEM,
        "file": ref.identity,
        "key": ref.key,
        "at": now_iso(),
    }


def duplicate_delivery(ref: FileRef, taken: dict[str, Any]) -> tuple[dict[str, Any], Duplicate]:
    """The DELIVERY item of a delivery that found the file taken (``taken`` is its FILE item as
    found, empty if none), and what to tell the caller."""
    previous = str(taken.get("status", "UNKNOWN"))
    if previous == Status.IN_PROGRESS:
        reason = f"being ingested by another delivery (attempt {taken.get('attempts')})"
    elif previous == Status.LOADED:
        reason = f"already loaded at {taken.get('finished_at')} by job {taken.get('load_job_id')}"
    elif previous == Status.FAILED and taken.get("retryable"):
        reason = f"failed {taken.get('attempts')} times; retries exhausted ({taken.get('error_type')})"
    else:
        reason = f"already failed with {taken.get('error_type')}; use `ingest replay` to retry"
    at = now_iso()
    item = {
        "pk": ref.identity,
        "sk": f"DELIVERY#{at}#{uuid.uuid4().hex[:8]}",
        "status": Status.SKIPPED_DUPLICATE.value,
        "previous_status": previous,
        "reason": reason,
        "bucket": ref.bucket,
        "key": ref.key,
        "etag": ref.etag,
        "pipeline": taken.get("pipeline", ""),
        "started_at": at,
        "finished_at": at,
    }
    return item, Duplicate(ref=ref, previous_status=previous, reason=reason)


def ignored_item(ref: FileRef, reason: str) -> dict[str, Any]:
    """The FILE item of an object that is not data, so listings show it was seen and why it was let be."""
    at = now_iso()
    return {
        **file_key(ref),
        "status": Status.IGNORED.value,
        "reason": reason,
        "bucket": ref.bucket,
        "key": ref.key,
        "etag": ref.etag,
        "pipeline": "",
        "bytes": ref.size if ref.size is not None else -1,
        "started_at": at,
        "finished_at": at,
    }


def history_item(failure: dict[str, Any], replayed_at: str) -> dict[str, Any]:
    """The HISTORY item keeping a failure that a replay claimed again."""
    history = {k: v for k, v in failure.items() if k not in {"claim_token", "lease_expires_at"}}
    history.update(
        sk=f"HISTORY#{replayed_at}",
        status=Status.REPLAYED.value,
        previous_status=failure.get("status", ""),
        replayed_at=replayed_at,
    )
    return history


def load_record(
    table: str, job_id: str, members: list[str], rows: int, succeeded: bool, error: str
) -> dict[str, Any]:
    """The item noting one load job into ``table`` (and its MERGE), listing its member files."""
    at = now_iso()
    return {
        "pk": loads_pk(table, at[:10]),
        "sk": f"LOAD#{job_id}",
        "table": table,
        "load_job_id": job_id,
        "members": members,
        "files": len(members),
        "rows": rows,
        "succeeded": succeeded,
        "error": error[:MESSAGE_LIMIT],
        "at": at,
    }


def schema_pk(table: str) -> str:
    """Where the columns ``schema_drift: add_columns`` added to ``table`` are noted."""
    return f"schema#{table}"


def schema_change_record(table: str, pipeline: str, change: NewColumn) -> dict[str, Any]:
    """The item noting one column added to ``table`` by drift: its type and first file."""
    return {
        "pk": schema_pk(table),
        "sk": f"COLUMN#{change.column.name}",
        "table": table,
        "pipeline": pipeline,
        "column": change.column.name,
        "column_type": change.column.type,
        "first_file": change.first_file[:MESSAGE_LIMIT],
        "at": now_iso(),
    }
