"""Events through the Lambda handler: real S3 notifications, SQS batches, the error bucket."""

from __future__ import annotations

import json
import re
from urllib.parse import quote_plus

import pytest
from support.helpers import load_event, paypal_transaction, s3_event, sqs_event

from ingest.adapters.bigquery.queries import count_rows
from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb.ledger import Ledger
from ingest.adapters.s3_lake import failed_key, quarantine_key, sidecar_key
from ingest.apps import lambda_handler as handler
from ingest.core.model import FileRef, Status
from ingest.core.settings import Settings
from ingest_devstack import worker
from ingest_devstack.worker import LocalContext

pytestmark = pytest.mark.integration

SETTINGS = Settings()


def ndjson(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture
def s3(stack):
    return aws_client("s3")


@pytest.fixture
def ledger(stack) -> Ledger:
    return Ledger.from_settings(aws_client("dynamodb"), SETTINGS)


def put(s3, key: str, body: bytes) -> FileRef:
    response = s3.put_object(Bucket=SETTINGS.lake_bucket, Key=key, Body=body)
    return FileRef.of(SETTINGS.lake_bucket, key, response["ETag"], len(body))


def error_object(s3, ref: FileRef) -> tuple[bytes, dict]:
    kept = s3.get_object(Bucket=SETTINGS.error_bucket, Key=failed_key(ref))["Body"].read()
    sidecar = s3.get_object(Bucket=SETTINGS.error_bucket, Key=sidecar_key(failed_key(ref)))
    return kept, json.loads(sidecar["Body"].read())


def drain_queue() -> worker.DrainStats:
    sqs = aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=SETTINGS.queue_name)["QueueUrl"]
    return worker.drain(sqs, queue_url, handler.handle, workers=1, idle_seconds=1.5)


def test_odd_keys_round_trip_from_notification_to_ledger_and_error_bucket(s3, ledger, prefix):
    # GIVEN keys with spaces, plus signs, unicode and percent signs, delivered by real
    # S3 notifications (which URL-encode the key) through the SQS queue
    good = put(
        s3,
        f"paypal/transactions/{prefix}/page 1+été 100%.json",
        ndjson([paypal_transaction(f"{prefix}-1"), paypal_transaction(f"{prefix}-2")]),
    )
    body = b"id,amount\n1,2\n"
    unknown = put(s3, f"exports/{prefix}/weird name+ü %20.csv", body)

    # WHEN the local runner feeds the queue to the Lambda handler
    stats = drain_queue()

    # THEN the ledger holds the decoded keys, and the failed file is kept under its own key
    assert stats.failed_messages == 0
    assert ledger.get(good).status == Status.LOADED
    assert ledger.get(good).key == good.key
    entry = ledger.get(unknown)
    assert (entry.status, entry.error_type) == (Status.FAILED, "UnknownPipeline")
    kept, sidecar = error_object(s3, unknown)
    assert kept == body
    assert sidecar["ledger_key"] == unknown.identity
    assert sidecar["error_type"] == "UnknownPipeline"
    assert unknown.key in sidecar["message"]


