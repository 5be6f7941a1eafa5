"""Child processes of the benchmark harness that run in our venv: ours, the Lambda shape, pandas.

Each is started with the local stack's environment and the path of a JSON spec, and prints its results
as lines starting with ``summary.RESULT_PREFIX`` (the libraries print to stdout too). Running
each in a process of its own keeps the orchestrator's memory and imports out of the figures, and
gives each its own peak RSS.

    python -m benchmarks.bench.child ours|lambda|pandas SPEC.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench.summary import RESULT_PREFIX
from benchmarks.peers.peak_rss import reset_peak_rss, status_kib


def emit(result: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_ours(spec: dict[str, Any]) -> None:
    """Each run: Services for its own ledger table and pipelines dir, then a timed ``run_batch``.

    The GX suite is built and the target table created before timing: once per process, as in a
    warm Lambda. The ledger table exists already (the orchestrator creates it). Each run also
    reports the CPU seconds it took of this process and of each emulator in ``spec["emulators"]``
    (name -> pid), which share the machine's cores with it.
    """
    from dataclasses import replace

    from ingest.core.model import Status
    from ingest.core.settings import Settings
    from ingest.ingestion.runs import run_batch
    from ingest.ingestion.services import Services
    from ingest_devstack.local import cpu_seconds

    processes = {"ours": os.getpid(), **spec["emulators"]}

    def cpu_now() -> dict[str, float]:
        used = {name: cpu_seconds(pid) for name, pid in processes.items()}
        if gone := [name for name, seconds in used.items() if seconds is None]:
            raise RuntimeError(f"process gone during the benchmark: {', '.join(gone)}")
        return {name: seconds for name, seconds in used.items() if seconds is not None}

    base = Settings.from_env()
    for run in spec["runs"]:
        settings = replace(base, ledger_table=run["ledger_table"], pipelines_dir=Path(run["pipelines_dir"]))
        services = Services.from_env(settings)
        pipeline = next(p for p in services.pipelines if p.name == run["pipeline"])
        start = time.perf_counter()
        services.suite(pipeline)
        suite_seconds = time.perf_counter() - start
        services.warehouse.ensure_table(pipeline)

        per_run_peak = reset_peak_rss()
        cpu_before = cpu_now()
        start = time.perf_counter()
        batch = run_batch(services, run["bucket"], run["prefix"])
        seconds = time.perf_counter() - start
        cpu = {name: used - cpu_before[name] for name, used in cpu_now().items()}
        statuses: dict[str, int] = {}
        for result in batch.results:
            statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
        failed = [
            f"{r.ref.key}: {r.status.value} {r.error_type} {r.message[:200]}"
            for r in batch.results
            if r.status != Status.LOADED
        ][:5]
        emit(
            {
                "set": run["set"],
                "run": run["run"],
                "seconds": seconds,
                "files": len(batch.results),
                "listed": batch.listed,
                "statuses": statuses,
                "rows_in": sum(r.rows_in for r in batch.results),
                "rows_loaded": sum(r.rows_loaded for r in batch.results),
                "rows_quarantined": sum(r.rows_quarantined for r in batch.results),
                "load_jobs": len(batch.loads),
                "stage_seconds": dict(getattr(batch, "stage_seconds", None) or {}),
                "suite_build_seconds": suite_seconds,
                "cpu_seconds": cpu,
                "peak_rss_kib": status_kib("VmHWM"),
                "peak_rss_is_per_run": per_run_peak,
                "failures": failed,
            }
        )


# --- the Lambda shape: import, a cold invocation, then warm ones ----------------------------


def run_lambda(spec: dict[str, Any]) -> None:
    """Time ``import ingest.apps.lambda_handler``, building its Services and the GX suite, then invocations.

    Lambda builds Services and the suite inside the first invocation; they are timed apart here
    so the cold start splits into import, services, suite and the first file. The environment
    names this run's ledger and pipelines (INGEST_LEDGER_TABLE, INGEST_PIPELINES_DIR), and the
    handler reads them as in Lambda.
    """
    start = time.perf_counter()
    import ingest.apps.lambda_handler as handler

    import_seconds = time.perf_counter() - start
    start = time.perf_counter()
    services = handler.services()
    services_seconds = time.perf_counter() - start
    pipeline = next(p for p in services.pipelines if p.name == spec["pipeline"])
    start = time.perf_counter()
    services.suite(pipeline)
    suite_seconds = time.perf_counter() - start

    from ingest_devstack.worker import LocalContext

    invocations = []
    for event in spec["events"]:
        start, cpu = time.perf_counter(), time.process_time()
        response = handler.handle(event, LocalContext())
        seconds = time.perf_counter() - start
        invocations.append(
            {
                "seconds": seconds,
                # This process's CPU, every thread: the emulators run in processes of their own.
                "cpu_seconds": time.process_time() - cpu,
                "statuses": [f["status"] for f in response.get("files", [])],
                "item_failures": len(response.get("batchItemFailures", [])),
            }
        )
    emit(
        {
            "import_seconds": import_seconds,
            "services_seconds": services_seconds,
            "suite_build_seconds": suite_seconds,
            "invocations": invocations,
            "peak_rss_kib": status_kib("VmHWM"),
        }
    )


# --- pandas + pandas-gbq, the way a notebook user would do it ------------------------------


def run_pandas(spec: dict[str, Any]) -> None:
    """Per file: get the object, ``read_json``, ``json_normalize``, fix the types, ``to_gbq``.

    The fixed column list and the type fixes are what a notebook user ends up writing after the
    first ``to_gbq`` fails: a page without a refund has no ``paypal_reference_id`` column, and the
    table's schema then refuses the next page that has one. Each run appends to a new table.
    """
    import io

    import pandas as pd
    import pandas_gbq

    from ingest.adapters.bigquery import queries, tables
    from ingest.adapters.clients import aws_client, bigquery_client

    s3 = aws_client("s3")
    client = bigquery_client(spec["project"], spec["location"])
    tables.ensure_dataset(client, spec["dataset"])
    columns: list[str] = spec["columns"]

    def load(key: str, destination: str) -> int:
        body = s3.get_object(Bucket=spec["bucket"], Key=key)["Body"].read()
        records = pd.read_json(io.BytesIO(body), lines=True, dtype=False).to_dict("records")
        flat = pd.json_normalize(records).reindex(columns=columns)
        for column in columns:
            if column.endswith(".value"):
                flat[column] = pd.to_numeric(flat[column])
            elif column.endswith("_date"):
                flat[column] = pd.to_datetime(flat[column], utc=True, format="%Y-%m-%dT%H:%M:%S%z")
            elif flat[column].map(lambda value: isinstance(value, list | dict)).any():
                flat[column] = flat[column].map(json.dumps)
            else:
                flat[column] = flat[column].astype("string")
        flat.columns = [column.replace(".", "_") for column in flat.columns]
        pandas_gbq.to_gbq(
            flat,
            destination,
            project_id=client.project,
            if_exists="append",
            bigquery_client=client,
            progress_bar=False,
        )
        return len(flat)

    for run, table in enumerate(spec["tables"], start=1):
        destination = f"{spec['dataset']}.{table}"
        per_run_peak = reset_peak_rss()
        start = time.perf_counter()
        rows = sum(load(key, destination) for key in spec["keys"])
        seconds = time.perf_counter() - start
        emit(
            {
                "run": run,
                "seconds": seconds,
                "files": len(spec["keys"]),
                "rows": rows,
                "rows_in_table": queries.count_rows(client, destination),
                "peak_rss_kib": status_kib("VmHWM"),
                "peak_rss_is_per_run": per_run_peak,
            }
        )


COMMANDS = {"ours": run_ours, "lambda": run_lambda, "pandas": run_pandas}


def main() -> None:
    command, spec_path = sys.argv[1], Path(sys.argv[2])
    if command not in COMMANDS:
        raise SystemExit(f"unknown command {command!r}; one of {sorted(COMMANDS)}")
    # Quiet libraries: their stdout is not ours to parse, and INFO per file costs time.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import logging

    logging.basicConfig(level=logging.WARNING)
    COMMANDS[command](json.loads(spec_path.read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
