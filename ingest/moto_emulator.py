"""Launch moto's server with two AWS guarantees the pipeline relies on and moto lacks.

1. DynamoDB conditional writes are atomic. moto serves requests on many threads and applies a
   conditional ``UpdateItem`` as "check, then write" without a lock, so two concurrent claims
   of one file could both pass; moto's DynamoDB item operations are serialised here.
2. ``CopyObject`` honours ``x-amz-copy-source-if-match``. moto implements only the
   ``if-none-match`` form, so keeping a failed file would copy a version that replaced it.

Everything else (S3, SQS long polls) stays concurrent. Run with ``python -P`` so this file's
folder (the ``ingest`` package) does not shadow standard modules such as ``inspect``.
"""

import functools
import sys
import threading
from urllib.parse import parse_qs, unquote, urlparse

from moto.dynamodb.models import DynamoDBBackend
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
    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    S3Response.copy_object = _copy_only_if_match(S3Response.copy_object)
    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
