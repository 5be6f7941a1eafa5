"""Same bytes, loaded once per table: the ledger's content items.

A file claimed for loading also registers its bytes (its ETag) as loading into its table. Another
file with the same bytes then learns it is a duplicate of a loaded file, or waits on a file still
loading them; a file that fails for good lets go of its bytes and reopens its waiters.
"""

from __future__ import annotations

from typing import Any

from ingest.adapters.dynamodb import items
from ingest.adapters.dynamodb.claim_rules import (
    Condition,
    content_free_or_owned_by,
    content_owned_by,
    owner_holds_content,
    skipped_as_duplicate_of,
)
from ingest.adapters.dynamodb.codec import marshal, unmarshal, update_expression
from ingest.adapters.dynamodb.transactions import conditional
from ingest.core.model import FileRef, Status

# Rounds of "the owner changed while we looked" before giving up on a content claim.
CONTENT_CLAIM_ROUNDS = 3


def claim_content(db: Any, ledger_table: str, ref: FileRef, table: str) -> str | None:
    """Register ``ref``'s bytes as loading into ``table``; the identity of an earlier file with
    the same bytes that is loaded or being loaded into it, else None.

    The ETag stands for the bytes: S3 gives identical uploads the same ETag. A previous owner
    that failed or was skipped does not block: its bytes never reached the warehouse. The
    same bytes bound for another table are not a duplicate: they are not in that table yet.
    A file that finds the owner still loading waits on it (``release_content``).
    """
    item = items.content_item(ref, table)
    key = marshal({"pk": item["pk"], "sk": item["sk"]})
    for _ in range(CONTENT_CLAIM_ROUNDS):
        if _put_content(db, ledger_table, item, content_free_or_owned_by(ref.identity)):
            return None
        owner = unmarshal(db.get_item(TableName=ledger_table, Key=key, ConsistentRead=True)["Item"])
        owner_file = db.get_item(
            TableName=ledger_table,
            Key=marshal({"pk": owner["file"], "sk": items.FILE_ITEM}),
            ConsistentRead=True,
        ).get("Item")
        owner_status = unmarshal(owner_file or {}).get("status")
        if owner_status == Status.LOADED:
            return str(owner["file"])
        if owner_holds_content(owner_status):
            # Still loading: wait on it, unless it let go of the bytes meanwhile.
            if _wait_on(db, ledger_table, key, str(owner["file"]), ref.identity):
                return str(owner["file"])
            continue
        # The owner never loaded: take the content over, if nobody else did meanwhile.
        if _put_content(db, ledger_table, item, content_owned_by(owner["file"])):
            return None
    raise RuntimeError(f"content claim of {ref.uri} kept changing hands")


def release_content(db: Any, ledger_table: str, ref: FileRef, table: str) -> int:
    """Let go of the bytes of ``ref``, which failed for good, and reopen the files skipped as
    holding the same bytes while it was loading; how many were reopened."""
    from botocore.exceptions import ClientError

    owner = ref.identity
    condition = content_owned_by(owner)
    try:
        response = db.delete_item(
            TableName=ledger_table,
            Key=marshal({"pk": items.content_pk(table, ref), "sk": items.CONTENT_ITEM}),
            ConditionExpression=condition.expression,
            ExpressionAttributeNames=condition.names,
            ExpressionAttributeValues=marshal(condition.values),
            ReturnValues="ALL_OLD",
        )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return 0  # it never held them, or another file took them over
        raise
    waiters = unmarshal(response.get("Attributes") or {}).get("waiters") or []
    reopened = 0
    for waiter in sorted(waiters):
        expression, names, values = update_expression(items.reopened_fields(owner))
        still_skipped = skipped_as_duplicate_of(owner)
        reopened += conditional(
            db.update_item,
            TableName=ledger_table,
            Key=marshal({"pk": waiter, "sk": items.FILE_ITEM}),
            UpdateExpression=expression,
            ConditionExpression=still_skipped.expression,
            ExpressionAttributeNames={**names, **still_skipped.names},
            ExpressionAttributeValues=marshal({**values, **still_skipped.values}),
        )
    return reopened


def _put_content(db: Any, ledger_table: str, item: dict[str, Any], condition: Condition) -> bool:
    """Take the content item if ``condition`` holds, keeping its waiters; False if not."""
    names = {"#file": "file", "#key": "key", "#at": "at"}
    values = {":file": item["file"], ":key": item["key"], ":at": item["at"]}
    return conditional(
        db.update_item,
        TableName=ledger_table,
        Key=marshal({"pk": item["pk"], "sk": item["sk"]}),
        UpdateExpression="SET #file = :file, #key = :key, #at = :at",
        ConditionExpression=condition.expression,
        ExpressionAttributeNames={**names, **condition.names},
        ExpressionAttributeValues=marshal({**values, **condition.values}),
    )


def _wait_on(db: Any, ledger_table: str, content_key: dict[str, Any], owner: str, waiter: str) -> bool:
    """Note ``waiter`` on the content item while ``owner`` still holds it; False if not."""
    condition = content_owned_by(owner)
    return conditional(
        db.update_item,
        TableName=ledger_table,
        Key=content_key,
        UpdateExpression="ADD #waiters :waiter",
        ConditionExpression=condition.expression,
        ExpressionAttributeNames={"#waiters": "waiters", **condition.names},
        ExpressionAttributeValues=marshal({":waiter": {waiter}, **condition.values}),
    )
