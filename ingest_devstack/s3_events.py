"""The notification S3 sends when an object lands, for whoever plays S3 on the local stack.

The benchmarks and the load test send it themselves (to the handler, or through a queue of
their own) instead of letting moto send it, so the event has the real shape: the key URL-encoded
as S3 encodes it, a sequencer, the requester's identity.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus


def object_created(
    bucket: str,
    key: str,
    etag: str,
    size: int,
    *,
    region: str = "us-east-1",
    event_time: datetime | None = None,
    serial: int = 0,
) -> dict[str, Any]:
    """The ObjectCreated:Put notification for one object; ``serial`` orders events of one moment."""
    moment = event_time or datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROALOCAL:ingest-devstack"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "object-created",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOCAL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": etag.strip('"'),
                        "sequencer": f"{int(moment.timestamp() * 1e6):016X}{serial:06X}",
                    },
                },
            }
        ]
    }
