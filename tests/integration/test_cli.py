"""The command line a data engineer uses against the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.core.model import FileRef
from ingest.core.settings import Settings

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_local_status_reports_the_running_stack(stack, capsys, monkeypatch):
    monkeypatch.setenv("INGEST_LOCAL_DIR", stack.state_dir)

    code, out = run(capsys, "local", "status", "--json")

    status = json.loads(out)
    assert code == 0
    assert status["running"] is True
    assert status["environment"]["AWS_ENDPOINT_URL"] == stack.aws_endpoint
    assert status["environment"]["BIGQUERY_EMULATOR_HOST"].startswith("http://127.0.0.1:")


def test_local_switch_points_a_command_at_the_running_stack(stack, capsys, monkeypatch):
    monkeypatch.setenv("INGEST_LOCAL_DIR", stack.state_dir)
    for name in stack.environment():  # restored after the test: --local must set each of them
        monkeypatch.setenv(name, "not-the-stack")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there

    code, out = run(capsys, "--local", "ledger", "--json")

    listing = json.loads(out)
    assert code == 0
    assert listing["summary"]["entries"] == len(listing["entries"])


def test_load_then_ledger_lists_the_file_with_its_counts(stack, capsys, prefix):
    settings = Settings()
    key = f"payments/transactions/{prefix}/stream-1"
    records = [
        {
            "transaction_id": 1,
            "transaction_item_id": 501,
            "total_cost": "9.99",
            "currency_code": "USD",
            "payment_date": "2021-07-01T10:00:00.000Z",
            "payer_email": "p@example.com",
        },
        {
            "transaction_id": 2,
            "transaction_item_id": 502,
            "total_cost": "twelve",
            "currency_code": "USD",
            "payment_date": "2021-07-01T10:00:00.000Z",
        },
    ]
    body = b"".join(json.dumps(r).encode() for r in records)  # Firehose: {...}{...}
    etag = aws_client("s3").put_object(Bucket=settings.lake_bucket, Key=key, Body=body)["ETag"]

    code, _ = run(capsys, "load", f"s3://{settings.lake_bucket}/{key}")
    assert code == 0

    code, out = run(capsys, "ledger", "--status", "LOADED", "--json")
    listing = json.loads(out)
    (entry,) = [e for e in listing["entries"] if e["key"] == key]
    assert entry["pk"] == FileRef.of(settings.lake_bucket, key, etag).identity
    assert (entry["rows_in"], entry["rows_loaded"], entry["rows_quarantined"]) == (2, 1, 1)
    assert entry["file_format"] == "json_concat"
    assert listing["summary"]["by_status"] == {"LOADED": len(listing["entries"])}


def test_generate_writes_a_month_to_s3_and_its_manifest_on_this_machine(
    stack, capsys, prefix, scratch_bucket, tmp_path
):
    manifest_path = tmp_path / "manifest.json"
    code, out = run(
        capsys,
        "generate",
        "--month",
        "2021-02",
        "--out",
        f"s3://{scratch_bucket}/{prefix}",
        "--manifest",
        str(manifest_path),
    )

    assert code == 0
    printed = " ".join(out.split())  # rich wraps long lines at the terminal width
    assert f"to s3://{scratch_bucket}/{prefix}" in printed
    assert str(manifest_path) in out  # whole, never folded
    s3 = aws_client("s3")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    listed = s3.list_objects_v2(Bucket=scratch_bucket, Prefix=f"{prefix}/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    while listed.get("IsTruncated"):
        listed = s3.list_objects_v2(
            Bucket=scratch_bucket, Prefix=f"{prefix}/", ContinuationToken=listed["NextContinuationToken"]
        )
        keys |= {o["Key"] for o in listed["Contents"]}
    # The manifest stays out of the lake, where every object is ingested (and it would fail).
    assert keys == {f"{prefix}/{f['key']}" for f in manifest["files"]}
    assert manifest["totals"]["files"] == len(manifest["files"])
    assert f"Wrote {len(manifest['files'])} files ({manifest['totals']['rows_in']:,} rows)" in printed


# Expected failures: one line saying what to do, exit code 2, no traceback.


def scrubbed_environment(**extra: str) -> dict[str, str]:
    """A new user's shell: no AWS or Google settings, no profile to fall back on."""
    keep = {"PATH", "LANG", "LC_ALL", "SYSTEMROOT"}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    quiet = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    return {**environment, "HOME": "/nonexistent", **quiet, "AWS_EC2_METADATA_DISABLED": "true", **extra}


def run_cli(*argv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.apps.cli.main", *argv],
        env=scrubbed_environment(**environment),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in says:
        assert text in lines[0]


def test_ledger_without_a_region_is_one_line_saying_set_the_region(tmp_path):
    result = run_cli("ledger", INGEST_LOCAL_DIR=str(tmp_path))

    assert_one_line(result, "no AWS region is set", "AWS_DEFAULT_REGION")


def test_ledger_with_the_stack_stopped_is_one_line_saying_start_it(stack, tmp_path):
    # GIVEN a shell pointed at a stack that is no longer there (nothing listens on port 9)
    result = run_cli(
        "ledger",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
    )

    assert_one_line(result, "cannot connect to http://127.0.0.1:9", "ingest local up")


def test_local_switch_with_no_stack_is_one_line_saying_start_it(tmp_path):
    result = run_cli("ledger", "--local", INGEST_LOCAL_DIR=str(tmp_path / "none"))

    assert_one_line(result, "no local stack is running", "ingest local up")


def test_load_of_a_missing_key_is_one_line_naming_the_key(stack, capsys):
    folder = f"s3://{Settings().lake_bucket}/payments/transactions/"

    code = cli.main(["load", f"{folder}no-such-file"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"{folder}no-such-file does not exist; check the key (`aws s3 ls {folder}` lists what is there; "
        "keys are case-sensitive)"
    ]


def test_ledger_with_a_missing_table_is_one_line_naming_the_setting(stack, capsys, monkeypatch):
    monkeypatch.setenv("INGEST_LEDGER_TABLE", "no-such-ledger")

    code = cli.main(["ledger"])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "ledger table does not exist" in err
    assert "INGEST_LEDGER_TABLE" in err


def test_an_empty_run_says_what_it_listed_and_why_nothing_qualified(stack, capsys, prefix, scratch_bucket):
    aws_client("s3").put_object(Bucket=scratch_bucket, Key=f"{prefix}/paypal/page-1.json", Body=b"{}")

    code, out = run(
        capsys, "run", "--bucket", scratch_bucket, "--prefix", f"{prefix}/", "--until", "2021-07-31", "--json"
    )

    account = json.loads(out)
    assert code == 0
    assert account["files"] == []
    assert "not a date in the key" in account["explanation"]
    assert f"1 object under s3://{scratch_bucket}/{prefix}/ was last modified" in account["explanation"]
