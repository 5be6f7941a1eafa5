"""Whether a load's staging table needs deduplicating before its MERGE, told from the load file.

Getting this wrong would insert a new key twice, so every case that may repeat must say False.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.adapters.bigquery.merge import keys_unique, merge_statement
from ingest.core.config import load_pipelines
from ingest.core.settings import PACKAGE_DIR

PAYPAL = next(p for p in load_pipelines(PACKAGE_DIR / "pipelines") if p.name == "paypal_transactions")
KEYS = ("transaction_id", "transaction_event_code")


def parquet(columns: dict[str, pa.Array], row_group_size: int = 2) -> io.BytesIO:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, row_group_size=row_group_size)
    buffer.seek(5)  # anywhere: the check must not depend on where the file was left
    return buffer


def test_a_page_of_distinct_transactions_needs_no_dedup_and_the_file_is_left_rewound():
    # A sale and its refund: PayPal gives the refund its own transaction id (T1107 refers back).
    file = parquet(
        {
            "transaction_id": pa.array(["5TY05013RG002845M", "9XG87045J1234567A", "1AB23456CD7890123"]),
            "transaction_event_code": pa.array(["T0006", "T1107", "T0006"]),
            "amount": pa.array([9.99, -9.99, 4.99]),
        }
    )

    assert keys_unique(file, KEYS) is True
    assert file.tell() == 0


def test_a_transaction_seen_twice_across_row_groups_needs_dedup():
    # The same sale on two overlapping pages (pending, then completed): rows 1 and 4, different row groups.
    file = parquet(
        {
            "transaction_id": pa.array(["5TY05013RG002845M", "A", "B", "5TY05013RG002845M"]),
            "transaction_event_code": pa.array(["T0006", "T0006", "T0006", "T0006"]),
        }
    )

    assert keys_unique(file, KEYS) is False


def test_a_compound_key_is_unique_when_its_pairs_are_although_each_column_repeats():
    file = parquet(
        {
            "transaction_id": pa.array(["A", "A", "B", "B"]),
            "transaction_event_code": pa.array(["T0006", "T1107", "T0006", "T1107"]),
        }
    )

    assert keys_unique(file, KEYS) is True


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["A", None, "B"], True),  # one null key: one partition of its own
        (["A", None, None], False),  # PARTITION BY puts both nulls together: one would be dropped
    ],
)
def test_null_keys_count_as_one_value_as_partition_by_groups_them(ids, expected):
    assert (
        keys_unique(parquet({"transaction_id": pa.array(ids, pa.string())}), ("transaction_id",)) is expected
    )


def test_null_parts_of_a_compound_key_count_alike():
    file = parquet(
        {
            "transaction_id": pa.array(["A", "A"]),
            "transaction_event_code": pa.array([None, None], pa.string()),
        }
    )

    assert keys_unique(file, KEYS) is False


@pytest.mark.parametrize(
    "column",
    [
        # BigQuery keeps microseconds: these differ by 1 ns here and are one value once loaded.
        pa.array([1_700_000_000_000_000_000, 1_700_000_000_000_000_001], pa.timestamp("ns", tz="UTC")),
        pa.array([0.1, 0.30000000000000004]),  # floats: compared after BigQuery's own conversion
    ],
    ids=["nanosecond timestamps", "floats"],
)
def test_keys_of_types_bigquery_may_round_are_never_called_unique(column):
    assert keys_unique(parquet({"k": pa.array(column)}), ("k",)) is False


def test_a_file_without_the_key_columns_is_not_called_unique():
    assert keys_unique(parquet({"other": pa.array(["A"])}), ("transaction_id",)) is False


def test_the_merge_of_unique_keys_reads_staging_as_it_is_and_keeps_the_newer_rule():
    sql = merge_statement(PAYPAL, "p.raw.t", "p.staging.s", deduplicate=False)

    assert "USING `p.staging.s` AS source" in sql
    assert "ROW_NUMBER" not in sql and "latest rank" not in sql
    assert f"WHEN MATCHED AND (source.`{PAYPAL.latest_by}` > target.`{PAYPAL.latest_by}` OR" in sql


def test_the_merge_of_keys_that_may_repeat_deduplicates_staging_first():
    sql = merge_statement(PAYPAL, "p.raw.t", "p.staging.s")

    assert "USING (\n  SELECT * EXCEPT (`latest rank`)" in sql
    assert "FROM `p.staging.s`" in sql
