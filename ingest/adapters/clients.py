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


def aws_client(service: str) -> Any:
    """A boto3 client with standard retries and enough connections for concurrent workers."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
    return boto3.client(service, config=config)


def bigquery_client(project: str, location: str) -> bigquery.Client:
    """A BigQuery client; anonymous when an emulator host is set, as emulators take no auth."""
    from google.cloud import bigquery

    credentials = None
    if os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth leaves it unannotated
    return bigquery.Client(project=project, location=location, credentials=credentials)
