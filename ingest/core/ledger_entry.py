"""A ledger item as read back: typed fields for listings, reports and alarm rules. Plain data, no I/O.

The ledger holds four kinds of item under one table, and one ``LedgerEntry`` type reads them all;
a field a kind does not have is None:

    FILE item        one per file version: its claim and its outcome (sk = "FILE")
    DELIVERY item    a redelivery that found the file already taken (sk = "DELIVERY#<time>#<id>")
    HISTORY item     a failure that ``ingest replay`` took again (sk = "HISTORY#<time>")
    load record      one load job into a table on a day (pk = "loads#<table>#<day>", sk = "LOAD#<job>")

A name the ledger does not write is an AttributeError (and a type error), never a silent None.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from ingest.core.model import FileRef, Status


@dataclass(frozen=True)
class LedgerEntry:
    pk: str
    """File identity ``s3://bucket/key#etag``, or ``loads#<table>#<day>`` for a load record."""
    sk: str
    """``FILE``, ``DELIVERY#...``, ``HISTORY#...`` or ``LOAD#<job id>``."""
    status: Status | None = None
    """None for a load record, which has no status."""

    # The file version
    bucket: str | None = None
    key: str | None = None
    etag: str | None = None
    bytes: int | None = None
    """The object's size; -1 when the event did not say."""
    event_time: str | None = None
    """When the object landed (ISO 8601 UTC), so latency and freshness come from the ledger alone."""
    pipeline: str | None = None
    table: str | None = None

    # The claim
    claim_token: str | None = None
    attempts: int | None = None
    lease_expires_at: int | None = None
    """Epoch seconds after which another delivery may take an IN_PROGRESS claim over."""
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None

    # A LOADED outcome
    rows_in: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    load_job_id: str | None = None
    load_files: int | None = None
    file_format: str | None = None
    quarantine_key: str | None = None
    extra_fields: list[str] | None = None
    extra_fields_total: int | None = None
    """How many drift fields there were, when ``extra_fields`` lists only the first."""
    extra_fields_key: str | None = None
    """Error-bucket key of the whole list, when ``extra_fields`` lists only the first."""
    validation: dict[str, Any] | None = None
    """The suite's summary: rows checked, rows quarantined, counts per failed expectation id."""
    quarantine_reasons: dict[str, Any] | None = None
    """Quarantined rows per reason: the column a value did not fit, or ``validation <check>``."""

    # A FAILED outcome
    error_type: str | None = None
    error_message: str | None = None
    retryable: bool | None = None
    error_key: str | None = None
    """Where the failed file's copy went in the error bucket."""

    # Skipped, ignored and replayed
    reason: str | None = None
    duplicate_of: str | None = None
    """The identity of the file with the same bytes that was loaded instead."""
    previous_status: str | None = None
    replayed_at: str | None = None

    # A load record
    members: list[str] | None = None
    """Identities of the files the load job took."""
    files: int | None = None
    rows: int | None = None
    succeeded: bool | None = None
    error: str | None = None
    at: str | None = None

    item: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole item as stored, for listings that print everything."""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LedgerEntry:
        """The entry of a ledger item already turned into plain Python values."""
        known = {f.name for f in fields(cls)} - {"pk", "sk", "status", "item"}
        status = item.get("status")
        return cls(
            pk=str(item["pk"]),
            sk=str(item["sk"]),
            status=Status(status) if status is not None else None,
            item=item,
            **{name: value for name, value in item.items() if name in known},
        )

    def file_ref(self) -> FileRef:
        """The file version a FILE, DELIVERY or HISTORY item is about (its size unknown if the
        event did not say)."""
        if self.bucket is None or self.key is None or self.etag is None:
            raise ValueError(f"ledger item {self.pk} {self.sk} names no file")
        size = self.bytes if self.bytes is not None and self.bytes >= 0 else None
        return FileRef.of(self.bucket, self.key, self.etag, size)


def summarize(entries: list[LedgerEntry]) -> dict[str, Any]:
    """Counts by status and row totals of loaded files."""
    by_status = Counter(e.status.value for e in entries if e.status is not None)
    loaded = [e for e in entries if e.status == Status.LOADED]
    return {
        "entries": len(entries),
        "by_status": dict(sorted(by_status.items())),
        "rows_in": sum(int(e.rows_in or 0) for e in loaded),
        "rows_loaded": sum(int(e.rows_loaded or 0) for e in loaded),
        "rows_quarantined": sum(int(e.rows_quarantined or 0) for e in loaded),
    }
