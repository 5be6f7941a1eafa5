"""The ``Warehouse`` port on BigQuery: a pipeline's table, written by idempotent load jobs.

merge: a load job into a staging table of this load, then a MERGE keeping the latest row per
business key, then the staging table is dropped. replace: one truncating load job, which swaps
the table's contents atomically. append: one appending load job.
"""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING

from ingest.adapters.bigquery import load_jobs, schema_changes, tables
from ingest.adapters.bigquery.merge import merge_staging
from ingest.core.config import Column, Pipeline
from ingest.core.drift_columns import ColumnsAdded, NewColumn, with_columns
from ingest.ingestion.ports import LoadResult

if TYPE_CHECKING:
    from google.cloud import bigquery


class BigQueryWarehouse:
    """Pipelines' tables in one BigQuery project; merge loads go through ``staging_dataset``."""

    table_operations_per_day = load_jobs.TABLE_OPERATIONS_PER_DAY

    def __init__(self, client: bigquery.Client, staging_dataset: str, ops_dataset: str = "ops") -> None:
        self.client = client
        self.staging_dataset = staging_dataset
        self.ops_dataset = ops_dataset
        self._tables_ready: set[str] = set()
        self._drift_columns: dict[str, tuple[Column, ...]] = {}
        """Per table, its drift columns as last read or added by this process."""
        # Worker threads share the warehouse; tables are created once, not raced for.
        self._tables_lock = threading.Lock()

    def ensure_table(self, pipeline: Pipeline) -> None:
        with self._tables_lock:
            if pipeline.table_id not in self._tables_ready:
                tables.ensure_table(self.client, pipeline)
                if pipeline.write_mode == "merge":
                    tables.ensure_staging_dataset(self.client, self.staging_dataset)
                self._tables_ready.add(pipeline.table_id)

    def drift_columns(self, pipeline: Pipeline) -> tuple[Column, ...]:
        """Read once per process and table (a warm Lambda asks once); a column another worker
        adds later is found when this one meets its field (``add_columns``)."""
        with self._tables_lock:
            known = self._drift_columns.get(pipeline.table_id)
        if known is None:
            known = schema_changes.read_drift_columns(self.client, pipeline)
            with self._tables_lock:
                self._drift_columns[pipeline.table_id] = known
        return known

    def add_columns(self, pipeline: Pipeline, new: list[NewColumn]) -> ColumnsAdded:
        wanted = with_columns(pipeline, [change.column for change in new])
        with self._tables_lock:
            table, names = schema_changes.add_to_table(self.client, wanted, new)
            if pipeline.write_mode == "merge":
                tables.ensure_staging_dataset(self.client, self.staging_dataset)
            self._tables_ready.add(pipeline.table_id)
            # The table's types: a worker that added one of these first chose its type.
            columns = schema_changes.drift_columns_of(table, pipeline)
            self._drift_columns[pipeline.table_id] = columns
        # Noted: only what this call added. A worker that added a column first noted it.
        added = tuple(change for change in new if change.column.name in names)
        schema_changes.record_schema_changes(self.client, self.ops_dataset, pipeline, list(added))
        return ColumnsAdded(columns, added)

    def batch_identity(self, file_identities: list[str]) -> str:
        return load_jobs.batch_identity(file_identities)

    def load_job_id(self, load_identity: str, table_id: str) -> str:
        return load_jobs.load_job_id(load_identity, table_id)

    def write_rows(self, pipeline: Pipeline, parquet: IO[bytes], load_identity: str) -> LoadResult:
        """Put one load's rows (one file, or a batch of files) into the pipeline's table.

        A retry with the same ``load_identity`` finds the earlier load job instead of loading twice.
        """
        client = self.client
        if pipeline.write_mode != "merge":
            truncate = pipeline.write_mode == "replace"
            return load_jobs.run_load_job(
                client, pipeline, parquet, load_identity, pipeline.table_id, truncate=truncate
            )
        staging = tables.staging_table_id(pipeline, self.staging_dataset, load_identity)
        # The load job creates the staging table (expiring with the dataset's default).
        loaded = load_jobs.run_load_job(client, pipeline, parquet, load_identity, staging, truncate=True)
        if loaded.reused and not tables.staging_table_exists(client, staging):
            # An earlier attempt's load job, whose staging table is gone: dropped after its MERGE,
            # or expired before one. Which, we cannot tell; loading again is safe because the
            # MERGE is idempotent.
            loaded = load_jobs.run_load_job(
                client, pipeline, parquet, load_identity, staging, truncate=True, fresh=True
            )
        # A reused load job's staging rows came from an earlier attempt: what they hold is
        # learnt from the table, not from this attempt's file.
        inserted, updated = merge_staging(client, pipeline, staging, None if loaded.reused else parquet)
        tables.drop_table(client, staging)
        return LoadResult(loaded.job_id, loaded.output_rows, loaded.reused, inserted, updated)
