"""Why a batch run (``ingest run``, ``ingest batch``) processed nothing, in words.

A batch selects objects by their S3 last-modified time, not by a date in their key: demo data
generated for July 2021 and uploaded today is "last modified" today, so ``--date 2021-07-15``
finds none of it. A bare "Nothing new to ingest" hid that; this says what was listed, when those
objects were last modified, and why none qualified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PrefixListing:
    """Every object under the run's prefix, whatever its time: how many, and their time range."""

    objects: int
    first_modified: datetime | None = None
    last_modified: datetime | None = None


def list_prefix(s3: Any, bucket: str, prefix: str) -> PrefixListing:
    """Count the objects under ``prefix`` and their last-modified range (one listing pass)."""
    objects, first, last = 0, None, None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            modified = item["LastModified"]
            objects += 1
            first = modified if first is None or modified < first else first
            last = modified if last is None or modified > last else last
    return PrefixListing(objects, first, last)


def _window(account: dict[str, Any]) -> str:
    since, until = account.get("since"), account.get("until")
    if since and until:
        return f"last modified in [{since}, {until})"
    if until:
        return f"last modified before {until}"
    if since:
        return f"last modified on or after {since}"
    return "of any time"


def explain(account: dict[str, Any], listing: PrefixListing) -> str:
    """One paragraph: what was listed, and why none of it was ingested by this run."""
    where = f"s3://{account['bucket']}/{account['prefix']}"
    if listing.objects == 0:
        return f"Nothing to ingest: there are no objects under {where}."
    assert listing.first_modified is not None and listing.last_modified is not None
    first, last = listing.first_modified, listing.last_modified
    objects = (
        f"{listing.objects:,} objects under {where} were"
        if listing.objects > 1
        else f"1 object under {where} was"
    )
    span = f"{objects} last modified {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    listed, done = account["listed"], account["already_done"]
    if listed == 0:
        return (
            f"Nothing to ingest: the run takes objects {_window(account)} (S3's last-modified time, "
            f"not a date in the key), and the {span}. "
            f"Choose dates that cover {first:%Y-%m-%d} to {last:%Y-%m-%d} to take them."
        )
    if account.get("pipeline") and done == 0:
        return (
            f"Nothing to ingest: {listed:,} objects {_window(account)} were listed, and none of them "
            f"matches pipeline {account['pipeline']}'s key pattern (the {span})."
        )
    return (
        f"Nothing new to ingest: all {done:,} objects {_window(account)} that the run selected "
        f"are in the ledger already (the {span})."
    )
