"""The local stack's SQS under concurrent calls: nothing lost, nothing received twice, no 5xx.

moto changes a queue's messages without a lock (``ingest_devstack/moto_emulator.py``, point 6):
two deletes at once bring a deleted message back, and two receives at once can take one
message. The launcher serialises moto's SQS operations; these tests hold it to that.

- ``test_concurrent_senders_receivers_and_deleters_*`` drives the running local stack over HTTP
  as the demo's pollers and the load test's runners do. Races show up in it as chance allows: on
  moto as shipped, this size (2,000 messages, 8 receivers) failed 4 runs of 4 here, half the
  size 2 of 4; serialised, it takes about 9 s.
- The ``*_at_once_*`` tests call moto's backend in this process and force the interleaving that
  breaks it, so they fail every time on moto as shipped (``moto-as-shipped``, a strict xfail: if
  a moto release fixes its queues, that case passes and says the patch may go).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SENDERS = 4
BATCHES_PER_SENDER = 50  # of 10 messages: 2,000 in all
RECEIVERS = 8
# Longer than the test: a message received twice was handed out twice, not redelivered.
VISIBILITY_SECONDS = 900
# How long the first operation waits, inside moto's critical section, for the second to finish.
PAUSE_SECONDS = 0.5


def _no_retry_sqs() -> Any:
    """An SQS client of the local stack that makes one attempt per call: a retried 500 would
    hide the server error, and a retried send could duplicate a message."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=4)
    return boto3.client("sqs", config=config)


def test_concurrent_senders_receivers_and_deleters_lose_and_duplicate_nothing(stack) -> None:
    sqs = _no_retry_sqs()
    queue_url = sqs.create_queue(
        QueueName=f"concurrency-{uuid.uuid4().hex[:10]}",
        Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)},
    )["QueueUrl"]
    sent: Counter[str] = Counter()
    received: Counter[str] = Counter()
    deleted: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    sending_done = threading.Event()

    def send(sender: int) -> None:
        client = _no_retry_sqs()
        for batch in range(BATCHES_PER_SENDER):
            bodies = [f"{sender}-{batch}-{n}" for n in range(10)]
            response = client.send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies)]
            )
            accepted = {entry["Id"] for entry in response.get("Successful", [])}
            with lock:
                sent.update(b for n, b in enumerate(bodies) if str(n) in accepted)
                problems.extend(f"send failed: {failed}" for failed in response.get("Failed", []))

    def receive_and_delete() -> None:
        client = _no_retry_sqs()
        empty_polls = 0
        while empty_polls < 2:
            messages = client.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not messages:
                empty_polls += sending_done.is_set()
                continue
            empty_polls = 0
            with lock:
                received.update(m["Body"] for m in messages)
            response = client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
            done = {entry["Id"] for entry in response.get("Successful", [])}
            with lock:
                deleted.update(m["Body"] for n, m in enumerate(messages) if str(n) in done)
                problems.extend(f"delete failed: {failed}" for failed in response.get("Failed", []))

    def guarded(work: Callable[..., None], *args: Any) -> Callable[[], None]:
        def run() -> None:
            try:
                work(*args)
            except Exception as err:  # a 5xx, or any other error: it must not pass unseen
                with lock:
                    problems.append(f"{work.__name__}: {err!r}")

        return run

    senders = [threading.Thread(target=guarded(send, n)) for n in range(SENDERS)]
    receivers = [threading.Thread(target=guarded(receive_and_delete)) for _ in range(RECEIVERS)]
    for thread in senders + receivers:
        thread.start()
    for thread in senders:
        thread.join(timeout=120)
    sending_done.set()
    for thread in receivers:
        thread.join(timeout=120)

    try:
        assert not any(t.is_alive() for t in senders + receivers), "a worker thread is stuck"
        assert problems == []
        assert sum(sent.values()) == SENDERS * BATCHES_PER_SENDER * 10
        assert [body for body, times in received.items() if times > 1] == [], "received twice"
        assert set(received) == set(sent), "sent but never received"
        assert deleted == sent
        # A deleted message brought back would be in flight here (its visibility lasts the test).
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        assert {name: int(attributes[name]) for name in names} == dict.fromkeys(names, 0)
    finally:
        sqs.delete_queue(QueueUrl=queue_url)


# ---------------------------------------------------------------- forced interleavings, in process


def _backend(monkeypatch: pytest.MonkeyPatch, serialised: bool) -> Any:
    """A fresh moto SQS backend in this process, patched as the local stack's launcher patches
    it or as moto ships it; the patch is undone after the test."""
    from moto.sqs.models import SQSBackend

    from ingest_devstack import moto_emulator

    if serialised:
        for name in ["receive_message", *moto_emulator.SQS_MESSAGE_OPERATIONS]:
            monkeypatch.setattr(SQSBackend, name, getattr(SQSBackend, name))  # restored afterwards
        moto_emulator.serialise_sqs()
    return SQSBackend("us-east-1", "123456789012")


@pytest.fixture(
    params=[
        pytest.param(True, id="serialised"),
        pytest.param(
            False,
            id="moto-as-shipped",
            marks=pytest.mark.xfail(strict=True, reason="moto's queues change their messages unlocked"),
        ),
    ]
)
def sqs_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    return _backend(monkeypatch, serialised=request.param)


@pytest.fixture
def serialised_backend(monkeypatch: pytest.MonkeyPatch) -> Any:
    return _backend(monkeypatch, serialised=True)


