"""AWS Lambda entrypoint: S3 events, directly or wrapped in SQS messages. Parses, then delegates.

With SQS the function returns ``batchItemFailures`` so only messages whose file may succeed on
a retry come back; files that failed for good are in the ledger and the error bucket already.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ingest.lake import FileRef
from ingest.pipeline import FileResult, Services, ingest_file

logger = Logger(service="ingest")
processor = BatchProcessor(event_type=EventType.SQS)
_services: Services | None = None


class RetryLater(Exception):
    """Raised for a message whose file failed in a way a redelivery may cure."""


def services() -> Services:
    """Collaborators built once per container (cold start), reused by every invocation."""
    global _services
    if _services is None:
        _load_gcp_credentials()
        _services = Services.from_env()
    return _services


def _load_gcp_credentials() -> None:
    """Fetch the GCP service-account key named by GCP_CREDENTIALS_SECRET_ARN, once, into /tmp."""
    arn = os.environ.get("GCP_CREDENTIALS_SECRET_ARN")
    if not arn or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return
    from ingest.clients import aws_client

    secret = aws_client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    path = "/tmp/gcp-credentials.json"
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(secret)
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = path


def file_refs(s3_event: dict[str, Any]) -> Iterator[FileRef]:
    """The objects named by an S3 event notification; skips test events and non-create events."""
    if s3_event.get("Event") == "s3:TestEvent":
        return
    for record in s3_event.get("Records", []):
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
            "ObjectCreated"
        ):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        yield FileRef.of(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            etag=obj.get("eTag", ""),
            size=obj.get("size"),
        )


def _s3_event_of_message(body: str) -> dict[str, Any]:
    message = json.loads(body)
    # S3 -> SNS -> SQS wraps the notification once more.
    if message.get("Type") == "Notification" and "Message" in message:
        message = json.loads(message["Message"])
    return message


def _ingest_all(refs: Iterator[FileRef]) -> list[FileResult]:
    results = []
    for ref in refs:
        result = ingest_file(ref, services())
        logger.info(
            "file processed",
            extra={
                "uri": ref.uri,
                "status": result.status.value,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "error_type": result.error_type,
            },
        )
        results.append(result)
    return results


def _handle_sqs_record(record: SQSRecord) -> list[dict[str, Any]]:
    results = _ingest_all(file_refs(_s3_event_of_message(record.body)))
    retry = [r for r in results if r.retryable]
    if retry:
        raise RetryLater("; ".join(f"{r.ref.uri}: {r.error_type}: {r.message}" for r in retry))
    return [{"uri": r.ref.uri, "status": r.status.value} for r in results]


@logger.inject_lambda_context(clear_state=True)
def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entrypoint for SQS-wrapped S3 events and for direct S3 events."""
    records = event.get("Records") or []
    if records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return process_partial_response(
            event=event, record_handler=_handle_sqs_record, processor=processor, context=context
        )
    results = _ingest_all(file_refs(event))
    retry = [r for r in results if r.retryable]
    if retry:
        # Direct S3 invocations are asynchronous: raising makes Lambda retry the event.
        raise RetryLater("; ".join(f"{r.ref.uri}: {r.error_type}" for r in retry))
    return {"files": [{"uri": r.ref.uri, "status": r.status.value} for r in results]}
