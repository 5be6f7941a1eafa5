"""The ingestion ledger in DynamoDB: who loads which file, and what came of it.

A delivery claims the file version (``claim_rules`` says when it may), then records its outcome
under the claim's token; ``items`` lists the items, ``transactions`` the batch writes,
``content_claims`` the claims on a file's bytes (the same bytes load once per table).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ingest.adapters.dynamodb import content_claims, items
from ingest.adapters.dynamodb.claim_rules import (
    CLAIMABLE,
    CLAIMABLE_UNLESS_ORPHANED,
    LEASE_EXPIRED,
    REPLAYABLE,
    ClaimAttempt,
    claim_condition,
    holds_the_claim,
    may_claim,
)
from ingest.adapters.dynamodb.codec import marshal, unmarshal, update_expression
from ingest.adapters.dynamodb.table import STATUS_INDEX
from ingest.adapters.dynamodb.transactions import (
    CLAIMS_PER_TRANSACTION,
    OUTCOMES_PER_TRANSACTION,
    chunked,
    claim_actions,
    conditional,
    outcome_action,
    record_action,
    transact,
)
from ingest.core.drift_columns import NewColumn
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Claim, Duplicate, FileRef, LoadJobNote, LoadOutcome, Orphaned, Status

if TYPE_CHECKING:
    from ingest.core.settings import Settings

# BatchGetItem reads at most 100 keys a call.
KEYS_PER_BATCH_GET = 100


class DynamoDBClient(Protocol):
    """The calls the ledger makes of a boto3 DynamoDB client."""

    def get_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...
    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]: ...
    def query(self, **kwargs: Any) -> dict[str, Any]: ...
    def scan(self, **kwargs: Any) -> dict[str, Any]: ...


class Ledger:
    def __init__(self, dynamodb: DynamoDBClient, table: str, lease_seconds: int = 900, max_attempts: int = 5):
        self._db = dynamodb
        self.table = table
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    @classmethod
    def from_settings(cls, dynamodb: DynamoDBClient, settings: Settings) -> Ledger:
        """The ledger table ``settings`` name, with their lease and attempts."""
        return cls(dynamodb, settings.ledger_table, settings.lease_seconds, settings.max_attempts)

    def claim(
        self, ref: FileRef, pipeline: str = "", table: str = "", replay: bool = False, take_over: bool = True
    ) -> Claim | Duplicate | Orphaned:
        """Take the file for this worker, or learn that another delivery already has it.

        ``replay`` takes a FAILED file whatever its error, and keeps the failure as a REPLAYED
        history item: that is how ``ingest replay`` re-ingests after a fix. Without
        ``take_over``, a file whose worker died holding it is left as it is: Orphaned.
        """
        now = time.time()
        fields = items.claim_fields(ref, pipeline, table, now, self.lease_seconds)
        token, started_at = fields["claim_token"], fields["started_at"]
        when = ClaimAttempt(now, self.max_attempts)
        parts = REPLAYABLE if replay else CLAIMABLE if take_over else CLAIMABLE_UNLESS_ORPHANED
        condition = claim_condition(when, parts)
        expression, names, values = update_expression(fields, remove=items.PREVIOUS_OUTCOME)
        from botocore.exceptions import ClientError

        try:
            response = self._db.update_item(
                TableName=self.table,
                Key=marshal(items.file_key(ref)),
                UpdateExpression=expression + " ADD #attempts :one",
                ConditionExpression=condition.expression,
                ExpressionAttributeNames={**names, "#attempts": "attempts", **condition.names},
                ExpressionAttributeValues=marshal({**values, ":one": 1, **condition.values}),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            taken = unmarshal(err.response.get("Item") or self._get_raw(ref) or {})
            if not replay and taken and LEASE_EXPIRED.holds(LedgerEntry.from_item(taken), when):
                return Orphaned(ref, int(taken.get("attempts", 0)))
            delivery, duplicate = items.duplicate_delivery(ref, taken)
            self._db.put_item(TableName=self.table, Item=marshal(delivery))
            return duplicate
        old = unmarshal(response.get("Attributes") or {})
        if replay:
            self._db.put_item(TableName=self.table, Item=marshal(items.history_item(old, started_at)))
        attempt = int(old.get("attempts", 0)) + 1
        return Claim(ref=ref, token=token, attempt=attempt, started_at=started_at)

    def claim_new(self, refs: list[FileRef], pipeline: str, table: str) -> tuple[list[Claim], list[FileRef]]:
        """Claim files never seen before, and their bytes for ``table``, many to a transaction.

        Returns the claims, and the files not claimed this way: seen before, holding the same
        bytes as another file, named twice, or written by another worker meanwhile. Those go
        through ``claim`` and ``claim_content`` one by one, which know every other case.
        """
        claims: list[Claim] = []
        left: list[FileRef] = []
        chunk: list[FileRef] = []
        seen: set[str] = set()
        for ref in refs:
            identities = {ref.identity, items.content_pk(table, ref)}
            if identities & seen:
                left.append(ref)  # one transaction may not write an item twice
                continue
            seen |= identities
            chunk.append(ref)
            if len(chunk) == CLAIMS_PER_TRANSACTION:
                self._claim_chunk(chunk, pipeline, table, claims, left)
                chunk, seen = [], set()
        if chunk:
            self._claim_chunk(chunk, pipeline, table, claims, left)
        return claims, left

    def _claim_chunk(
        self, refs: list[FileRef], pipeline: str, table: str, claims: list[Claim], left: list[FileRef]
    ) -> None:
        now = time.time()
        fields = [
            {**items.claim_fields(ref, pipeline, table, now, self.lease_seconds), "attempts": 1}
            for ref in refs
        ]
        actions = [
            action
            for ref, claim in zip(refs, fields, strict=True)
            for action in claim_actions(self.table, ref, claim, table)
        ]
        written = transact(self._db, actions, group=2)
        for position, (ref, claim) in enumerate(zip(refs, fields, strict=True)):
            if position in written:
                claims.append(Claim(ref, claim["claim_token"], 1, claim["started_at"], claim))
            else:
                left.append(ref)

    def claim_content(self, claim: Claim, table: str) -> str | None:
        """Register this file's bytes as loading into ``table``; the identity of an earlier file
        with the same bytes that is loaded or being loaded into it, else None (``content_claims``)."""
        return content_claims.claim_content(self._db, self.table, claim.ref, table)

    def release_content(self, claim: Claim, table: str) -> int:
        """Let go of the bytes of a file that failed for good, and reopen the files skipped as
        holding the same bytes while it was loading; how many were reopened."""
        return content_claims.release_content(self._db, self.table, claim.ref, table)

    def skip_duplicate_content(self, claim: Claim, pipeline: str, duplicate_of: str) -> bool:
        """Record that this file holds the same bytes as ``duplicate_of`` and was not loaded."""
        return self._finish(claim, items.same_bytes_fields(pipeline, duplicate_of))

    def complete(self, claim: Claim, outcome: LoadOutcome) -> bool:
        """Record LOADED; False when the claim was lost to another worker meanwhile."""
        return self._finish(claim, items.loaded_fields(outcome))

    def complete_many(
        self, outcomes: list[tuple[Claim, LoadOutcome]], load: LoadJobNote | None = None
    ) -> list[bool]:
        """Record LOADED for many claims, 100 to a transaction; False where the claim was lost.

        The ``load`` job's note goes into the last transaction when it has room (a warm Lambda
        file's outcome and its load's note are then one request, not two), else on its own.
        """
        done: dict[int, bool] = {}
        # A batch claim knows its whole FILE item, so its outcome replaces the item in a transaction.
        whole = [(n, claim, outcome) for n, (claim, outcome) in enumerate(outcomes) if claim.item is not None]
        for n, (claim, outcome) in enumerate(outcomes):
            if claim.item is None:
                done[n] = self.complete(claim, outcome)
        chunks = list(chunked(whole, OUTCOMES_PER_TRANSACTION))
        note_fits = bool(chunks) and len(chunks[-1]) < OUTCOMES_PER_TRANSACTION
        for index, chunk in enumerate(chunks):
            actions = [
                outcome_action(
                    self.table,
                    {**items.file_key(claim.ref), **(claim.item or {}), **items.loaded_fields(outcome)},
                    claim.token,
                )
                for _, claim, outcome in chunk
            ]
            if load is not None and note_fits and index == len(chunks) - 1:
                # Unconditional: it never cancels the transaction, and is written whatever the claims.
                item = items.load_record(load.table, load.job_id, list(load.members), load.rows, True, "")
                actions.append(record_action(self.table, item))
            written = transact(self._db, actions, group=1)
            for position, (n, _, _) in enumerate(chunk):
                done[n] = position in written
        if load is not None and not note_fits:
            self.record_load(load.table, load.job_id, list(load.members), load.rows, True)
        return [done[n] for n in range(len(outcomes))]

    def fail(self, claim: Claim, error_type: str, message: str, retryable: bool, **details: Any) -> bool:
        """Record FAILED with the reason; False when the claim was lost meanwhile."""
        return self._finish(claim, items.failed_fields(error_type, message, retryable, details))

    def _finish(self, claim: Claim, fields: dict[str, Any]) -> bool:
        """Set ``fields`` on the claim's FILE item; False when the claim was lost meanwhile."""
        expression, names, values = update_expression(fields)
        condition = holds_the_claim(claim.token)
        return self._conditional(
            self._db.update_item,
            Key=marshal(items.file_key(claim.ref)),
            UpdateExpression=expression,
            ConditionExpression=condition.expression,
            ExpressionAttributeNames={**names, **condition.names},
            ExpressionAttributeValues=marshal({**values, **condition.values}),
        )

    def _conditional(self, write: Callable[..., dict[str, Any]], **kwargs: Any) -> bool:
        return conditional(write, TableName=self.table, **kwargs)

    def record_ignored(self, ref: FileRef, reason: str) -> None:
        """Note an object that is not data, so listings show it was seen and why it was let be."""
        self._db.put_item(TableName=self.table, Item=marshal(items.ignored_item(ref, reason)))

    def record_load(
        self, table: str, job_id: str, members: list[str], rows: int, succeeded: bool, error: str = ""
    ) -> None:
        """Note one load job into ``table`` (and its MERGE), for the daily quota and for audits.

        Items live under ``loads#<table>#<UTC day>``, one per job, listing its member files.
        """
        item = items.load_record(table, job_id, members, rows, succeeded, error)
        self._db.put_item(TableName=self.table, Item=marshal(item))

    def record_schema_change(self, table: str, pipeline: str, change: NewColumn) -> None:
        """Note a column drift added to ``table``, under ``schema#<table>``, one item per column."""
        item = items.schema_change_record(table, pipeline, change)
        self._db.put_item(TableName=self.table, Item=marshal(item))

    def loads_on(self, table: str, day: str) -> int:
        """Load jobs into ``table`` on the UTC day ``day`` (YYYY-MM-DD), failed ones included."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": items.loads_pk(table, day)}},
            "Select": "COUNT",
        }
        return sum(int(page["Count"]) for page in _pages(self._db.query, kwargs))

    def loads(self, table: str, day: str) -> list[LedgerEntry]:
        """The load records of ``table`` on the UTC day ``day``: job id, member files, rows."""
        return self._partition(items.loads_pk(table, day))

    def to_claim(self, refs: list[FileRef]) -> list[FileRef]:
        """Of ``refs``, those a claim could take: never seen, retryable failures with attempts
        left, and claims whose lease ran out. Batch mode skips the rest without a write."""
        attempt = ClaimAttempt(time.time(), self.max_attempts)
        found: dict[str, LedgerEntry] = {}
        for chunk in chunked(refs, KEYS_PER_BATCH_GET):
            keys = [marshal(items.file_key(ref)) for ref in chunk]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table, []):
                    entry = LedgerEntry.from_item(unmarshal(item))
                    found[entry.pk] = entry
                request = response.get("UnprocessedKeys") or {}
        return [ref for ref in refs if may_claim(found.get(ref.identity), attempt)]

    def get(self, ref: FileRef) -> LedgerEntry | None:
        """The FILE item of a file version, None if the ledger has never seen it."""
        raw = self._get_raw(ref)
        return LedgerEntry.from_item(unmarshal(raw)) if raw else None

    def _get_raw(self, ref: FileRef) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self.table, Key=marshal(items.file_key(ref)), ConsistentRead=True
        )
        return response.get("Item")

    def deliveries(self, ref: FileRef) -> list[LedgerEntry]:
        """Every ledger item of one file version: its FILE item and its skipped redeliveries."""
        return self._partition(ref.identity)

    def _partition(self, pk: str) -> list[LedgerEntry]:
        """Every item under the partition key ``pk``, in sort key order."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        return [
            LedgerEntry.from_item(unmarshal(item))
            for page in _pages(self._db.query, kwargs)
            for item in page["Items"]
        ]

    def entries(self, status: Status | None = None, since: str | None = None) -> list[LedgerEntry]:
        """Ledger items, newest first; by status through the status index, else a scan."""
        kwargs: dict[str, Any] = {"TableName": self.table}
        operation: Callable[..., dict[str, Any]]
        if status is not None:
            condition = "#status = :status"
            values: dict[str, Any] = {":status": {"S": status.value}}
            if since:
                condition += " AND started_at >= :since"
                values[":since"] = {"S": since}
            kwargs.update(
                IndexName=STATUS_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
            operation = self._db.query
        else:
            # File and delivery items only: content claims and load records have no started_at.
            kwargs["FilterExpression"] = "attribute_exists(started_at)"
            if since:
                kwargs.update(
                    FilterExpression="started_at >= :since",
                    ExpressionAttributeValues={":since": {"S": since}},
                )
            operation = self._db.scan
        entries = [
            LedgerEntry.from_item(unmarshal(item))
            for page in _pages(operation, kwargs)
            for item in page["Items"]
        ]
        return sorted(entries, key=lambda e: e.started_at or "", reverse=True)


def _pages(operation: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every response page of a DynamoDB query or scan."""
    while True:
        response = operation(**kwargs)
        yield response
        if "LastEvaluatedKey" not in response:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def _entries(operation: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> list[LedgerEntry]:
    """Every item a DynamoDB query or scan finds, as entries."""
    return [
        LedgerEntry.from_item(unmarshal(item)) for page in _pages(operation, kwargs) for item in page["Items"]
    ]
