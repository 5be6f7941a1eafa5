"""Parameterised reads of the warehouse: a query as a DataFrame, row counts, table fingerprints."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.adapters.bigquery.sql import render

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: int
    """XOR of a fingerprint of every row: equal for equal contents, whatever the row order."""


def query_dataframe(client: bigquery.Client, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a parameterised Standard SQL query and return a DataFrame (emulator or BigQuery).

    pandas-gbq reads the result over the REST API unless a Storage Read client is at hand;
    note it wants ``BIGQUERY_EMULATOR_HOST`` in the environment even when given a client.
    """
    import pandas_gbq

    parameters = [_parameter(name, value).to_api_repr() for name, value in (params or {}).items()]
    frame: pd.DataFrame = pandas_gbq.read_gbq(
        sql,
        project_id=client.project,
        bigquery_client=client,
        configuration={"query": {"useLegacySql": False, "queryParameters": parameters}},
        progress_bar_type=None,
    )
    return frame


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    import decimal

    from google.cloud import bigquery

    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return bigquery.ArrayQueryParameter(name, "STRING", list(value))

    types = [
        (bool, "BOOL"),
        (int, "INT64"),
        (float, "FLOAT64"),
        (decimal.Decimal, "NUMERIC"),
        (datetime.datetime, "TIMESTAMP"),
        (datetime.date, "DATE"),
        (str, "STRING"),
    ]
    bq_type = next((bq_type for python_type, bq_type in types if isinstance(value, python_type)), None)
    if bq_type is None:
        raise TypeError(f"unsupported query parameter {name}={value!r}")
    return bigquery.ScalarQueryParameter(name, bq_type, value)


def count_rows(client: bigquery.Client, table_id: str, where: str = "TRUE", **params: Any) -> int:
    """Rows of ``table_id`` where the condition ``where`` holds (values as ``@name`` parameters)."""
    sql = render("count_rows", table=f"{client.project}.{table_id}", where=where)
    frame = query_dataframe(client, sql, params)
    return int(frame["n"].iloc[0])


def table_fingerprint(client: bigquery.Client, table_id: str) -> TableFingerprint:
    """Row count and an order-independent checksum of every column of every row."""
    frame = query_dataframe(client, render("table_fingerprint", table=f"{client.project}.{table_id}"))
    checksum = frame["checksum"].iloc[0]
    return TableFingerprint(
        int(frame["n"].iloc[0]), 0 if checksum is None or checksum != checksum else int(checksum)
    )
