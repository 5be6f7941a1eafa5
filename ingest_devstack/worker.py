"""Run the Lambda handler locally against the SQS queue, the way the SQS event source does.

Long-polls up to 10 messages, hands them to ``ingest.apps.lambda_handler.handle`` as a Lambda SQS event,
deletes the messages that succeeded and leaves those in ``batchItemFailures`` to come back
after the visibility timeout (and to the dead-letter queue after the redrive count).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 10


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
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                    ],
                )
            stats.add(received, len(received) - len(done))
            if on_batch:
                on_batch(len(received))
            idle_since = time.monotonic()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-poller") as pool:
        for future in [pool.submit(poll) for _ in range(workers)]:
            future.result()
    return stats


def _invoke(handle: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any]) -> set[str]:
    """Call the handler; the message ids to leave on the queue."""
    all_ids = {r["messageId"] for r in event["Records"]}
    try:
        response = handle(event, LocalContext())
    except Exception:
        # Lambda treats an invocation error as "the whole batch failed".
        return all_ids
    return {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
