"""The command line a data engineer uses against the local stack."""

from __future__ import annotations

import json

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


def test_generate_writes_a_month_and_its_manifest_to_s3(stack, capsys, prefix, scratch_bucket):
    code, out = run(capsys, "generate", "--month", "2021-02", "--out", f"s3://{scratch_bucket}/{prefix}")

    assert code == 0
    printed = " ".join(out.split())  # rich wraps long lines at the terminal width
    assert f"and manifest.json to s3://{scratch_bucket}/{prefix}" in printed
    s3 = aws_client("s3")
    manifest = json.loads(s3.get_object(Bucket=scratch_bucket, Key=f"{prefix}/manifest.json")["Body"].read())
    listed = s3.list_objects_v2(Bucket=scratch_bucket, Prefix=f"{prefix}/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    while listed.get("IsTruncated"):
        listed = s3.list_objects_v2(
            Bucket=scratch_bucket, Prefix=f"{prefix}/", ContinuationToken=listed["NextContinuationToken"]
        )
        keys |= {o["Key"] for o in listed["Contents"]}
    assert keys == {f"{prefix}/{f['key']}" for f in manifest["files"]} | {f"{prefix}/manifest.json"}
    assert manifest["totals"]["files"] == len(manifest["files"])
    assert f"Wrote {len(manifest['files'])} files ({manifest['totals']['rows_in']:,} rows)" in printed
