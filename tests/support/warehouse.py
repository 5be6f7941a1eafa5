"""``FakeWarehouse`` (rows per table, load jobs by id, failures on demand) and ``FakeValidationSink``."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any

import pyarrow.parquet as pq

from ingest.core.config import Column, Pipeline
from ingest.core.drift_columns import ColumnsAdded, NewColumn
from ingest.core.errors import IngestError, LoadFailed
from ingest.core.model import FileRef
from ingest.core.validate.results import Validation
from ingest.ingestion.ports import LoadResult

Row = dict[str, Any]


@dataclass
class FakeWarehouse:
    """The ``Warehouse`` port in memory: each table's rows, written as its write mode says.

    A load job's id comes from what it loads, and a second write with the same identity finds
    the first job instead of loading again, as BigQuery's job ids make it. ``fail_next`` errors
    are raised by the next writes, one each; ``reject`` fails (LoadFailed) any load holding a
    row it picks, as BigQuery rejects a whole load for one bad row.
    """

    table_operations_per_day: int = 1_500
    tables: dict[str, list[Row]] = field(default_factory=dict)
    jobs: dict[str, LoadResult] = field(default_factory=dict)
    loads: list[tuple[str, int]] = field(default_factory=list)
    """(table, files in the load) per load job that wrote rows, in order."""
    fail_next: list[IngestError] = field(default_factory=list)
    reject: Callable[[Row], bool] | None = None
    added_columns: dict[str, list[Column]] = field(default_factory=dict)
    """Per table, the columns drift added, in order (the table's types)."""
    schema_changes: list[tuple[str, NewColumn]] = field(default_factory=list)
    """(table, change) per column added, as the ops dataset's table keeps them."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rows(self, table_id: str, source_uri: str | None = None) -> list[Row]:
        return [
            r for r in self.tables.get(table_id, []) if source_uri is None or r["_source_uri"] == source_uri
        ]

    def ensure_table(self, pipeline: Pipeline) -> None:
        with self._lock:
            self.tables.setdefault(pipeline.table_id, [])

    def drift_columns(self, pipeline: Pipeline) -> tuple[Column, ...]:
        return tuple(self.added_columns.get(pipeline.table_id, ()))

    def add_columns(self, pipeline: Pipeline, new: list[NewColumn]) -> ColumnsAdded:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            self.tables.setdefault(pipeline.table_id, [])
            have = self.added_columns.setdefault(pipeline.table_id, [])
            names = {c.name.casefold() for c in [*pipeline.bigquery_columns(), *have]}
            added = tuple(change for change in new if change.column.name.casefold() not in names)
            have.extend(change.column for change in added)
            self.schema_changes.extend((pipeline.table_id, change) for change in added)
            return ColumnsAdded(tuple(have), added)

    def batch_identity(self, file_identities: list[str]) -> str:
        if len(file_identities) == 1:
            return file_identities[0]
        return "batch:" + hashlib.sha256("\n".join(sorted(file_identities)).encode()).hexdigest()

    def load_job_id(self, load_identity: str, table_id: str) -> str:
        return "job_" + hashlib.sha256(f"{load_identity}|{table_id}".encode()).hexdigest()[:16]

    def write_rows(self, pipeline: Pipeline, parquet: IO[bytes], load_identity: str) -> LoadResult:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            job_id = self.load_job_id(load_identity, pipeline.table_id)
            if job_id in self.jobs:
                return replace(self.jobs[job_id], reused=True)
            parquet.seek(0)
            rows = pq.read_table(parquet).to_pylist()
            if self.reject is not None and any(self.reject(row) for row in rows):
                raise LoadFailed(f"load job {job_id} failed: a row was rejected")
            table = self.tables.setdefault(pipeline.table_id, [])
            inserted = updated = None
            if pipeline.write_mode == "replace":
                table[:] = rows
            elif pipeline.write_mode == "append":
                table.extend(rows)
            else:
                inserted, updated = _merge(table, rows, pipeline.business_key)
            result = LoadResult(job_id, len(rows), False, inserted, updated)
            self.jobs[job_id] = result
            self.loads.append((pipeline.table_id, len({r["_source_uri"] for r in rows})))
            return result


def _merge(table: list[Row], rows: list[Row], business_key: tuple[str, ...]) -> tuple[int, int]:
    """The latest row per business key wins (here: the one loaded last)."""
    position = {tuple(r[k] for k in business_key): n for n, r in enumerate(table)}
    inserted = updated = 0
    for row in rows:
        key = tuple(row[k] for k in business_key)
        if key in position:
            table[position[key]] = row
            updated += 1
        else:
            position[key] = len(table)
            table.append(row)
            inserted += 1
    return inserted, updated


@dataclass
class FakeValidationSink:
    """The ``ValidationSink`` port in memory: (pipeline, file identity, validation) per file."""

    recorded: list[tuple[str, str, Validation]] = field(default_factory=list)

    def record(self, pipeline: Pipeline, files: list[tuple[FileRef, Validation]]) -> None:
        self.recorded.extend((pipeline.name, ref.identity, validation) for ref, validation in files)