def test_malformed_file_fails_with_its_bytes_kept_and_a_reason(s3, ledger, prefix):
    records = json.dumps([paypal_transaction(f"{prefix}-1"), paypal_transaction(f"{prefix}-2")], indent=2)
    body = records[: len(records) // 2].encode()  # the extractor died mid-page
    ref = put(s3, f"paypal/transactions/{prefix}/page-0001.json", body)

    response = handler.handle(s3_event(ref.bucket, quote_plus(ref.key), ref.etag, ref.size), LocalContext())

    assert response["files"] == [{"uri": ref.uri, "status": "FAILED"}]
    entry = ledger.get(ref)
    assert (entry.status, entry.error_type, entry.retryable) == (Status.FAILED, "MalformedFile", False)
    assert re.search(r"JSON array .*cut off", entry.error_message), entry.error_message
    kept, sidecar = error_object(s3, ref)
    assert kept == body
    assert sidecar["message"] == entry.error_message
    assert sidecar["pipeline"] == "paypal_transactions"


def test_redelivered_event_loads_nothing(s3, ledger, prefix, stack):
    ref = put(
        s3,
        f"paypal/transactions/{prefix}/part-0001",
        ndjson([paypal_transaction(f"{prefix}-{i}") for i in range(5)]),
    )
    event = sqs_event(s3_event(ref.bucket, quote_plus(ref.key), ref.etag, ref.size))
    from ingest.adapters.clients import bigquery_client

    bq = bigquery_client(SETTINGS.bq_project, SETTINGS.bq_location)

    def rows() -> int:
        return count_rows(bq, "raw.paypal_transactions", "_source_uri = @uri", uri=ref.uri)

    assert handler.handle(event, LocalContext()) == {"batchItemFailures": []}
    assert rows() == 5
    assert handler.handle(event, LocalContext()) == {"batchItemFailures": []}
    assert rows() == 5
    statuses = sorted(i.status for i in ledger.deliveries(ref))
    assert statuses == [Status.LOADED, Status.SKIPPED_DUPLICATE]


def test_quarantined_rows_are_kept_with_reasons_and_never_hold_payer_emails(s3, ledger, prefix):
    bad = paypal_transaction("", email="secret@example.com")
    bad["transaction_info"].pop("transaction_id")
    ref = put(
        s3,
        f"paypal/transactions/{prefix}/part-0002",
        ndjson([paypal_transaction(f"{prefix}-1"), bad, paypal_transaction(f"{prefix}-3")]),
    )

    handler.handle(s3_event(ref.bucket, quote_plus(ref.key), ref.etag, ref.size), LocalContext())

    entry = ledger.get(ref)
    assert (entry.rows_in, entry.rows_loaded, entry.rows_quarantined) == (3, 2, 1)
    body = s3.get_object(Bucket=SETTINGS.error_bucket, Key=quarantine_key(ref))["Body"].read()
    (row,) = [json.loads(line) for line in body.decode().splitlines()]
    assert row["row"] == 2
    assert "transaction_id: required value is missing" in row["reason"]
    assert "secret@example.com" not in body.decode()


def test_sqs_batch_reports_only_the_message_that_can_succeed_later(s3, ledger, prefix):
    # GIVEN a batch with a good file, a file in a bucket that does not exist (a transient
    # failure from our side: permissions or a deleted bucket), and S3's test event
    good = put(s3, f"paypal/transactions/{prefix}/part-0003", ndjson([paypal_transaction(f"{prefix}-1")]))
    event = sqs_event(
        s3_event(good.bucket, quote_plus(good.key), good.etag, good.size),
        s3_event(f"missing-{prefix}", "paypal/transactions/x", "0" * 32, 1),
    )
    s3_test_event = load_event("sqs_s3_object_created")["Records"][1]
    event["Records"].append(s3_test_event)

    response = handler.handle(event, LocalContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert ledger.get(good).status == Status.LOADED


def test_object_deleted_before_read_fails_as_gone(s3, ledger, prefix):
    ref = put(s3, f"paypal/transactions/{prefix}/part-0004", ndjson([paypal_transaction(f"{prefix}-1")]))
    s3.delete_object(Bucket=ref.bucket, Key=ref.key)

    handler.handle(s3_event(ref.bucket, quote_plus(ref.key), ref.etag, ref.size), LocalContext())

    entry = ledger.get(ref)
    assert (entry.status, entry.error_type) == (Status.FAILED, "ObjectGone")
    sidecar = json.loads(
        s3.get_object(Bucket=SETTINGS.error_bucket, Key=sidecar_key(failed_key(ref)))["Body"].read()
    )
    assert sidecar["bytes_kept"] is False


def test_object_overwritten_after_its_event_fails_as_changed(s3, ledger, prefix):
    old = put(s3, f"paypal/transactions/{prefix}/part-0005", ndjson([paypal_transaction(f"{prefix}-1")]))
    put(s3, old.key, ndjson([paypal_transaction(f"{prefix}-1"), paypal_transaction(f"{prefix}-2")]))

    handler.handle(s3_event(old.bucket, quote_plus(old.key), old.etag, old.size), LocalContext())

    entry = ledger.get(old)
    assert (entry.status, entry.error_type) == (Status.FAILED, "ObjectChanged")
