"""The values ingestion passes around: a file version, its ledger status, a claim on it, the
outcome of its load and what became of one delivery. Plain data, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class FileRef:
    """One version of one object: the unit the ledger loads exactly once."""

    bucket: str
    key: str
    """URL-decoded object key."""
    etag: str
    size: int | None = None
    event_time: str | None = field(default=None, compare=False)
    """When the object landed (the S3 event's ``eventTime``, or its LastModified), ISO 8601 UTC.
    Not part of the identity: every delivery of one version names the same file."""

    @classmethod
    def of(
        cls, bucket: str, key: str, etag: str, size: int | None = None, event_time: str | None = None
    ) -> FileRef:
        return cls(bucket=bucket, key=key, etag=etag.strip('"'), size=size, event_time=event_time)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        return f"{self.uri}#{self.etag}"

    @property
    def identity_hash(self) -> str:
        return hashlib.sha256(self.identity.encode("utf-8")).hexdigest()


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    LOADED = "LOADED"
    FAILED = "FAILED"
    SKIPPED_DUPLICATE = "SKIPPED_DUPLICATE"
    """A redelivery of a file already taken, or a file with the same bytes as one loaded."""
    IGNORED = "IGNORED"
    """Not data: a zero-byte ``folder/`` marker."""
    REPLAYED = "REPLAYED"
    """History: a failure that ``ingest replay`` ingested again (the FILE item has the outcome)."""


@dataclass(frozen=True)
class Claim:
    ref: FileRef
    token: str
    attempt: int
    started_at: str
    item: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The whole FILE item as a batch claim wrote it, so the outcome can be written whole."""


@dataclass(frozen=True)
class Duplicate:
    ref: FileRef
    previous_status: str
    reason: str


@dataclass(frozen=True)
class Orphaned:
    """A file left IN_PROGRESS by a worker that died holding it (its lease ran out), found by a
    claim that does not take such files over. It may be what killed the worker, so it is claimed
    later, alone: a file that crashes every worker cannot hold other files back."""

    ref: FileRef
    attempts: int
    """Claims of the file so far: the ones most often orphaned go last."""


EXTRA_FIELDS_LISTED = 100
"""Drift fields a ledger item names; past that it counts them and points at the whole list (a
CSV with 10,000 long drift columns took an item past DynamoDB's 400 KB)."""


@dataclass(frozen=True)
class LoadOutcome:
    pipeline: str
    table: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    load_job_id: str | None
    file_format: str
    quarantine_key: str | None = None
    extra_fields: tuple[str, ...] = ()
    extra_fields_key: str | None = None
    """Where the whole list is kept when the ledger lists only the first ``EXTRA_FIELDS_LISTED``."""
    validation: dict[str, Any] | None = None
    """The suite's summary: rows checked, rows quarantined, counts per failed expectation id."""
    load_files: int = 1
    """Files that went into the same load job (batch mode combines many)."""
    rows_inserted: int | None = None
    """Of the load's rows (all its files), business keys new to the table (merge mode)."""
    rows_updated: int | None = None
    """Of the load's rows, versions that replaced an older one (merge mode)."""
    quarantine_reasons: dict[str, int] | None = None
    """Quarantined rows per reason (the column a value did not fit, or ``validation <check>``),
    the commonest ``QUARANTINE_REASONS_LISTED``: the drift report counts type changes from them."""


QUARANTINE_REASONS_LISTED = 20


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
    load_files: int = 0
    """Files in the load job this file went into (batch mode combines many)."""
    error_type: str | None = None
    message: str = ""
    retryable: bool = False
    started_at: str | None = None
    """When this delivery claimed the file (ISO 8601 UTC); None when it did not."""
    finished_at: str | None = None
    """When the outcome was recorded; with ``started_at`` and ``ref.event_time`` it gives latency."""


@dataclass(frozen=True)
class LoadJobNote:
    """A load job into ``table`` as the ledger notes it: its member files' identities and rows
    (the day's load jobs per table are counted from these notes)."""

    table: str
    job_id: str
    members: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class LoadRecord:
    """One load job of a batch run."""

    pipeline: str
    table: str
    job_id: str
    files: int
    rows_loaded: int
    rows_inserted: int | None = None
    rows_updated: int | None = None
