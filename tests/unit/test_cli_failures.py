"""Expected failures become one line that says what to do, exit code 2; bugs keep their traceback.

The errors are the vendors' real exception objects, built as botocore and google-api-core build
them, so a change in how we recognise them (type, error code) is caught here.
"""

from __future__ import annotations

import argparse

import pytest
import requests
from botocore import exceptions as aws
from google.api_core import exceptions as api
from google.auth import exceptions as auth

from ingest.apps.cli import failures
from ingest.apps.cli import main as cli
from ingest.apps.cli.command import Command
from ingest.core.errors import ObjectGone, TransientError, UnknownPipeline


def client_error(code: str, operation: str, **error: str) -> aws.ClientError:
    return aws.ClientError({"Error": {"Code": code, "Message": "from the service", **error}}, operation)


def line(err: BaseException) -> str:
    explanation = failures.explain(err)
    assert explanation is not None, f"{err!r} was not classified as expected"
    return explanation.line()


@pytest.mark.parametrize(
    ("err", "says", "advises"),
    [
        (aws.NoRegionError(), "no AWS region is set", "set AWS_DEFAULT_REGION"),
        (aws.NoCredentialsError(), "no AWS credentials", "AWS_PROFILE"),
        (
            aws.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            "credentials",
            "AWS_",
        ),
        (
            aws.EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/"),
            "cannot connect to http://127.0.0.1:4566/",
            "ingest local up",
        ),
        (client_error("404", "HeadObject"), "object does not exist", "check the key"),
        (client_error("NoSuchKey", "GetObject"), "object does not exist", "check the key"),
        (
            client_error("NoSuchBucket", "ListObjectsV2", BucketName="lake"),
            "bucket lake does not exist",
            "bucket",
        ),
        (
            client_error("ResourceNotFoundException", "Scan"),
            "ledger table does not exist",
            "INGEST_LEDGER_TABLE",
        ),
        (
            client_error("AWS.SimpleQueueService.NonExistentQueue", "GetQueueUrl"),
            "queue",
            "INGEST_QUEUE_NAME",
        ),
        (client_error("ExpiredToken", "Scan"), "refused the credentials", "renew"),
        (client_error("AccessDeniedException", "Scan"), "denied Scan", "permission"),
        (client_error("403", "HeadObject"), "denied HeadObject", "permission"),
        (
            auth.DefaultCredentialsError("Your default credentials were not found."),
            "Google credentials",
            "gcloud",
        ),
        (
            api.NotFound("Not found: Dataset local-project:raw"),
            "Dataset local-project:raw",
            "INGEST_BQ_PROJECT",
        ),
        (UnknownPipeline("no pipeline matches key x/y"), "no pipeline matches key x/y", "key patterns"),
    ],
)
def test_each_expected_failure_says_what_is_wrong_and_what_to_do(err, says, advises):
    text = line(err)

    assert says in text
    assert advises in text
    assert "\n" not in text


def test_the_region_advice_names_the_variable_botocore_reads(monkeypatch, tmp_path):
    import re

    import boto3

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(aws.NoRegionError) as no_region:
        boto3.session.Session().client("dynamodb")
    variable, value = re.search(r"export (\w+)=(\S+)`", line(no_region.value)).groups()

    monkeypatch.setenv(variable, value)

    assert boto3.session.Session().client("dynamodb").meta.region_name == value


