"""Launch moto's server with DynamoDB item writes made atomic, as they are on AWS.

moto serves requests on many threads and applies a conditional ``UpdateItem`` as "check, then
write" without a lock, so two concurrent claims of one file can both pass their condition.
DynamoDB guarantees a conditional write is atomic, and the ledger's exactly-once claim relies
on that; this launcher serialises moto's DynamoDB item operations so the local stack keeps the
same guarantee. Everything else (S3, SQS long polls) stays concurrent.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
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


def main(argv):
    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
