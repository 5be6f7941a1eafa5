"""Rows land once per business key: staging, MERGE (latest version wins), reference tables replaced."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from support.helpers import (
    ProcessDied,
    dying_before_ledger_update,
    isolate_shipped_pipelines,
    paypal_transaction,
)

from ingest.adapters.bigquery import queries
from ingest.adapters.bigquery.warehouse import BigQueryWarehouse
from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb.items import loads_pk
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file, ingest_files
from ingest.ingestion.runs import run_batch
from ingest.ingestion.services import Services

pytestmark = pytest.mark.integration


def put(bucket: str, key: str, body: bytes) -> FileRef:
    etag = aws_client("s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
    return FileRef.of(bucket, key, etag, len(body))


def payment(transaction_id: str, status: str, updated: str, ending_balance: str = "100.00") -> dict:
    return paypal_transaction(
        transaction_id=transaction_id,
        transaction_status=status,
        transaction_updated_date=updated,
        ending_balance={"currency_code": "EUR", "value": ending_balance},
    )


def overlapping_pages(bucket: str, prefix: str) -> tuple[FileRef, FileRef]:
    """Two extract pages sharing payment A: pending on the first page, completed on the second."""
    first = [
        payment(f"{prefix}-A", "P", "2021-07-01T10:02:41+0000", "100.00"),
        payment(f"{prefix}-B", "S", "2021-07-01T10:05:00+0000"),
    ]
    second = [
        payment(f"{prefix}-A", "S", "2021-07-01T12:30:00+0000", "119.99"),
        payment(f"{prefix}-C", "S", "2021-07-01T12:40:00+0000"),
    ]
    return (
        put(bucket, f"{prefix}/paypal/transactions/2021/07/01/page-0001.json", json.dumps(first).encode()),
        put(bucket, f"{prefix}/paypal/transactions/2021/07/01/page-0002.json", json.dumps(second).encode()),
    )


def final_rows(services: Services, table_id: str) -> dict[str, tuple[str, str, str]]:
    frame = queries.query_dataframe(
        services.bigquery,
        f"SELECT transaction_id, transaction_event_code, transaction_status,"
        f" ending_balance, _source_uri AS source_uri"
        f" FROM `{services.bigquery.project}.{table_id}`",
    )
    keys = list(zip(frame.transaction_id, frame.transaction_event_code, strict=True))
    assert len(keys) == len(set(keys)), f"a business key is in the table twice: {sorted(keys)}"
    return {
        row.transaction_id: (
            row.transaction_status,
            f"{row.ending_balance.normalize():f}",
            row.source_uri.rsplit("/", 1)[1],
        )
        for row in frame.itertuples()
    }


@pytest.fixture
def paypal_table(pipelines_dir, prefix) -> str:
    return isolate_shipped_pipelines(pipelines_dir, prefix)["paypal_transactions"]


def test_overlapping_pages_keep_each_transaction_once_with_its_latest_status(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN two overlapping PayPal pages: A pending on the first, completed on the second
    services = make_services()
    first, second = overlapping_pages(scratch_bucket, prefix)

    # WHEN the pages arrive one after the other, each as its own event
    results = [ingest_file(first, services), ingest_file(second, services)]

    # THEN both files load whole, and the table holds A once, completed, from the second page
    assert [(r.status, r.rows_loaded) for r in results] == [(Status.LOADED, 2), (Status.LOADED, 2)]
    assert final_rows(services, paypal_table) == {
        f"{prefix}-A": ("S", "119.99", "page-0002.json"),
        f"{prefix}-B": ("S", "100", "page-0001.json"),
        f"{prefix}-C": ("S", "100", "page-0002.json"),
    }


def test_each_load_reports_the_merges_own_counts_of_new_and_changed_rows(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN the two overlapping pages
    services = make_services()
    first, second = overlapping_pages(scratch_bucket, prefix)

    # WHEN each is loaded by its own run
    loads = [ingest_files([first], services).loads, ingest_files([second], services).loads]

    # THEN the first inserts A and B; the second changes A and inserts C
    assert [[(load.rows_inserted, load.rows_updated) for load in run] for run in loads] == [
        [(2, 0)],
        [(1, 1)],
    ]


def test_an_older_page_arriving_late_does_not_undo_a_newer_status(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN the same two pages, the newer one delivered first
    services = make_services()
    first, second = overlapping_pages(scratch_bucket, prefix)
    ingest_file(second, services)

    # WHEN the older page, with A still pending, arrives afterwards
    result = ingest_file(first, services)

    # THEN its rows are accounted as loaded, but A keeps its completed version
    assert (result.status, result.rows_loaded) == (Status.LOADED, 2)
    assert final_rows(services, paypal_table)[f"{prefix}-A"] == ("S", "119.99", "page-0002.json")
    assert len(final_rows(services, paypal_table)) == 3


def test_overlapping_pages_in_one_load_job_are_deduplicated_in_staging(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN the two overlapping pages waiting in the lake
    services = make_services()
    overlapping_pages(scratch_bucket, prefix)

    # WHEN a batch run loads them together
    run = run_batch(services, scratch_bucket, prefix)

    # THEN one load job carries both files and A lands once, completed
    assert [(load.files, load.rows_loaded) for load in run.loads] == [(2, 4)]
    assert final_rows(services, paypal_table)[f"{prefix}-A"] == ("S", "119.99", "page-0002.json")
    assert len(final_rows(services, paypal_table)) == 3
    # No staging table outlives its MERGE.
    staging = services.settings.staging_dataset
    leftovers = [t.table_id for t in services.bigquery.list_tables(staging) if prefix in t.table_id]
    assert leftovers == []


def test_a_retry_after_a_crash_following_the_merge_changes_nothing(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN a worker that merged a page into the table and died before recording LOADED
    services = make_services(lease_seconds=1)
    first, _ = overlapping_pages(scratch_bucket, prefix)
    crashing = dying_before_ledger_update(services)
    with pytest.raises(ProcessDied):
        ingest_file(first, crashing)
    before = queries.table_fingerprint(services.bigquery, paypal_table)
    assert before.rows == 2

    # WHEN the event is redelivered once the lease has run out
    time.sleep(2.1)
    result = ingest_file(first, services)

    # THEN the retry loads and merges the page again, and the table is exactly as it was
    assert (result.status, result.rows_loaded) == (Status.LOADED, 2)
    assert queries.table_fingerprint(services.bigquery, paypal_table) == before


class BigQueryThatDiesAtMerge:
    """The BigQuery client of a process that dies as it submits its MERGE."""

    def __init__(self, client) -> None:
        self._client = client

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def query(self, sql: str, *args, **kwargs):
        if sql.startswith("MERGE"):
            raise ProcessDied
        return self._client.query(sql, *args, **kwargs)


def test_rows_loaded_to_staging_before_a_crash_still_reach_the_table_after_staging_expired(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN a worker that loaded a page into staging and died before its MERGE, and a staging
    # table that expired before the event came back
    services = make_services(lease_seconds=1)
    first, _ = overlapping_pages(scratch_bucket, prefix)
    dying = BigQueryWarehouse(BigQueryThatDiesAtMerge(services.bigquery), services.settings.staging_dataset)
    crashing = dataclasses.replace(services, warehouse=dying)
    with pytest.raises(ProcessDied):
        ingest_file(first, crashing)
    staging = services.settings.staging_dataset
    for table in services.bigquery.list_tables(staging):
        if prefix in table.table_id:
            services.bigquery.delete_table(table)

    # WHEN the event is redelivered once the lease has run out
    time.sleep(2.1)
    result = ingest_file(first, services)

    # THEN the retry loads the page again rather than trusting the earlier job, and merges it
    assert (result.status, result.rows_loaded) == (Status.LOADED, 2)
    assert set(final_rows(services, paypal_table)) == {f"{prefix}-A", f"{prefix}-B"}


def test_final_tables_are_partitioned_and_clustered_as_configured(make_services, paypal_table, prefix):
    services = make_services()
    pipeline = next(p for p in services.pipelines if p.table_id == paypal_table)
    services.warehouse.ensure_table(pipeline)

    table = services.bigquery.get_table(f"{services.bigquery.project}.{paypal_table}")

    assert table.time_partitioning.field == "transaction_initiation_date"
    assert table.time_partitioning.type_ == "DAY"
    assert table.clustering_fields == ["transaction_event_code", "transaction_id"]


def test_a_new_reference_file_replaces_the_whole_table(make_services, pipelines_dir, prefix, scratch_bucket):
    # GIVEN the VAT rates table loaded from a first file of three tax codes
    table = isolate_shipped_pipelines(pipelines_dir, prefix)["vat_rates"]
    services = make_services()
    header = "tax_code\tvat_rate\tname\tcountry_name\tiso_2_code\n"
    new = header + "T1\t0.20\tUK standard\tUnited Kingdom\tGB\nT2\t0.19\tDE\tGermany\tDE\n"
    old = new + "T3\t0.21\tNL\tNetherlands\tNL\n"
    ingest_file(put(scratch_bucket, f"{prefix}/reference/vat_rates/2021-06.tsv", old.encode()), services)

    # WHEN a new version with two tax codes lands
    result = ingest_file(
        put(scratch_bucket, f"{prefix}/reference/vat_rates/2021-07.tsv", new.encode()), services
    )

    # THEN the table holds the new version only
    assert result.status == Status.LOADED
    frame = queries.query_dataframe(
        services.bigquery, f"SELECT tax_code, _source_uri FROM `{services.bigquery.project}.{table}`"
    )
    assert sorted(frame.tax_code) == ["T1", "T2"]
    assert {uri.rsplit("/", 1)[1] for uri in frame._source_uri} == {"2021-07.tsv"}


def test_a_large_page_read_whole_by_arrow_lands_the_same_rows_as_one_read_row_by_row(
    make_services, paypal_table, prefix, scratch_bucket, monkeypatch
):
    # GIVEN two 1.3 MB NDJSON pages of the same 1,000 transactions (sales, refunds, pending),
    # the first read whole by Arrow and the second row by row
    from ingest.core import arrow_ndjson, prepare

    def page(letter: str) -> bytes:
        records = []
        for number in range(1000):
            refund = number % 50 == 0
            record = paypal_transaction(
                transaction_id=f"{letter}{prefix}-{number:04d}",
                email=f"player{number}@example.org",
                transaction_status="P" if number % 7 == 0 else "S",
                transaction_event_code="T1107" if refund else "T0006",
                transaction_amount={"currency_code": "EUR", "value": f"{'-' if refund else ''}{number}.99"},
                fee_amount={"currency_code": "EUR", "value": "0.00" if refund else f"-{number % 5}.30"},
                **({"paypal_reference_id": f"{letter}{prefix}-ref"} if refund else {}),
            )
            record["cart_info"] = (
                {
                    "item_details": [
                        {"item_name": f'Gem Pack "{n}" (ID: #22{n})', "item_quantity": str(n)}
                        for n in range(1, number % 3 + 2)
                    ]
                }
                if number % 11
                else {}
            )
            records.append(record)
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()

    taken = []
    real_load_table = arrow_ndjson.load_table
    monkeypatch.setattr(
        arrow_ndjson, "load_table", lambda *a, **k: taken.append(result := real_load_table(*a, **k)) or result
    )
    services = make_services()
    pages = {}
    for letter, whole in (("a", True), ("b", False)):
        monkeypatch.setattr(prepare, "ARROW_NDJSON_BYTES", 32 << 20 if whole else 0)
        body = page(letter)
        assert len(body) > prepare.ARROW_MIN_BYTES
        key = f"{prefix}/paypal/transactions/{letter}/page-0001.json"
        put(scratch_bucket, key, body)
        batch = run_batch(services, scratch_bucket, f"{prefix}/paypal/transactions/{letter}/")
        assert [(r.status, r.rows_loaded) for r in batch.results] == [(Status.LOADED, 1000)]
        pages[letter] = key
    assert len(taken) == 1 and taken[0] is not None, "the first page was read whole by Arrow"

    # THEN the table holds the same values for both, and the kept record the same JSON
    frame = queries.query_dataframe(
        services.bigquery,
        f"SELECT * EXCEPT (_source_uri, _source_etag, _ingested_at), _source_uri AS source_uri,"
        f" TO_JSON_STRING(_raw) AS raw_text FROM `{services.bigquery.project}.{paypal_table}`",
    )
    assert len(frame) == 2000
    by_page: dict[str, dict[str, dict]] = {"a": {}, "b": {}}
    for row in frame.to_dict("records"):
        letter = row.pop("source_uri").rsplit("/", 2)[1]
        row.pop("_raw")
        raw = json.loads(row.pop("raw_text"))
        raw = json.loads(raw) if isinstance(raw, str) else raw
        assert "email_address" not in raw["payer_info"] and "shipping_info" not in raw
        number = row["transaction_id"].rsplit("-", 1)[1]
        for name in ("transaction_id", "paypal_reference_id"):
            row[name] = row[name][1:] if isinstance(row[name], str) else None
        raw["transaction_info"]["transaction_id"] = raw["transaction_info"]["transaction_id"][1:]
        if "paypal_reference_id" in raw["transaction_info"]:
            raw["transaction_info"]["paypal_reference_id"] = raw["transaction_info"]["paypal_reference_id"][
                1:
            ]
        row["cart_items"] = json.dumps(row["cart_items"], default=str, sort_keys=True)
        by_page[letter][number] = {**row, "raw": raw}
    assert by_page["a"].keys() == by_page["b"].keys()
    differing = [n for n in by_page["a"] if repr(by_page["a"][n]) != repr(by_page["b"][n])]
    assert not differing, (by_page["a"][differing[0]], by_page["b"][differing[0]])


def test_a_staging_table_left_by_a_crash_before_its_merge_expires_a_day_after_its_load(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN a worker that loaded a page into staging (its load job made the table) and died
    # before the MERGE, so nothing dropped the staging table
    services = make_services()
    first, _ = overlapping_pages(scratch_bucket, prefix)
    dying = BigQueryWarehouse(BigQueryThatDiesAtMerge(services.bigquery), services.settings.staging_dataset)
    with pytest.raises(ProcessDied):
        ingest_file(first, dataclasses.replace(services, warehouse=dying))

    # THEN the table it left expires on its own, a day after it was made
    client = services.bigquery
    left = [t for t in client.list_tables(services.settings.staging_dataset) if prefix in t.table_id]
    assert len(left) == 1
    table = client.get_table(left[0].reference)
    assert table.num_rows == 2
    lifetime = (table.expires - table.created).total_seconds()
    assert abs(lifetime - 86_400) < 60


def staging_dataset_without_expiration(client, prefix: str) -> str:
    """A staging dataset of this test's own, made as before ingest set an expiration on it."""
    dataset = f"staging_{prefix}"
    client.create_dataset(f"{client.project}.{dataset}")
    assert client.get_dataset(dataset).default_table_expiration_ms is None
    return dataset


