"""The run's SQS queue as the runners and the sender see it: one serialised client, its counts,
and the object key in each message."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus


class SerializedSQS:
    """An SQS client whose calls hold one lock shared by every process of the run.

    moto's SQS queue is not safe under concurrent calls: ``Queue.delete_message`` rebuilds the
    message list without the queue's lock, so two deletes at once bring one deleted message back
    (it is received again once its visibility timeout ends) and a send during a delete is lost, and
    two receives at once can both take the same message. Real SQS has none of this; the run
    serialises its own calls (long polls become short polls, with the wait outside the lock) so
    the accounting measures the pipeline, not the emulator. ``--no-sqs-lock`` shows the emulator's
    behaviour.
    """

    def __init__(self, client: Any, lock_path: Path | None) -> None:
        self._client = client
        self._threads = threading.Lock()
        self._file = open(lock_path, "a+b") if lock_path is not None else None  # noqa: SIM115

    def _locked(self, call: Callable[[], Any]) -> Any:
        if self._file is None:
            return call()
        import fcntl

        with self._threads:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                return call()
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if self._file is None:
            return self._client.receive_message(**kwargs)
        deadline = time.monotonic() + kwargs.pop("WaitTimeSeconds", 0)
        while True:
            response = self._locked(lambda: self._client.receive_message(WaitTimeSeconds=0, **kwargs))
            if response.get("Messages") or time.monotonic() >= deadline:
                return response
            time.sleep(0.1)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._locked(lambda: attribute(*args, **kwargs))


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
