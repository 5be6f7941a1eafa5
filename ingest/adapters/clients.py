"""Build vendor clients from the environment, in one place.

boto3 reads ``AWS_ENDPOINT_URL`` and google-cloud-bigquery reads ``BIGQUERY_EMULATOR_HOST``, so
pointing the same code at moto and the BigQuery emulator, or at AWS and BigQuery, is a matter
of environment only. Imports are lazy so ``import ingest`` stays cheap for Lambda cold starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import bigquery


def aws_error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError (``NoSuchKey``, ``QueueDoesNotExist``); "" for
    any other exception."""
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def aws_session() -> Any:
    """boto3's default session: one credential chain (environment, profile, SSO, role) for
    boto3's clients and the native S3 reader."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


def aws_client(service: str) -> Any:
    """A boto3 client with standard retries and enough connections for concurrent workers.

    botocore's own check of each request's parameters is off: the service checks them anyway,
    and for a ledger transaction of 25 items the check took about 1 ms of our CPU per file
    (a tenth of a batched file's whole cost; docs/benchmarks.md)."""
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=32,
        parameter_validation=False,
    )
    return aws_session().client(service, config=config)


def bigquery_client(project: str, location: str) -> bigquery.Client:
    """A BigQuery client; anonymous when an emulator host is set, as emulators take no auth."""
    from google.cloud import bigquery

    credentials = None
    if os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth leaves it unannotated
    return bigquery.Client(project=project, location=location, credentials=credentials)
