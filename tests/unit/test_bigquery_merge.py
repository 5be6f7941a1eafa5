"""The MERGE of a staging table, as rendered from ``sql/merge.sql`` for a pipeline's settings."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ingest.adapters.bigquery.merge import merge_statement
from ingest.adapters.bigquery.sql import quoted, render
from ingest.core.config import Column, load_pipelines
from ingest.core.settings import PACKAGE_DIR

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}


def q(*names: str) -> str:
    return ", ".join(f"`{name}`" for name in names)


def test_the_merge_keeps_the_latest_row_per_business_key_and_changes_nothing_when_run_again():
    paypal = PIPELINES["paypal_transactions"]
    latest = f"`{paypal.latest_by}`"

    sql = merge_statement(paypal, "p.raw.paypal_transactions", "p.staging.load_1")

    assert sql.startswith("MERGE `p.raw.paypal_transactions` AS target")
    assert "FROM `p.staging.load_1`" in sql
    assert (
        f"PARTITION BY {q(*paypal.business_key)} ORDER BY {latest} DESC NULLS LAST, `_ingested_at` DESC"
        in sql
    )
    # Strictly newer only: merging the same rows again updates nothing.
    assert f"WHEN MATCHED AND (source.{latest} > target.{latest} OR" in sql
    assert "@partition_low" not in sql
    assert "${" not in sql and "--" not in sql


def test_a_bounded_merge_reads_only_the_target_partitions_of_the_staging_rows():
    paypal = PIPELINES["paypal_transactions"]

    sql = merge_statement(paypal, "p.raw.t", "p.staging.s", bounded=True)

    assert f"target.`{paypal.partition_by}` BETWEEN @partition_low AND @partition_high" in sql


def test_every_column_is_inserted_and_only_non_key_columns_are_updated():
    payments = PIPELINES["payment_transactions"]
    columns = [c.name for c in payments.bigquery_columns()]

    sql = merge_statement(payments, "p.raw.t", "p.staging.s")

    assert f"INSERT ({q(*columns)})" in sql
    assert f"VALUES ({', '.join(f'source.`{c}`' for c in columns)})" in sql
    for key in payments.business_key:
        assert f"`{key}` = source.`{key}`," not in sql
        assert f"target.`{key}` = source.`{key}`" in sql


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_column_the_merge_names_is_quoted(name):
    pipeline = PIPELINES[name]
    if not pipeline.business_key:
        pytest.skip("no business key: never merged")

    sql = merge_statement(pipeline, "p.raw.t", "p.staging.s", bounded=pipeline.partition_by is not None)

    for column in pipeline.bigquery_columns():
        bare = re.search(rf"(?<![`\w]){re.escape(column.name)}(?![`\w])", sql)
        assert bare is None, (
            f"{column.name} unquoted in: ...{sql[max(0, bare.start() - 40) : bare.end() + 40]}..."
        )


def test_a_column_named_like_a_keyword_stays_an_identifier():
    # Config refuses such names; quoting is what keeps one that got past it harmless.
    orders = dataclasses.replace(
        PIPELINES["payment_transactions"],
        columns=(Column("order", "STRING", "REQUIRED"), Column("at", "TIMESTAMP")),
        business_key=("order",),
        latest_by="at",
        partition_by="at",
    )

    sql = merge_statement(orders, "p.raw.t", "p.staging.s", bounded=True)

    assert "PARTITION BY `order` ORDER BY `at` DESC NULLS LAST" in sql
    assert "ON target.`order` = source.`order` AND target.`at` BETWEEN @partition_low" in sql
    assert "`at` = source.`at`" in sql
    assert render("partition_bounds", column=quoted("at"), staging="p.s.s").startswith(
        "SELECT MIN(`at`) AS low, MAX(`at`) AS high FROM `p.s.s`"
    )


@pytest.mark.parametrize("name", ["", "a`b", "a\\b", "a\nb"])
def test_a_name_that_could_end_its_quoting_is_refused(name):
    with pytest.raises(ValueError, match="cannot be a quoted column name"):
        quoted(name)
