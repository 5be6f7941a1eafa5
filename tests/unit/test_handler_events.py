"""Reading S3 notifications into file references, and the pure BigQuery edges (job ids, error classes)."""

from __future__ import annotations

import json
import re

import pytest
from google.api_core import exceptions
from support.helpers import load_event, s3_event, sqs_event

from ingest.adapters.bigquery.errors import classify
from ingest.adapters.bigquery.load_jobs import load_job_id
from ingest.apps.lambda_handler import _s3_event_of_message, file_refs
from ingest.core.errors import LoadFailed, TransientError
from ingest.core.model import FileRef

BIGQUERY_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")


# ---------------------------------------------------------------- S3 notifications


def test_sample_event_key_is_url_decoded_with_plus_as_space() -> None:
    (ref,) = file_refs(load_event("s3_object_created"))

    assert ref == FileRef(
        bucket="payments-lake",
        key="paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json",
        etag="d41d8cd98f00b204e9800998ecf8427e",
        size=2048,
    )
    assert ref.uri == "s3://payments-lake/paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json"


def test_encoded_slashes_in_moto_style_keys_decode_to_slashes() -> None:
    event = s3_event("payments-lake", "reference%2Fvat_rates%2Fvat+rates%282021%29.tsv", "abc123", size=77)

    (ref,) = file_refs(event)

    assert ref.key == "reference/vat_rates/vat rates(2021).tsv"
    assert (ref.etag, ref.size) == ("abc123", 77)


def test_quoted_etag_is_stored_without_quotes() -> None:
    (ref,) = file_refs(s3_event("payments-lake", "payments/transactions/x", '"0123456789abcdef"'))

    assert ref.etag == "0123456789abcdef"


def test_s3_test_event_yields_no_files() -> None:
    test_event = json.loads(load_event("sqs_s3_object_created")["Records"][1]["body"])
    assert test_event["Event"] == "s3:TestEvent"

    assert list(file_refs(test_event)) == []


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectRestore:Completed",
        "LifecycleExpiration:Delete",
    ],
)
def test_events_other_than_object_created_yield_no_files(event_name: str) -> None:
    event = load_event("s3_object_created")
    event["Records"][0]["eventName"] = event_name

    assert list(file_refs(event)) == []


def test_only_the_created_objects_of_a_mixed_event_are_returned() -> None:
    created = load_event("s3_object_created")["Records"][0]
    removed = json.loads(json.dumps(created))
    removed["eventName"] = "ObjectRemoved:Delete"
    multipart = json.loads(json.dumps(created))
    multipart["eventName"] = "ObjectCreated:CompleteMultipartUpload"
    multipart["s3"]["object"]["key"] = "payments/transactions/2021/07/01/23/big"

    refs = list(file_refs({"Records": [removed, created, multipart]}))

    assert [r.key for r in refs] == [
        "paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json",
        "payments/transactions/2021/07/01/23/big",
    ]


def test_sqs_message_body_is_the_s3_event() -> None:
    record = load_event("sqs_s3_object_created")["Records"][0]

    (ref,) = file_refs(_s3_event_of_message(record["body"]))

    assert ref.key == "payments/transactions/2021/07/01/23/payments-stream-1-2021-07-01-23-55-02-5f1c2a9b"
    assert ref.etag == "0123456789abcdef0123456789abcdef"


def test_sns_envelope_is_unwrapped_to_the_s3_event() -> None:
    inner = s3_event("payments-lake", "reference/country_tax_codes/codes+2021.csv", "feedbeef")
    envelope = {
        "Type": "Notification",
        "MessageId": "0c8a4f2e-5d1b-5c3e-9a7f-3b2e1d0c9f8a",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:payments-lake-events",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(inner),
        "Timestamp": "2021-07-02T00:05:12.600Z",
    }
    (message,) = sqs_event(envelope)["Records"]

    unwrapped = _s3_event_of_message(message["body"])

    assert unwrapped == inner
    assert [r.key for r in file_refs(unwrapped)] == ["reference/country_tax_codes/codes 2021.csv"]


# ---------------------------------------------------------------- load job ids

IDENTITY = "s3://payments-lake/paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json#d41d8cd9"


def test_load_job_id_is_deterministic_so_a_retry_finds_the_earlier_job() -> None:
    first = load_job_id(IDENTITY, "raw.paypal_transactions")
    again = load_job_id(IDENTITY, "raw.paypal_transactions")

    assert first == again


def test_load_job_id_differs_per_file_version_table_and_generation() -> None:
    ids = {
        load_job_id(IDENTITY, "raw.paypal_transactions"),
        load_job_id(IDENTITY.replace("#d41d8cd9", "#0badf00d"), "raw.paypal_transactions"),
        load_job_id(IDENTITY.replace("page 0001", "page 0002"), "raw.paypal_transactions"),
        load_job_id(IDENTITY, "raw.paypal_transactions_v2"),
        load_job_id(IDENTITY, "raw.paypal_transactions", generation=1),
        load_job_id(IDENTITY, "raw.paypal_transactions", generation=2),
    }

    assert len(ids) == 6


@pytest.mark.parametrize("generation", [0, 1, 4])
def test_load_job_id_follows_bigquery_job_id_rules_for_any_key(generation: int) -> None:
    odd_identity = "s3://b/" + "ü %2F+?#&/" * 300 + "#etag"

    for identity in (IDENTITY, odd_identity):
        assert BIGQUERY_JOB_ID.match(load_job_id(identity, "raw.paypal_transactions", generation))


# ---------------------------------------------------------------- BigQuery errors


@pytest.mark.parametrize(
    "error",
    [
        exceptions.ServiceUnavailable("backend down", errors=[{"reason": "backendError"}]),
        exceptions.InternalServerError("oops", errors=[{"reason": "backendError"}]),
        exceptions.Forbidden("slow down", errors=[{"reason": "rateLimitExceeded"}]),
        exceptions.TooManyRequests("slow down", errors=[{"reason": "rateLimitExceeded"}]),
        exceptions.BadGateway("no reason given"),
    ],
    ids=["503-backendError", "500-backendError", "403-rateLimitExceeded", "429-rateLimitExceeded", "502"],
)
def test_errors_a_retry_may_cure_are_transient(error: Exception) -> None:
    result = classify(error, "submitting load job ingest_x")

    assert isinstance(result, TransientError)
    assert result.retryable
    assert "submitting load job ingest_x" in str(result)


@pytest.mark.parametrize(
    "error",
    [
        exceptions.BadRequest("x", errors=[{"reason": "invalid"}]),
        exceptions.NotFound("no such table", errors=[{"reason": "notFound"}]),
        exceptions.Forbidden("no access", errors=[{"reason": "accessDenied"}]),
    ],
    ids=["400-invalid", "404-notFound", "403-accessDenied"],
)
def test_errors_in_the_data_or_setup_fail_the_load(error: Exception) -> None:
    result = classify(error, "waiting for load job ingest_x")

    assert isinstance(result, LoadFailed)
    assert not result.retryable
