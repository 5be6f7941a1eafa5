"""The ingestion ledger in DynamoDB: who loads which file, and what came of it.

Items (``pk`` = file identity ``s3://bucket/key#etag``):

    sk = "FILE"                      one per file version: the claim and its outcome
    sk = "DELIVERY#<time>#<id>"      one per redelivery that found the file already taken

Lease timeline of a claim (``lease_seconds`` is at least the Lambda timeout)::

    claim ──── IN_PROGRESS (lease_expires_at = now + lease) ───── LOADED | FAILED
                 │ another delivery here: SKIPPED_DUPLICATE
                 └── worker crashes: after lease_expires_at, the next delivery re-claims
                     (attempts + 1); FAILED with a retryable error may be re-claimed too,
                     until max_attempts.

Every write after the claim is conditional on the claim token, so a worker that lost its lease
cannot overwrite the outcome of the worker that took over.

Batch mode claims files never seen before 50 to a ``TransactWriteItems`` (each file's claim and
its content claim, all or nothing) and records their outcomes 100 to one, under the same
conditions; a file a transaction cannot take goes through the one-by-one ``claim``. On AWS a
transactional write costs two write units rather than one; it saves a round trip per file.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.core.model import Claim, Duplicate, FileRef, LoadOutcome, Status, now_iso

FILE_ITEM = "FILE"
STATUS_INDEX = "by_status"
MESSAGE_LIMIT = 2000
# A transaction holds at most 100 items: a file's claim and its content claim take two.
CLAIMS_PER_TRANSACTION = 50
OUTCOMES_PER_TRANSACTION = 100
# Why a transaction may cancel an item, other than a bug: its condition, or a concurrent write.
CANCELLED_BY_ANOTHER_WRITER = {"ConditionalCheckFailed", "TransactionConflict"}


@dataclass(frozen=True)
class Entry:
    """A ledger item as read back, for listings and reports."""

    item: dict[str, Any] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.item[name]
        except KeyError:
            return None


def _expression(values: dict[str, Any], remove: tuple[str, ...] = ()) -> tuple[str, dict, dict]:
    """An UpdateExpression with every name aliased (status, key, table... are reserved words)."""
    names = {f"#{k}": k for k in (*values, *remove)}
    placeholders = {f":{k}": v for k, v in values.items()}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
    if remove:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in remove)
    return expression, names, placeholders


class Ledger:
    def __init__(self, dynamodb: Any, table: str, lease_seconds: int = 900, max_attempts: int = 5):
        self._db = dynamodb
        self.table = table
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    def claim(
        self, ref: FileRef, pipeline: str = "", table: str = "", replay: bool = False
    ) -> Claim | Duplicate:
        """Take the file for this worker, or learn that another delivery already has it.

        ``replay`` takes a FAILED file whatever its error, and keeps the failure as a REPLAYED
        history item: that is how ``ingest replay`` re-ingests after a fix.
        """
        now = time.time()
        fields = self._claim_fields(ref, pipeline, table, now)
        token, started_at = fields["claim_token"], fields["started_at"]
        expression, names, values = _expression(
            fields, remove=("error_type", "error_message", "retryable", "finished_at")
        )
        expression += " ADD #attempts :one"
        names["#attempts"] = "attempts"
        values.update({":one": 1, ":now_epoch": int(now), ":failed": Status.FAILED.value})
        values.update({":true": True, ":max_attempts": self.max_attempts})
        condition = (
            # never claimed
            "attribute_not_exists(pk)"
            # a worker claimed it and its lease ran out: it crashed or timed out
            " OR (#status = :status AND #lease_expires_at < :now_epoch)"
            # it failed for a reason that may pass, and has attempts left
            " OR (#status = :failed AND #retryable = :true AND #attempts < :max_attempts)"
        )
        if replay:
            condition = "#status = :failed"
            # DynamoDB refuses values an expression does not use.
            del values[":true"], values[":max_attempts"], values[":now_epoch"]
        names["#retryable"] = "retryable"
        from botocore.exceptions import ClientError

        try:
            response = self._db.update_item(
                TableName=self.table,
                Key=self._key(ref),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_marshal(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = _unmarshal(err.response.get("Item") or self._get_raw(ref) or {})
            return self._record_duplicate(ref, old)
        old = _unmarshal(response.get("Attributes") or {})
        if replay:
            self._keep_history(ref, old, started_at)
        attempt = int(old.get("attempts", 0)) + 1
        return Claim(ref=ref, token=token, attempt=attempt, started_at=started_at)

    def _claim_fields(self, ref: FileRef, pipeline: str, table: str, now: float) -> dict[str, Any]:
        started_at = now_iso()
        return {
            "status": Status.IN_PROGRESS.value,
            "claim_token": uuid.uuid4().hex,
            "lease_expires_at": int(now + self.lease_seconds),
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
            identities = {ref.identity, _content_pk(table, ref)}
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
        items = [{**self._claim_fields(ref, pipeline, table, now), "attempts": 1} for ref in refs]
        actions = []
        for ref, item in zip(refs, items, strict=True):
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _marshal({**self._plain_key(ref), **item}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": self._content_item(ref, table),
                        "ConditionExpression": "attribute_not_exists(pk) OR #file = :owner",
                        "ExpressionAttributeNames": {"#file": "file"},
                        "ExpressionAttributeValues": {":owner": {"S": ref.identity}},
                    }
                }
            )
        written = self._transact(actions, group=2)
        for position, (ref, item) in enumerate(zip(refs, items, strict=True)):
            if position in written:
                claims.append(Claim(ref, item["claim_token"], 1, item["started_at"], item))
            else:
                left.append(ref)

    def _transact(self, actions: list[dict[str, Any]], group: int) -> set[int]:
        """Write ``actions`` in one transaction, ``group`` consecutive actions per unit; the
        units written. A unit another writer got to first is left out and the rest tried again."""
        from botocore.exceptions import ClientError

        units = set(range(len(actions) // group))
        while units:
            try:
                self._db.transact_write_items(
                    TransactItems=[a for n, a in enumerate(actions) if n // group in units]
                )
            except ClientError as err:
                if err.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                order = sorted(units)
                reasons = err.response.get("CancellationReasons") or []
                refused = set()
                for position, reason in enumerate(reasons):
                    code = reason.get("Code", "None")
                    if code == "None":
                        continue
                    if code not in CANCELLED_BY_ANOTHER_WRITER:
                        raise
                    refused.add(order[position // group])
                if not refused:
                    raise
                units -= refused
                continue
            return units
        return units

    def complete_many(self, outcomes: list[tuple[Claim, LoadOutcome]]) -> list[bool]:
        """Record LOADED for many claims, 100 to a transaction; False where the claim was lost."""
        done: dict[int, bool] = {}
        whole = [(n, claim, outcome) for n, (claim, outcome) in enumerate(outcomes) if claim.item is not None]
        for n, (claim, outcome) in enumerate(outcomes):
            if claim.item is None:
                done[n] = self.complete(claim, outcome)
        for start in range(0, len(whole), OUTCOMES_PER_TRANSACTION):
            chunk = whole[start : start + OUTCOMES_PER_TRANSACTION]
            actions = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _marshal(
                            {**self._plain_key(claim.ref), **(claim.item or {}), **_loaded(outcome)}
                        ),
                        "ConditionExpression": "#claim_token = :claim_token",
                        "ExpressionAttributeNames": {"#claim_token": "claim_token"},
                        "ExpressionAttributeValues": {":claim_token": {"S": claim.token}},
                    }
                }
                for _, claim, outcome in chunk
            ]
            written = self._transact(actions, group=1)
            for position, (n, _, _) in enumerate(chunk):
                done[n] = position in written
        return [done[n] for n in range(len(outcomes))]

    def _keep_history(self, ref: FileRef, failure: dict[str, Any], replayed_at: str) -> None:
        history = {k: v for k, v in failure.items() if k not in {"claim_token", "lease_expires_at"}}
        history.update(
            sk=f"HISTORY#{replayed_at}",
            status=Status.REPLAYED.value,
            previous_status=failure.get("status", ""),
            replayed_at=replayed_at,
        )
        self._db.put_item(TableName=self.table, Item=_marshal(history))

    def _record_duplicate(self, ref: FileRef, old: dict[str, Any]) -> Duplicate:
        previous = str(old.get("status", "UNKNOWN"))
        if previous == Status.IN_PROGRESS:
            reason = f"being ingested by another delivery (attempt {old.get('attempts')})"
        elif previous == Status.LOADED:
            reason = f"already loaded at {old.get('finished_at')} by job {old.get('load_job_id')}"
        elif previous == Status.FAILED and old.get("retryable"):
            reason = f"failed {old.get('attempts')} times; retries exhausted ({old.get('error_type')})"
        else:
            reason = f"already failed with {old.get('error_type')}; use `ingest replay` to retry"
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
            "pipeline": old.get("pipeline", ""),
            "started_at": at,
            "finished_at": at,
        }
        self._db.put_item(TableName=self.table, Item=_marshal(item))
        return Duplicate(ref=ref, previous_status=previous, reason=reason)

    def record_ignored(self, ref: FileRef, reason: str) -> None:
        """Note an object that is not data, so listings show it was seen and why it was let be."""
        at = now_iso()
        item = {
            "pk": ref.identity,
            "sk": FILE_ITEM,
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
        self._db.put_item(TableName=self.table, Item=_marshal(item))

    def claim_content(self, claim: Claim, table: str) -> str | None:
        """Register this file's bytes as loading into ``table``; the identity of an earlier file
        with the same bytes that is loaded or being loaded into it, else None.

        The ETag stands for the bytes: S3 gives identical uploads the same ETag. A previous owner
        that failed or was skipped does not block: its bytes never reached the warehouse. The
        same bytes bound for another table are not a duplicate: they are not in that table yet.
        """

        ref = claim.ref
        item = self._content_item(ref, table)
        key = {"pk": item["pk"], "sk": item["sk"]}
        for _ in range(3):
            if self._put_content(item, "attribute_not_exists(pk) OR #file = :owner", ref.identity):
                return None
            owner = _unmarshal(self._db.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"])
            owner_file = self._db.get_item(
                TableName=self.table,
                Key={"pk": {"S": owner["file"]}, "sk": {"S": FILE_ITEM}},
                ConsistentRead=True,
            ).get("Item")
            status = _unmarshal(owner_file or {}).get("status")
            if status in {Status.LOADED, Status.IN_PROGRESS}:
                return str(owner["file"])
            # The owner never loaded: take the content over, if nobody else did meanwhile.
            if self._put_content(item, "#file = :owner", owner["file"]):
                return None
        raise RuntimeError(f"content claim of {ref.uri} kept changing hands")

    @staticmethod
    def _content_item(ref: FileRef, table: str) -> dict[str, Any]:
        return {
            "pk": {"S": _content_pk(table, ref)},
            "sk": {"S": "CONTENT"},
            "file": {"S": ref.identity},
            "key": {"S": ref.key},
            "at": {"S": now_iso()},
        }

    def _put_content(self, item: dict[str, Any], condition: str, owner: str) -> bool:
        """Write the content item if ``condition`` holds for ``:owner``; False if it does not."""
        from botocore.exceptions import ClientError

        try:
            self._db.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#file": "file"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def skip_duplicate_content(self, claim: Claim, pipeline: str, duplicate_of: str) -> bool:
        """Record that this file holds the same bytes as ``duplicate_of`` and was not loaded."""
        return self._finish(
            claim,
            {
                "status": Status.SKIPPED_DUPLICATE.value,
                "pipeline": pipeline,
                "duplicate_of": duplicate_of,
                "reason": f"same bytes as {duplicate_of.rsplit('#', 1)[0]}",
                "finished_at": now_iso(),
                "updated_at": now_iso(),
            },
        )

    def complete(self, claim: Claim, outcome: LoadOutcome) -> bool:
        """Record LOADED; False when the claim was lost to another worker meanwhile."""
        return self._finish(claim, _loaded(outcome))

    def fail(self, claim: Claim, error_type: str, message: str, retryable: bool, **details: Any) -> bool:
        """Record FAILED with the reason; False when the claim was lost meanwhile."""
        fields = {
            "status": Status.FAILED.value,
            "error_type": error_type,
            "error_message": message[:MESSAGE_LIMIT],
            "retryable": retryable,
            "finished_at": now_iso(),
            "updated_at": now_iso(),
            **{k: v for k, v in details.items() if v is not None},
        }
        return self._finish(claim, fields)

    def _finish(self, claim: Claim, fields: dict[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        expression, names, values = _expression(fields)
        names["#claim_token"] = "claim_token"
        values[":claim_token"] = claim.token
        try:
            self._db.update_item(
                TableName=self.table,
                Key=self._key(claim.ref),
                UpdateExpression=expression,
                ConditionExpression="#claim_token = :claim_token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_marshal(values),
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_load(
        self, table: str, job_id: str, members: list[str], rows: int, succeeded: bool, error: str = ""
    ) -> None:
        """Note one load job into ``table`` (and its MERGE), for the daily quota and for audits.

        Items live under ``loads#<table>#<UTC day>``, one per job, listing its member files.
        """
        at = now_iso()
        item = {
            "pk": _loads_key(table, at[:10]),
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
        self._db.put_item(TableName=self.table, Item=_marshal(item))

    def loads_on(self, table: str, day: str) -> int:
        """Load jobs into ``table`` on the UTC day ``day`` (YYYY-MM-DD), failed ones included."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _loads_key(table, day)}},
            "Select": "COUNT",
        }
        return sum(int(page["Count"]) for page in _pages(self._db.query, kwargs))

    def loads(self, table: str, day: str) -> list[Entry]:
        """The load records of ``table`` on the UTC day ``day``: job id, member files, rows."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _loads_key(table, day)}},
            "ConsistentRead": True,
        }
        return [Entry(_unmarshal(item)) for page in _pages(self._db.query, kwargs) for item in page["Items"]]

    def to_claim(self, refs: list[FileRef]) -> list[FileRef]:
        """Of ``refs``, those a claim could take: never seen, retryable failures with attempts
        left, and claims whose lease ran out. Batch mode skips the rest without a write."""
        now = time.time()
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(refs), 100):  # BatchGetItem reads at most 100 keys a call
            keys = [self._key(ref) for ref in refs[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table, []):
                    plain = _unmarshal(item)
                    found[plain["pk"]] = plain
                request = response.get("UnprocessedKeys") or {}

        def claimable(item: dict[str, Any] | None) -> bool:
            if item is None:
                return True
            status = item.get("status")
            if status == Status.IN_PROGRESS:
                return int(item.get("lease_expires_at", 0)) < now
            if status == Status.FAILED:
                return bool(item.get("retryable")) and int(item.get("attempts", 0)) < self.max_attempts
            return False

        return [ref for ref in refs if claimable(found.get(ref.identity))]

    def get(self, ref: FileRef) -> Entry | None:
        raw = self._get_raw(ref)
        return Entry(_unmarshal(raw)) if raw else None

    def _get_raw(self, ref: FileRef) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self.table, Key=self._key(ref), ConsistentRead=True)
        return response.get("Item")

    def deliveries(self, ref: FileRef) -> list[Entry]:
        """Every ledger item of one file version: its FILE item and its skipped redeliveries."""
        kwargs = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": ref.identity}},
            "ConsistentRead": True,
        }
        return [Entry(_unmarshal(item)) for page in _pages(self._db.query, kwargs) for item in page["Items"]]

    def entries(self, status: Status | None = None, since: str | None = None) -> list[Entry]:
        """Ledger items, newest first; by status through the status index, else a scan."""
        kwargs: dict[str, Any] = {"TableName": self.table}
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
        items = [item for page in _pages(operation, kwargs) for item in page["Items"]]
        entries = [Entry(_unmarshal(item)) for item in items]
        return sorted(entries, key=lambda e: e.started_at or "", reverse=True)

    @staticmethod
    def _key(ref: FileRef) -> dict[str, Any]:
        return {"pk": {"S": ref.identity}, "sk": {"S": FILE_ITEM}}

    @staticmethod
    def _plain_key(ref: FileRef) -> dict[str, Any]:
        return {"pk": ref.identity, "sk": FILE_ITEM}


def _pages(operation: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every response page of a DynamoDB query or scan."""
    while True:
        response = operation(**kwargs)
        yield response
        if "LastEvaluatedKey" not in response:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def _loaded(outcome: LoadOutcome) -> dict[str, Any]:
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
        "extra_fields": list(outcome.extra_fields),
        **({"validation": outcome.validation} if outcome.validation else {}),
        "finished_at": finished_at,
        "updated_at": finished_at,
    }


def _content_pk(table: str, ref: FileRef) -> str:
    """The content item of a file's bytes bound for ``table`` (the ETag stands for the bytes)."""
    return f"content#{table}#{ref.etag}#{ref.size}"


def _loads_key(table: str, day: str) -> str:
    return f"loads#{table}#{day}"


def summarize(entries: list[Entry]) -> dict[str, Any]:
    """Counts by status and row totals of loaded files."""
    by_status = Counter(e.status for e in entries)
    loaded = [e for e in entries if e.status == Status.LOADED]
    return {
        "entries": len(entries),
        "by_status": dict(sorted(by_status.items())),
        "rows_in": sum(int(e.rows_in or 0) for e in loaded),
        "rows_loaded": sum(int(e.rows_loaded or 0) for e in loaded),
        "rows_quarantined": sum(int(e.rows_quarantined or 0) for e in loaded),
    }


def _marshal(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in values.items()}


def _unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _plain(deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def table_definition(name: str) -> dict[str, Any]:
    """The ledger table's CreateTable arguments (local stack and tests; deploy/ has the same)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "started_at", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "started_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
