"""Datasets and tables from pipeline schemas: the final tables, and a staging table per load."""

from __future__ import annotations

import datetime
import hashlib
import logging
from typing import TYPE_CHECKING

from ingest.adapters.bigquery.errors import classify
from ingest.core.config import Column, Pipeline
from ingest.core.errors import ConfigError

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)

STAGING_EXPIRY = datetime.timedelta(days=1)


def schema_fields(pipeline: Pipeline) -> list[bigquery.SchemaField]:
    return [schema_field(column) for column in pipeline.bigquery_columns()]


def schema_field(column: Column) -> bigquery.SchemaField:
    from google.cloud import bigquery

    nested = [schema_field(f) for f in column.fields]
    return bigquery.SchemaField(column.name, column.type, mode=column.mode, fields=nested)


def ensure_dataset(
    client: bigquery.Client, dataset: str, table_expiry: datetime.timedelta | None = None
) -> bigquery.Dataset:
    """The dataset, created if missing (its tables expiring after ``table_expiry``, if given)."""
    from google.cloud import bigquery

    ref = bigquery.Dataset(f"{client.project}.{dataset}")
    ref.location = client.location
    if table_expiry is not None:
        ref.default_table_expiration_ms = int(table_expiry.total_seconds() * 1000)
    return client.create_dataset(ref, exists_ok=True)


def ensure_staging_dataset(client: bigquery.Client, dataset: str) -> None:
    """The staging dataset, whose tables expire ``STAGING_EXPIRY`` after they are created.

    Load jobs create the staging tables (one request per load fewer than creating each first),
    so the expiry is the dataset's default: it cleans up after a crash between a load and its
    MERGE, once no retry will come. A dataset made before it had the default gets it here.
    """
    from google.api_core import exceptions
    from google.cloud import bigquery

    expiry_ms = int(STAGING_EXPIRY.total_seconds() * 1000)
    existing = ensure_dataset(client, dataset, STAGING_EXPIRY)
    if existing.default_table_expiration_ms == expiry_ms:
        return
    # Without the etag read above: many cold starts may set this at once, all to the same value,
    # and an etag would fail every one but the first (412 Precondition Failed).
    patch = bigquery.Dataset(existing.reference)
    patch.default_table_expiration_ms = expiry_ms
    try:
        client.update_dataset(patch, ["default_table_expiration_ms"])
    except exceptions.Forbidden:
        # roles/bigquery.dataEditor may not update a dataset. Loads still work; only a staging
        # table left by a crash between its load and its MERGE would stay until dropped.
        log.warning(
            "staging dataset %s has no default table expiration and this account may not set it: "
            "run `bq update --default_table_expiration %d %s`",
            dataset,
            expiry_ms // 1000,
            dataset,
        )


def staging_table_exists(client: bigquery.Client, table_id: str) -> bool:
    from google.api_core import exceptions

    try:
        client.get_table(f"{client.project}.{table_id}")
    except exceptions.NotFound:
        return False
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"looking up staging table {table_id}") from err
    return True


def ensure_table(client: bigquery.Client, pipeline: Pipeline) -> tuple[bigquery.Table, list[str]]:
    """Create the pipeline's table, partitioned and clustered as configured, if it does not exist;
    the table, and the columns added to it now.

    An existing table keeps its partitioning (BigQuery cannot partition a table after the fact)
    and gains the columns the pipeline declares since (``add_declared_columns``).
    """
    from google.cloud import bigquery

    ensure_dataset(client, pipeline.dataset)
    table = bigquery.Table(f"{client.project}.{pipeline.table_id}", schema=schema_fields(pipeline))
    if pipeline.partition_by:
        table.time_partitioning = bigquery.TimePartitioning(field=pipeline.partition_by)
    if pipeline.cluster_by:
        table.clustering_fields = list(pipeline.cluster_by)
    existing = client.create_table(table, exists_ok=True)
    return existing, add_declared_columns(client, existing, pipeline)


def add_declared_columns(client: bigquery.Client, table: bigquery.Table, pipeline: Pipeline) -> list[str]:
    """Add to ``table`` the columns ``pipeline`` declares that it lacks; their names.

    A column declared after rows were loaded is NULL in those rows (its values wait in
    ``_extra`` for ``ingest schema backfill``). BigQuery adds only NULLABLE or REPEATED columns to
    a table: a new REQUIRED one is a configuration error, said before any load fails on it.
    """
    have = {field.name.lower() for field in table.schema}
    missing = [schema_field(c) for c in pipeline.bigquery_columns() if c.name.lower() not in have]
    if not missing:
        return []
    if required := [field.name for field in missing if field.mode == "REQUIRED"]:
        raise ConfigError(
            f"pipeline {pipeline.name} declares REQUIRED column(s) {required} that table "
            f"{pipeline.table_id} lacks: BigQuery adds only NULLABLE columns to a table with rows; "
            "declare them NULLABLE (the default mode)"
        )
    from google.api_core import exceptions

    table.schema = [*table.schema, *missing]
    try:
        client.update_table(table, ["schema"])
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"adding columns to {pipeline.table_id}") from err
    names = [field.name for field in missing]
    log.warning("%s: added the column(s) %s for pipeline %s", pipeline.table_id, names, pipeline.name)
    return names


def staging_table_id(pipeline: Pipeline, staging_dataset: str, load_identity: str) -> str:
    """A staging table of its own per load, so concurrent loads never see each other's rows."""
    digest = hashlib.sha256(f"{load_identity}|{pipeline.table_id}".encode()).hexdigest()[:32]
    return f"{staging_dataset}.{pipeline.dataset}__{pipeline.table}__{digest}"


def drop_table(client: bigquery.Client, table_id: str) -> None:
    from google.api_core import exceptions

    try:
        client.delete_table(f"{client.project}.{table_id}", not_found_ok=True)
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"dropping {table_id}") from err
