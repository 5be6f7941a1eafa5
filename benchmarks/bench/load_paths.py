"""Load-path benchmark on the local emulators: nested NDJSON loads vs our flattened Parquet.

Run with ``python -m benchmarks.bench.load_paths [--rows N]``. Starts its own stack in a temporary
folder, builds a PayPal page (``ingest_devstack.generate.pages``), and times side by side in one
run:

  A. loading the raw nested NDJSON into BigQuery as-is (schema autodetected): the naive path;
  B. our path, stage by stage: parse + coerce to the pipeline schema, write Parquet, load it;
  C. ``ingest_file`` end to end from S3 (read, parse, coerce, validate with GX, quarantine, load,
     ledger); the GX suite is built before timing (once per process, as in a warm Lambda).

Prints one table with rows/s, MB/s and each line's speed relative to A.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from ingest.adapters.bigquery import load_jobs, tables
from ingest.adapters.clients import bigquery_client
from ingest.core.coerce.arrow_casts import to_arrow
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import load_pipelines
from ingest.core.formats.reader import read_rows
from ingest.core.model import FileRef
from ingest.core.settings import Settings
from ingest.core.transforms.apply import apply_transform
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.services import Services
from ingest_devstack import local
from ingest_devstack.generate.pages import ndjson_page


def timed[T](action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    console = Console()

    settings = Settings()
    state_dir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    stack = local.up(settings, state_dir=state_dir)
    local.apply_environment(stack)
    try:
        run(args.rows, settings, console)
    finally:
        local.down(state_dir)


def run(rows: int, settings: Settings, console: Console) -> None:
    from google.cloud import bigquery

    client = bigquery_client(settings.bq_project, settings.bq_location)
    pipeline = next(p for p in load_pipelines(settings.pipelines_dir) if p.name == "paypal_transactions")
    ndjson = ndjson_page("load-paths", 0, rows)
    megabytes = len(ndjson) / 1e6
    results: list[tuple[str, float]] = []

    # A. the raw nested file, loaded as-is
    tables.ensure_dataset(client, "bench")
    config = bigquery.LoadJobConfig(source_format="NEWLINE_DELIMITED_JSON", autodetect=True)
    _, seconds = timed(
        lambda: client.load_table_from_file(
            io.BytesIO(ndjson), f"{client.project}.bench.raw_nested", job_config=config
        ).result()
    )
    results.append(("A. load nested NDJSON as-is", seconds))

    # B. our path, stage by stage
    def parse_and_coerce():
        _, parsed = read_rows(io.BytesIO(ndjson))
        coercer = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=b"bench")
        return coercer.coerce(apply_transform(pipeline, parsed))

    coerced, seconds = timed(parse_and_coerce)
    results.append(("B1. parse + coerce to schema", seconds))
    lineage = {"_source_uri": "s3://bench/x", "_source_etag": "x", "_ingested_at": datetime.now(UTC)}
    table = to_arrow(pipeline, coerced, lineage)
    buffer = io.BytesIO()
    _, seconds = timed(lambda: pq.write_table(table, buffer, compression="zstd"))
    results.append(("B2. write Parquet", seconds))
    tables.ensure_table(client, pipeline)
    _, seconds = timed(
        lambda: load_jobs.run_load_job(
            client, pipeline, buffer, "bench-parquet", pipeline.table_id, truncate=True
        )
    )
    results.append(("B3. load flattened Parquet", seconds))
    results.append(
        ("B. our path (B1+B2+B3)", sum(s for name, s in results if name[:2] in {"B1", "B2", "B3"}))
    )

    # C. the whole pipeline from S3
    services = Services.from_env(settings)
    services.suite(pipeline)  # GX import and suite build: once per process, not per file
    put = services.s3.put_object(
        Bucket=settings.lake_bucket, Key="paypal/transactions/bench/part", Body=ndjson
    )
    ref = FileRef.of(settings.lake_bucket, "paypal/transactions/bench/part", put["ETag"], len(ndjson))
    outcome, seconds = timed(lambda: ingest_file(ref, services))
    assert outcome.rows_loaded == rows, outcome
    results.append(("C. ingest_file end to end (S3 -> ledger)", seconds))

    baseline = results[0][1]
    report = Table(title=f"Load path, {rows:,} PayPal records, {megabytes:.1f} MB NDJSON, local emulator")
    for column in ("stage", "seconds", "rows/s", "MB/s", "time vs A"):
        report.add_column(column, justify="left" if column == "stage" else "right")
    for name, seconds in results:
        report.add_row(
            name,
            f"{seconds:.2f}",
            f"{rows / seconds:,.0f}",
            f"{megabytes / seconds:.1f}",
            f"{seconds / baseline:.2f}x",
        )
    report.add_row(
        "Parquet size / NDJSON size", "", "", "", f"{buffer.getbuffer().nbytes / len(ndjson):.2f}x"
    )
    console.print(report)


if __name__ == "__main__":
    main()
