"""Section lambda: the Lambda shape, in a fresh process per run.

``import ingest.apps.lambda_handler``, Services and the GX suite (the cold start), then one direct
S3 invocation per new 100-row PayPal page (the warm per-file overhead).
"""

from __future__ import annotations

from typing import Any

from benchmarks.bench import summary
from benchmarks.bench.config import KEY_SPACE, PIPELINE
from benchmarks.bench.harness import Bench
from benchmarks.bench.processes import peak_rss_figure
from ingest_devstack.generate.pages import ndjson_page
from ingest_devstack.s3_events import object_created

FIRST_SERIAL = 200_000_000  # after the big and the small sets' records
TIMED_STEPS = (
    "import_seconds",
    "services_seconds",
    "suite_build_seconds",
    "import_to_ready_seconds",
    "first_file_seconds",
    "warm_median_seconds",
    "warm_p90_seconds",
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
        env = {"INGEST_LEDGER_TABLE": ledger, "INGEST_PIPELINES_DIR": str(pipelines_dir)}
        spec = {"events": events, "pipeline": PIPELINE}
        (result,) = bench.child("lambda", f"lambda-r{run}", spec, env=env)
        statuses = [status for invocation in result["invocations"] for status in invocation["statuses"]]
        if statuses != ["LOADED"] * len(events):
            bench.problems.append(f"lambda run {run}: statuses {statuses}")
        warm = [invocation["seconds"] for invocation in result["invocations"][1:]]
        result |= {
            "run": run,
            "import_to_ready_seconds": result["import_seconds"]
            + result["services_seconds"]
            + result["suite_build_seconds"],
            "first_file_seconds": result["invocations"][0]["seconds"],
            "warm_median_seconds": summary.median(warm),
            "warm_p90_seconds": summary.percentile(warm, 0.9),
        }
        measured.append(result)
        bench.log(
            f"lambda run {run}: import to ready {result['import_to_ready_seconds']:,.2f} s,"
            f" warm per file {result['warm_median_seconds']:,.3f} s"
        )
    figures: dict[str, Any] = {
        key: summary.per_run(measured, lambda r, k=key: r[k], "s") for key in TIMED_STEPS
    }
    figures["peak_rss_mb"] = peak_rss_figure(measured)
    figures["rows_per_file"] = rows
    figures["warm_files_per_run"] = bench.sizes.lambda_warm_files
    figures["raw"] = measured
    bench.sections["lambda"] = figures
