"""The ``s3:ObjectCreated`` notification as S3 writes it, for whoever has to play S3.

``ingest backfill`` sends one per existing lake file so the Lambda fleet loads it exactly as it
loads a new one, and the dev stack, the benchmarks and the load test send them instead of
relying on moto's. One builder keeps them all in the shape ``ingest.apps.lambda_handler.file_refs``
parses: the key URL-encoded the way S3 encodes it (``unquote_plus`` undoes it), the ETag
unquoted, ``eventTime`` in UTC with a ``Z``, and a ``sequencer`` that orders events of one moment.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

EVENT_NAME = "ObjectCreated:Put"


def event_time_text(moment: datetime) -> str:
    """``2021-07-02T00:05:12.482Z``: S3's spelling (milliseconds, UTC); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def object_created(
    bucket: str,
    key: str,
    etag: str,
    size: int | None,
    *,
    region: str = "us-east-1",
    event_time: datetime | None = None,
    serial: int = 0,
    principal_id: str = "AWS:AROALOCAL:ingest-devstack",
    configuration_id: str = "object-created",
) -> dict[str, Any]:
    """The ObjectCreated:Put notification for one object version (``key`` decoded, as in the ledger).

    ``serial`` orders events of one moment; ``principal_id`` and ``configuration_id`` say who sent
    it, so a message that did not come from S3 can be told apart in the queue and the DLQ. The
    request ids are derived from the object and ``serial``: the same event built twice is the
    same event, as a redelivery by S3 is.
    """
    moment = event_time or datetime.now(UTC)
    digest = hashlib.sha256(f"{bucket}/{key}#{etag}#{serial}".encode()).hexdigest()
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    obj["eTag"] = etag.strip('"')
    obj["sequencer"] = f"{int(moment.timestamp() * 1e6):016X}{serial:06X}"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time_text(moment),
                "eventName": EVENT_NAME,
                "userIdentity": {"principalId": principal_id},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": digest[:16].upper(),
                    "x-amz-id-2": digest[16:48],
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }
