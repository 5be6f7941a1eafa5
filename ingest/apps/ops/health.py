"""The alarm rules, evaluated where no CloudWatch alarm runs: ``ingest health`` and the monitoring report.

The local stack evaluates no alarms, so ``evaluate`` applies the rules of the alarms in
``deploy/template.yaml``, with the same thresholds, to the ledger and the queue. A test holds the
template to the constants here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.apps.ops.metrics import UNROUTED

# The alarms' thresholds; the template's alarms and parameter defaults are the same.
OLDEST_MESSAGE_SECONDS = 900
QUARANTINE_RATE_PERCENT = 5.0
"""Rows quarantined as a share of rows read, per pipeline, above which the alarm fires."""
WINDOW = timedelta(hours=1)
"""How far back ``ingest health`` looks for failed files and quarantined rows by default."""

OK, ALARM, NO_DATA = "OK", "ALARM", "NO_DATA"


@dataclass(frozen=True)
class QueueState:
    """What SQS and CloudWatch say about the event queue and its dead-letter queue."""

    visible: int
    in_flight: int
    dead_letters: int
    oldest_message_seconds: float | None
    """From CloudWatch (``AWS/SQS ApproximateAgeOfOldestMessage``); None when nothing publishes it."""


@dataclass(frozen=True)
class Check:
    """One alarm rule's verdict, as the CloudWatch alarm of the same name would have it."""

    rule: str
    state: str
    value: float | None
    threshold: float
    message: str
    pipeline: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the alarm rules, and the freshness interval expected per pipeline."""

    oldest_message_seconds: float = OLDEST_MESSAGE_SECONDS
    quarantine_rate_percent: float = QUARANTINE_RATE_PERCENT
    freshness: Mapping[str, timedelta] = field(default_factory=dict)

    @classmethod
    def of(cls, pipelines: Iterable[Any], quarantine_rate_percent: float = QUARANTINE_RATE_PERCENT) -> Rules:
        return cls(
            quarantine_rate_percent=quarantine_rate_percent,
            freshness={
                p.name: timedelta(minutes=p.freshness_minutes) for p in pipelines if p.freshness_minutes
            },
        )


def failed_for_good(entry: Any, max_attempts: int) -> bool:
    return entry.status == "FAILED" and (not entry.retryable or int(entry.attempts or 0) >= max_attempts)


def evaluate(
    entries: Sequence[Any],
    queue: QueueState,
    pipelines: Sequence[str],
    rules: Rules,
    *,
    now: datetime,
    window: timedelta = WINDOW,
    max_attempts: int = 5,
) -> list[Check]:
    """Every alarm rule against the ledger's file items and the queue, as of ``now``.

    ``entries`` are ledger ``FILE`` items started within the window or the longest freshness
    interval, whichever is longer. A rule with nothing to judge is OK, as the alarms treat missing
    data, except freshness, where silence is the very thing to catch.
    """
    since = now - window
    recent = [e for e in entries if e.finished_at and datetime.fromisoformat(e.finished_at) >= since]
    checks = [
        _failed_files(recent, max_attempts, window),
        _dead_letters(queue),
        _oldest_message(queue, rules),
    ]
    for pipeline in pipelines:
        checks.append(_quarantine_rate(pipeline, recent, rules, window))
    for pipeline, interval in sorted(rules.freshness.items()):
        checks.append(_freshness(pipeline, entries, interval, now))
    return checks


def _failed_files(recent: Sequence[Any], max_attempts: int, window: timedelta) -> Check:
    failed = [e for e in recent if failed_for_good(e, max_attempts)]
    by_type: dict[str, int] = defaultdict(int)
    for entry in failed:
        by_type[f"{entry.pipeline or UNROUTED}: {entry.error_type}"] += 1
    state = ALARM if failed else OK
    message = (
        f"{len(failed)} file(s) failed for good in the last {_span(window)}: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(by_type.items()))
        + " (ingest ledger --status FAILED; fix, then ingest replay)"
        if failed
        else f"no file failed in the last {_span(window)}"
    )
    return Check(
        "failed_files",
        state,
        len(failed),
        0,
        message,
        details={"files": sorted(f"s3://{e.bucket}/{e.key}" for e in failed)},
    )


def _dead_letters(queue: QueueState) -> Check:
    state = ALARM if queue.dead_letters else OK
    message = (
        f"{queue.dead_letters} event(s) in the dead-letter queue: their files are not loaded"
        if queue.dead_letters
        else "the dead-letter queue is empty"
    )
    return Check("dead_letters", state, queue.dead_letters, 0, message)


def _oldest_message(queue: QueueState, rules: Rules) -> Check:
    age = queue.oldest_message_seconds
    waiting = f"{queue.visible} waiting, {queue.in_flight} in flight"
    if age is None:
        return Check(
            "oldest_message",
            NO_DATA,
            None,
            rules.oldest_message_seconds,
            f"{waiting}; no age published (CloudWatch AWS/SQS ApproximateAgeOfOldestMessage)",
        )
    state = ALARM if age > rules.oldest_message_seconds else OK
    return Check(
        "oldest_message",
        state,
        age,
        rules.oldest_message_seconds,
        f"oldest event waited {age:.0f} s (limit {rules.oldest_message_seconds:.0f} s); {waiting}",
    )


def _quarantine_rate(pipeline: str, recent: Sequence[Any], rules: Rules, window: timedelta) -> Check:
    loaded = [e for e in recent if e.status == "LOADED" and e.pipeline == pipeline]
    rows_in = sum(int(e.rows_in or 0) for e in loaded)
    quarantined = sum(int(e.rows_quarantined or 0) for e in loaded)
    rate = 100.0 * quarantined / rows_in if rows_in else 0.0
    state = ALARM if rate > rules.quarantine_rate_percent else OK
    message = (
        f"{quarantined} of {rows_in} rows quarantined ({rate:.2f}%) in the last {_span(window)}"
        if rows_in
        else f"no rows loaded in the last {_span(window)}"
    )
    return Check("quarantine_rate", state, round(rate, 4), rules.quarantine_rate_percent, message, pipeline)


def _freshness(pipeline: str, entries: Sequence[Any], interval: timedelta, now: datetime) -> Check:
    loaded = [
        e.finished_at for e in entries if e.status == "LOADED" and e.pipeline == pipeline and e.finished_at
    ]
    last = max(loaded, default=None)
    silence = (now - datetime.fromisoformat(last)).total_seconds() if last else None
    limit = interval.total_seconds()
    if silence is not None and silence <= limit:
        return Check(
            "freshness",
            OK,
            silence,
            limit,
            f"last file loaded {_span(timedelta(seconds=silence))} ago",
            pipeline,
        )
    message = (
        f"no file loaded for {_span(timedelta(seconds=silence))} (expected every {_span(interval)})"
        if silence is not None
        else f"no file loaded in the last {_span(interval)} (expected every {_span(interval)})"
    )
    return Check("freshness", ALARM, silence, limit, message, pipeline, {"last_loaded_at": last})


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def healthy(checks: Iterable[Check]) -> bool:
    return all(c.state != ALARM for c in checks)


def checks_as_json(checks: Iterable[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]


# ------------------------------------------------------------------------------------ I/O edges


def read_queue_state(sqs: Any, cloudwatch: Any, queue_name: str, now: datetime | None = None) -> QueueState:
    """Depths from SQS; the oldest message's age from CloudWatch, where AWS publishes it."""
    import json

    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    dead_letters = 0
    if redrive := attributes.get("RedrivePolicy"):
        dlq_name = json.loads(redrive)["deadLetterTargetArn"].rsplit(":", 1)[1]
        dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        dlq = sqs.get_queue_attributes(
            QueueUrl=dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        dead_letters = int(dlq.get("ApproximateNumberOfMessages", 0)) + int(
            dlq.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
    now = now or datetime.now(UTC)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=now - timedelta(minutes=10),
        # Past now: the minute now falls in is a period of its own, ending after now.
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    latest = max(datapoints, key=lambda d: d["Timestamp"], default=None)
    return QueueState(
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        dead_letters=dead_letters,
        oldest_message_seconds=float(latest["Maximum"]) if latest else None,
    )


def read_file_entries(ledger: Any, since: datetime) -> list[Any]:
    """The ledger's FILE items claimed since ``since``, through the status index (no scan)."""
    from ingest.core.model import Status

    stamp = since.isoformat(timespec="milliseconds")
    found: list[Any] = []
    for status in (Status.LOADED, Status.FAILED, Status.SKIPPED_DUPLICATE, Status.IN_PROGRESS):
        found.extend(e for e in ledger.entries(status=status, since=stamp) if e.sk == "FILE")
    return found


def check_health(
    settings: Any,
    *,
    now: datetime | None = None,
    window: timedelta = WINDOW,
    quarantine_rate_percent: float = QUARANTINE_RATE_PERCENT,
) -> list[Check]:
    """The alarm rules evaluated now against the ledger and the queue named by ``settings``."""
    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.core.config import load_pipelines

    now = now or datetime.now(UTC)
    pipelines = load_pipelines(settings.pipelines_dir)
    rules = Rules.of(pipelines, quarantine_rate_percent)
    lookback = max([window, *rules.freshness.values()])
    ledger = Ledger.from_settings(aws_client("dynamodb"), settings)
    # A claim started up to one lease before the look-back may have finished inside it.
    entries = read_file_entries(ledger, now - lookback - timedelta(seconds=settings.lease_seconds))
    queue = read_queue_state(aws_client("sqs"), aws_client("cloudwatch"), settings.queue_name, now)
    return evaluate(
        entries,
        queue,
        [p.name for p in pipelines],
        rules,
        now=now,
        window=window,
        max_attempts=settings.max_attempts,
    )
