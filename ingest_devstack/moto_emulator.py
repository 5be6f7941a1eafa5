"""Launch moto's server with what the pipeline relies on in AWS and moto lacks.

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
4. Connections stay open between calls, as AWS's do. werkzeug's development server, which
   moto's own launcher uses, answers every request with ``Connection: close``: each boto3 call
   paid a new TCP connection and the server a new thread. The app is served by waitress here
   instead (in one measurement of 600 S3 calls, 40% less server CPU), with two fixes of the
   request edges below (``_with_raw_uri``, ``_Channel``).
5. Routing a request to its service costs what it should. moto lists its own package folder (a
   stat of each of its ~180 entries) and tries its URL patterns for every request, under a
   lock all requests wait on; the answer depends only on the host it infers (service and
   region), so it is remembered per host.
6. An SQS message is received by one consumer at a time, and a deleted one stays deleted, as in
   AWS. moto's queues change their messages without a lock: ``Queue.delete_message`` rebuilds
   the message list and then assigns it, so two deletes at once bring one of the two messages
   back (received again once its visibility timeout ends) and a message sent in between is
   lost; two receives at once can both take one message, since each checks that a message is
   visible before either marks it received. moto's SQS operations on messages are serialised
   here. A long poll waits outside the lock, woken by every send and visibility change, so a
   receiver waiting 20 s holds up no one.
7. Receiving or sending a message costs what it does on AWS, not passes over every message of the
   queue per message (plus a ``datetime`` pair per message looked at): ``moto_sqs_costs.py`` says
   how, with the profile that found it.
8. A DynamoDB ``Query`` on the table's key reads its partition, not every item of the table
   sorted: ``moto_dynamodb_costs.py``.

Everything else (S3, SQS long polls) stays concurrent. Run with ``python -P`` so this file's
folder (the ``ingest`` package) does not shadow standard modules such as ``inspect``.
"""

import argparse
import copy
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.exceptions import PreconditionFailed
from moto.s3.responses import S3Response
from moto.sqs.models import SQSBackend
from waitress import create_server
from waitress.channel import HTTPChannel

from ingest_devstack.moto_dynamodb_costs import cheapen_dynamodb_queries
from ingest_devstack.moto_sqs_costs import cheapen_sqs

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
# Every SQSBackend operation that reads or changes a queue's messages (point 6), and whether it
# may make a message receivable (and so must wake the long polls waiting).
SQS_MESSAGE_OPERATIONS = {
    "send_message": True,
    "send_message_batch": True,
    "change_message_visibility": True,
    "change_message_visibility_batch": True,
    "delete_message": False,
    "delete_message_batch": False,
    "purge_queue": False,
    "get_queue_attributes": False,
}
# Held by one SQS message operation at a time; long polls wait on it, releasing the lock. The
# lock is reentrant because the batch operations call their one-message forms, patched too.
_sqs_changed = threading.Condition(threading.RLock())
# moto's own long-poll loop looks again every second; visibility timeouts that run out and
# delays that end wake no one, so a waiting receive looks again at least this often.
SQS_POLL_SECONDS = 1.0
# Requests served at once: SQS long polls each hold a thread for up to 20 s while runners,
# tests' concurrent claims and readers keep going.
SERVER_THREADS = 64
# Open keep-alive connections (each boto3 client pools up to 10); idle ones close after a minute.
CONNECTION_LIMIT = 1_000
IDLE_SECONDS = 60
# S3's limit for one PUT; waitress's default is 1 GB.
MAX_BODY_BYTES = 5 << 30


