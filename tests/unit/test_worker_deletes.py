"""``ingest_devstack.worker.drain`` says which messages it could not delete, and why.

DeleteMessageBatch answers 200 whatever becomes of its entries: a failed entry is only in the
response's ``Failed`` list, and its message comes back after the visibility timeout.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ingest_devstack import worker

QUEUE_URL = "http://sqs.local/000000000000/events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:events"


class StubSQS:
    """Hands out ``messages`` once, then nothing; answers DeleteMessageBatch with ``failed_ids``
    (entry ids) failed."""

    def __init__(self, messages: list[dict[str, Any]], failed_ids: set[str]) -> None:
        self.messages = messages
        self.failed_ids = failed_ids
        self.delete_calls: list[list[dict[str, str]]] = []

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": QUEUE_ARN}}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        handed, self.messages = self.messages, []
        return {"Messages": handed}

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.delete_calls.append(Entries)
        failed = [
            {
                "Id": e["Id"],
                "SenderFault": True,
                "Code": "ReceiptHandleIsInvalid",
                "Message": f'The input receipt handle "{e["ReceiptHandle"]}" is not a valid receipt handle.',
            }
            for e in Entries
            if e["Id"] in self.failed_ids
        ]
        successful = [{"Id": e["Id"]} for e in Entries if e["Id"] not in self.failed_ids]
        return {"Successful": successful, "Failed": failed}


def message(number: int) -> dict[str, Any]:
    return {"MessageId": f"m-{number}", "ReceiptHandle": f"rh-{number}", "Body": "{}"}


def handled_all(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"batchItemFailures": []}


def test_each_failed_delete_entry_is_logged_with_its_id_code_and_message(caplog):
    sqs = StubSQS([message(n) for n in range(3)], failed_ids={"1"})

    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        stats = worker.drain(sqs, QUEUE_URL, handled_all, workers=1, idle_seconds=0.05)

    assert stats.messages == 3
    assert [[e["ReceiptHandle"] for e in call] for call in sqs.delete_calls] == [["rh-0", "rh-1", "rh-2"]]
    (record,) = [r for r in caplog.records if r.name == worker.__name__]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "entry 1 " in text and "m-1" in text
    assert "ReceiptHandleIsInvalid" in text and '"rh-1" is not a valid receipt handle' in text


def test_a_batch_deleted_whole_logs_nothing(caplog):
    sqs = StubSQS([message(n) for n in range(12)], failed_ids=set())

    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        worker.drain(sqs, QUEUE_URL, handled_all, workers=1, idle_seconds=0.05)

    assert [len(call) for call in sqs.delete_calls] == [10, 2]
    assert [r for r in caplog.records if r.name == worker.__name__] == []


@pytest.mark.parametrize("entry_id", ["7", "x"])
def test_a_failed_entry_the_batch_did_not_send_is_still_logged(caplog, entry_id):
    # An Id outside the chunk (a misbehaving endpoint) must not turn logging into an IndexError.
    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        worker._log_failed_deletes(
            {"Failed": [{"Id": entry_id, "Code": "InternalError", "Message": "boom"}]}, [message(0)]
        )

    (record,) = caplog.records
    assert f"entry {entry_id} (message ?)" in record.getMessage()
