"""A scheduled batch: ``notebooks/ingest_batch.py`` run by papermill for one day, and what it did.

``ingest batch`` and the demo both run it through here, so they name runs alike, pass the same
parameters and judge the notebook's end alike. The notebook's last cell raises ``FilesFailed``
on purpose when a file failed, once everything is documented, so that a scheduler sees the run
fail; any other error is a fault of the notebook or of what it calls, and is reported as such.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.core.settings import NOTEBOOKS_DIR

NOTEBOOK = NOTEBOOKS_DIR / "ingest_batch.py"


class FilesFailed(RuntimeError):
    """Raised by the batch notebook's last cell: some files of the run failed (each is tabled)."""


@dataclass(frozen=True)
class BatchRun:
    run_id: str
    out_dir: Path
    executed: Path
    html: Path | None
    account: dict[str, Any] | None
    """What ``batch.json`` says the run did; None if the notebook stopped before writing it."""
    error: str | None
    """``Type: message`` of an error other than the notebook's deliberate ``FilesFailed``."""


def run_id_for(run_day: str, now: datetime) -> str:
    """Sorts by the day the run covers, then by when it ran; the suffix tells apart runs in one second."""
    return f"{run_day}-{now:%H%M%S}-{uuid.uuid4().hex[:6]}"


def run(
    run_day: str,
    out_root: Path,
    *,
    bucket: str = "",
    prefix: str = "",
    pipeline: str = "",
    max_files_per_load: int,
) -> BatchRun:
    """Execute the batch notebook for ``run_day`` (YYYY-MM-DD) into ``<out_root>/<run_id>/``.

    Raises ``notebook_run.NotebookToolsMissing`` without the notebook extra. An empty ``bucket``
    is the environment's lake bucket.
    """
    from ingest.apps.reports.notebook_run import run_notebook

    run_id = run_id_for(run_day, datetime.now(UTC))
    out_dir = (out_root / run_id).resolve()
    parameters = {
        "bucket": bucket,
        "prefix": prefix,
        "run_date": run_day,
        "pipeline": pipeline,
        "max_files_per_load": max_files_per_load,
        "run_id": run_id,
        "output_dir": str(out_dir),
    }
    result = run_notebook(NOTEBOOK, out_dir, parameters, title=f"Ingest batch {run_id}")
    batch_json = out_dir / "batch.json"
    account = json.loads(batch_json.read_text(encoding="utf-8")) if batch_json.is_file() else None
    return BatchRun(run_id, out_dir, result.executed, result.html, account, unexpected(result.error, account))


def unexpected(error: str | None, account: dict[str, Any] | None) -> str | None:
    """``error`` unless it is the notebook's ``FilesFailed`` for a run whose account has failures."""
    deliberate = error is not None and error.startswith(f"{FilesFailed.__name__}:")
    return None if deliberate and account is not None and account.get("failed") else error
