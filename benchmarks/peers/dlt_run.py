"""dlt peer: its filesystem source over the lake bucket on moto S3, into its DuckDB destination.

Runs in the peers venv (``benchmarks.bench`` creates it), not in ours: dlt's s3fs pins an
older botocore than our venv has. Each of ``--runs`` runs is a new pipeline with its own state
and DuckDB file, in this one process, as ours runs warm in one process. Prints one JSON line per
run: seconds of ``pipeline.run`` (extract, normalize, load; imports and pipeline creation
excluded), the rows dlt loaded counted back from the DuckDB file, and the run's peak RSS.

    python peers/dlt_run.py --bucket-url s3://lake/paypal/transactions/bench-big \
        --endpoint http://127.0.0.1:PORT --work-dir /tmp/x [--loader-file-format parquet] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from peak_rss import reset_peak_rss, status_kib

# The harness reads the lines that start with this (benchmarks.bench.summary.RESULT_PREFIX): dlt prints too.
RESULT_PREFIX = "BENCH-RESULT "
TABLE = "paypal_transactions"
DATASET = "bench"

# No telemetry: the machine has no network beyond the stack, and the run should not wait on it.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def loaded_rows(database: Path) -> dict[str, int]:
    """Rows per table dlt made (the root table and its child tables), from the DuckDB file."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        names = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [DATASET]
        ).fetchall()
        return {
            name: connection.execute(f'SELECT count(*) FROM {DATASET}."{name}"').fetchone()[0]
            for (name,) in names
            if not name.startswith("_dlt")
        }


def run_once(args: argparse.Namespace, run: int) -> dict[str, Any]:
    import dlt
    from dlt.sources.credentials import AwsCredentials
    from dlt.sources.filesystem import filesystem, read_jsonl

    work = args.work_dir / f"r{run}"
    credentials = AwsCredentials(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        endpoint_url=args.endpoint,
    )
    files = filesystem(bucket_url=args.bucket_url, credentials=credentials, file_glob="*")
    source = (files | read_jsonl()).with_name(TABLE)
    database = work / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_dlt_r{run}",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name=DATASET,
        pipelines_dir=str(work / "pipelines"),
    )
    file_format = None if args.loader_file_format == "default" else args.loader_file_format

    per_run_peak = reset_peak_rss()
    start = time.perf_counter()
    info = pipeline.run(source, loader_file_format=file_format)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    info.raise_on_failed_jobs()
    tables = loaded_rows(database)
    shutil.rmtree(work, ignore_errors=True)  # the DuckDB file: up to GBs on the big set
    return {
        "run": run,
        "seconds": seconds,
        "rows": tables.get(TABLE, 0),
        "tables": tables,
        "loader_file_format": args.loader_file_format,
        "peak_rss_kib": peak,
        "peak_rss_is_per_run": per_run_peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket-url", required=True, help="s3://bucket/prefix holding the NDJSON files")
    parser.add_argument("--endpoint", required=True, help="the moto server's URL")
    parser.add_argument("--work-dir", required=True, type=Path)
    parser.add_argument(
        "--loader-file-format",
        default="parquet",
        help="dlt's loader file format; 'default' leaves dlt's own choice (jsonl for DuckDB)",
    )
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DLT_DATA_DIR"] = str(args.work_dir / "dlt-data")  # not ~/.dlt
    for run in range(1, args.runs + 1):
        print(RESULT_PREFIX + json.dumps(run_once(args, run)), flush=True)


if __name__ == "__main__":
    main()
