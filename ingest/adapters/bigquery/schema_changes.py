"""Columns ``schema_drift: add_columns`` adds: read from the table, added to it, and noted in the
ops dataset's ``schema_changes`` table (one row per column added: when, where, type, first file).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from typing import TYPE_CHECKING

from ingest.adapters.bigquery.errors import classify
from ingest.adapters.bigquery.tables import add_declared_columns, ensure_dataset, ensure_table, schema_field
from ingest.core.config import EXTRA_COLUMN, LINEAGE_COLUMNS, Column, Pipeline
from ingest.core.drift_columns import ADDABLE_TYPES, NewColumn, drift_column
from ingest.core.errors import LoadFailed

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)

SCHEMA_CHANGES_TABLE = "schema_changes"
SCHEMA_CHANGES_COLUMNS = (
    Column("changed_at", "TIMESTAMP", "REQUIRED"),
    Column("pipeline", "STRING", "REQUIRED"),
    Column("table_id", "STRING", "REQUIRED"),
    Column("column_name", "STRING", "REQUIRED"),
    Column("column_type", "STRING", "REQUIRED"),
    Column("change", "STRING", "REQUIRED"),
    Column("first_file", "STRING"),
)
# The API's legacy names for the types a table reports back.
_STANDARD_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def drift_columns_of(table: bigquery.Table, pipeline: Pipeline) -> tuple[Column, ...]:
    """The columns ``table`` has beyond what ``pipeline`` declares and the pipeline's own ones:
    what drift added (their types as the table has them). A column of a type drift never adds
    (a RECORD, say, left by an earlier declaration) is not read."""
    own = {c.name.casefold() for c in pipeline.bigquery_columns()}
    own |= {name.casefold() for name, _, _ in LINEAGE_COLUMNS} | {EXTRA_COLUMN}
    found = []
    for field in table.schema:
        kind = _STANDARD_TYPES.get(field.field_type, field.field_type)
        if field.name.casefold() in own or field.mode != "NULLABLE" or kind not in ADDABLE_TYPES:
            continue
        found.append(drift_column(field.name, kind))
    return tuple(found)


def read_drift_columns(client: bigquery.Client, pipeline: Pipeline) -> tuple[Column, ...]:
    """The pipeline's table's drift columns; none while the table does not exist."""
    from google.api_core import exceptions

    try:
        table = client.get_table(f"{client.project}.{pipeline.table_id}")
    except exceptions.NotFound:
        return ()
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"reading the columns of {pipeline.table_id}") from err
    return drift_columns_of(table, pipeline)


def add_to_table(
    client: bigquery.Client, pipeline: Pipeline, new: list[NewColumn]
) -> tuple[bigquery.Table, list[str]]:
    """The pipeline's table with ``new``'s columns (``pipeline`` declares them), and the names
    this call added: all of them if it created the table, else those its schema update added."""
    from google.api_core import exceptions

    try:
        table = client.get_table(f"{client.project}.{pipeline.table_id}")
    except exceptions.NotFound:
        created, _ = ensure_table(client, pipeline)
        return created, [change.column.name for change in new]
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"reading the columns of {pipeline.table_id}") from err
    return table, add_declared_columns(client, table, pipeline)


def ensure_schema_changes_table(client: bigquery.Client, dataset: str) -> None:
    from google.cloud import bigquery

    ensure_dataset(client, dataset)
    schema = [schema_field(column) for column in SCHEMA_CHANGES_COLUMNS]
    table = bigquery.Table(f"{client.project}.{dataset}.{SCHEMA_CHANGES_TABLE}", schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(field="changed_at")
    client.create_table(table, exists_ok=True)


def record_schema_changes(
    client: bigquery.Client, dataset: str, pipeline: Pipeline, added: list[NewColumn]
) -> None:
    """One row per column added, streamed (a load job each would spend the table's daily quota).
    The row id is the table and column, so a retry of the same change is one row."""
    from google.api_core import exceptions

    if not added:
        return
    ensure_schema_changes_table(client, dataset)
    changed_at = datetime.datetime.now(datetime.UTC).isoformat()
    rows = [
        {
            "changed_at": changed_at,
            "pipeline": pipeline.name,
            "table_id": pipeline.table_id,
            "column_name": change.column.name,
            "column_type": change.column.type,
            "change": "added",
            "first_file": change.first_file,
        }
        for change in added
    ]
    row_ids = [
        hashlib.sha256(f"{pipeline.table_id}|{change.column.name}".encode()).hexdigest() for change in added
    ]
    destination = f"{client.project}.{dataset}.{SCHEMA_CHANGES_TABLE}"
    try:
        errors = client.insert_rows_json(destination, rows, row_ids=row_ids)
    except exceptions.GoogleAPICallError as err:
        raise classify(err, "recording schema changes") from err
    if errors:
        raise LoadFailed(f"recording schema changes: {errors[:3]}")
