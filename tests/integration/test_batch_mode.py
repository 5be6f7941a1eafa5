"""Batch mode: many small files per load job, the ledger's membership record, idempotent re-runs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.helpers import write_orders_pipeline

from ingest.adapters.bigquery import queries
from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.core.model import FileRef, Status, now_iso
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.runs import run_batch

pytestmark = pytest.mark.integration


def put_orders(bucket: str, prefix: str, files: int, rows_per_file: int = 3) -> list[str]:
    """``files`` small NDJSON files of distinct orders, uploaded concurrently; their keys."""
    s3 = aws_client("s3")

    def put(number: int) -> str:
        key = f"{prefix}/2021/07/01/orders-{number:04d}.ndjson"
        lines = [
            json.dumps({"order_id": f"o-{number}-{row}", "amount": f"{row}.50", "quantity": row})
            for row in range(rows_per_file)
        ]
        s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
        return key

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(put, range(files)))


def test_five_hundred_small_files_load_with_ten_load_jobs_and_each_file_knows_its_job(
    make_services, pipelines_dir, prefix, scratch_bucket, capsys, monkeypatch
):
    # GIVEN 500 small files of one merge pipeline waiting under a prefix
    table = write_orders_pipeline(pipelines_dir, prefix, write_mode="merge")
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    put_orders(scratch_bucket, prefix, 500)

    # WHEN a scheduler runs the batch with at most 50 files per load job
    code = cli.main(
        ["run", "--bucket", scratch_bucket, "--prefix", prefix, "--max-files-per-load", "50", "--json"]
    )

    # THEN it succeeds with 10 load jobs, and every row landed
    run = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(run["loads"]) == 10
    assert {load["files"] for load in run["loads"]} == {50}
    services = make_services()
    assert queries.count_rows(services.bigquery, table) == 1500
    # Every file is LOADED in the ledger with the job id of the load it went into ...
    refs = services.lake.list_objects(scratch_bucket, prefix)
    entries = {ref.key: services.ledger.get(ref) for ref in refs}
    assert {e.status for e in entries.values()} == {Status.LOADED}
    job_of_file = {f["ledger_key"]: f["load_job_id"] for f in run["files"]}
    assert all(entries[ref.key].load_job_id == job_of_file[ref.identity] for ref in refs)
    assert {e.load_files for e in entries.values()} == {50}
    # ... and the ledger's record of each job lists its member files: 500 files, each once.
    loads = services.ledger.loads(table, now_iso()[:10])
    assert sorted(load.load_job_id for load in loads) == sorted(load["job_id"] for load in run["loads"])
    members = [member for load in loads for member in load.members]
    assert sorted(members) == sorted(ref.identity for ref in refs)
    assert services.ledger.loads_on(table, now_iso()[:10]) == 10


def test_a_failed_file_fails_the_run_alone_and_the_summary_says_why(
    pipelines_dir, prefix, scratch_bucket, capsys, monkeypatch
):
    # GIVEN four good files and one that is not JSON
    write_orders_pipeline(pipelines_dir, prefix, write_mode="merge")
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    put_orders(scratch_bucket, prefix, 4)
    aws_client("s3").put_object(Bucket=scratch_bucket, Key=f"{prefix}/broken.ndjson", Body=b'{"order_id": ')

    # WHEN the batch runs
    code = cli.main(["run", "--bucket", scratch_bucket, "--prefix", prefix])

    # THEN the exit code says something failed, the good files loaded in one job, and the
    # summary names the broken file with its error
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "5 processed with 1 load jobs" in out
    assert f"FAILED s3://{scratch_bucket}/{prefix}/broken.ndjson: MalformedFile" in out


def test_past_eighty_percent_of_the_daily_load_jobs_the_run_warns_and_batches_harder(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    # GIVEN a table that has had 1,200 of its 1,500 load jobs today, and 30 files waiting
    table = write_orders_pipeline(pipelines_dir, prefix, write_mode="merge")
    services = make_services()
    day = now_iso()[:10]
    items = [
        {"PutRequest": {"Item": {"pk": {"S": f"loads#{table}#{day}"}, "sk": {"S": f"LOAD#earlier-{n}"}}}}
        for n in range(1200)
    ]
    for start in range(0, len(items), 25):
        services.dynamodb.batch_write_item(
            RequestItems={services.settings.ledger_table: items[start : start + 25]}
        )
    put_orders(scratch_bucket, prefix, 30)

    # WHEN a batch asks for 5 files per load job
    run = run_batch(services, scratch_bucket, prefix, max_files_per_load=5)

    # THEN it warns, and puts ten times as many files in a load job
    assert [load.files for load in run.loads] == [30]
    assert run.warnings == [
        f"{table} has had 1200 of its 1500 load jobs today: up to 50 files per load job in this run"
    ]
    assert services.ledger.loads_on(table, day) == 1201


def test_running_a_month_twice_and_redelivering_every_event_changes_no_table(loaded_july):
    # GIVEN a generated month in the lake (overlapping pages, pending then completed payments,
    # CSV and Parquet exports, reference tables, planted bad rows and files) and a first run: the
    # session's loaded_july, whose planted failing files and manifest.json alone failed
    services, manifest = loaded_july.services, loaded_july.manifest
    scratch_bucket, prefix = loaded_july.bucket, loaded_july.prefix
    tables = {p.name: p.table_id for p in services.pipelines}
    before = {name: queries.table_fingerprint(services.bigquery, t) for name, t in tables.items()}
    # Each final table holds one row per business key, as the generator expects.
    assert {name: fp.rows for name, fp in before.items()} == manifest["expected_tables"]

    # WHEN the same batch runs again, and then every file's event is delivered once more
    second = run_batch(services, scratch_bucket, prefix)
    refs = services.lake.list_objects(scratch_bucket, prefix)
    redelivered = [ingest_file(FileRef.of(r.bucket, r.key, r.etag, r.size), services) for r in refs]

    # THEN nothing is loaded again and every table's row count and checksum are unchanged
    assert (second.listed, second.already_done, second.results, second.loads) == (
        len(refs),
        len(refs),
        [],
        [],
    )
    assert {r.status for r in redelivered} == {Status.SKIPPED_DUPLICATE}
    after = {name: queries.table_fingerprint(services.bigquery, t) for name, t in tables.items()}
    assert after == before
