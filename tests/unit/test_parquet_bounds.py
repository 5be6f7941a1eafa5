"""Partition bounds for the MERGE read from the load file's Parquet statistics, not a query job."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.adapters.bigquery.merge import UNKNOWN, parquet_bounds


def parquet(table: pa.Table, row_group_size: int = 2) -> io.BytesIO:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size, compression="zstd")
    buffer.seek(7)  # anywhere: the reader must not depend on where the file was left
    return buffer


def ts(day: int, hour: int = 0) -> datetime:
    return datetime(2021, 7, day, hour, tzinfo=UTC)


def test_bounds_span_every_row_group_and_skip_nulls_and_all_null_groups():
    # Row groups of two: [9th, None], [None, None], [2nd 05:00, 30th 23:00], [15th]
    # -> lowest 2nd 05:00, highest 30th 23:00, found past a nested column that shifts leaf indexes.
    started = [ts(9), None, None, None, ts(2, 5), ts(30, 23), ts(15)]
    table = pa.table(
        {
            "cart_items": pa.array([[{"sku": "a"}], [], None, [{"sku": "b"}, {"sku": "c"}], [], [], []]),
            "transaction_initiation_date": pa.array(started, pa.timestamp("us", tz="UTC")),
        }
    )
    file = parquet(table)

    assert parquet_bounds(file, "transaction_initiation_date") == (ts(2, 5), ts(30, 23))
    assert file.tell() == 0  # left at the start, ready for the upload


def test_dates_and_integers_are_bounded_too():
    table = pa.table(
        {"day": pa.array([date(2024, 3, 1), date(2023, 12, 31), None]), "n": pa.array([5, -2, 11])}
    )

    assert parquet_bounds(parquet(table), "day") == (date(2023, 12, 31), date(2024, 3, 1))
    assert parquet_bounds(parquet(table), "n") == (-2, 11)


def test_a_column_with_no_value_has_no_bounds_so_the_merge_is_unbounded():
    table = pa.table({"t": pa.nulls(3, pa.timestamp("us", tz="UTC"))})

    assert parquet_bounds(parquet(table), "t") is None


def test_when_statistics_cannot_say_the_caller_queries_staging():
    # Nanoseconds: BigQuery keeps microseconds, so a bound from the file could miss its own row.
    nanos = pa.table({"t": pa.array([1_500, 2_000], pa.timestamp("ns", tz="UTC"))})
    assert parquet_bounds(parquet(nanos), "t") is UNKNOWN
    # A column the file does not have.
    assert parquet_bounds(parquet(nanos), "missing") is UNKNOWN
    # A row group written without statistics.
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": [1, 2]}), buffer, write_statistics=False)
    assert parquet_bounds(buffer, "n") is UNKNOWN
