"""The demo's Lambda progress bars count files: their totals are the files uploaded, never passed.

The queue also holds S3's ``s3:TestEvent`` (sent once when the bucket's notifications are set
up), and a message the handler hands back for a retry is received again: neither may push the
bar past its total (the demo once showed ``206/205``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from rich.console import Console

from ingest_devstack import demo

QUEUE_URL = "http://sqs.local/000000000000/ingest"
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:ingest"
VISIBILITY_SECONDS = 0.1


class FakeQueue:
    """An SQS queue as far as ``worker.drain`` uses it: a message received and not deleted is
    received again once its visibility timeout (VISIBILITY_SECONDS) has passed."""

    def __init__(self, bodies: list[str]) -> None:
        self.waiting = list(bodies)
        self.in_flight: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()
        self.handles = itertools.count()

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": QUEUE_ARN}}

    def receive_message(self, *, MaxNumberOfMessages: int, **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        with self.lock:
            now = time.monotonic()
            for handle, (body, since) in list(self.in_flight.items()):
                if now - since > VISIBILITY_SECONDS:
                    del self.in_flight[handle]
                    self.waiting.append(body)
            handed = self.waiting[:MaxNumberOfMessages]
            del self.waiting[:MaxNumberOfMessages]
            messages = []
            for body in handed:
                handle = f"rh-{next(self.handles)}"
                self.in_flight[handle] = (body, now)
                messages.append({"MessageId": body_id(body), "ReceiptHandle": handle, "Body": body})
        if not messages:
            time.sleep(0.01)  # a long poll that found nothing
        return {"Messages": messages}

    def delete_message_batch(self, *, Entries: list[dict[str, str]], **_: Any) -> dict[str, Any]:  # noqa: N803
        with self.lock:
            for entry in Entries:
                self.in_flight.pop(entry["ReceiptHandle"], None)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def object_created(key: str) -> str:
    """The body S3 puts on the queue for one new object."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-12-07T06:45:25.000Z",
        "s3": {
            "bucket": {"name": "payments-lake"},
            "object": {"key": key, "eTag": f"etag-{key}", "size": 10},
        },
    }
    return json.dumps({"Records": [record]})


TEST_EVENT = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "payments-lake"})


def body_id(body: str) -> str:
    message = json.loads(body)
    return message["Records"][0]["s3"]["object"]["key"] if "Records" in message else "test-event"


def handled(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"batchItemFailures": []}


def drain_with_bar(queue: FakeQueue, files: int, handle: Any = handled) -> tuple[Any, str]:
    console = Console(record=True, width=100)
    stats = demo.process_queue(
        queue, QUEUE_URL, files, "Lambda handler", console, handle=handle, idle_seconds=0.3
    )
    return stats, console.export_text()


def test_the_bar_counts_the_files_uploaded_not_s3s_test_event():
    # GIVEN three uploaded files' events and the test event S3 sent when notifications were set up
    queue = FakeQueue([TEST_EVENT, *(object_created(f"paypal/page-{n}.json") for n in range(3))])

    # WHEN the demo drains the queue with a bar of three files
    stats, shown = drain_with_bar(queue, files=3)

    # THEN every message was handled, and the bar ends at its total
    assert stats.messages == 4
    assert "3/3" in shown and "4/3" not in shown


def test_a_message_handed_back_for_a_retry_is_counted_when_it_is_done():
    queue = FakeQueue([object_created(f"payments/part-{n}") for n in range(3)])
    failed_once: set[str] = set()

    def retry_first_delivery_of_part_1(event: dict[str, Any], context: Any) -> dict[str, Any]:
        retry = [
            {"itemIdentifier": r["messageId"]}
            for r in event["Records"]
            if r["messageId"] == "payments/part-1" and r["messageId"] not in failed_once
        ]
        failed_once.update(item["itemIdentifier"] for item in retry)
        return {"batchItemFailures": retry}

    stats, shown = drain_with_bar(queue, files=3, handle=retry_first_delivery_of_part_1)

    assert stats.messages == 4  # part-1 was received twice
    assert "3/3" in shown and "4/3" not in shown


def test_the_redelivery_total_is_the_files_its_messages_name():
    bodies = [TEST_EVENT, object_created("a.csv"), object_created("b.csv")]

    assert demo.files_in(bodies) == 2
    assert demo.files_in_message("not json") == 0
    assert demo.files_in_message("[1, 2]") == 0
