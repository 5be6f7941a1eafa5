"""The demo's `ingest batch` step: the batch notebook runs on small data through papermill, its
report is written and linked from the index, the planted failure is labelled, and the kernel
adds no "running over TCP without encryption" warning to the demo's output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from support.helpers import ndjson_lines, order, write_orders_pipeline

from ingest.adapters.clients import aws_client
from ingest.apps.reports.report_index import write_index
from ingest_devstack import demo

pytestmark = pytest.mark.integration


def test_the_demos_batch_writes_its_report_for_todays_files_and_labels_the_planted_failure(
    stack, scratch_bucket, prefix, pipelines_dir, monkeypatch, tmp_path, capfd
):
    # GIVEN two good order files and a truncated page, uploaded today, and a pipeline for them
    write_orders_pipeline(pipelines_dir, prefix)
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))  # the kernel inherits it
    s3 = aws_client("s3")
    for number in (1, 2):
        body = ndjson_lines(order(10 * number + 1), order(10 * number + 2))
        s3.put_object(Bucket=scratch_bucket, Key=f"{prefix}/orders-{number}.ndjson", Body=body)
    broken = f"{prefix}/orders-broken.json"
    s3.put_object(Bucket=scratch_bucket, Key=broken, Body=b'[{"order_id": "o-9", "amount": "9.99"}, {"ord')
    planted = {f"s3://{scratch_bucket}/{broken}": "MalformedFile"}
    capfd.readouterr()

    # WHEN the demo runs the day's batch: files select by last-modified time, so today (UTC)
    today = datetime.now(UTC).date()
    reports = tmp_path / "reports"
    outcome = demo.batch_notebook(
        today, reports / "batches", planted, Console(record=True), bucket=scratch_bucket, prefix=prefix
    )

    # THEN every file was processed, the truncated page failed as planted, the report exists
    assert outcome["error"] is None
    assert (outcome["listed"], outcome["files_processed"], outcome["load_jobs"]) == (3, 3, 1)
    assert [(f["uri"], f["error_type"], f["planted"]) for f in outcome["failed"]] == [
        (f"s3://{scratch_bucket}/{broken}", "MalformedFile", True)
    ]
    report = Path(outcome["report"])
    assert report.is_file() and report.parent.parent == (reports / "batches").resolve()
    assert report.parent.name.startswith(today.isoformat())
    # ... the index links it ...
    index = write_index(reports).read_text(encoding="utf-8")
    assert f'href="batches/{report.parent.name}/report.html"' in index
    # ... and the kernel said nothing on the demo's console
    assert "without encryption" not in capfd.readouterr().err
