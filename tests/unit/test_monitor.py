"""The alarm rules and the EMF metrics, on ledger items and file results built by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ingest.apps.ops import health, metrics
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import FileRef, FileResult, Status

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULES = health.Rules(
    oldest_message_seconds=900,
    quarantine_rate_percent=5.0,
    freshness={"payment_transactions": timedelta(minutes=60)},
)
QUIET_QUEUE = health.QueueState(visible=0, in_flight=0, dead_letters=0, oldest_message_seconds=12.0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat(timespec="milliseconds")


def entry(status: str, minutes_ago: float, pipeline: str = "payment_transactions", **fields) -> LedgerEntry:
    key = f"payments/transactions/{pipeline}-{minutes_ago}"
    return LedgerEntry.from_item(
        {
            "pk": f"s3://lake/{key}#etag",
            "sk": "FILE",
            "status": status,
            "pipeline": pipeline,
            "bucket": "lake",
            "key": key,
            "started_at": at(minutes_ago + 0.5),
            "finished_at": at(minutes_ago),
            **fields,
        }
    )


def check(checks: list[health.Check], rule: str, pipeline: str | None = None) -> health.Check:
    (found,) = [c for c in checks if c.rule == rule and c.pipeline == pipeline]
    return found


def evaluate(entries: list[LedgerEntry], queue: health.QueueState = QUIET_QUEUE) -> list[health.Check]:
    return health.evaluate(entries, queue, ["payment_transactions", "paypal_transactions"], RULES, now=NOW)


def test_a_quiet_healthy_hour_has_no_alarm() -> None:
    checks = evaluate([entry("LOADED", 5, rows_in=100, rows_loaded=99, rows_quarantined=1)])

    assert health.healthy(checks)
    assert {c.rule for c in checks} == {
        "failed_files",
        "dead_letters",
        "oldest_message",
        "quarantine_rate",
        "freshness",
    }


def test_a_file_failed_for_good_in_the_window_raises_the_alarm_and_is_named() -> None:
    checks = evaluate(
        [
            entry("LOADED", 5, rows_in=1, rows_loaded=1),
            entry("FAILED", 10, error_type="MalformedJson", retryable=False, attempts=1),
        ]
    )

    failed = check(checks, "failed_files")
    assert (failed.state, failed.value) == (health.ALARM, 1)
    assert "payment_transactions: MalformedJson" in failed.message
    assert failed.details["files"] == ["s3://lake/payments/transactions/payment_transactions-10"]
    assert not health.healthy(checks)


def test_a_failure_that_will_be_retried_is_not_a_failed_file_until_its_attempts_run_out() -> None:
    retrying = entry("FAILED", 10, error_type="TransientError", retryable=True, attempts=2)
    exhausted = entry("FAILED", 11, error_type="TransientError", retryable=True, attempts=5)

    assert check(evaluate([retrying]), "failed_files").state == health.OK
    assert check(evaluate([retrying, exhausted]), "failed_files").value == 1


def test_failures_before_the_window_do_not_count() -> None:
    old = entry("FAILED", 61, error_type="MalformedJson", retryable=False, attempts=1)

    assert check(evaluate([old, entry("LOADED", 5)]), "failed_files").state == health.OK


def test_quarantine_rate_is_per_pipeline_and_fires_only_above_the_threshold() -> None:
    entries = [
        entry("LOADED", 5, rows_in=100, rows_loaded=95, rows_quarantined=5),
        entry("LOADED", 6, "paypal_transactions", rows_in=50, rows_loaded=40, rows_quarantined=10),
    ]

    checks = evaluate(entries)

    at_threshold = check(checks, "quarantine_rate", "payment_transactions")
    assert (at_threshold.state, at_threshold.value) == (health.OK, 5.0)
    above = check(checks, "quarantine_rate", "paypal_transactions")
    assert (above.state, above.value) == (health.ALARM, 20.0)
    assert "10 of 50 rows quarantined (20.00%)" in above.message


def test_a_pipeline_silent_longer_than_its_interval_is_stale() -> None:
    fresh = check(evaluate([entry("LOADED", 59)]), "freshness", "payment_transactions")
    stale = check(evaluate([entry("LOADED", 61)]), "freshness", "payment_transactions")
    never = check(
        evaluate([entry("FAILED", 5, retryable=False, attempts=1)]), "freshness", "payment_transactions"
    )

    assert fresh.state == health.OK
    assert (stale.state, stale.value) == (health.ALARM, 61 * 60)
    assert never.state == health.ALARM and never.value is None
    # No interval configured, no freshness rule: reference tables arrive when they change.
    assert not [c for c in evaluate([]) if c.rule == "freshness" and c.pipeline == "paypal_transactions"]


@pytest.mark.parametrize(
    ("age", "state"), [(None, health.NO_DATA), (899.0, health.OK), (901.0, health.ALARM)]
)
def test_oldest_message_against_fifteen_minutes(age: float | None, state: str) -> None:
    queue = health.QueueState(visible=3, in_flight=1, dead_letters=0, oldest_message_seconds=age)

    assert check(evaluate([entry("LOADED", 1)], queue), "oldest_message").state == state


def test_any_dead_letter_raises_the_alarm() -> None:
    queue = health.QueueState(visible=0, in_flight=0, dead_letters=2, oldest_message_seconds=None)

    dead = check(evaluate([entry("LOADED", 1)], queue), "dead_letters")

    assert (dead.state, dead.value) == (health.ALARM, 2)


def result(
    status: Status,
    pipeline: str | None,
    *,
    rows: tuple[int, int] = (0, 0),
    retryable: bool = False,
    n: int = 0,
) -> FileResult:
    ref = FileRef.of("lake", f"k{n}", "e", 10, event_time=at(10))
    return FileResult(
        ref,
        status,
        pipeline=pipeline,
        rows_in=sum(rows),
        rows_loaded=rows[0],
        rows_quarantined=rows[1],
        retryable=retryable,
        started_at=at(2),
        finished_at=at(1),
    )


def metrics_of(document: dict) -> tuple[dict, list[list[str]]]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.NAMESPACE
    names = {m["Name"] for m in directive["Metrics"]}
    return {name: document[name] for name in names}, directive["Dimensions"]


def test_one_emf_document_per_pipeline_with_counts_rows_and_latencies() -> None:
    results = [
        result(Status.LOADED, "paypal_transactions", rows=(9, 1), n=1),
        result(Status.LOADED, "paypal_transactions", rows=(5, 0), n=2),
        result(Status.SKIPPED_DUPLICATE, "paypal_transactions", n=3),
        result(Status.FAILED, "paypal_transactions", n=4),
        result(Status.FAILED, "paypal_transactions", retryable=True, n=5),
        result(Status.FAILED, None, n=6),
    ]

    documents = metrics.metric_documents(results)

    by_pipeline = {d["pipeline"]: d for d in documents}
    assert set(by_pipeline) == {"paypal_transactions", metrics.UNROUTED}
    paypal, dimensions = metrics_of(by_pipeline["paypal_transactions"])
    assert dimensions == [["service"], ["service", "pipeline"]]
    assert by_pipeline["paypal_transactions"]["service"] == metrics.SERVICE
    assert paypal["FilesLoaded"] == [2.0]
    assert paypal["FilesFailed"] == [1.0]  # the retryable one comes back: not failed for good
    assert paypal["FilesRetried"] == [1.0]
    assert paypal["DuplicatesSkipped"] == [1.0]
    assert (paypal["RowsLoaded"], paypal["RowsQuarantined"]) == ([14.0], [1.0])
    assert paypal["LoadSeconds"] == [60.0] * 5  # claim to outcome, every file claimed here
    assert paypal["FileAgeSeconds"] == [540.0, 540.0]  # landed 10 min ago, loaded 1 min ago
    unrouted, _ = metrics_of(by_pipeline[metrics.UNROUTED])
    assert unrouted["FilesFailed"] == [1.0]


def test_a_large_batch_is_split_so_no_metric_has_more_than_a_hundred_values() -> None:
    results = [result(Status.LOADED, "paypal_transactions", rows=(1, 0), n=i) for i in range(250)]

    documents = metrics.metric_documents(results)

    assert len(documents) == 3
    assert sum(metrics_of(d)[0]["FilesLoaded"][0] for d in documents) == 250
    assert all(len(metrics_of(d)[0]["FileAgeSeconds"]) <= 100 for d in documents)


def test_latency_percentiles() -> None:
    seconds = [float(s) for s in range(1, 101)]

    assert metrics.latency_percentiles(seconds) == pytest.approx({"p50": 50.5, "p90": 90.1, "p99": 99.01})
    assert metrics.latency_percentiles([7.0]) == {"p50": 7.0, "p90": 7.0, "p99": 7.0}


def test_latency_percentiles_of_files_loaded_together_are_their_latency() -> None:
    # Files of one load job share their load time, and often their landing time.
    assert metrics.latency_percentiles([91.431] * 3) == {"p50": 91.431, "p90": 91.431, "p99": 91.431}


def test_latency_percentiles_stay_in_order_and_within_the_values() -> None:
    rng = random.Random(7)
    for _ in range(2_000):
        seconds = [round(rng.uniform(0, 600), 3) for _ in range(rng.randint(2, 6))]
        seconds += [seconds[0]] * rng.randint(0, 3)
        cuts = metrics.latency_percentiles(seconds)
        assert min(seconds) <= cuts["p50"] <= cuts["p90"] <= cuts["p99"] <= max(seconds), seconds
