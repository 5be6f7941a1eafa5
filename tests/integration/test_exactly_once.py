"""Exactly once per file: concurrent deliveries, crashes between load and ledger, redeliveries."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import ProcessDied, dying_before_ledger_update, orders_ndjson, write_orders_pipeline

from ingest import warehouse
from ingest.lake import FileRef
from ingest.ledger import Status
from ingest.pipeline import Services, ingest_file

pytestmark = pytest.mark.integration


def put(services: Services, bucket: str, key: str, body: bytes) -> FileRef:
    response = services.s3.put_object(Bucket=bucket, Key=key, Body=body)
    return FileRef.of(bucket, key, response["ETag"], len(body))


def rows_of(services: Services, table_id: str, ref: FileRef) -> int:
    return warehouse.count_rows(services.bigquery, table_id, "_source_uri = @uri", uri=ref.uri)


def test_sixteen_concurrent_deliveries_load_the_file_once(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    # GIVEN one object with 500 rows and 16 deliveries of its event arriving at the same moment
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    ref = put(services, scratch_bucket, f"{prefix}/2021/07/01/orders.ndjson", orders_ndjson(500))
    start = threading.Barrier(16)

    def deliver(_: int):
        start.wait()
        return ingest_file(ref, services)

    # WHEN 16 workers ingest it concurrently
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(deliver, range(16)))

    # THEN exactly one loads it, the other 15 are recorded as duplicates, and the rows land once
    assert Counter(r.status for r in results) == {Status.LOADED: 1, Status.SKIPPED_DUPLICATE: 15}
    items = services.ledger.deliveries(ref)
    assert Counter(i.status for i in items) == {Status.LOADED: 1, Status.SKIPPED_DUPLICATE: 15}
    (file_item,) = [i for i in items if i.sk == "FILE"]
    assert (file_item.rows_in, file_item.rows_loaded, file_item.rows_quarantined) == (500, 500, 0)
    assert rows_of(services, table_id, ref) == 500


def test_crash_between_load_and_ledger_update_does_not_load_twice(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    # GIVEN a worker that dies after its load job finished but before it wrote LOADED
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services(lease_seconds=1)
    ref = put(services, scratch_bucket, f"{prefix}/orders", orders_ndjson(120, bad_rows=(7,)))
    crashing = dying_before_ledger_update(services)
    with pytest.raises(ProcessDied):
        ingest_file(ref, crashing)
    assert services.ledger.get(ref).status == Status.IN_PROGRESS
    assert rows_of(services, table_id, ref) == 119

    # WHEN the event is redelivered after the crashed worker's lease has run out
    time.sleep(2.1)
    result = ingest_file(ref, services)

    # THEN the retry finds the earlier load job instead of loading again
    assert result.status == Status.LOADED
    assert (result.rows_loaded, result.rows_quarantined) == (119, 1)
    entry = services.ledger.get(ref)
    assert entry.attempts == 2
    assert entry.load_job_id == warehouse.load_job_id(ref.identity, table_id)
    assert rows_of(services, table_id, ref) == 119


def test_a_live_claim_is_not_taken_over_before_its_lease_runs_out(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    write_orders_pipeline(pipelines_dir, prefix)
    services = make_services(lease_seconds=600)
    ref = put(services, scratch_bucket, f"{prefix}/orders", orders_ndjson(3))
    first = services.ledger.claim(ref, "orders", "raw.orders")
    assert first.__class__.__name__ == "Claim"

    second = ingest_file(ref, services)

    assert second.status == Status.SKIPPED_DUPLICATE
    assert "being ingested by another delivery" in second.message
    assert services.ledger.get(ref).status == Status.IN_PROGRESS


def test_same_key_with_new_content_is_a_new_file(make_services, pipelines_dir, prefix, scratch_bucket):
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    key = f"{prefix}/orders"
    first = put(services, scratch_bucket, key, orders_ndjson(4))
    assert ingest_file(first, services).status == Status.LOADED

    second = put(services, scratch_bucket, key, orders_ndjson(6))
    result = ingest_file(second, services)

    assert result.status == Status.LOADED
    assert first.identity != second.identity
    assert rows_of(services, table_id, second) == 4 + 6


def test_concurrent_claims_of_many_files_each_have_exactly_one_winner(make_services, pipelines_dir, prefix):
    # The ledger's claim is a DynamoDB conditional write; it must stay atomic under contention
    # (the local stack serialises moto's item writes to keep DynamoDB's guarantee).
    write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    refs = [FileRef.of("lake", f"{prefix}/file-{n}", f"etag{n}", 1) for n in range(80)]
    start = threading.Barrier(16)

    def claim_all(_: int) -> list[str]:
        start.wait()
        return [type(services.ledger.claim(ref, "orders", "raw.orders")).__name__ for ref in refs]

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(claim_all, range(16)))

    for index in range(len(refs)):
        per_file = Counter(worker[index] for worker in outcomes)
        assert per_file == {"Claim": 1, "Duplicate": 15}, refs[index]
