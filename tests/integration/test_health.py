"""`ingest health`: the template's alarm rules, evaluated on a real ledger, queue and CloudWatch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb.ledger import Ledger
from ingest.apps.cli import main as cli
from ingest.core.model import FileRef, LoadOutcome
from ingest.core.settings import Settings
from ingest_devstack.provision import provision_aws

pytestmark = pytest.mark.integration


@pytest.fixture
def own_stack(stack, prefix, monkeypatch) -> Settings:
    """A ledger, queue, DLQ and buckets of this test's own: the session's are shared."""
    settings = Settings(
        lake_bucket=f"{prefix}-lake",
        error_bucket=f"{prefix}-errors",
        ledger_table=f"{prefix}-ledger",
        queue_name=f"{prefix}-events",
        alerts_topic=f"{prefix}-alerts",
    )
    provision_aws(settings, aws_client("s3"), aws_client("dynamodb"), aws_client("sqs"), aws_client("sns"))
    for name, value in {
        "INGEST_LAKE_BUCKET": settings.lake_bucket,
        "INGEST_ERROR_BUCKET": settings.error_bucket,
        "INGEST_LEDGER_TABLE": settings.ledger_table,
        "INGEST_QUEUE_NAME": settings.queue_name,
    }.items():
        monkeypatch.setenv(name, value)
    return settings


def record_load(ledger: Ledger, ref: FileRef, pipeline: str, rows_loaded: int, rows_quarantined: int) -> None:
    claim = ledger.claim(ref, pipeline, f"raw.{pipeline}")
    outcome = LoadOutcome(
        pipeline=pipeline,
        table=f"raw.{pipeline}",
        rows_in=rows_loaded + rows_quarantined,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        load_job_id="job-1",
        file_format="ndjson",
    )
    assert ledger.complete(claim, outcome)


def health(capsys) -> tuple[int, dict[tuple[str, str | None], dict]]:
    code = cli.main(["health", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["healthy"] is (code == 0)
    return code, {(c["rule"], c["pipeline"]): c for c in document["checks"]}


def test_health_reports_each_rule_from_the_ledger_queue_and_cloudwatch(own_stack, capsys):
    settings = own_stack
    ledger = Ledger.from_settings(aws_client("dynamodb"), settings)
    lake = settings.lake_bucket

    # A healthy start: a PayPal page loaded just now, nothing queued, nothing failed...
    record_load(ledger, FileRef.of(lake, "paypal/transactions/p1", "e1", 10), "paypal_transactions", 100, 0)
    record_load(ledger, FileRef.of(lake, "payments/transactions/f1", "e2", 10), "payment_transactions", 10, 0)
    code, checks = health(capsys)
    assert code == 0
    assert checks[("failed_files", None)]["state"] == "OK"
    assert checks[("dead_letters", None)]["state"] == "OK"
    assert checks[("freshness", "paypal_transactions")]["state"] == "OK"
    # moto publishes no SQS metrics: the age is unknown, which is no alarm
    assert checks[("oldest_message", None)]["state"] == "NO_DATA"

    # ...then a file that fails for good, a page with 12% of its rows quarantined, a dead
    # letter, and CloudWatch saying the oldest event has waited 20 minutes
    failed = FileRef.of(lake, "payments/transactions/broken", "e3", 10)
    claim = ledger.claim(failed, "payment_transactions", "raw.payment_transactions")
    ledger.fail(claim, "MalformedJson", "line 1: expected value", retryable=False)
    record_load(ledger, FileRef.of(lake, "paypal/transactions/p2", "e4", 10), "paypal_transactions", 10, 15)
    sqs = aws_client("sqs")
    dlq_url = sqs.get_queue_url(QueueName=f"{settings.queue_name}-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"Records": []}))
    aws_client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": settings.queue_name}],
                "Timestamp": datetime.now(UTC),
                "Value": 1200.0,
                "Unit": "Seconds",
            }
        ],
    )

    code, checks = health(capsys)

    assert code == 1
    failed_files = checks[("failed_files", None)]
    assert (failed_files["state"], failed_files["value"]) == ("ALARM", 1)
    assert failed_files["details"]["files"] == [failed.uri]
    assert "payment_transactions: MalformedJson" in failed_files["message"]
    assert (checks[("dead_letters", None)]["state"], checks[("dead_letters", None)]["value"]) == ("ALARM", 1)
    oldest = checks[("oldest_message", None)]
    assert (oldest["state"], oldest["value"], oldest["threshold"]) == ("ALARM", 1200.0, 900)
    paypal = checks[("quarantine_rate", "paypal_transactions")]
    assert (paypal["state"], paypal["value"]) == ("ALARM", 12.0)  # 15 of 125 rows read
    assert checks[("quarantine_rate", "payment_transactions")]["state"] == "OK"
    assert checks[("freshness", "paypal_transactions")]["state"] == "OK"
