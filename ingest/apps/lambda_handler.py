"""AWS Lambda entrypoint: S3 events, directly or wrapped in SQS messages. Parses, then delegates.

The files of one SQS batch are ingested together, so files of one pipeline share a load job
(BigQuery allows 1,500 per table per day). The function returns ``batchItemFailures`` naming
only the messages whose file may succeed on a retry, and messages that are not S3 events at all;
files that failed for good are in the ledger and the error bucket already. Each invocation
prints its metrics in CloudWatch Embedded Metric Format (``ingest.apps.ops.metrics``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from ingest.apps.ops import metrics
from ingest.core.model import FileRef, FileResult
from ingest.ingestion.flow import ingest_files
from ingest.ingestion.services import Services

logger = Logger(service=metrics.SERVICE)
_services: Services | None = None


class RetryLater(Exception):
    """Raised for a direct S3 invocation whose file failed in a way a redelivery may cure."""


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
    from ingest.adapters.clients import aws_client

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
            event_time=_utc_iso(record.get("eventTime")),
        )


def _utc_iso(event_time: str | None) -> str | None:
    """S3's ``2021-07-02T00:05:12.482Z`` in the ledger's format (``+00:00``)."""
    if not event_time:
        return None
    return datetime.fromisoformat(event_time).isoformat(timespec="milliseconds")


def _s3_event_of_message(body: str) -> dict[str, Any]:
    """The S3 notification an SQS message carries; ValueError if it carries none."""
    message: dict[str, Any] = json.loads(body)
    # S3 -> SNS -> SQS wraps the notification once more.
    if message.get("Type") == "Notification" and "Message" in message:
        message = json.loads(message["Message"])
    if not isinstance(message.get("Records"), list) and message.get("Event") != "s3:TestEvent":
        raise ValueError(f"no S3 event records in the message (keys: {sorted(message)[:10]})")
    return message


def _ingest(refs: list[FileRef]) -> list[FileResult]:
    results = ingest_files(refs, services()).results
    for result in results:
        logger.info(
            "file processed",
            extra={
                "uri": result.ref.uri,
                "pipeline": result.pipeline,
                "status": result.status.value,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "error_type": result.error_type,
            },
        )
    metrics.print_metrics(results)
    return results


def _handle_sqs(records: list[dict[str, Any]]) -> dict[str, Any]:
    refs_by_message: dict[str, list[FileRef]] = {}
    unreadable: list[str] = []
    for record in records:
        try:
            refs_by_message[record["messageId"]] = list(file_refs(_s3_event_of_message(record["body"])))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            # Not an S3 event: no retry will change it. It goes back, and after maxReceiveCount
            # to the dead-letter queue, whose alarm tells a person.
            logger.error(
                "message is not an S3 event notification",
                extra={"message_id": record.get("messageId"), "error": f"{type(err).__name__}: {err}"},
            )
            unreadable.append(record["messageId"])
    results = _ingest([ref for refs in refs_by_message.values() for ref in refs])
    retry = {result.ref for result in results if result.retryable}
    failed = unreadable + [
        message_id for message_id, refs in refs_by_message.items() if any(ref in retry for ref in refs)
    ]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@logger.inject_lambda_context(clear_state=True)
def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entrypoint for SQS-wrapped S3 events and for direct S3 events."""
    records = event.get("Records") or []
    if records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return _handle_sqs(records)
    results = _ingest(list(file_refs(event)))
    retry = [r for r in results if r.retryable]
    if retry:
        # Direct S3 invocations are asynchronous: raising makes Lambda retry the event.
        raise RetryLater("; ".join(f"{r.ref.uri}: {r.error_type}" for r in retry))
    return {"files": [{"uri": r.ref.uri, "status": r.status.value} for r in results]}
