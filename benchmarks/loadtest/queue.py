"""The run's SQS queue as the runners and the sender see it: its counts and the object key in
each message.

Runners and the sender call the local stack's SQS at once, as Lambda's pollers and S3 do; the
local stack's moto serialises its SQS operations itself (``ingest_devstack/moto_emulator.py``,
point 6), so nothing here needs a lock."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    names.append("ApproximateNumberOfMessagesDelayed")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    counts = {
        "visible": int(attributes.get(names[0], 0)),
        "in_flight": int(attributes.get(names[1], 0)),
        "delayed": int(attributes.get(names[2], 0)),
    }
    counts["total"] = sum(counts.values())
    return counts


def event_key(body: str) -> str:
    """The decoded object key of an S3 event message."""
    return unquote_plus(json.loads(body)["Records"][0]["s3"]["object"]["key"])
