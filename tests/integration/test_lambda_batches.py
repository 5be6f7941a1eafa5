"""The Lambda handler on SQS batches shaped like the real event source's, with its metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
from support.helpers import paypal_transaction, s3_event, sqs_event

from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb.ledger import Ledger
from ingest.apps import lambda_handler as handler
from ingest.core.model import FileRef, Status
from ingest.core.settings import Settings
from ingest_devstack.worker import LocalContext

pytestmark = pytest.mark.integration

SETTINGS = Settings()
# Five minutes ago, as S3 writes eventTime.
LANDED_AT = datetime.now(UTC).replace(microsecond=125000) - timedelta(minutes=5)
LANDED = LANDED_AT.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def s3(stack):
    return aws_client("s3")


@pytest.fixture
def ledger(stack) -> Ledger:
    return Ledger.from_settings(aws_client("dynamodb"), SETTINGS)


def put_paypal_page(s3, key: str, ids: list[str]) -> FileRef:
    body = "".join(json.dumps(paypal_transaction(i)) + "\n" for i in ids).encode()
    response = s3.put_object(Bucket=SETTINGS.lake_bucket, Key=key, Body=body)
    return FileRef.of(SETTINGS.lake_bucket, key, response["ETag"], len(body))


def notification(*refs: FileRef) -> dict:
    """One S3 notification naming several objects, as S3 may batch them, each with its sequencer."""
    records = []
    for n, ref in enumerate(refs):
        (record,) = s3_event(ref.bucket, quote_plus(ref.key), ref.etag, ref.size)["Records"]
        record["eventTime"] = LANDED
        record["s3"]["object"]["sequencer"] = f"0055AED6DCD90281E{n}"
        records.append(record)
    return {"Records": records}


def emf_documents(printed: str) -> list[dict]:
    documents = [json.loads(line) for line in printed.splitlines() if line.startswith('{"_aws"')]
    return [d for d in documents if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PaymentsIngest"]


def test_a_batch_loads_together_reports_only_the_poison_message_and_prints_metrics(
    s3, ledger, prefix, capsys, monkeypatch
):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # GIVEN three PayPal pages: two named by one multi-record notification, one by another
    # message; the userIdentity and sequencer fields are the sample's, as S3 sends them
    pages = [
        put_paypal_page(s3, f"paypal/transactions/{prefix}/page-{n}", [f"{prefix}-{n}-{i}" for i in range(4)])
        for n in range(3)
    ]
    event = sqs_event(notification(pages[0], pages[1]), notification(pages[2]))
    assert json.loads(event["Records"][0]["body"])["Records"][0]["userIdentity"]["principalId"]
    # AND a poison message: not an S3 notification at all, and one that is JSON but no event
    poison = {**event["Records"][0], "messageId": f"poison-{prefix}", "body": "{not json"}
    stranger = {**event["Records"][0], "messageId": f"stranger-{prefix}", "body": '{"hello": "world"}'}
    event["Records"] += [poison, stranger]

    response = handler.handle(event, LocalContext())

    # THEN only the two unreadable messages come back (and reach the DLQ after maxReceiveCount)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": poison["messageId"]},
            {"itemIdentifier": stranger["messageId"]},
        ]
    }
    entries = [ledger.get(ref) for ref in pages]
    assert [e.status for e in entries] == [Status.LOADED] * 3
    # one load job for the three files of one table
    assert len({e.load_job_id for e in entries}) == 1 and entries[0].load_files == 3
    assert {e.event_time for e in entries} == {LANDED_AT.isoformat(timespec="milliseconds")}
    # AND the invocation's metrics, in EMF, name the pipeline
    (document,) = [
        d for d in emf_documents(capsys.readouterr().out) if d["pipeline"] == "paypal_transactions"
    ]
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"], ["service", "pipeline"]]
    assert document["FilesLoaded"] == [3.0] and document["RowsLoaded"] == [12.0]
    assert document["FilesFailed"] == [0.0] and document["DuplicatesSkipped"] == [0.0]
    assert len(document["LoadSeconds"]) == 3
    assert len(document["FileAgeSeconds"]) == 3 and min(document["FileAgeSeconds"]) >= 300


def test_the_same_file_twice_in_one_batch_and_again_later_loads_once(s3, ledger, prefix, capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    page = put_paypal_page(s3, f"paypal/transactions/{prefix}/page", [f"{prefix}-a", f"{prefix}-b"])
    event = sqs_event(notification(page), notification(page))

    first = handler.handle(event, LocalContext())
    again = handler.handle(sqs_event(notification(page)), LocalContext())

    assert first == again == {"batchItemFailures": []}
    assert ledger.get(page).rows_loaded == 2
    statuses = sorted(e.status for e in ledger.deliveries(page))
    assert statuses == [Status.LOADED, Status.SKIPPED_DUPLICATE, Status.SKIPPED_DUPLICATE]
    documents = [d for d in emf_documents(capsys.readouterr().out) if d["pipeline"] == "paypal_transactions"]
    assert [d["DuplicatesSkipped"] for d in documents] == [[1.0], [1.0]]
    assert [d["FilesLoaded"] for d in documents] == [[1.0], [0.0]]


def test_metrics_can_be_silenced_for_a_console(s3, prefix, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    page = put_paypal_page(s3, f"paypal/transactions/{prefix}/page", [f"{prefix}-a"])

    handler.handle(sqs_event(notification(page)), LocalContext())

    assert emf_documents(capsys.readouterr().out) == []
