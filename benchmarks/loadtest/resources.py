"""What a run creates for itself (bucket, queues, ledger table, pipeline copies, dataset) and
removes afterwards."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.loadtest.config import PAYMENTS, PAYPAL, Config


@dataclass
class Resources:
    """What a run creates for itself; ``cleanup`` removes it."""

    run_id: str
    bucket: str
    queue_url: str = ""
    dlq_url: str = ""
    ledger_table: str = ""
    dataset: str = ""
    pipelines_dir: Path | None = None
    control: Path | None = None
    tables: dict[str, str] = field(default_factory=dict)
    """Pipeline name -> its table in the run's dataset."""


def create_resources(res: Resources, settings: Any, config: Config) -> None:
    """Create the run's bucket, queues, ledger, pipeline copies and tables, noting each in ``res``."""
    import yaml

    from ingest.adapters.bigquery import tables
    from ingest.adapters.bigquery.validation_results import ensure_validation_results_table
    from ingest.adapters.clients import aws_client, bigquery_client
    from ingest.adapters.dynamodb.table import table_definition
    from ingest.core.config import load_pipelines
    from ingest_devstack.provision import DEAD_LETTER_AFTER_RECEIVES

    name = res.bucket
    res.dataset = f"loadtest_{res.run_id.replace('-', '_')}"
    s3, sqs, dynamodb = aws_client("s3"), aws_client("sqs"), aws_client("dynamodb")
    s3.create_bucket(Bucket=res.bucket)  # no notification: the run sends each event itself
    res.dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=res.dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    res.queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(config.visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": DEAD_LETTER_AFTER_RECEIVES}
            ),
        },
    )["QueueUrl"]
    res.ledger_table = f"ingest-ledger-{name}"
    dynamodb.create_table(**table_definition(res.ledger_table))
    dynamodb.get_waiter("table_exists").wait(TableName=res.ledger_table)

    # The shipped pipelines, unchanged but for their tables, which go to the run's dataset.
    res.pipelines_dir = Path(tempfile.mkdtemp(prefix=f"{name}-pipelines-"))
    for path in sorted((Path(settings.pipelines_dir)).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["table"] = f"{res.dataset}.{raw['table'].rsplit('.', 1)[-1]}"
        (res.pipelines_dir / path.name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    client = bigquery_client(settings.bq_project, settings.bq_location)
    tables.ensure_staging_dataset(client, settings.staging_dataset)  # as the runners' warehouse makes it
    for pipeline in load_pipelines(res.pipelines_dir):
        res.tables[pipeline.name] = pipeline.table_id
        if pipeline.name in {PAYPAL, PAYMENTS}:
            tables.ensure_table(client, pipeline)  # here, not by four runners at once
    ensure_validation_results_table(client, res.dataset)


def runner_environment(res: Resources, settings: Any) -> dict[str, str]:
    return {
        **os.environ,
        "INGEST_LEDGER_TABLE": res.ledger_table,
        "INGEST_PIPELINES_DIR": str(res.pipelines_dir),
        "INGEST_OPS_DATASET": res.dataset,
        "INGEST_ERROR_BUCKET": settings.error_bucket,
        "INGEST_STAGING_DATASET": settings.staging_dataset,
        "INGEST_BQ_PROJECT": settings.bq_project,
        "INGEST_BQ_LOCATION": settings.bq_location,
        # The handler prints EMF metrics to stdout otherwise, as it should on Lambda.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }


def cleanup(res: Resources, settings: Any, keep: bool) -> None:
    """Remove the run's queues; unless ``keep``, its bucket, error-bucket objects, ledger, dataset."""
    from ingest.adapters.clients import aws_client, bigquery_client

    sqs = aws_client("sqs")
    for url in (res.queue_url, res.dlq_url):
        if url:
            _quietly(lambda url=url: sqs.delete_queue(QueueUrl=url))
    if res.pipelines_dir is not None:
        shutil.rmtree(res.pipelines_dir, ignore_errors=True)
    if res.control is not None:
        shutil.rmtree(res.control, ignore_errors=True)
    if keep:
        return
    s3 = aws_client("s3")
    _delete_versions(s3, res.bucket, "")
    _quietly(lambda: s3.delete_bucket(Bucket=res.bucket))
    for area in ("failed", "quarantine"):
        _delete_versions(s3, settings.error_bucket, f"{area}/{res.bucket}/")
    if res.ledger_table:
        _quietly(lambda: aws_client("dynamodb").delete_table(TableName=res.ledger_table))
    if res.dataset:
        client = bigquery_client(settings.bq_project, settings.bq_location)
        _quietly(lambda: client.delete_dataset(res.dataset, delete_contents=True, not_found_ok=True))


def _delete_versions(s3: Any, bucket: str, prefix: str) -> None:
    """Delete every version under ``prefix``: the first page again until none is left (moto's
    pagination skips objects when they are deleted between pages)."""
    try:
        previous: list[dict[str, str]] = []
        while True:
            page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
            entries = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if not entries:
                return
            if entries == previous:
                raise RuntimeError(f"{len(entries)} versions would not delete")
            previous = entries
            for start in range(0, len(entries), 1000):
                chunk = entries[start : start + 1000]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
    except Exception as err:
        print(f"cleanup of s3://{bucket}/{prefix}: {err}", file=sys.stderr)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as err:
        print(f"cleanup: {err}", file=sys.stderr)
