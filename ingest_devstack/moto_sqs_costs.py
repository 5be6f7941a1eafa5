"""moto's SQS at the cost AWS's has: no passes over every message of a queue per message handled.

Applied by the local stack's moto launcher (``moto_emulator.py``, point 7) before it serialises
SQS (point 6). Profiled with py-spy during the 1,000-file load test (2,032 deliveries, a backlog
of 1,000 messages plus those in flight), moto spent 48% of its samples in ``Queue.attributes``
and 41% in ``unix_time_millis``; it used 71 CPU seconds against the four runners' 20. Why:

1. ``SQSBackend.receive_message`` checks each message it hands out against the queue's retention
   period by calling ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``, which builds
   the whole attribute map, three approximate counts included, each a pass over every message of
   the queue: ten messages received cost thirty passes over the queue. The retention period is a
   plain attribute of the queue, read here directly.
2. ``SQSBackend.get_queue_attributes`` builds that map once per name asked for, and twice more
   per name (``queue.attributes`` is a property): the load test's three counts cost seven maps,
   21 passes. It is built once here; the answer is the same.
3. ``Queue.attributes`` counts the queue's messages three times (visible, in flight, delayed),
   reading the clock twice per message, and ``send_message`` builds it for every message sent
   (to read ``ContentBasedDeduplication``): 11% of moto's samples in the 10,000-file load test
   after points 1, 2 and 4. The three counts come from one pass and one reading of the clock here.
4. moto's clock, ``unix_time_millis``, builds two ``datetime`` objects per call, and every
   message's ``visible`` and ``delayed`` read it: a receive calls it once per message in the
   queue. The SQS models get ``time.time()``, the same number (seconds since the epoch, UTC)
   without the objects.

What a queue answers is unchanged: ``tests/integration/test_local_sqs.py`` holds the local SQS to
AWS's behaviour with these patches in place.
"""

from __future__ import annotations

import json
import time
from typing import Any

import moto.sqs.models as sqs_models
from moto.core.utils import camelcase_to_underscores
from moto.sqs.exceptions import InvalidAttributeName
from moto.sqs.models import Message, Queue, SQSBackend


def _unix_time(dt: Any = None) -> float:
    """moto's ``unix_time``: seconds since the epoch; now unless given a (naive UTC) datetime."""
    if dt is None:
        return time.time()
    return float(_moto_unix_time(dt))


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


_moto_unix_time = getattr(sqs_models, "unix_time")  # noqa: B009 - moto does not export it


def _valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's check (point 1), reading the one attribute it needs instead of building them all."""
    # Set from the queue's attributes by moto (its MessageRetentionPeriod, in seconds).
    retention = int(getattr(self.get_queue(queue_name), "message_retention_period"))  # noqa: B009
    return bool(retention + (message.sent_timestamp or 0) / 1000 > time.time())


def _queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    """moto's ``get_queue_attributes`` (point 2): same validation and answer, the map built once."""
    queue = self.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid = {"All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
    invalid = next((name for name in attribute_names if name not in valid), None)
    if invalid is not None:
        raise InvalidAttributeName(invalid)
    everything: dict[str, Any] = queue.attributes
    if "All" in attribute_names:
        return everything
    return {name: everything[name] for name in attribute_names if everything.get(name) is not None}


def _counts(queue: Queue) -> dict[str, int]:
    """moto's three approximate counts (point 3), from one pass: visible is visible and not
    delayed; in flight is not visible; delayed is delayed, whether visible or not."""
    now = _unix_time_millis()
    visible = not_visible = delayed = 0
    for message in queue._messages:
        is_visible = now > message.visible_at
        is_delayed = now < message.delayed_until
        visible += is_visible and not is_delayed
        not_visible += not is_visible
        delayed += is_delayed
    return {
        "ApproximateNumberOfMessages": visible,
        "ApproximateNumberOfMessagesNotVisible": not_visible,
        "ApproximateNumberOfMessagesDelayed": delayed,
    }


def _attributes(self: Queue) -> dict[str, Any]:
    """moto's ``Queue.attributes``, the same map in the same order, its counts from ``_counts``."""
    counts = _counts(self)
    names = list(self.BASE_ATTRIBUTES)
    if self.fifo_queue:
        names += self.FIFO_ATTRIBUTES
    if getattr(self, "kms_master_key_id", None):
        names += self.KMS_ATTRIBUTES
    result: dict[str, Any] = {
        name: counts[name] if name in counts else getattr(self, camelcase_to_underscores(name))
        for name in names
    }
    if self.policy:
        result["Policy"] = self.policy
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy)
    return {key: str(value).lower() if isinstance(value, bool) else value for key, value in result.items()}


def cheapen_sqs() -> None:
    """Patch moto's SQS models as the module's docstring says (in this process)."""
    # Patching moto is the point of this module; mypy rightly finds it odd.
    setattr(sqs_models, "unix_time", _unix_time)  # noqa: B010 - the name moto's models call
    setattr(sqs_models, "unix_time_millis", _unix_time_millis)  # noqa: B010
    SQSBackend.is_message_valid_based_on_retention_period = _valid_based_on_retention_period  # type: ignore[method-assign]
    SQSBackend.get_queue_attributes = _queue_attributes  # type: ignore[method-assign]
    Queue.attributes = property(_attributes)  # type: ignore[assignment,method-assign]
