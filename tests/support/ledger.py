"""``FakeLedger``: the ledger's items in a dict, claimed by the DynamoDB ledger's own rules.

Who may claim a file is decided by ``ingest.adapters.dynamodb.claim_rules`` and every item is
shaped by ``ingest.adapters.dynamodb.items``, exactly as the DynamoDB ledger does; only the
conditional writes are replaced by a lock. Time is a number the test moves (``advance``), so a
lease runs out without waiting for it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from ingest.adapters.dynamodb import items
from ingest.adapters.dynamodb.claim_rules import (
    CLAIMABLE,
    CLAIMABLE_UNLESS_ORPHANED,
    LEASE_EXPIRED,
    REPLAYABLE,
    ClaimAttempt,
    may_claim,
    owner_holds_content,
)
from ingest.core.drift_columns import NewColumn
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Claim, Duplicate, FileRef, LoadJobNote, LoadOutcome, Orphaned, Status

START = 1_625_097_600.0  # 2021-07-01T00:00:00Z


class FakeLedger:
    """The ``Ledger`` port in memory, keyed like the table: (pk, sk) -> item."""

    def __init__(self, lease_seconds: int = 900, max_attempts: int = 5) -> None:
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.now = START
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.RLock()

    def advance(self, seconds: float) -> None:
        """Let time pass: leases run out."""
        self.now += seconds

    # Claims

    def claim(
        self, ref: FileRef, pipeline: str = "", table: str = "", replay: bool = False, take_over: bool = True
    ) -> Claim | Duplicate | Orphaned:
        with self._lock:
            old = self._file(ref)
            attempt = ClaimAttempt(self.now, self.max_attempts)
            parts = REPLAYABLE if replay else CLAIMABLE if take_over else CLAIMABLE_UNLESS_ORPHANED
            if not may_claim(_entry(old), attempt, parts):
                if not replay and old and LEASE_EXPIRED.holds(_entry(old), attempt):
                    return Orphaned(ref, int(old.get("attempts", 0)))
                delivery, duplicate = items.duplicate_delivery(ref, old or {})
                self._put(delivery)
                return duplicate
            fields = items.claim_fields(ref, pipeline, table, self.now, self.lease_seconds)
            kept = {k: v for k, v in (old or {}).items() if k not in items.PREVIOUS_OUTCOME}
            attempts = int((old or {}).get("attempts", 0)) + 1
            self._put({**kept, **items.file_key(ref), **fields, "attempts": attempts})
            if replay and old is not None:
                self._put(items.history_item(old, fields["started_at"]))
            return Claim(ref, fields["claim_token"], attempts, fields["started_at"])

    def claim_new(self, refs: list[FileRef], pipeline: str, table: str) -> tuple[list[Claim], list[FileRef]]:
        claims: list[Claim] = []
        left: list[FileRef] = []
        seen: set[str] = set()
        with self._lock:
            for ref in refs:
                identities = {ref.identity, items.content_pk(table, ref)}
                content = self.items.get((items.content_pk(table, ref), items.CONTENT_ITEM))
                taken = self._file(ref) is not None or (
                    content is not None and content["file"] != ref.identity
                )
                if identities & seen or taken:
                    left.append(ref)
                    continue
                seen |= identities
                fields = {
                    **items.claim_fields(ref, pipeline, table, self.now, self.lease_seconds),
                    "attempts": 1,
                }
                self._put({**items.file_key(ref), **fields})
                self._put(items.content_item(ref, table))
                claims.append(Claim(ref, fields["claim_token"], 1, fields["started_at"], fields))
        return claims, left

    def claim_content(self, claim: Claim, table: str) -> str | None:
        ref = claim.ref
        with self._lock:
            content = self.items.get((items.content_pk(table, ref), items.CONTENT_ITEM))
            if content is not None and content["file"] != ref.identity:
                owner = self.items.get((content["file"], items.FILE_ITEM)) or {}
                if owner_holds_content(owner.get("status")):
                    if owner.get("status") == Status.IN_PROGRESS:
                        content.setdefault("waiters", set()).add(ref.identity)
                    return str(content["file"])
            waiters = content.get("waiters", set()) if content is not None else set()
            self._put({**items.content_item(ref, table), **({"waiters": waiters} if waiters else {})})
            return None

    def release_content(self, claim: Claim, table: str) -> int:
        owner = claim.ref.identity
        with self._lock:
            key = (items.content_pk(table, claim.ref), items.CONTENT_ITEM)
            content = self.items.get(key)
            if content is None or content["file"] != owner:
                return 0
            del self.items[key]
            reopened = 0
            for waiter in sorted(content.get("waiters", ())):
                item = self.items.get((waiter, items.FILE_ITEM))
                if (
                    item
                    and item.get("status") == Status.SKIPPED_DUPLICATE
                    and item.get("duplicate_of") == owner
                ):
                    item.update(items.reopened_fields(owner))
                    reopened += 1
            return reopened

    # Outcomes: each holds only while the claim does

    def skip_duplicate_content(self, claim: Claim, pipeline: str, duplicate_of: str) -> bool:
        return self._finish(claim, items.same_bytes_fields(pipeline, duplicate_of))

    def complete(self, claim: Claim, outcome: LoadOutcome) -> bool:
        return self._finish(claim, items.loaded_fields(outcome))

    def complete_many(
        self, outcomes: list[tuple[Claim, LoadOutcome]], load: LoadJobNote | None = None
    ) -> list[bool]:
        done = [self.complete(claim, outcome) for claim, outcome in outcomes]
        if load is not None:
            self.record_load(load.table, load.job_id, list(load.members), load.rows, True)
        return done

    def fail(self, claim: Claim, error_type: str, message: str, retryable: bool, **details: Any) -> bool:
        return self._finish(claim, items.failed_fields(error_type, message, retryable, details))

    def record_ignored(self, ref: FileRef, reason: str) -> None:
        self._put(items.ignored_item(ref, reason))

    def record_load(
        self, table: str, job_id: str, members: list[str], rows: int, succeeded: bool, error: str = ""
    ) -> None:
        self._put(items.load_record(table, job_id, members, rows, succeeded, error))

    def record_schema_change(self, table: str, pipeline: str, change: NewColumn) -> None:
        self._put(items.schema_change_record(table, pipeline, change))

    # Reads

    def loads_on(self, table: str, day: str) -> int:
        return len(self.loads(table, day))

    def loads(self, table: str, day: str) -> list[LedgerEntry]:
        pk = items.loads_pk(table, day)
        return [LedgerEntry.from_item(item) for (p, _), item in sorted(self.items.items()) if p == pk]

    def to_claim(self, refs: list[FileRef]) -> list[FileRef]:
        attempt = ClaimAttempt(self.now, self.max_attempts)
        return [ref for ref in refs if may_claim(_entry(self._file(ref)), attempt)]

    def get(self, ref: FileRef) -> LedgerEntry | None:
        return _entry(self._file(ref))

    def deliveries(self, ref: FileRef) -> list[LedgerEntry]:
        return [
            LedgerEntry.from_item(item) for (p, _), item in sorted(self.items.items()) if p == ref.identity
        ]

    def entries(self, status: Status | None = None, since: str | None = None) -> list[LedgerEntry]:
        found = [
            LedgerEntry.from_item(item)
            for item in self.items.values()
            if "started_at" in item
            and (status is None or item.get("status") == status)
            and (since is None or item["started_at"] >= since)
        ]
        return sorted(found, key=lambda e: e.started_at or "", reverse=True)

    def seed_load_records(self, table: str, day: str, count: int) -> None:
        """``count`` load jobs into ``table`` on ``day`` already, as if earlier runs spent them."""
        for _ in range(count):
            self._put(
                {"pk": items.loads_pk(table, day), "sk": f"LOAD#seed-{uuid.uuid4().hex}", "table": table}
            )

    def _file(self, ref: FileRef) -> dict[str, Any] | None:
        return self.items.get((ref.identity, items.FILE_ITEM))

    def _put(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.items[(item["pk"], item["sk"])] = dict(item)

    def _finish(self, claim: Claim, fields: dict[str, Any]) -> bool:
        with self._lock:
            item = self._file(claim.ref)
            if item is None or item.get("claim_token") != claim.token:
                return False
            item.update(fields)
            return True


def _entry(item: dict[str, Any] | None) -> LedgerEntry | None:
    return LedgerEntry.from_item(item) if item is not None else None
