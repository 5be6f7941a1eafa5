"""`ingest replay`: failed files ingested again after a fix, with the failure kept as history."""

from __future__ import annotations

import pytest
from support.helpers import orders_ndjson, write_orders_pipeline

from ingest.adapters.bigquery import queries
from ingest.adapters.clients import aws_client
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.runs import replay_failed

pytestmark = pytest.mark.integration


def put(bucket: str, key: str, body: bytes) -> FileRef:
    etag = aws_client("s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
    return FileRef.of(bucket, key, etag, len(body))


def test_replay_after_adding_the_missing_pipeline_loads_the_file_and_keeps_the_failure(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    # GIVEN a file that arrived before its pipeline existed
    write_orders_pipeline(pipelines_dir, f"{prefix}-other")
    ref = put(scratch_bucket, f"{prefix}/2021/07/01/orders", orders_ndjson(6, bad_rows=(2,)))
    first = ingest_file(ref, make_services())
    assert (first.status, first.error_type) == (Status.FAILED, "UnknownPipeline")

    # WHEN the pipeline is added and the failures of that prefix are replayed
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    dry = replay_failed(services, key_contains=prefix, dry_run=True)
    assert [(r.key, outcome) for r, outcome in dry] == [(ref.key, None)]
    ((replayed_ref, result),) = replay_failed(services, key_contains=prefix)

    # THEN it loads once, and the ledger shows the failure, then the load
    assert replayed_ref == ref
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (Status.LOADED, 5, 1)
    assert queries.count_rows(services.bigquery, table_id, "_source_uri = @uri", uri=ref.uri) == 5
    items = {i.sk.split("#")[0]: i for i in services.ledger.deliveries(ref)}
    assert (items["FILE"].status, items["FILE"].attempts) == (Status.LOADED, 2)
    assert items["HISTORY"].status == Status.REPLAYED
    assert (items["HISTORY"].previous_status, items["HISTORY"].error_type) == ("FAILED", "UnknownPipeline")
    assert replay_failed(services, key_contains=prefix) == []


def test_replay_reads_the_error_bucket_copy_when_the_lake_object_is_gone(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    # GIVEN a CSV that failed for a missing required column, then was removed from the lake
    write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    body = b"order_id,ordered_at\no-1,2021-07-01T10:00:00Z\no-2,2021-07-01T11:00:00Z\n"
    ref = put(scratch_bucket, f"{prefix}/export.csv", body)
    assert ingest_file(ref, services).error_type == "MissingColumn"
    aws_client("s3").delete_object(Bucket=ref.bucket, Key=ref.key)

    # WHEN the pipeline is fixed (amount becomes optional) and the failure replayed
    path = next(pipelines_dir.glob("*.yaml"))
    path.write_text(
        path.read_text().replace(
            "{name: amount, type: NUMERIC, mode: REQUIRED}", "{name: amount, type: NUMERIC}"
        )
    )
    services = make_services()
    ((_, result),) = replay_failed(services, error_type="MissingColumn", key_contains=prefix)

    # THEN the bytes kept in the error bucket are what loads, under the original identity
    assert (result.status, result.rows_loaded) == (Status.LOADED, 2)
    entry = services.ledger.get(ref)
    assert entry.status == Status.LOADED
    assert entry.pk == ref.identity
