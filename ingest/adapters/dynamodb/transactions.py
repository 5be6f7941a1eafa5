"""The ledger's conditional writes: one at a time (``conditional``), and batch mode's many claims
or outcomes to one ``TransactWriteItems``.

Batch mode claims files never seen before 50 to a transaction (each file's claim and its content
claim, all or nothing) and records their outcomes 100 to one, under the same conditions as the
one-by-one writes; a file a transaction cannot take goes through the one-by-one ``claim``. On AWS
a transactional write costs two write units rather than one; it saves a round trip per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ingest.adapters.dynamodb.claim_rules import (
    NEVER_CLAIMED,
    Condition,
    content_free_or_owned_by,
    holds_the_claim,
)
from ingest.adapters.dynamodb.codec import marshal
from ingest.adapters.dynamodb.items import content_item, file_key
from ingest.core.model import FileRef

# A transaction holds at most 100 items: a file's claim and its content claim take two.
CLAIMS_PER_TRANSACTION = 50
OUTCOMES_PER_TRANSACTION = 100
# Why a transaction may cancel an item, other than a bug: its condition, or a concurrent write.
CANCELLED_BY_ANOTHER_WRITER = {"ConditionalCheckFailed", "TransactionConflict"}


class TransactingClient(Protocol):
    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]: ...


def conditional(write: Callable[..., dict[str, Any]], **kwargs: Any) -> bool:
    """Make a conditional ``write``; False when its condition did not hold."""
    from botocore.exceptions import ClientError

    try:
        write(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def claim_actions(ledger_table: str, ref: FileRef, claim: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The two writes claiming a file never seen before: its FILE item (``claim`` its fields) and
    its bytes for ``table``."""
    return [
        _put(ledger_table, {**file_key(ref), **claim}, Condition(NEVER_CLAIMED.condition, {}, {})),
        _put(ledger_table, content_item(ref, table), content_free_or_owned_by(ref.identity)),
    ]


def outcome_action(ledger_table: str, item: dict[str, Any], token: str) -> dict[str, Any]:
    """The write replacing a claimed FILE item whole with ``item``, while the claim still holds."""
    return _put(ledger_table, item, holds_the_claim(token))


def record_action(ledger_table: str, item: dict[str, Any]) -> dict[str, Any]:
    """An unconditional write of a record item (a load job's note) beside the outcomes."""
    return _put(ledger_table, item, None)


def _put(ledger_table: str, item: dict[str, Any], condition: Condition | None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": ledger_table, "Item": marshal(item)}
    if condition is None:
        return {"Put": put}
    put["ConditionExpression"] = condition.expression
    if condition.names:
        put["ExpressionAttributeNames"] = condition.names
    if condition.values:
        put["ExpressionAttributeValues"] = marshal(condition.values)
    return {"Put": put}


def transact(db: TransactingClient, actions: list[dict[str, Any]], group: int) -> set[int]:
    """Write ``actions`` in one transaction, ``group`` consecutive actions per unit; the
    units written. A unit another writer got to first is left out and the rest tried again."""
    from botocore.exceptions import ClientError

    units = set(range(len(actions) // group))
    while units:
        try:
            db.transact_write_items(TransactItems=[a for n, a in enumerate(actions) if n // group in units])
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            order = sorted(units)
            refused = set()
            for position, reason in enumerate(err.response.get("CancellationReasons") or []):
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


def chunked(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
