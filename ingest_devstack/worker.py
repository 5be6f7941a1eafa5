"""Run the Lambda handler locally against the SQS queue, the way the SQS event source does.

Long-polls up to 10 messages, hands them to ``ingest.apps.lambda_handler.handle`` as a Lambda SQS event,
deletes the messages that succeeded and leaves those in ``batchItemFailures`` to come back
after the visibility timeout (and to the dead-letter queue after the redrive count).

``drain`` runs pollers as threads of this process; ``drain_processes`` runs several processes of
them, each a warm Lambda container of its own with its own GIL, as the function's concurrency
does on AWS (``ingest worker --processes N``, for a backfill).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 10

logger = logging.getLogger(__name__)


@dataclass
class LocalContext:
    """The parts of the Lambda context object that the handler and powertools read."""

    function_name: str = "ingest-local"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:ingest-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.monotonic() + 900)

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.deadline - time.monotonic()) * 1000)


@dataclass
class DrainStats:
    messages: int = 0
    failed_messages: int = 0
    invocations: int = 0
    bodies: list[str] = field(default_factory=list)
    """Bodies of every message received, so a demo can deliver them all once more."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, received: list[dict[str, Any]], failed: int) -> None:
        with self._lock:
            self.invocations += 1
            self.messages += len(received)
            self.failed_messages += failed
            self.bodies.extend(m["Body"] for m in received)


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS event exactly as the Lambda event source mapping builds it."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def drain(
    sqs: Any,
    queue_url: str,
    handle: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    workers: int = 2,
    idle_seconds: float = 3.0,
    batch_size: int = MAX_BATCH,
    batching_window: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> DrainStats:
    """Process messages until the queue stays empty for ``idle_seconds``; return what was seen.

    Like the Lambda event source, each poller gathers up to ``batch_size`` messages, waiting at
    most ``batching_window`` seconds for a batch to fill, and invokes the handler once per batch.
    """
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue_arn = attributes["Attributes"]["QueueArn"]
    region = queue_arn.split(":")[3]
    stats = DrainStats()

    def gather() -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        window_ends = None
        while len(batch) < batch_size:
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(MAX_BATCH, batch_size - len(batch)),
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received and window_ends is None:
                window_ends = time.monotonic() + batching_window
            batch.extend(received)
            if not received or window_ends is None or time.monotonic() >= window_ends:
                break
        return batch

    def poll() -> None:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_seconds:
            received = gather()
            if not received:
                continue
            failed_ids = _invoke(handle, lambda_event(received, queue_arn, region))
            done = [m for m in received if m["MessageId"] not in failed_ids]
            for start in range(0, len(done), MAX_BATCH):
                chunk = done[start : start + MAX_BATCH]
                response = sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                    ],
                )
                _log_failed_deletes(response, chunk)
            stats.add(received, len(received) - len(done))
            if on_batch:
                on_batch(len(received))
            idle_since = time.monotonic()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-poller") as pool:
        for future in [pool.submit(poll) for _ in range(workers)]:
            future.result()
    return stats


def _log_failed_deletes(response: dict[str, Any], chunk: list[dict[str, Any]]) -> None:
    """DeleteMessageBatch answers 200 even when entries fail; a failed entry's message comes back
    after its visibility timeout and its file is handled again (a duplicate the ledger skips), so
    say which, and why."""
    message_ids = {str(i): m["MessageId"] for i, m in enumerate(chunk)}  # the entry ids sent
    for failed in response.get("Failed", []):
        entry_id = str(failed.get("Id", ""))
        message_id = message_ids.get(entry_id, "?")
        logger.warning(
            "DeleteMessageBatch entry %s (message %s) failed: %s: %s; the message will be received again",
            entry_id,
            message_id,
            failed.get("Code", "?"),
            failed.get("Message", ""),
        )


def _invoke(handle: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any]) -> set[str]:
    """Call the handler; the message ids to leave on the queue."""
    all_ids = {r["messageId"] for r in event["Records"]}
    try:
        response = handle(event, LocalContext())
    except Exception:
        # Lambda treats an invocation error as "the whole batch failed".
        return all_ids
    return {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}


def _drain_in_child(
    queue_url: str, handle: Callable[[dict[str, Any], Any], dict[str, Any]], options: dict[str, Any]
) -> dict[str, Any]:
    """One worker process: its own clients (boto3 clients are not shared across processes)."""
    from ingest.adapters.clients import aws_client

    # No lock around the calls: the local stack's moto serialises SQS itself (moto_emulator.py).
    stats = drain(aws_client("sqs"), queue_url, handle, **options)
    return {
        "messages": stats.messages,
        "failed_messages": stats.failed_messages,
        "invocations": stats.invocations,
        "bodies": stats.bodies,
    }


def drain_processes(
    queue_url: str,
    handle: Callable[[dict[str, Any], Any], dict[str, Any]],
    *,
    processes: int,
    workers: int = 2,
    idle_seconds: float = 3.0,
    batch_size: int = MAX_BATCH,
    batching_window: float = 0.0,
) -> DrainStats:
    """``drain`` in ``processes`` processes at once, each until the queue stays empty for
    ``idle_seconds``; their stats added up. ``handle`` must be importable by name (a module-level
    function): each process imports it, as each Lambda container imports the handler.

    Processes are spawned, not forked: a fork would copy this process's boto3 connections and
    threads into each child. They inherit the environment, so ``--local`` holds in them too.
    """
    context = multiprocessing.get_context("spawn")
    options = {
        "workers": workers,
        "idle_seconds": idle_seconds,
        "batch_size": batch_size,
        "batching_window": batching_window,
    }
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(_drain_in_child, queue_url, handle, options) for _ in range(processes)]
        results = [future.result() for future in futures]
    total = DrainStats()
    for result in results:
        total.messages += result["messages"]
        total.failed_messages += result["failed_messages"]
        total.invocations += result["invocations"]
        total.bodies.extend(result["bodies"])
    return total
