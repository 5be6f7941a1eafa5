"""Expected failures of ``ingest``, classified in one place: each becomes one line saying what is
wrong and what to do, and exit code 2.

An expected failure is a situation of the user's environment or input, not a bug: no region, no
credentials, an endpoint nobody answers on, a bucket, key, table or queue that does not exist,
BigQuery's dataset missing or its emulator down, no Google credentials, the local stack stopped,
a pipeline name that does not exist. Vendor errors are recognised by their type and their error
code (``NoSuchKey``, ``ResourceNotFoundException``), never by the wording of their message.
Anything else is unexpected and keeps its traceback.

Commands and plugins raise ``ExpectedFailure`` for the situations only they can name well (the
key ``ingest load`` was given, the stack ``--local`` looked for).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

EXIT_CODE = 2
"""The exit code of an expected failure (argparse uses 2 for bad arguments too)."""

START_THE_STACK = "start the local stack with `ingest local up`, then add --local"


class ExpectedFailure(Exception):
    """A situation the user can fix; ``str(err)`` says what is wrong and what to do."""


@dataclass(frozen=True)
class Explanation:
    problem: str
    remedy: str = ""

    def line(self) -> str:
        """The one line the user reads: what is wrong; what to do."""
        text = f"{self.problem}; {self.remedy}" if self.remedy else self.problem
        return " ".join(text.split())  # vendor messages may hold newlines: one line, always


def check_bigquery_emulator(timeout: float = 2.0) -> None:
    """Raise ``ExpectedFailure`` if ``BIGQUERY_EMULATOR_HOST`` names a host nobody answers on.

    google's client retries a refused connection for ten minutes (its default deadline) before it
    raises; a stopped emulator is said at once instead. BigQuery itself is not checked: its
    client's own errors are explained when they come.
    """
    host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if not host:
        return
    address = urlsplit(host if "://" in host else f"http://{host}")
    try:
        port = address.port or (443 if address.scheme == "https" else 80)
        with socket.create_connection((address.hostname or "", port), timeout=timeout):
            return
    except (OSError, ValueError):
        pass
    raise ExpectedFailure(
        f"nothing answers at {host} (BIGQUERY_EMULATOR_HOST): the BigQuery emulator is not running; "
        f"{START_THE_STACK}, or unset BIGQUERY_EMULATOR_HOST to use BigQuery itself"
    )


def check_credentials(*, bigquery: bool) -> None:
    """Build what a notebook will build (an AWS client; with ``bigquery``, Google's credentials), so
    that a missing region or credential is said here in one line (``explain``), not as an error
    string from inside the executed notebook. Nothing is sent."""
    from ingest.adapters.clients import aws_client

    aws_client("dynamodb")  # NoRegionError without a region; credentials are found on first use
    if bigquery and not os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from google.auth import default as google_credentials

        google_credentials()  # DefaultCredentialsError without any


def unknown_pipeline(name: str, known: Iterable[str]) -> ExpectedFailure:
    """The failure for ``--pipeline NAME`` naming no pipeline, with the closest names."""
    from ingest.core.config import no_pipeline_named

    return ExpectedFailure(no_pipeline_named(name, known))


def explain(err: BaseException) -> Explanation | None:
    """What went wrong and what to do, if ``err`` (or an error it was raised from) is expected."""
    for link in _chain(err):
        found = _explain_one(link)
        if found is not None:
            return found
    return None


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it was explicitly raised from (``raise ... from``, and what a
    google-api-core RetryError gave up on). Implicit context is left out: an unrelated error
    raised while handling an expected one is a bug, not the expected situation."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)  # google.api_core.exceptions.RetryError
        current = current.__cause__ or (cause if isinstance(cause, BaseException) else None)


def _explain_one(err: BaseException) -> Explanation | None:
    if isinstance(err, ExpectedFailure):
        return Explanation(str(err))
    module = type(err).__module__
    if module.startswith("botocore"):
        return _explain_aws(err)
    if module.startswith(("google", "requests", "urllib3")):
        return _explain_google(err)
    if module.startswith("ingest."):
        return _explain_ingest(err)
    return None


# AWS error codes by what the user does next.
_NO_SUCH_OBJECT = {"NoSuchKey", "404", "NotFound"}
_QUEUE_MISSING = {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}
_REFUSED_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}
# A HEAD has no body to carry a code, so S3 reports its 403 as the bare status.
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "403", "Forbidden"}
_SNS_OPERATIONS = {"Publish", "GetTopicAttributes"}


def _explain_aws(err: BaseException) -> Explanation | None:
    from botocore import exceptions as aws

    if isinstance(err, aws.NoRegionError):
        return Explanation(
            "no AWS region is set",
            "set AWS_DEFAULT_REGION (for example `export AWS_DEFAULT_REGION=eu-west-1`) or a "
            "profile's region, or add --local for the local stack",
        )
    if isinstance(err, aws.NoCredentialsError | aws.PartialCredentialsError):
        return Explanation(
            "no AWS credentials were found",
            "set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or add --local for the "
            "local stack",
        )
    if isinstance(err, aws.TokenRetrievalError | aws.SSOError):
        return Explanation("the AWS SSO session has expired", "run `aws sso login` and try again")
    if isinstance(err, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        return _unreachable(str(err.kwargs.get("endpoint_url", "")), "AWS_ENDPOINT_URL")
    if isinstance(err, aws.ClientError):
        return _explain_aws_code(err)
    return None


def _explain_aws_code(err: BaseException) -> Explanation | None:
    response = getattr(err, "response", None) or {}
    details = response.get("Error", {})
    code = str(details.get("Code", ""))
    operation = str(getattr(err, "operation_name", ""))
    if code == "NoSuchBucket":
        bucket = details.get("BucketName") or "the bucket"
        return Explanation(
            f"S3 bucket {bucket} does not exist",
            "check the bucket name (INGEST_LAKE_BUCKET, INGEST_ERROR_BUCKET); `ingest local up` "
            "creates the local buckets",
        )
    if code in _NO_SUCH_OBJECT and operation in {"HeadObject", "GetObject"}:
        return Explanation(
            "the S3 object does not exist",
            "check the key (`aws s3 ls s3://BUCKET/PREFIX/` lists what is there; keys are case-sensitive)",
        )
    if code == "ResourceNotFoundException" and "Topic" not in operation:
        return Explanation(
            f"DynamoDB table not found ({operation}): the ledger table does not exist here",
            "check INGEST_LEDGER_TABLE and the region, deploy the stack (deploy/), or use the local "
            "stack (`ingest local up`, then --local)",
        )
    if code in _QUEUE_MISSING:
        return Explanation(
            "the SQS queue does not exist", "check INGEST_QUEUE_NAME (or --queue) and the region"
        )
    if code == "NotFound" and operation in _SNS_OPERATIONS:
        return Explanation("the SNS topic does not exist", "check INGEST_ALERTS_TOPIC and the region")
    if code in _REFUSED_CREDENTIALS:
        return Explanation(
            f"AWS refused the credentials ({code})",
            "check AWS_PROFILE or the access keys, or renew the session",
        )
    if code in _ACCESS_DENIED:
        return Explanation(
            f"AWS denied {operation or 'the request'} ({code})",
            "the credentials in use lack that permission; check the role or AWS_PROFILE",
        )
    return None


def _unreachable(endpoint: str, variable: str) -> Explanation:
    """Nobody answers at ``endpoint``; the remedy depends on whether it is this machine."""
    host = urlsplit(endpoint).hostname or ""
    if host in {"127.0.0.1", "localhost", "::1"}:
        remedy = f'is the local stack running? {START_THE_STACK} (or `eval "$(ingest local env)"`)'
    elif os.environ.get(variable):
        remedy = f"check {variable} ({os.environ[variable]}) and the network"
    else:
        remedy = "check the network, or add --local for the local stack"
    return Explanation(f"cannot connect to {endpoint or 'the endpoint'}", remedy)


def _explain_google(err: BaseException) -> Explanation | None:
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth
    from requests import exceptions as http

    if isinstance(err, auth.DefaultCredentialsError):
        return Explanation(
            "no Google credentials were found",
            "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account key; for the BigQuery emulator, add --local",
        )
    if isinstance(err, api.NotFound):
        return Explanation(
            f"BigQuery: {err.message}",
            "check INGEST_BQ_PROJECT and the dataset settings (INGEST_BQ_DATASET, ...); tables are "
            "created by the first load (`ingest run`)",
        )
    if isinstance(err, api.Forbidden):
        return Explanation(
            f"BigQuery denied the request: {err.message}",
            "the Google credentials in use lack that permission on the project",
        )
    if isinstance(err, http.ConnectionError):
        emulator = os.environ.get("BIGQUERY_EMULATOR_HOST", "")
        endpoint = emulator or (err.request.url if err.request is not None else "") or "BigQuery"
        return _unreachable(str(endpoint), "BIGQUERY_EMULATOR_HOST")
    return None


def _explain_ingest(err: BaseException) -> Explanation | None:
    from ingest.core import errors

    if isinstance(err, errors.UnknownPipeline):
        return Explanation(
            str(err), "check the key against the pipelines' key patterns (ingest/pipelines/*.yaml)"
        )
    if isinstance(err, errors.ConfigError):
        return Explanation(f"configuration: {err}", "fix the setting or pipeline file it names")
    if isinstance(err, errors.ObjectGone):
        return Explanation(str(err), "check the bucket and key")
    return None