def _serialised(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _item_lock:
            return operation(*args, **kwargs)

    return locked


def _sqs_serialised(operation: Callable[..., Any], wakes_receivers: bool) -> Callable[..., Any]:
    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _sqs_changed:
            try:
                return operation(*args, **kwargs)
            finally:
                if wakes_receivers:
                    _sqs_changed.notify_all()

    return locked


def _long_poll_outside_the_lock(receive_message: Callable[..., Any]) -> Callable[..., Any]:
    """moto's receive, one short poll at a time under the lock, waiting between polls without it.

    moto's own long poll waits inside ``receive_message``: holding the lock there would stop
    every other SQS call for up to 20 s, including the send that would end the wait.
    """

    @functools.wraps(receive_message)
    def receive(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        with _sqs_changed:
            while True:
                received = receive_message(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
                left = deadline - time.monotonic()
                if received or left <= 0:
                    return received
                _sqs_changed.wait(min(left, SQS_POLL_SECONDS))

    return receive


def serialise_sqs() -> None:
    """Patch moto's SQS backend as point 6 says (in this process)."""
    # Patching moto's classes is the point of this launcher; mypy rightly finds it odd.
    SQSBackend.receive_message = _long_poll_outside_the_lock(  # type: ignore[method-assign]
        SQSBackend.receive_message
    )
    for name, wakes_receivers in SQS_MESSAGE_OPERATIONS.items():
        setattr(SQSBackend, name, _sqs_serialised(getattr(SQSBackend, name), wakes_receivers))


def _conditions_checked_first(transact_write_items: Callable[..., Any]) -> Callable[..., Any]:
    """Cancel a transaction whose conditions do not all hold, before it writes anything."""

    @functools.wraps(transact_write_items)
    def transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        with _item_lock:
            reasons = [_failed_condition(self, action) for action in transact_items]
            if any(reason[0] is not None for reason in reasons):
                raise TransactionCanceledException(reasons)
            # Every condition holds, and nothing can change under the lock: moto need not parse
            # and check them again (half its CPU for a 100-item claim).
            return transact_write_items(self, [_unconditional(action) for action in transact_items])

    return transact


def _unconditional(action: dict[str, Any]) -> dict[str, Any]:
    """The write without its condition; a ``ConditionCheck``, which writes nothing, as it is."""
    if len(action) != 1:
        return action
    kind, operation = next(iter(action.items()))
    if kind == "ConditionCheck" or "ConditionExpression" not in operation:
        return action
    return {kind: {name: value for name, value in operation.items() if name != "ConditionExpression"}}


def _failed_condition(backend: DynamoDBBackend, action: dict[str, Any]) -> tuple[str | None, str | None, Any]:
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

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _remembered_per_host(get_backend_for_host: Callable[..., Any]) -> Callable[..., Any]:
    backends: dict[str, Any] = {}

    @functools.wraps(get_backend_for_host)
    def get(self: DomainDispatcherApplication, host: str) -> Any:
        if host not in backends:
            backends[host] = get_backend_for_host(self, host)
        return backends[host]

    return get


def _with_raw_uri(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """moto reads an S3 key from the request line as sent (``RAW_URI``, werkzeug's name), so a
    key holding ``%20`` is not taken for one holding a space; waitress names it ``REQUEST_URI``."""

    def serve_request(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        return app(environ, start_response)

    return serve_request


class _Channel(HTTPChannel):  # type: ignore[misc]  # waitress has no type hints
    """waitress's connection, except that a request whose body has all arrived gets no
    ``100 Continue``. boto3 sends ``Expect: 100-continue`` with every S3 PUT; for an empty body
    waitress sent the 100 and then waited for a body that never comes (the upload hung until
    the client timed out). RFC 9110 lets a server skip the 100 once it has the whole body."""

    def send_continue(self) -> None:
        if self.request.completed:
            self.request.expect_continue = False
            return
        super().send_continue()


def _copy_only_if_match(copy_object: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(copy_object)
    def copy(self: S3Response) -> Any:
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


def main(argv: list[str]) -> None:
    # Patching moto's classes and module is the point of this launcher; mypy rightly finds it odd.
    DynamoDBBackend.transact_write_items = _conditions_checked_first(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )
    dynamodb_models.copy = _TablesUncopied()  # type: ignore[attr-defined,assignment]
    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    S3Response.copy_object = _copy_only_if_match(S3Response.copy_object)  # type: ignore[method-assign]
    DomainDispatcherApplication.get_backend_for_host = _remembered_per_host(  # type: ignore[method-assign]
        DomainDispatcherApplication.get_backend_for_host
    )
    cheapen_dynamodb_queries()
    cheapen_sqs()  # before serialise_sqs, which wraps what this replaces
    serialise_sqs()
    parser = argparse.ArgumentParser(description="moto server for the local stack")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    # moto builds the URLs it hands out (SQS queue URLs, presigned links) from this.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    server = create_server(
        _with_raw_uri(DomainDispatcherApplication(create_backend_app)),
        host=args.host,
        port=args.port,
        threads=SERVER_THREADS,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_SECONDS,
        max_request_body_size=MAX_BODY_BYTES,
        asyncore_use_poll=True,
        ident="moto",
    )
    server.channel_class = _Channel
    server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
