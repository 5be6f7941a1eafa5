"""The load and MERGE path against a real BigQuery project, and the same steps on the emulator.

Runs on BigQuery when credentials and a project are set, and is skipped otherwise::

    GOOGLE_APPLICATION_CREDENTIALS=/path/key.json INGEST_SMOKE_BQ_PROJECT=my-project \\
        .venv/bin/python -m pytest tests/integration/test_bigquery_smoke.py

It creates a dataset ``ingest_smoke_<random>`` (location ``INGEST_BQ_LOCATION``, default US),
loads two overlapping PayPal pages through staging and MERGE, checks the result, and deletes the
dataset. It needs the BigQuery Data Editor and Job User roles on the project; it costs a few
kilobytes of queries. The emulator case runs in every test run, so the steps themselves are tested.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import uuid
from collections.abc import Iterator

import pytest
import yaml
from support.helpers import paypal_transaction

from ingest.adapters.bigquery import queries, tables
from ingest.adapters.bigquery.warehouse import BigQueryWarehouse
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import Pipeline, parse_pipeline
from ingest.core.prepare import prepare_file
from ingest.core.settings import PACKAGE_DIR
from ingest.ingestion.ports import LoadResult

pytestmark = pytest.mark.integration

REAL_PROJECT = os.environ.get("INGEST_SMOKE_BQ_PROJECT", "")
HAVE_CREDENTIALS = bool(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") and REAL_PROJECT)


@pytest.fixture(params=["emulator", "bigquery"])
def client(request, monkeypatch) -> Iterator:
    from ingest.adapters.clients import bigquery_client

    location = os.environ.get("INGEST_BQ_LOCATION", "US")
    if request.param == "emulator":
        request.getfixturevalue("stack")
        yield bigquery_client(os.environ["INGEST_BQ_PROJECT"], location)
        return
    if not HAVE_CREDENTIALS:
        pytest.skip("set GOOGLE_APPLICATION_CREDENTIALS and INGEST_SMOKE_BQ_PROJECT to run on BigQuery")
    # google-cloud-bigquery talks to an emulator whenever this variable is set.
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    yield bigquery_client(REAL_PROJECT, location)


@pytest.fixture
def dataset(client) -> Iterator[str]:
    name = f"ingest_smoke_{uuid.uuid4().hex[:10]}"
    tables.ensure_dataset(client, name)
    try:
        yield name
    finally:
        client.delete_dataset(f"{client.project}.{name}", delete_contents=True, not_found_ok=True)


def paypal_pipeline(dataset: str) -> Pipeline:
    raw = yaml.safe_load((PACKAGE_DIR / "pipelines" / "paypal_transactions.yaml").read_text())
    raw["table"] = f"{dataset}.paypal_transactions"
    return parse_pipeline(raw, "smoke")


def load_page(client, pipeline: Pipeline, dataset: str, name: str, records: list[dict]) -> LoadResult:
    """Coerce one page into Parquet as ingestion does, then write it through staging and MERGE."""
    uri = f"s3://smoke/{name}"
    lineage = {"_source_uri": uri, "_source_etag": name, "_ingested_at": datetime.datetime.now(datetime.UTC)}
    with contextlib.ExitStack() as temporary:
        prepared = prepare_file(
            io.BytesIO(json.dumps(records).encode()),
            pipeline,
            lambda _: RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=b"smoke-test-key"),
            None,
            lineage,
            temporary,
        )
        return BigQueryWarehouse(client, dataset).write_rows(pipeline, prepared.parquet, f"{uri}#{name}")


def test_load_and_merge_keep_the_latest_version_of_each_transaction(client, dataset):
    # GIVEN the PayPal table in a fresh dataset, partitioned and clustered
    pipeline = paypal_pipeline(dataset)
    tables.ensure_table(client, pipeline)
    table = client.get_table(f"{client.project}.{pipeline.table_id}")
    assert (table.time_partitioning.field, table.clustering_fields) == (
        "transaction_initiation_date",
        ["transaction_event_code", "transaction_id"],
    )

    # WHEN two overlapping pages load: A pending on the first, completed on the second
    first = load_page(
        client,
        pipeline,
        dataset,
        "page-1",
        [
            paypal_transaction(
                "A", transaction_status="P", transaction_updated_date="2021-07-01T10:00:00+0000"
            ),
            paypal_transaction("B", transaction_updated_date="2021-07-01T10:05:00+0000"),
        ],
    )
    second = load_page(
        client,
        pipeline,
        dataset,
        "page-2",
        [
            paypal_transaction(
                "A", transaction_status="S", transaction_updated_date="2021-07-01T12:00:00+0000"
            )
        ],
    )
    fingerprint = queries.table_fingerprint(client, pipeline.table_id)
    # ... and the second page is merged once more, as a retry after a crash would
    load_page(
        client,
        pipeline,
        dataset,
        "page-2-again",
        [
            paypal_transaction(
                "A", transaction_status="S", transaction_updated_date="2021-07-01T12:00:00+0000"
            )
        ],
    )

    # THEN each transaction is there once, A completed; the retry changed nothing
    assert (first.output_rows, second.output_rows) == (2, 1)
    frame = queries.query_dataframe(
        client,
        f"SELECT transaction_id, transaction_status FROM `{client.project}.{pipeline.table_id}`"
        " WHERE transaction_initiation_date >= @since ORDER BY transaction_id",
        {"since": datetime.datetime(2021, 7, 1, tzinfo=datetime.UTC)},
    )
    assert list(zip(frame.transaction_id, frame.transaction_status, strict=True)) == [("A", "S"), ("B", "S")]
    assert queries.table_fingerprint(client, pipeline.table_id) == fingerprint
    # No staging table is left behind.
    assert [t.table_id for t in client.list_tables(f"{client.project}.{dataset}")] == ["paypal_transactions"]
