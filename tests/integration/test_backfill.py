"""``ingest backfill`` on the local stack: files already in a bucket reach the function through the
queue, those the ledger has are left alone, and worker processes load each new file once."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from support.helpers import write_orders_pipeline

from ingest.adapters.bigquery.queries import count_rows
from ingest.adapters.clients import aws_client
from ingest.adapters.dynamodb.ledger import Ledger
from ingest.apps import lambda_handler as handler
from ingest.apps.cli.main import main
from ingest.core.model import FileRef, Status
from ingest.core.settings import Settings
from ingest.ingestion.flow import ingest_files
from ingest_devstack import worker

pytestmark = pytest.mark.integration

FILES = 30
LOADED_BEFORE = 5
ROWS = 3


def put_orders(s3, bucket: str, prefix: str, count: int) -> list[FileRef]:
    """``count`` small NDJSON files, each with orders of its own (same bytes would be duplicates)."""
    refs = []
    for n in range(count):
        records = [{"order_id": f"{n}-{i}", "amount": f"{n}.{i}0"} for i in range(ROWS)]
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
        key = f"{prefix}/2021/07/{n % 3 + 1:02d}/orders {n:03d}+x.json"  # a space and a + to encode
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        refs.append(FileRef.of(bucket, key, put["ETag"], len(body)))
    return refs


def backfill(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["backfill", *arguments])
    return code, capsys.readouterr().out


@pytest.fixture
def queue_url(stack, prefix) -> Iterator[str]:
    # A queue of the test's own: the stack's shared one also gets every lake notification of other
    # tests. Same visibility timeout as the stack's (ingest_devstack/provision.py).
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"backfill-{prefix}", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def test_backfill_enqueues_only_new_files_and_worker_processes_load_each_once(
    stack, prefix, scratch_bucket, pipelines_dir, make_services, queue_url, monkeypatch, capsys
):
    # GIVEN 30 files in a bucket without notifications, 5 of them loaded already
    table = write_orders_pipeline(pipelines_dir, prefix)
    # The worker processes build their handler's services from the environment they inherit.
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    services = make_services()
    refs = put_orders(aws_client("s3"), scratch_bucket, prefix, FILES)
    earlier = ingest_files(refs[:LOADED_BEFORE], services).results
    assert [r.status for r in earlier] == [Status.LOADED] * LOADED_BEFORE
    ledger = Ledger.from_settings(aws_client("dynamodb"), Settings())
    items_before = {ref: ledger.deliveries(ref) for ref in refs[:LOADED_BEFORE]}
    where = ["--bucket", scratch_bucket, "--prefix", f"{prefix}/", "--queue", queue_url]

    # WHEN a dry run counts, then a backfill enqueues
    code, printed = backfill(capsys, *where, "--dry-run")
    assert code == 0
    assert "would be enqueued" in printed and "25" in printed
    code, printed = backfill(capsys, *where, "--json")

    # THEN it says what it listed, skipped and sent, and the queue holds one event per new file
    assert code == 0
    account = json.loads(printed)
    assert (account["listed"], account["already_in_ledger"]) == (FILES, LOADED_BEFORE)
    assert (account["enqueued"], account["send_calls"], account["failed"]) == (FILES - LOADED_BEFORE, 3, [])

    # WHEN two worker processes drain the queue through the Lambda handler
    stats = worker.drain_processes(queue_url, handler.handle, processes=2, workers=1, idle_seconds=2.0)

    # THEN every new file is LOADED by exactly one delivery, the others are untouched
    assert (stats.messages, stats.failed_messages) == (FILES - LOADED_BEFORE, 0)
    sent_keys = sorted(json.loads(b)["Records"][0]["s3"]["object"]["key"] for b in stats.bodies)
    assert sent_keys == sorted(quote_plus(ref.key, safe="/") for ref in refs[LOADED_BEFORE:])
    for ref in refs[LOADED_BEFORE:]:
        (item,) = ledger.deliveries(ref)
        assert (item.status, item.rows_loaded) == (Status.LOADED, ROWS), ref.key
    for ref in refs[:LOADED_BEFORE]:
        assert ledger.deliveries(ref) == items_before[ref]
    assert count_rows(services.bigquery, table) == FILES * ROWS

    # AND a second backfill finds nothing left to send
    code, printed = backfill(capsys, *where, "--json")
    account = json.loads(printed)
    assert (account["already_in_ledger"], account["enqueued"], account["send_calls"]) == (FILES, 0, 0)


def test_an_inventory_manifest_is_read_like_a_listing(stack, prefix, scratch_bucket, queue_url, capsys):
    # GIVEN files in the lake and a CSV inventory of them, as S3 Inventory writes it
    s3 = aws_client("s3")
    refs = put_orders(s3, scratch_bucket, prefix, 4)
    rows = "".join(
        f'"{r.bucket}","{quote_plus(r.key, safe="/")}","{r.size}","2021-07-01T00:00:00.000Z","{r.etag}"\n'
        for r in refs
    )
    data_key = f"inventory/{prefix}/data/part-1.csv.gz"
    s3.put_object(Bucket=scratch_bucket, Key=data_key, Body=gzip.compress(rows.encode()))
    manifest = {
        "sourceBucket": scratch_bucket,
        "destinationBucket": f"arn:aws:s3:::{scratch_bucket}",
        "version": "2016-11-30",
        "creationTimestamp": "1627779600000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag",
        "files": [{"key": data_key, "size": 1, "MD5checksum": "0" * 32}],
    }
    manifest_key = f"inventory/{prefix}/2021-08-01T00-00Z/manifest.json"
    s3.put_object(Bucket=scratch_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())

    # WHEN the backfill reads it
    code, printed = backfill(
        capsys, "--manifest", f"s3://{scratch_bucket}/{manifest_key}", "--queue", queue_url, "--json"
    )

    # THEN it sends the events a listing would have sent
    assert code == 0
    assert json.loads(printed)["enqueued"] == 4
    received = aws_client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    read = [ref for m in received for ref in handler.file_refs(json.loads(m["Body"]))]
    assert len(read) == 4 and set(read) == set(refs)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--bucket", "no-such-bucket-anywhere"], "bucket no-such-bucket-anywhere does not exist"),
        (["--queue", "no-such-queue"], "no such queue: no-such-queue"),
        (["--manifest", "s3://payments-lake/nothing/manifest.json"], "no such manifest"),
    ],
)
def test_what_cannot_run_is_one_line_and_exit_code_2(stack, capsys, arguments, message):
    code = main(["backfill", *arguments])

    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
