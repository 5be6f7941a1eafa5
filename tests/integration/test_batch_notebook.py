"""`ingest batch`: the batch notebook runs through papermill on small data and leaves its report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from support.helpers import PAYER_EMAIL, ndjson_lines, order, write_orders_pipeline

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli

pytestmark = pytest.mark.integration


@pytest.fixture
def orders_pipeline(pipelines_dir: Path, prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A tiny pipeline (no GX suite) for ``<prefix>/...``, seen by the notebook's kernel too."""
    write_orders_pipeline(pipelines_dir, prefix)
    # The kernel is a subprocess: it gets the pipelines through the environment it inherits.
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    return next(pipelines_dir.glob("*.yaml")).stem


def put_good_files(bucket: str, prefix: str, count: int) -> list[str]:
    """``count`` order files of distinct bytes; the first has one row that cannot be coerced."""
    s3 = aws_client("s3")
    keys = []
    for number in range(1, count + 1):
        records: list[Any] = [order(100 * number + row, payer_email=PAYER_EMAIL) for row in (1, 2, 3)]
        if number == 1:
            records.append(order(100 * number + 4, amount="not-a-number"))
        key = f"{prefix}/2021/07/01/orders-{number}.ndjson"
        s3.put_object(Bucket=bucket, Key=key, Body=ndjson_lines(*records))
        keys.append(key)
    return keys


def run_batch_command(bucket: str, prefix: str, out: Path) -> tuple[int, Path]:
    """Run ``ingest batch`` for today; its exit code and the run folder it made."""
    before = set(out.iterdir()) if out.exists() else set()
    today = datetime.now(UTC).date().isoformat()
    code = cli.main(["batch", "--date", today, "--bucket", bucket, "--prefix", prefix, "--out", str(out)])
    (run_dir,) = set(out.iterdir()) - before
    return code, run_dir


def test_batch_documents_loads_and_failures_and_exits_1_when_a_file_failed(
    stack, scratch_bucket, prefix, orders_pipeline, tmp_path, capsys
):
    # GIVEN five good order files (one with a bad row) and one truncated JSON array
    put_good_files(scratch_bucket, prefix, 5)
    broken_key = f"{prefix}/2021/07/01/orders-broken.json"
    aws_client("s3").put_object(
        Bucket=scratch_bucket, Key=broken_key, Body=b'[{"order_id": "o-9", "amount": "9.99"}, {"order_'
    )

    # WHEN the scheduler's command runs the batch for today
    code, run_dir = run_batch_command(scratch_bucket, prefix, tmp_path / "batches")

    # THEN it exits 1 and keeps the executed notebook, the account and the report
    assert code == 1
    assert run_dir.name.startswith(datetime.now(UTC).date().isoformat())
    executed, html_path = run_dir / "ingest_batch.ipynb", run_dir / "report.html"
    assert executed.is_file() and html_path.is_file()
    printed = capsys.readouterr().out
    assert f"executed notebook: {executed}" in printed and f"report: {html_path}" in printed

    account = json.loads((run_dir / "batch.json").read_text())
    assert account["run_id"] == run_dir.name
    assert (account["listed"], account["already_done"], account["failed"]) == (6, 0, 1)
    totals = account["by_pipeline"][orders_pipeline]
    assert (totals["files"], totals["loaded"], totals["failed"]) == (6, 5, 1)
    assert (totals["rows_in"], totals["rows_loaded"], totals["rows_quarantined"]) == (16, 15, 1)
    assert totals["load_jobs"] == 1
    assert [load["files"] for load in account["loads"]] == [5]
    (failure,) = [f for f in account["files"] if f["status"] == "FAILED"]
    assert failure["uri"] == f"s3://{scratch_bucket}/{broken_key}"
    assert failure["error_type"] == "MalformedFile"

    # The executed notebook documented everything, then its last cell failed the run.
    notebook = nbformat.read(executed, as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert [(e["ename"], e["evalue"].split(":")[0]) for e in errors] == [
        ("FilesFailed", f"1 of 6 files failed in run {run_dir.name}")
    ]
    assert "run_batch(" in "".join(cell.source for cell in notebook.cells)

    html = html_path.read_text(encoding="utf-8")
    assert f"s3://{scratch_bucket}/{broken_key}" in html
    assert "MalformedFile" in html
    assert account["loads"][0]["job_id"] in html
    # The chart, embedded as an image (the lab stylesheet holds a small data: PNG of its own).
    (chart,) = re.findall(r"<img [^>]+>", html)
    assert 'src="data:image/png;base64,' in chart and 'alt="Rows loaded and quarantined' in chart
    assert "1 of 6 files failed" in html
    # No code, no traceback, nothing fetched from the network, no payer data.
    assert "run_batch(" not in html and "import pandas" not in html and "Traceback" not in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert 'src="http' not in html and 'href="http' not in html
    assert PAYER_EMAIL not in html and PAYER_EMAIL not in executed.read_text(encoding="utf-8")


def test_batch_exits_0_when_every_file_loaded_and_a_second_run_loads_nothing(
    stack, scratch_bucket, prefix, orders_pipeline, tmp_path
):
    # GIVEN three good order files
    put_good_files(scratch_bucket, prefix, 3)
    out = tmp_path / "batches"

    # WHEN the day's batch runs, then runs again
    first_code, first_dir = run_batch_command(scratch_bucket, prefix, out)
    second_code, second_dir = run_batch_command(scratch_bucket, prefix, out)

    # THEN both succeed; the second finds everything in the ledger and loads nothing
    assert (first_code, second_code) == (0, 0)
    assert first_dir != second_dir
    first = json.loads((first_dir / "batch.json").read_text())
    second = json.loads((second_dir / "batch.json").read_text())
    assert first["by_pipeline"][orders_pipeline]["loaded"] == 3 and first["failed"] == 0
    assert (second["listed"], second["already_done"], second["files"], second["loads"]) == (3, 3, [], [])
    assert "Nothing new to ingest." in (second_dir / "report.html").read_text(encoding="utf-8")


def test_batch_exits_2_and_keeps_the_notebook_when_the_run_cannot_start(stack, prefix, tmp_path, capsys):
    # GIVEN a bucket that does not exist
    out = tmp_path / "batches"

    # WHEN the batch runs on it
    code, run_dir = run_batch_command(f"missing-{prefix}", prefix, out)

    # THEN it exits 2, with no account, and the executed notebook and report say why
    assert code == 2
    assert not (run_dir / "batch.json").exists()
    assert (run_dir / "ingest_batch.ipynb").is_file()
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"ObjectGone: bucket missing-{prefix} does not exist" in html
    assert "The notebook stopped at the error above" in html and "Load jobs" not in html
    assert "the batch did not run: ObjectGone" in capsys.readouterr().err
