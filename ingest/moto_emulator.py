"""Launch moto's server with two AWS guarantees the pipeline relies on and moto lacks.

1. DynamoDB conditional writes are atomic. moto serves requests on many threads and applies a
   conditional ``UpdateItem`` as "check, then write" without a lock, so two concurrent claims
   of one file could both pass; moto's DynamoDB item operations are serialised here.
2. ``CopyObject`` honours ``x-amz-copy-source-if-match``. moto implements only the
   ``if-none-match`` form, so keeping a failed file would copy a version that replaced it.
3. ``TransactWriteItems`` costs what AWS charges: a pass over its items. moto deep-copies every
   table a transaction touches, to roll back if a condition fails, which makes a 100-item claim
   take seconds once the ledger holds a few thousand items. Here every condition is checked
   first, under the item lock, and the transaction is cancelled before anything is written, so
   no copy is needed.

Everything else (S3, SQS long polls) stays concurrent. Run with ``python -P`` so this file's
folder (the ``ingest`` package) does not shadow standard modules such as ``inspect``.
"""

import copy
import functools
import sys
import threading
from urllib.parse import parse_qs, unquote, urlparse

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.s3.exceptions import PreconditionFailed
from moto.s3.responses import S3Response
from moto.server import main as serve

ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
)
_item_lock = threading.RLock()


def _serialised(operation):
    @functools.wraps(operation)
    def locked(*args, **kwargs):
        with _item_lock:
            return operation(*args, **kwargs)

    return locked


def _conditions_checked_first(transact_write_items):
    """Cancel a transaction whose conditions do not all hold, before it writes anything."""

    @functools.wraps(transact_write_items)
    def transact(self, transact_items):
        with _item_lock:
            reasons = [_failed_condition(self, action) for action in transact_items]
            if any(reason[0] is not None for reason in reasons):
                raise TransactionCanceledException(reasons)
            return transact_write_items(self, transact_items)

    return transact


def _failed_condition(backend, action):
    """(code, message, old item) as moto reports a cancelled action; (None, None, None) if it holds."""
    if len(action) != 1:
        return None, None, None  # moto's own validation answers malformed actions
    kind, operation = next(iter(action.items()))
    condition = operation.get("ConditionExpression")
    if condition is None:
        return None, None, None
    table = backend.get_table(operation["TableName"])
    if kind == "Put":
        attributes = operation["Item"]
        key = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attributes[table.range_key_attr]
    else:
        key = operation["Key"]
    current = backend.get_item(operation["TableName"], key)
    check = get_filter_expression(
        condition, operation.get("ExpressionAttributeNames"), operation.get("ExpressionAttributeValues")
    )
    if check.expr(current):
        return None, None, None
    wants_old = operation.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    old = current.to_json()["Attributes"] if wants_old and current else None
    return "ConditionalCheckFailed", "The conditional request failed", old


class _TablesUncopied:
    """moto's ``copy`` module, except that a whole table is not deep-copied (see point 3)."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _copy_only_if_match(copy_object):
    @functools.wraps(copy_object)
    def copy(self):
        wanted = self.headers.get("x-amz-copy-source-if-match")
        if wanted:
            source = urlparse(self.headers.get("x-amz-copy-source", ""))
            bucket, key = unquote(source.path).lstrip("/").split("/", 1)
            version = parse_qs(source.query).get("versionId", [None])[0]
            current = self.backend.get_object(bucket, key, version_id=version)
            if current is not None and wanted.strip('"') != current.etag.strip('"'):
                raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
        return copy_object(self)

    return copy


def main(argv):
    DynamoDBBackend.transact_write_items = _conditions_checked_first(DynamoDBBackend.transact_write_items)
    dynamodb_models.copy = _TablesUncopied()
    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    S3Response.copy_object = _copy_only_if_match(S3Response.copy_object)
    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