def test_a_staging_dataset_made_without_an_expiration_is_given_one_of_a_day(
    make_services, paypal_table, prefix
):
    # GIVEN a staging dataset someone made by hand, with no default table expiration
    services = make_services()
    client = services.bigquery
    dataset = staging_dataset_without_expiration(client, prefix)

    # WHEN a merge pipeline's table is made ready against it
    pipeline = next(p for p in services.pipelines if p.table_id == paypal_table)
    BigQueryWarehouse(client, dataset).ensure_table(pipeline)

    # THEN tables the load jobs make there expire after a day
    assert client.get_dataset(dataset).default_table_expiration_ms == 86_400_000


def test_a_single_file_load_is_noted_for_the_days_quota_with_its_file(
    make_services, paypal_table, prefix, scratch_bucket
):
    # GIVEN one new page, loaded as a warm Lambda file is (a batch of one)
    services = make_services()
    first, _ = overlapping_pages(scratch_bucket, prefix)

    result = ingest_file(first, services)

    # THEN its FILE item is LOADED and the day's load-job notes hold its job, naming the file,
    # which is what the quota warning counts
    assert result.status == Status.LOADED
    day = time.strftime("%Y-%m-%d", time.gmtime())
    notes = services.dynamodb.query(
        TableName=services.settings.ledger_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": loads_pk(paypal_table, day)}},
    )["Items"]
    assert [n["load_job_id"]["S"] for n in notes] == [result.load_job_id]
    assert notes[0]["members"]["L"] == [{"S": first.identity}]
    assert int(notes[0]["rows"]["N"]) == 2
    assert services.ledger.loads_on(paypal_table, day) == 1


def test_setting_the_staging_expiration_survives_another_worker_changing_the_dataset_meanwhile(
    make_services, paypal_table, prefix
):
    # GIVEN a staging dataset without an expiration, read by this worker (its etag) just before
    # another worker changed it: many Lambda cold starts run this at once
    services = make_services()
    client = services.bigquery
    dataset = staging_dataset_without_expiration(client, prefix)
    stale = client.get_dataset(dataset)
    changed = client.get_dataset(dataset)
    changed.description = "changed by another worker"
    client.update_dataset(changed, ["description"])

    class SeesTheStaleDataset:
        def __getattr__(self, name):
            return getattr(client, name)

        def create_dataset(self, *args, **kwargs):
            return stale

    # WHEN this worker makes its merge pipeline's table ready
    pipeline = next(p for p in services.pipelines if p.table_id == paypal_table)
    BigQueryWarehouse(SeesTheStaleDataset(), dataset).ensure_table(pipeline)

    # THEN the expiration is set, and the other worker's change kept
    after = client.get_dataset(dataset)
    assert after.default_table_expiration_ms == 86_400_000
    assert after.description == "changed by another worker"
