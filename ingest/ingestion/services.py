"""The collaborators of a run, built once per Lambda container or CLI call: wiring only."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ingest.adapters import bigquery_warehouse as warehouse
from ingest.adapters.dynamodb_ledger import Ledger
from ingest.core.coerce import RecordCoercer
from ingest.core.config import ConfigError, Pipeline, load_pipelines
from ingest.core.model import FileRef, now_iso
from ingest.core.settings import Settings
from ingest.core.validate import Suite, Validation, suite_for
from ingest.ingestion import memory


@dataclass
class Services:
    """The collaborators of a run, built once (per Lambda container, per CLI call)."""

    settings: Settings
    s3: Any
    dynamodb: Any
    bigquery: Any
    pipelines: tuple[Pipeline, ...]
    ledger: Ledger
    _tables_ready: set[str] = field(default_factory=set)
    # Worker threads share the services; tables are created once, not raced for.
    _tables_lock: threading.Lock = field(default_factory=threading.Lock)
    _pseudonym_key: bytes | None = None

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Services:
        from ingest.adapters.clients import aws_client, bigquery_client

        # A process that ingests is sized by its peak memory (see ingest.ingestion.memory).
        memory.return_freed_memory()
        settings = settings or Settings.from_env()
        dynamodb = aws_client("dynamodb")
        return cls(
            settings=settings,
            s3=aws_client("s3"),
            dynamodb=dynamodb,
            bigquery=bigquery_client(settings.bq_project, settings.bq_location),
            pipelines=load_pipelines(settings.pipelines_dir),
            ledger=Ledger(dynamodb, settings.ledger_table, settings.lease_seconds, settings.max_attempts),
        )

    def ensure_table(self, pipeline: Pipeline) -> None:
        with self._tables_lock:
            if pipeline.table_id not in self._tables_ready:
                warehouse.ensure_table(self.bigquery, pipeline)
                if pipeline.write_mode == "merge":
                    warehouse.ensure_dataset(self.bigquery, self.settings.staging_dataset)
                self._tables_ready.add(pipeline.table_id)

    def table_operations_today(self, pipeline: Pipeline) -> int:
        """Load jobs into the pipeline's table so far today (UTC), from the ledger."""
        return self.ledger.loads_on(pipeline.table_id, now_iso()[:10])

    def suite(self, pipeline: Pipeline) -> Suite | None:
        return suite_for(pipeline, self.settings.expectations_dir)

    def coercer(self, pipeline: Pipeline, empty_is_null: bool) -> RecordCoercer:
        key = self.pseudonym_key() if pipeline.pseudonymises else None
        return RecordCoercer(pipeline, empty_is_null=empty_is_null, pseudonym_key=key)

    def pseudonym_key(self) -> bytes:
        """The pseudonym key from the settings, else from Secrets Manager (read once)."""
        if self._pseudonym_key is None:
            key = self.settings.pseudonym_key
            if not key:
                from botocore.exceptions import ClientError

                from ingest.adapters.clients import aws_client

                name = self.settings.pseudonym_key_secret
                try:
                    key = aws_client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
                except ClientError as err:
                    raise ConfigError(
                        f"pseudonym key: secret {name!r} unreadable ({err.response['Error']['Code']}); "
                        "set INGEST_PSEUDONYM_KEY or INGEST_PSEUDONYM_KEY_SECRET"
                    ) from err
            self._pseudonym_key = key.encode()
        return self._pseudonym_key

    def record_validations(self, pipeline: Pipeline, files: list[tuple[FileRef, Validation]]) -> None:
        """Keep the suite's results of these files in the ops dataset, for batch and finance reports."""
        if not files:
            return
        table_id = f"{self.settings.ops_dataset}.{warehouse.VALIDATION_RESULTS_TABLE}"
        with self._tables_lock:
            if table_id not in self._tables_ready:
                warehouse.ensure_validation_results_table(self.bigquery, self.settings.ops_dataset)
                self._tables_ready.add(table_id)
        warehouse.insert_validation_results(
            self.bigquery,
            self.settings.ops_dataset,
            [warehouse.FileValidation(ref.identity, ref.uri, pipeline.name, v) for ref, v in files],
        )
