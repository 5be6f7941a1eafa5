"""Notebooks run end to end with papermill against the session's local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.core.settings import Settings

pytestmark = pytest.mark.integration

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
PAYER_EMAIL = "payer@example.com"


def run_notebook(name: str, tmp_path: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """Convert ``notebooks/<name>.py`` to an .ipynb, execute it with papermill, return the result."""
    import jupytext
    import nbformat
    import papermill

    source = tmp_path / f"{name}.ipynb"
    jupytext.write(jupytext.read(NOTEBOOKS_DIR / f"{name}.py"), source)
    executed = tmp_path / f"{name}.executed.ipynb"
    # kernel "python3" resolves to the interpreter running the tests (the venv's), and a cell
    # that raises fails the run.
    papermill.execute_notebook(
        str(source),
        str(executed),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    return nbformat.read(executed, as_version=4)


def output_text(notebook: dict[str, Any]) -> str:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts.append(data.get("text/plain", ""))
            texts.append(json.dumps(data.get("application/json", "")))
    return "\n".join(texts)


def test_explore_raw_files_notebook_inspects_a_lake_object_and_its_ledger(
    stack, prefix, tmp_path, monkeypatch
):
    # GIVEN a Firehose-style payments file in the lake, ingested once, one row of three bad
    settings = Settings()
    key = f"payments/transactions/{prefix}/stream-1"
    records = [
        {
            "transaction_id": number,
            "transaction_item_id": 500 + number,
            "total_cost": "twelve" if number == 2 else f"{number}.99",
            "currency_code": "USD",
            "payment_date": "2021-07-01T10:00:00.000Z",
            "payer_email": PAYER_EMAIL,
        }
        for number in (1, 2, 3)
    ]
    body = b"".join(json.dumps(r, indent=2).encode() for r in records)
    aws_client("s3").put_object(Bucket=settings.lake_bucket, Key=key, Body=body)
    assert cli.main(["load", f"s3://{settings.lake_bucket}/{key}"]) == 0
    # The notebook finds the running stack through its state folder, as under `make lab`.
    monkeypatch.setenv("INGEST_LOCAL_DIR", stack.state_dir)

    # WHEN the notebook runs with the newest object under the test's prefix
    notebook = run_notebook(
        "explore_raw_files",
        tmp_path,
        {"bucket": "", "prefix": f"payments/transactions/{prefix}/", "key": "", "pipeline": "auto"},
    )

    # THEN it read the object, checked it with the routed pipeline and found its ledger entry
    text = output_text(notebook)
    assert f"Using the local stack: {stack.aws_endpoint}" in text
    assert f"Inspecting s3://{settings.lake_bucket}/{key}" in text
    assert "format: json_concat" in text
    assert "rows: 3" in text
    assert "pipeline: payment_transactions -> raw.payment_transactions" in text
    assert "would load 2 rows, would quarantine 1" in text
    assert "total_cost: 'twelve'" in text
    assert "LOADED" in text
    assert PAYER_EMAIL not in text and "p***@example.com" in text
