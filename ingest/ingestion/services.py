"""The collaborators of a run, built once per Lambda container or CLI call: wiring only."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import Pipeline, load_pipelines
from ingest.core.errors import ConfigError, TransientError
from ingest.core.settings import Settings
from ingest.core.validate.suite import Suite, suite_for
from ingest.ingestion import memory
from ingest.ingestion.ports import Lake, Ledger, ValidationSink, Warehouse

# How long a process trusts its count of a table's load jobs today before asking the ledger
# again: the count only decides a warning at 80% of the quota, and asking costs a query per
# warm Lambda invocation.
LOAD_COUNT_SECONDS = 60.0

# Secrets Manager errors a retry may cure; any other (not found, access denied) is configuration.
SECRET_TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServiceError", "RequestTimeout"})


@dataclass
class Services:
    """The ports the orchestrator works through, and the pipelines and settings of a run.

    ``s3``, ``dynamodb`` and ``bigquery`` are the raw clients, for the apps (finance, ops,
    tools) and tests that talk to the services directly; ingestion uses only the ports.
    """

    settings: Settings
    pipelines: tuple[Pipeline, ...]
    lake: Lake
    ledger: Ledger
    warehouse: Warehouse
    validations: ValidationSink
    s3: Any = None
    dynamodb: Any = None
    bigquery: Any = None
    _pseudonym_key: bytes | None = None
    _load_counts: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    _key_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Services:
        from ingest.adapters.bigquery.validation_results import BigQueryValidationResults
        from ingest.adapters.bigquery.warehouse import BigQueryWarehouse
        from ingest.adapters.clients import aws_client, bigquery_client
        from ingest.adapters.dynamodb.ledger import Ledger as DynamoDBLedger
        from ingest.adapters.s3_lake import S3Lake

        # A process that ingests is sized by its peak memory (see ingest.ingestion.memory).
        memory.return_freed_memory()
        settings = settings or Settings.from_env()
        s3, dynamodb = aws_client("s3"), aws_client("dynamodb")
        bigquery = bigquery_client(settings.bq_project, settings.bq_location)
        return cls(
            settings=settings,
            pipelines=load_pipelines(settings.pipelines_dir),
            lake=S3Lake(s3, settings.error_bucket),
            ledger=DynamoDBLedger.from_settings(dynamodb, settings),
            warehouse=BigQueryWarehouse(bigquery, settings.staging_dataset, settings.ops_dataset),
            validations=BigQueryValidationResults(bigquery, settings.ops_dataset),
            s3=s3,
            dynamodb=dynamodb,
            bigquery=bigquery,
        )

    def suite(self, pipeline: Pipeline) -> Suite | None:
        return suite_for(pipeline, self.settings.expectations_dir, self.settings.validation_engine)

    def coercer(self, pipeline: Pipeline, empty_is_null: bool) -> RecordCoercer:
        key = self.pseudonym_key() if pipeline.pseudonymises else None
        return RecordCoercer(pipeline, empty_is_null=empty_is_null, pseudonym_key=key)

    def loads_on(self, table: str, day: str) -> int:
        """The ledger's count of load jobs on ``table`` that ``day``, read again at most every
        ``LOAD_COUNT_SECONDS`` by this process (a warm Lambda container asks once a minute)."""
        now = time.monotonic()
        read_at, count = self._load_counts.get((table, day), (None, 0))
        if read_at is None or now - read_at >= LOAD_COUNT_SECONDS:
            count = self.ledger.loads_on(table, day)
            self._load_counts[(table, day)] = (now, count)
        return count

    def pseudonym_key(self) -> bytes:
        """The pseudonym key from the settings, else from Secrets Manager (read once).

        A secret that is missing or unreadable is a ConfigError: no retry will find it. The
        readers of a load group open their files at once; without the lock each of the eight
        built a client and read the secret (seven requests too many a run).
        """
        with self._key_lock:
            if self._pseudonym_key is None:
                key = self.settings.pseudonym_key
                if not key:
                    key = _read_secret(self.settings.pseudonym_key_secret)
                self._pseudonym_key = key.encode()
            return self._pseudonym_key


def _read_secret(name: str) -> str:
    from botocore.exceptions import ClientError

    from ingest.adapters.clients import aws_client

    try:
        secret: str = aws_client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code in SECRET_TRANSIENT_CODES:
            raise TransientError(f"pseudonym key: reading secret {name!r} failed ({code})") from err
        raise ConfigError(
            f"pseudonym key: secret {name!r} unreadable ({code}); "
            "set INGEST_PSEUDONYM_KEY or INGEST_PSEUDONYM_KEY_SECRET"
        ) from err
    return secret
