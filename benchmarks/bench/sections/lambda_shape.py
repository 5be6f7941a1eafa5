"""Section lambda: the Lambda shape, in a fresh process per run.

``import ingest.apps.lambda_handler``, Services and the GX suite (the cold start), then one direct
S3 invocation per new 100-row PayPal page (the warm per-file overhead), then two SQS invocations of
``lambda_batch_files`` such pages each (the template's BatchSize). The second batch is the warm
figure, as a Lambda container handles batch after batch; the first, which also pays the process's
first use of the batch path (its first large Arrow read and Parquet write, fresh memory), is shown
beside it. Each invocation's CPU time is this process's own, so what the emulators spend does not
count.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.bench import summary
from benchmarks.bench.config import KEY_SPACE, PIPELINE
from benchmarks.bench.harness import Bench
from benchmarks.bench.processes import peak_rss_figure
from ingest_devstack.generate.pages import ndjson_page
from ingest_devstack.s3_events import object_created
from ingest_devstack.worker import lambda_event

FIRST_SERIAL = 200_000_000  # after the big and the small sets' records
TIMED_STEPS = (
    "import_seconds",
    "services_seconds",
    "suite_build_seconds",
    "import_to_ready_seconds",
    "first_file_seconds",
    "cold_total_seconds",
    "warm_median_seconds",
    "warm_p90_seconds",
    "warm_cpu_ms",
    "first_batch_cpu_per_file_ms",
    "batch_seconds",
    "batch_cpu_per_file_ms",
)


def lambda_shape(bench: Bench) -> None:
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    bucket = bench.settings.lake_bucket
    rows = bench.sizes.lambda_rows_per_file
    measured = []
    for run in range(1, (bench.sizes.lambda_cold_starts or bench.runs) + 1):
        dataset = f"bench_lambda_r{run}"
        ledger = bench.fresh_ledger(f"bench-ledger-lambda-r{run}")
        pipelines_dir = bench.fresh_pipelines_dir(dataset)
        events = []
        for index in range(1 + bench.sizes.lambda_warm_files):
            key = f"{KEY_SPACE}/bench-lambda/r{run}/page-{index:03d}.json"
            first = FIRST_SERIAL + (run * 1_000 + index) * rows
            body = ndjson_page(f"lambda-{run}-{index}", first, rows)
            put = s3.put_object(Bucket=bucket, Key=key, Body=body)
            events.append(object_created(bucket, key, put["ETag"], len(body), serial=index))
        events += [
            _sqs_batch(bench, s3, run, rows, "batch", 100),
            _sqs_batch(bench, s3, run, rows, "batch2", 300),
        ]
        env = {"INGEST_LEDGER_TABLE": ledger, "INGEST_PIPELINES_DIR": str(pipelines_dir)}
        spec = {"events": events, "pipeline": PIPELINE}
        (result,) = bench.child("lambda", f"lambda-r{run}", spec, env=env)
        first, *warm, first_batch, batch = result["invocations"]
        statuses = [status for invocation in (first, *warm) for status in invocation["statuses"]]
        failures = first_batch["item_failures"] + batch["item_failures"]
        if statuses != ["LOADED"] * (len(events) - 2) or failures:
            bench.problems.append(f"lambda run {run}: statuses {statuses}, {failures} batch failures")
        ready = result["import_seconds"] + result["services_seconds"] + result["suite_build_seconds"]
        result |= {
            "run": run,
            "import_to_ready_seconds": ready,
            "first_file_seconds": first["seconds"],
            "cold_total_seconds": ready + first["seconds"],
            "warm_median_seconds": summary.median([w["seconds"] for w in warm]),
            "warm_p90_seconds": summary.percentile([w["seconds"] for w in warm], 0.9),
            "warm_cpu_ms": 1000 * summary.median([w["cpu_seconds"] for w in warm]),
            "first_batch_cpu_per_file_ms": 1000 * first_batch["cpu_seconds"] / bench.sizes.lambda_batch_files,
            "batch_seconds": batch["seconds"],
            "batch_cpu_per_file_ms": 1000 * batch["cpu_seconds"] / bench.sizes.lambda_batch_files,
        }
        measured.append(result)
        bench.log(
            f"lambda run {run}: import to ready {result['import_to_ready_seconds']:,.2f} s,"
            f" warm per file {result['warm_median_seconds']:,.3f} s ({result['warm_cpu_ms']:,.0f} ms CPU),"
            f" batch CPU per file {result['batch_cpu_per_file_ms']:,.1f} ms"
            f" (first batch {result['first_batch_cpu_per_file_ms']:,.1f} ms)"
        )
    figures: dict[str, Any] = {
        key: summary.per_run(measured, lambda r, k=key: r[k], "ms" if key.endswith("_ms") else "s")
        for key in TIMED_STEPS
    }
    figures["batch_files"] = bench.sizes.lambda_batch_files
    figures["peak_rss_mb"] = peak_rss_figure(measured)
    figures["rows_per_file"] = rows
    figures["warm_files_per_run"] = bench.sizes.lambda_warm_files
    figures["raw"] = measured
    bench.sections["lambda"] = figures


def _sqs_batch(bench: Bench, s3: Any, run: int, rows: int, name: str, offset: int) -> dict[str, Any]:
    """One SQS event of ``lambda_batch_files`` new pages, as the event source mapping hands a
    full batch to the function; ``offset`` keeps their records apart from other pages'."""
    bucket = bench.settings.lake_bucket
    messages = []
    for index in range(bench.sizes.lambda_batch_files):
        key = f"{KEY_SPACE}/bench-lambda/r{run}/{name}/page-{index:03d}.json"
        first = FIRST_SERIAL + (run * 1_000 + offset + index) * rows
        body = ndjson_page(f"lambda-{run}-{name}-{index}", first, rows)
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        notification = object_created(bucket, key, put["ETag"], len(body), serial=index)
        messages.append(
            {
                "MessageId": f"m-{run}-{name}-{index}",
                "ReceiptHandle": f"r-{run}-{name}-{index}",
                "Body": json.dumps(notification),
            }
        )
    return lambda_event(messages, "arn:aws:sqs:us-east-1:000000000000:bench", "us-east-1")
