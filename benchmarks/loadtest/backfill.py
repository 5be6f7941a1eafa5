"""Backfill mode (``--mode backfill``): the run's files enqueued by ``ingest backfill``'s own code.

The files are uploaded with no notification, as a lake that predates the pipeline; then
``ingest.apps.ops.backfill.run_backfill`` (the function ``ingest backfill`` calls) lists the run's
bucket, asks the run's ledger which files are new and sends one S3-event-shaped message per file.
The runner processes (``ingest_devstack.worker.drain`` feeding the Lambda handler, what each
process of ``ingest worker --processes N`` runs) drain the queue, and the same accounting checks
apply. Once the queue is drained the backfill is run again: it must enqueue nothing, since the
ledger has every file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from benchmarks.loadtest.resources import Resources


def run_backfill_of(
    res: Resources, settings: Any, on_progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """``ingest backfill --bucket <the run's bucket> --queue <the run's queue>`` against the run's
    ledger; what it found and sent (``Backfill.to_dict()``)."""
    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.adapters.s3_lake import S3Lake
    from ingest.apps.ops.backfill import run_backfill

    run_settings = dataclasses.replace(settings, ledger_table=res.ledger_table)
    s3 = aws_client("s3")
    result = run_backfill(
        lake=S3Lake(s3, settings.error_bucket),
        ledger=Ledger.from_settings(aws_client("dynamodb"), run_settings),
        sqs=aws_client("sqs"),
        s3=s3,
        queue=res.queue_url,
        bucket=res.bucket,
        on_progress=on_progress or (lambda files: None),
    )
    return result.to_dict()
