"""What the raw-file notebook lists beside an inspection: the lake's newest objects, one object's ledger."""

from __future__ import annotations

import heapq
from typing import Any


def recent_objects(bucket: str, prefix: str = "", limit: int = 20, s3: Any = None) -> list[dict[str, Any]]:
    """The ``limit`` most recently modified objects under ``prefix``: key, size, last_modified."""
    if s3 is None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    listed = (obj for page in pages for obj in page.get("Contents", []))
    newest = heapq.nlargest(limit, listed, key=lambda obj: obj["LastModified"])
    return [{"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"]} for o in newest]


def ledger_entries(bucket: str, key: str, ledger: Any = None) -> list[dict[str, Any]]:
    """Ledger items (claims and skipped redeliveries) of every version of one object."""
    if ledger is None:
        from ingest.adapters.clients import aws_client
        from ingest.adapters.dynamodb.ledger import Ledger
        from ingest.core.settings import Settings

        ledger = Ledger.from_settings(aws_client("dynamodb"), Settings.from_env())
    return [e.item for e in ledger.entries() if e.bucket == bucket and e.key == key]
