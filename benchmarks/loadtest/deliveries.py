"""Putting the run's files in its bucket, and sending each file's S3 event to its queue 1-3 times."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from benchmarks.loadtest.config import Config, Planned
from benchmarks.loadtest.files import build_file, plan_kinds, players_of
from benchmarks.loadtest.queue import queue_counts
from benchmarks.loadtest.resources import Resources
from ingest_devstack.s3_events import object_created


def upload(
    res: Resources, config: Config, on_file: Callable[[], None] | None = None
) -> tuple[list[Planned], float]:
    """Plan, build and upload every file; the plans (with ETag and size) and the seconds it took."""
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    kinds = plan_kinds(config.files, config.bad_share, config.seed)
    players = players_of(config.seed)
    tag = f"loadtest-{res.run_id}"
    copies = random.Random(f"loadtest:{config.seed}:copies")
    deliveries = [copies.randint(1, config.max_deliveries) for _ in range(config.files)]

    def put(number: int) -> Planned:
        planned, body = build_file(config.seed, number, kinds[number], tag, players, config.bad_row_share)
        response = s3.put_object(Bucket=res.bucket, Key=planned.key, Body=body)
        planned.etag, planned.size, planned.copies = (
            response["ETag"].strip('"'),
            len(body),
            deliveries[number],
        )
        if on_file is not None:
            on_file()
        return planned

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=config.upload_threads, thread_name_prefix="upload") as pool:
        planned = list(pool.map(put, range(config.files)))
    return planned, time.monotonic() - started


def send_events(
    sqs: Any,
    res: Resources,
    planned: list[Planned],
    seed: int,
    backlog: int = 0,
    on_sent: Callable[[int], None] | None = None,
    rate: float = 0.0,
) -> tuple[int, float]:
    """Send each file's event ``copies`` times, shuffled; (messages sent, epoch of the first send).

    ``rate`` > 0 sends that many messages a second, evenly, as files landing on their own clock
    (what the batching window is for); otherwise ``backlog`` > 0 keeps at most that many messages
    waiting (visible) in the queue, as files landing at the rate the runners take them, and 0
    sends everything at once. A file's event time is when its first copy goes out: that is when it
    "lands" for the pipeline.
    """
    region = sqs.meta.region_name or "us-east-1"
    order = [p.number for p in planned for _ in range(p.copies)]
    random.Random(f"loadtest:{seed}:order").shuffle(order)
    by_number = {p.number: p for p in planned}
    bodies: dict[int, str] = {}
    lock = threading.Lock()
    first_send = time.time()

    def body(number: int) -> str:
        with lock:
            if number not in bodies:
                planned = by_number[number]
                event = object_created(
                    res.bucket,
                    planned.key,
                    planned.etag,
                    planned.size,
                    region=region,
                    event_time=datetime.now(UTC),
                    serial=planned.number,
                )
                bodies[number] = json.dumps(event)
            return bodies[number]

    def send(chunk: list[int]) -> int:
        entries = [{"Id": str(n), "MessageBody": body(number)} for n, number in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=res.queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed'][:3]}")
        if on_sent is not None:
            on_sent(len(chunk))
        return len(chunk)

    if rate > 0:
        # One message a send below 10 a second, so a batch fills as files land, not in bursts.
        size = 1 if rate < 10 else 10
        started = time.monotonic()
        sent = 0
        for start in range(0, len(order), size):
            time.sleep(max(0.0, started + start / rate - time.monotonic()))
            sent += send(order[start : start + size])
        return sent, first_send
    chunks = [order[start : start + 10] for start in range(0, len(order), 10)]
    if backlog <= 0:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="send") as pool:
            return sum(pool.map(send, chunks)), first_send
    sent = waiting = 0
    for chunk in chunks:
        while waiting >= backlog:
            waiting = queue_counts(sqs, res.queue_url)["visible"]
            if waiting >= backlog:
                time.sleep(0.5)
        sent += send(chunk)
        waiting += len(chunk)
    return sent, first_send
