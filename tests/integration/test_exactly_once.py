"""Exactly once per file: concurrent deliveries, crashes between load and ledger, redeliveries."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.helpers import ProcessDied, dying_before_ledger_update, orders_ndjson, write_orders_pipeline

from ingest.adapters.bigquery import queries
from ingest.adapters.bigquery.load_jobs import load_job_id
from ingest.core.model import FileRef, LoadOutcome, Status
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.runs import run_batch
from ingest.ingestion.services import Services

pytestmark = pytest.mark.integration


def put(services: Services, bucket: str, key: str, body: bytes) -> FileRef:
    response = services.s3.put_object(Bucket=bucket, Key=key, Body=body)
    return FileRef.of(bucket, key, response["ETag"], len(body))


def rows_of(services: Services, table_id: str, ref: FileRef) -> int:
    return queries.count_rows(services.bigquery, table_id, "_source_uri = @uri", uri=ref.uri)


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
    assert entry.load_job_id == load_job_id(ref.identity, table_id)
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


def test_batch_claims_racing_single_claims_leave_one_winner_per_file(make_services, pipelines_dir, prefix):
    # Batch mode claims new files 50 to a transaction; the Lambda claims one at a time. Racing
    # over the same files, every file must still have exactly one owner.
    write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    refs = [FileRef.of("lake", f"{prefix}/race-{n}", f"etag{n}", n) for n in range(120)]
    start = threading.Barrier(8)

    def batch(_: int) -> list[str]:
        start.wait()
        claims, _left = services.ledger.claim_new(refs, "orders", "raw.orders")
        return [claim.ref.identity for claim in claims]

    def single(_: int) -> list[str]:
        start.wait()
        won = [services.ledger.claim(ref, "orders", "raw.orders") for ref in reversed(refs)]
        return [claim.ref.identity for claim in won if not hasattr(claim, "reason")]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(batch if n % 2 else single, n) for n in range(8)]
        winners = Counter(identity for future in futures for identity in future.result())

    assert winners == {ref.identity: 1 for ref in refs}


def test_outcomes_recorded_together_skip_a_claim_taken_over(make_services, pipelines_dir, prefix):
    write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    refs = [FileRef.of("lake", f"{prefix}/outcome-{n}", f"etag{n}", 10) for n in range(3)]
    # A worker whose lease has already run out claims three files; another takes over the second.
    expired = make_services(lease_seconds=-5).ledger
    claims, left = expired.claim_new(refs, "orders", "raw.orders")
    assert (len(claims), left) == (3, [])
    takeover = services.ledger.claim(refs[1], "orders", "raw.orders")
    assert not hasattr(takeover, "reason") and takeover.attempt == 2
    outcome = LoadOutcome("orders", "raw.orders", 10, 9, 1, "job-1", "ndjson", load_files=3)

    recorded = expired.complete_many([(claim, outcome) for claim in claims])

    assert recorded == [True, False, True]
    first, second, third = (services.ledger.get(ref) for ref in refs)
    assert (first.status, first.rows_loaded, first.load_job_id, first.attempts) == ("LOADED", 9, "job-1", 1)
    assert (second.status, second.claim_token) == ("IN_PROGRESS", takeover.token)
    assert third.status == "LOADED" and third.bucket == "lake" and third.key == refs[2].key


def test_a_batch_loads_files_with_the_same_bytes_once(make_services, pipelines_dir, prefix, scratch_bucket):
    # Two uploads of one file under different keys in one load group: the rows load once.
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services()
    body = orders_ndjson(5)
    first = put(services, scratch_bucket, f"{prefix}/a/orders.ndjson", body)
    again = put(services, scratch_bucket, f"{prefix}/b/orders.ndjson", body)
    other = put(services, scratch_bucket, f"{prefix}/c/orders.ndjson", orders_ndjson(3))

    run = run_batch(services, scratch_bucket, f"{prefix}/")

    statuses = {r.ref.key: (r.status, r.message) for r in run.results}
    assert statuses[first.key][0] == statuses[other.key][0] == Status.LOADED
    assert statuses[again.key] == (Status.SKIPPED_DUPLICATE, f"same bytes as {first.uri}")
    assert len(run.loads) == 1
    assert queries.count_rows(services.bigquery, table_id) == 5 + 3
