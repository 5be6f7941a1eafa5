"""Datasets and tables from pipeline schemas: the final tables, and a staging table per load."""

from __future__ import annotations

import datetime
import hashlib
from typing import TYPE_CHECKING

from ingest.adapters.bigquery.errors import classify
from ingest.core.config import Column, Pipeline

if TYPE_CHECKING:
    from google.cloud import bigquery

STAGING_EXPIRY = datetime.timedelta(days=1)


def schema_fields(pipeline: Pipeline) -> list[bigquery.SchemaField]:
    return [schema_field(column) for column in pipeline.bigquery_columns()]


def schema_field(column: Column) -> bigquery.SchemaField:
    from google.cloud import bigquery

    nested = [schema_field(f) for f in column.fields]
    return bigquery.SchemaField(column.name, column.type, mode=column.mode, fields=nested)


def ensure_dataset(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ref = bigquery.Dataset(f"{client.project}.{dataset}")
    ref.location = client.location
    client.create_dataset(ref, exists_ok=True)


def ensure_table(client: bigquery.Client, pipeline: Pipeline) -> None:
    """Create the pipeline's table, partitioned and clustered as configured, if it does not exist.

    An existing table is left as it is: BigQuery cannot partition a table after the fact.
    """
    from google.cloud import bigquery

    ensure_dataset(client, pipeline.dataset)
    table = bigquery.Table(f"{client.project}.{pipeline.table_id}", schema=schema_fields(pipeline))
    if pipeline.partition_by:
        table.time_partitioning = bigquery.TimePartitioning(field=pipeline.partition_by)
    if pipeline.cluster_by:
        table.clustering_fields = list(pipeline.cluster_by)
    client.create_table(table, exists_ok=True)


def staging_table_id(pipeline: Pipeline, staging_dataset: str, load_identity: str) -> str:
    """A staging table of its own per load, so concurrent loads never see each other's rows."""
    digest = hashlib.sha256(f"{load_identity}|{pipeline.table_id}".encode()).hexdigest()[:32]
    return f"{staging_dataset}.{pipeline.dataset}__{pipeline.table}__{digest}"


def create_staging_table(client: bigquery.Client, pipeline: Pipeline, table_id: str) -> bool:
    """Create a staging table that expires on its own; False if it already existed.

    The expiry cleans up after a crash between load and MERGE, once no retry will come.
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    table = bigquery.Table(f"{client.project}.{table_id}", schema=schema_fields(pipeline))
    table.expires = datetime.datetime.now(datetime.UTC) + STAGING_EXPIRY
    try:
        client.create_table(table)
    except exceptions.Conflict:
        return False
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"creating staging table {table_id}") from err
    return True


def drop_table(client: bigquery.Client, table_id: str) -> None:
    from google.api_core import exceptions

    try:
        client.delete_table(f"{client.project}.{table_id}", not_found_ok=True)
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"dropping {table_id}") from err
