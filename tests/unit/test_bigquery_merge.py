"""The MERGE of a staging table, as rendered from ``sql/merge.sql`` for a pipeline's settings."""

from __future__ import annotations

from ingest.adapters.bigquery.merge import merge_statement
from ingest.core.config import load_pipelines
from ingest.core.settings import PACKAGE_DIR

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}


def test_the_merge_keeps_the_latest_row_per_business_key_and_changes_nothing_when_run_again():
    paypal = PIPELINES["paypal_transactions"]

    sql = merge_statement(paypal, "p.raw.paypal_transactions", "p.staging.load_1")

    assert sql.startswith("MERGE `p.raw.paypal_transactions` AS target")
    assert "FROM `p.staging.load_1`" in sql
    keys = ", ".join(paypal.business_key)
    assert f"PARTITION BY {keys} ORDER BY {paypal.latest_by} DESC NULLS LAST, _ingested_at DESC" in sql
    # Strictly newer only: merging the same rows again updates nothing.
    assert f"WHEN MATCHED AND (source.{paypal.latest_by} > target.{paypal.latest_by} OR" in sql
    assert "@partition_low" not in sql
    assert "${" not in sql and "--" not in sql


def test_a_bounded_merge_reads_only_the_target_partitions_of_the_staging_rows():
    paypal = PIPELINES["paypal_transactions"]

    sql = merge_statement(paypal, "p.raw.t", "p.staging.s", bounded=True)

    assert f"target.{paypal.partition_by} BETWEEN @partition_low AND @partition_high" in sql


def test_every_column_is_inserted_and_only_non_key_columns_are_updated():
    payments = PIPELINES["payment_transactions"]
    columns = [c.name for c in payments.bigquery_columns()]

    sql = merge_statement(payments, "p.raw.t", "p.staging.s")

    assert f"INSERT ({', '.join(columns)})" in sql
    assert f"VALUES ({', '.join(f'source.{c}' for c in columns)})" in sql
    for key in payments.business_key:
        assert f"{key} = source.{key}," not in sql