def test_an_unreachable_remote_endpoint_points_at_the_setting_not_the_local_stack(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://aws.example.com")

    text = line(aws.EndpointConnectionError(endpoint_url="https://aws.example.com/"))

    assert "check AWS_ENDPOINT_URL" in text
    assert "ingest local up" not in text


def test_an_unreachable_bigquery_emulator_says_start_the_stack(monkeypatch):
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9050")
    refused = requests.exceptions.ConnectionError("Connection refused")

    assert "cannot connect to http://127.0.0.1:9050" in line(refused)
    # google-api-core gives up after its retries with a RetryError naming the last error
    assert "ingest local up" in line(api.RetryError("Deadline exceeded", refused))


def test_a_vendor_error_is_recognised_behind_the_error_we_raised_from_it():
    try:
        try:
            raise aws.EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")
        except aws.EndpointConnectionError as err:
            raise TransientError("listing s3://lake/ failed") from err
    except TransientError as wrapped:
        assert "cannot connect to http://127.0.0.1:4566/" in line(wrapped)


def test_a_bug_while_handling_an_expected_error_is_not_taken_for_it():
    try:
        try:
            raise aws.NoRegionError()
        except aws.NoRegionError:
            raise KeyError("a bug in the handler")  # noqa: B904  # implicit context, on purpose
    except KeyError as bug:
        assert failures.explain(bug) is None


@pytest.mark.parametrize(
    "err",
    [
        KeyError("bug"),
        client_error("ThrottlingException", "Scan"),
        client_error("404", "Scan"),  # a 404 from another operation is no missing S3 object
        api.InternalServerError("boom"),
    ],
)
def test_unexpected_errors_are_not_classified(err):
    assert failures.explain(err) is None


def test_vendor_messages_spanning_lines_are_printed_on_one():
    assert (
        line(ObjectGone("s3://lake/a\nno longer\r\nexists"))
        == "s3://lake/a no longer exists; check the bucket and key"
    )


def test_an_unknown_pipeline_names_the_closest_one():
    err = failures.unknown_pipeline("paypal_transaction", ["vat_rates", "paypal_transactions"])

    assert "did you mean 'paypal_transactions'?" in str(err)
    assert "pipelines: paypal_transactions, vat_rates" in str(err)


# What main() does with them: one line on stderr, exit 2, the traceback only with -v.


def failing_with(monkeypatch: pytest.MonkeyPatch, err: BaseException) -> None:
    """``ingest boom`` raises ``err``."""

    def boom(args: argparse.Namespace) -> int:
        raise err

    monkeypatch.setattr(cli, "BUILT_IN", (Command("boom", help="fails", run=boom),))


def test_main_prints_one_line_and_exits_2_for_an_expected_failure(monkeypatch, capsys):
    failing_with(monkeypatch, aws.NoRegionError())

    code = cli.main(["boom"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [line(aws.NoRegionError())]
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_verbose_shows_the_traceback_of_an_expected_failure(monkeypatch, capsys):
    failing_with(monkeypatch, aws.NoRegionError())

    code = cli.main(["boom", "-v"])

    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err
    assert "NoRegionError" in err
    assert err.strip().endswith(line(aws.NoRegionError()))


def test_an_unexpected_error_keeps_its_traceback(monkeypatch):
    failing_with(monkeypatch, ZeroDivisionError("a bug"))

    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])


def test_a_stopped_bigquery_emulator_is_said_at_once_not_after_ten_minutes_of_retries(monkeypatch, capsys):
    """A command that talks to BigQuery checks the emulator host first; the command never runs."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on: bound, then closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    ran: list[str] = []
    command = Command(
        "query", help="uses BigQuery", run=lambda args: ran.append("ran") or 0, uses_bigquery=True
    )
    monkeypatch.setattr(cli, "BUILT_IN", (command,))

    code = cli.main(["query"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and ran == []
    assert len(err) == 1
    assert f"nothing answers at http://127.0.0.1:{port} (BIGQUERY_EMULATOR_HOST)" in err[0]
    assert "ingest local up" in err[0]


def test_the_bigquery_emulator_check_lets_a_listening_host_through(monkeypatch):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"127.0.0.1:{server.getsockname()[1]}")
        failures.check_bigquery_emulator()  # no error: something answers
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST")
    failures.check_bigquery_emulator()  # BigQuery itself is not checked


@pytest.mark.parametrize("argv", [["report", "--start", "2021-07"], ["monitor"], ["batch"]])
def test_a_notebook_command_says_what_is_missing_before_running_its_notebook(
    argv, monkeypatch, capsys, tmp_path
):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "BIGQUERY_EMULATOR_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    code = cli.main([*argv, "--out", str(tmp_path / "reports")] if argv[0] != "batch" else argv)

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("no AWS region is set") and "\n" not in err
    assert not (tmp_path / "reports").exists()  # no notebook ran