def at_once(queue: Any, first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``first`` until it changes the queue's pending-message set, which moto does after
    choosing a message and before it is done with it; there, run ``second``, and let ``first`` go
    on once ``second`` returned or ``PAUSE_SECONDS`` passed. Where moto's SQS is serialised,
    ``second`` waits for ``first`` and ``first`` goes on after the pause. Both results, in order.
    """
    inside, second_done = threading.Event(), threading.Event()
    pausing: list[threading.Thread] = []

    class PausingSet(set):  # type: ignore[type-arg]
        def _pause(self) -> None:
            if threading.current_thread() in pausing and not inside.is_set():
                inside.set()
                second_done.wait(PAUSE_SECONDS)

        def add(self, item: Any) -> None:
            self._pause()
            super().add(item)

        def discard(self, item: Any) -> None:
            self._pause()
            super().discard(item)

    queue._pending_messages = PausingSet(queue._pending_messages)
    results: dict[str, Any] = {}

    def run(name: str, call: Callable[[], Any], done: threading.Event | None = None) -> None:
        try:
            results[name] = call()
        except BaseException as err:
            results[name] = err
        finally:
            if done is not None:
                done.set()

    first_thread = threading.Thread(target=run, args=("first", first))
    pausing.append(first_thread)
    first_thread.start()
    assert inside.wait(5), "the first operation never reached the pending-message set"
    second_thread = threading.Thread(target=run, args=("second", second, second_done))
    second_thread.start()
    first_thread.join(10)
    second_thread.join(10)
    for result in results.values():
        if isinstance(result, BaseException):
            raise result
    return results["first"], results["second"]


def test_two_receives_at_once_never_take_one_message(sqs_backend) -> None:
    queue = sqs_backend.create_queue("receives", VisibilityTimeout=str(VISIBILITY_SECONDS))
    sqs_backend.send_message("receives", "only")

    def receive() -> list[str]:
        return [m.body for m in sqs_backend.receive_message("receives", 1, 0, VISIBILITY_SECONDS)]

    first, second = at_once(queue, receive, receive)

    assert sorted(first + second) == ["only"]


def test_two_deletes_at_once_both_stay_deleted(sqs_backend) -> None:
    queue = sqs_backend.create_queue("deletes", VisibilityTimeout=str(VISIBILITY_SECONDS))
    for body in ("x", "y"):
        sqs_backend.send_message("deletes", body)
    x, y = sqs_backend.receive_message("deletes", 10, 0, VISIBILITY_SECONDS)

    at_once(
        queue,
        lambda: sqs_backend.delete_message("deletes", x.receipt_handle),
        lambda: sqs_backend.delete_message("deletes", y.receipt_handle),
    )

    attributes = sqs_backend.get_queue_attributes("deletes", ["All"])
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == 0
    assert attributes["ApproximateNumberOfMessages"] == 0


def test_a_long_poll_waits_without_holding_up_other_calls(serialised_backend) -> None:
    # The serialised backend waits outside its lock: a send while a receive waits 5 s ends that
    # wait at once, rather than queueing behind it.
    sqs_backend = serialised_backend
    sqs_backend.create_queue("polls", VisibilityTimeout=str(VISIBILITY_SECONDS))
    got: list[Any] = []
    started = time.monotonic()
    poller = threading.Thread(
        target=lambda: got.extend(sqs_backend.receive_message("polls", 1, 5, VISIBILITY_SECONDS))
    )
    poller.start()
    time.sleep(0.3)
    sqs_backend.send_message("polls", "late")
    sent_at = time.monotonic() - started
    poller.join(10)

    assert [m.body for m in got] == ["late"]
    assert sent_at < 1.5, f"the send waited {sent_at:.1f} s for the long poll"
    assert time.monotonic() - started < 3


def test_the_cheaper_receive_answers_as_moto_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto_sqs_costs.py changes what a receive costs, not what it answers: the same messages
    received, the same counts and attributes, the same refusal of an unknown attribute name."""
    import moto.sqs.models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import Queue, SQSBackend

    from ingest_devstack import moto_sqs_costs

    def exercise() -> tuple[Any, ...]:
        backend = SQSBackend("us-east-1", "123456789012")
        backend.create_queue("q", VisibilityTimeout="30")
        for number in range(25):
            backend.send_message("q", f"message {number}")
        backend.send_message("q", "later", delay_seconds=60)
        received = [m.body for m in backend.receive_message("q", 10, 0, 30)]
        counts = backend.get_queue_attributes(
            "q",
            [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
                "MessageRetentionPeriod",
            ],
        )
        with pytest.raises(InvalidAttributeName):
            backend.get_queue_attributes("q", ["ApproximateNumberOfMessages", "NoSuchName"])
        backend.create_queue("q.fifo", FifoQueue="true", ContentBasedDeduplication="true")
        backend.send_message("q.fifo", "once", group_id="g")
        every = [backend.get_queue_attributes(name, ["All"]) for name in ("q", "q.fifo")]
        stable = [{k: v for k, v in each.items() if "Timestamp" not in k} for each in every]
        return received, counts, stable, backend.get_queue_attributes("q", [])

    as_shipped = exercise()
    for name in ("is_message_valid_based_on_retention_period", "get_queue_attributes"):
        monkeypatch.setattr(SQSBackend, name, getattr(SQSBackend, name))  # restored afterwards
    for name in ("unix_time", "unix_time_millis"):
        monkeypatch.setattr(sqs_models, name, getattr(sqs_models, name))
    monkeypatch.setattr(Queue, "attributes", Queue.attributes)
    moto_sqs_costs.cheapen_sqs()
    cheaper = exercise()
    assert cheaper == as_shipped
    assert as_shipped[1] == {
        "ApproximateNumberOfMessages": 15,
        "ApproximateNumberOfMessagesNotVisible": 10,
        "ApproximateNumberOfMessagesDelayed": 1,
        "MessageRetentionPeriod": 345600,
    }
