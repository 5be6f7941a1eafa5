"""Runtime settings, read from the environment once and passed around as a frozen value.

Endpoints are not settings of ours: boto3 reads ``AWS_ENDPOINT_URL`` and google-cloud-bigquery
reads ``BIGQUERY_EMULATOR_HOST`` themselves, so the same code talks to moto and the BigQuery
emulator locally and to AWS and BigQuery in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.core import limits
from ingest.core.bigquery_names import dataset_problem, project_problem
from ingest.core.errors import ConfigError

# The ``ingest`` package's folder (this module sits in ``ingest/core``).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Suites sit next to the package: in a checkout, and in the Lambda image (deploy/Dockerfile).
EXPECTATIONS_DIR = PACKAGE_DIR.parent / "expectations"
# The papermill notebooks of the reports, in a checkout (not in the Lambda image).
NOTEBOOKS_DIR = PACKAGE_DIR.parent / "notebooks"

# Every variable this package reads, with its default; the deploy template and docs/configuration.md list
# the same names (a test checks the template).
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "INGEST_LAKE_BUCKET": "payments-lake",
    "INGEST_ERROR_BUCKET": "payments-lake-errors",
    "INGEST_LEDGER_TABLE": "ingest-ledger",
    "INGEST_QUEUE_NAME": "payments-lake-events",
    "INGEST_ALERTS_TOPIC": "payments-alerts",
    "INGEST_BQ_PROJECT": "local-project",
    "INGEST_BQ_LOCATION": "US",
    "INGEST_LEASE_SECONDS": "900",
    "INGEST_MAX_ATTEMPTS": "5",
    "INGEST_MAX_RECORD_BYTES": str(limits.MAX_RECORD_BYTES),
    "INGEST_MAX_NESTING": str(limits.MAX_NESTING),
    "INGEST_MAX_INFLATED_BYTES": str(limits.MAX_INFLATED_BYTES),
    "INGEST_MAX_BAD_ROW_SHARE": str(limits.MAX_BAD_ROW_SHARE),
    "INGEST_PIPELINES_DIR": "",
    "INGEST_EXPECTATIONS_DIR": "",
    "INGEST_VALIDATION_ENGINE": "arrow",
    "INGEST_OPS_DATASET": "ops",
    "INGEST_STAGING_DATASET": "staging",
    "INGEST_RECON_DATASET": "recon",
    "INGEST_PSEUDONYM_KEY": "",
    "INGEST_PSEUDONYM_KEY_SECRET": "ingest-pseudonym-key",
}

# Settings written into SQL (table paths), each with its variable and BigQuery's naming rule.
_SQL_NAMES: tuple[tuple[str, str, Callable[[object], str | None]], ...] = (
    ("bq_project", "INGEST_BQ_PROJECT", project_problem),
    ("ops_dataset", "INGEST_OPS_DATASET", dataset_problem),
    ("staging_dataset", "INGEST_STAGING_DATASET", dataset_problem),
    ("recon_dataset", "INGEST_RECON_DATASET", dataset_problem),
)


@dataclass(frozen=True)
class Settings:
    lake_bucket: str = field(default=ENVIRONMENT_VARIABLES["INGEST_LAKE_BUCKET"])
    """S3 bucket the raw files land in."""
    error_bucket: str = field(default=ENVIRONMENT_VARIABLES["INGEST_ERROR_BUCKET"])
    """S3 bucket that keeps failed files, their ``.error.json`` sidecars and quarantined rows."""
    ledger_table: str = field(default=ENVIRONMENT_VARIABLES["INGEST_LEDGER_TABLE"])
    """DynamoDB table of the ingestion ledger."""
    queue_name: str = field(default=ENVIRONMENT_VARIABLES["INGEST_QUEUE_NAME"])
    """SQS queue receiving the lake bucket's ``s3:ObjectCreated:*`` notifications."""
    alerts_topic: str = field(default=ENVIRONMENT_VARIABLES["INGEST_ALERTS_TOPIC"])
    """SNS topic for alerts to people."""
    bq_project: str = field(default=ENVIRONMENT_VARIABLES["INGEST_BQ_PROJECT"])
    """Google Cloud project that owns the BigQuery datasets and runs the jobs."""
    bq_location: str = field(default=ENVIRONMENT_VARIABLES["INGEST_BQ_LOCATION"])
    """BigQuery location of datasets and jobs."""
    lease_seconds: int = 900
    """How long a claim on a file holds before another worker may take it over.
    At least the Lambda timeout, so a live worker never loses its claim."""
    max_attempts: int = 5
    """Claims of one file that end in a retryable failure before the ledger stops retrying it."""
    limits: limits.Limits = field(default_factory=limits.Limits)
    """Bounds on what one file may cost to read (``INGEST_MAX_RECORD_BYTES``, ``INGEST_MAX_NESTING``,
    ``INGEST_MAX_INFLATED_BYTES``, ``INGEST_MAX_BAD_ROW_SHARE``)."""
    pipelines_dir: Path = PACKAGE_DIR / "pipelines"
    """Folder of pipeline YAML files."""
    expectations_dir: Path = EXPECTATIONS_DIR
    """Folder of Great Expectations suites (JSON), next to the package in a checkout and in the image."""
    validation_engine: str = field(default=ENVIRONMENT_VARIABLES["INGEST_VALIDATION_ENGINE"])
    """``arrow``: suites GX's results can be had from with Arrow kernels run on them, the others on
    GX; ``gx``: every suite on GX (``ingest.core.validate.arrow_checks``)."""
    ops_dataset: str = field(default=ENVIRONMENT_VARIABLES["INGEST_OPS_DATASET"])
    """BigQuery dataset of the tool's own tables (validation results)."""
    staging_dataset: str = field(default=ENVIRONMENT_VARIABLES["INGEST_STAGING_DATASET"])
    """BigQuery dataset of the per-load staging tables merge-mode loads go through (each dropped
    after its MERGE, and expiring after a day if a crash left it behind)."""
    recon_dataset: str = field(default=ENVIRONMENT_VARIABLES["INGEST_RECON_DATASET"])
    """BigQuery dataset of the reconciliation models (``ingest reconcile``), one table each."""
    pseudonym_key: str = field(default="", repr=False)
    """Key of the payer-email pseudonyms (HMAC). Empty: read from ``pseudonym_key_secret``."""
    pseudonym_key_secret: str = field(default=ENVIRONMENT_VARIABLES["INGEST_PSEUDONYM_KEY_SECRET"])
    """Secrets Manager secret (name or ARN) holding the pseudonym key."""

    def __post_init__(self) -> None:
        """Refuse a name that reaches SQL unless BigQuery's naming rules allow it unquoted."""
        if self.validation_engine not in ("arrow", "gx"):
            raise ConfigError(f"INGEST_VALIDATION_ENGINE must be arrow or gx, not {self.validation_engine!r}")
        for attribute, variable, problem_of in _SQL_NAMES:
            if problem := problem_of(getattr(self, attribute)):
                raise ConfigError(f"{variable} ({attribute}): {problem}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name) or ENVIRONMENT_VARIABLES[name]

        pipelines_dir = env.get("INGEST_PIPELINES_DIR")
        expectations_dir = env.get("INGEST_EXPECTATIONS_DIR")
        return cls(
            lake_bucket=get("INGEST_LAKE_BUCKET"),
            error_bucket=get("INGEST_ERROR_BUCKET"),
            ledger_table=get("INGEST_LEDGER_TABLE"),
            queue_name=get("INGEST_QUEUE_NAME"),
            alerts_topic=get("INGEST_ALERTS_TOPIC"),
            bq_project=get("INGEST_BQ_PROJECT"),
            bq_location=get("INGEST_BQ_LOCATION"),
            lease_seconds=int(get("INGEST_LEASE_SECONDS")),
            max_attempts=int(get("INGEST_MAX_ATTEMPTS")),
            limits=limits.Limits(
                max_record_bytes=_number(get, "INGEST_MAX_RECORD_BYTES", int),
                max_nesting=_number(get, "INGEST_MAX_NESTING", int),
                max_inflated_bytes=_number(get, "INGEST_MAX_INFLATED_BYTES", int),
                max_bad_row_share=_number(get, "INGEST_MAX_BAD_ROW_SHARE", float),
            ),
            pipelines_dir=Path(pipelines_dir) if pipelines_dir else PACKAGE_DIR / "pipelines",
            expectations_dir=Path(expectations_dir) if expectations_dir else EXPECTATIONS_DIR,
            validation_engine=get("INGEST_VALIDATION_ENGINE"),
            ops_dataset=get("INGEST_OPS_DATASET"),
            staging_dataset=get("INGEST_STAGING_DATASET"),
            recon_dataset=get("INGEST_RECON_DATASET"),
            pseudonym_key=env.get("INGEST_PSEUDONYM_KEY", ""),
            pseudonym_key_secret=get("INGEST_PSEUDONYM_KEY_SECRET"),
        )


def _number[N: (int, float)](get: Callable[[str], str], name: str, kind: type[N]) -> N:
    """The setting ``name`` as a number, or a ConfigError naming it."""
    try:
        return kind(get(name))
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {get(name)!r}") from None
