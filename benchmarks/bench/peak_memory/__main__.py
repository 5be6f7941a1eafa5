"""Memory benchmark: peak RSS of ``ingest_file`` on large NDJSON and CSV files.

Run with ``.venv/bin/python -m benchmarks.bench.peak_memory [--sizes 100,1000] [--target-mb 600]``.
Starts its own local stack in a temporary folder with two scratch pipelines (NDJSON and CSV,
the same 11 columns, each routed by its own key prefix to its own table), then for each size
and format:

  1. generates the file on disk, streaming and seeded, with a few deliberately bad rows so the
     quarantine path runs too;
  2. uploads it to the lake with a multipart TransferConfig (this process never holds the file);
  3. ingests it in a child process (``Services.from_env`` + ``ingest_file``), so the peak RSS
     measured is the ingest's alone. The child reports its own ``ru_maxrss`` and ``VmHWM``;
     this process samples the child's ``/proc/<pid>/status`` (VmHWM as a cross-check, VmRSS
     every 0.1 s to show when in the ingest the peak happens).

Prints one table (seconds, rows/s, MB/s, peak RSS, RSS relative to the smallest file of the
same format, PASS/FAIL against the target) and one table of outcomes (status, rows_in =
rows_loaded + rows_quarantined, quarantined rows vs the bad rows written). Exits 1 if any
ingest failed, a row count does not add up, or a peak RSS misses the target.

Units: MB is 10^6 bytes throughout (file sizes, RSS and ``--target-mb``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from benchmarks.bench.peak_memory.measure import Measured, as_mb, measure, proc_status_kib, upload
from benchmarks.bench.peak_memory.orders import FORMATS, generate, write_pipelines
from benchmarks.bench.peak_memory.report import report
from ingest.core.settings import Settings
from ingest_devstack import local


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError("sizes are positive whole MB, such as 100,1000")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench.peak_memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[100, 1000], help="file sizes in MB (default 100,1000)"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="ndjson,csv (default both)")
    parser.add_argument(
        "--target-mb", type=float, default=600.0, help="peak RSS limit per ingest (default 600)"
    )
    parser.add_argument("--bad-rows", type=int, default=10, help="bad rows per file (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per ingest before it is killed"
    )
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats {sorted(unknown)}; choose from {FORMATS}")
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=200)

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-memory-"))
    pipelines_dir, data_dir, state_dir = work / "pipelines", work / "data", work / "stack"
    data_dir.mkdir()
    write_pipelines(pipelines_dir)
    os.environ["INGEST_PIPELINES_DIR"] = str(pipelines_dir)  # inherited by the ingest children
    settings = Settings.from_env()
    try:
        console.log(f"starting the local stack in {state_dir}")
        stack = local.up(settings, state_dir=state_dir)
        local.apply_environment(stack)
        try:
            results = run(args, formats, settings, data_dir, work, console)
        finally:
            local.down(state_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    own_peak = proc_status_kib(os.getpid(), "VmHWM") or 0
    console.log(f"this benchmark process (generate, upload, stack start): peak RSS {as_mb(own_peak):,.0f} MB")
    problems = report(console, results, args.target_mb)
    if problems:
        console.print(f"[red]bench_memory: FAIL ({len(problems)} problem(s))[/]")
        for problem in problems:
            console.print(f"  - {problem}", markup=False)
        return 1
    console.print(
        f"[green]bench_memory: PASS[/] every ingest LOADED, rows add up, peak RSS < {args.target_mb:,.0f} MB"
    )
    return 0


def run(
    args: argparse.Namespace,
    formats: list[str],
    settings: Settings,
    data_dir: Path,
    log_dir: Path,
    console: Console,
) -> list[Measured]:
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    results = []
    for fmt in formats:
        for size_mb in args.sizes:
            start = time.perf_counter()
            generated = generate(fmt, size_mb, data_dir, args.seed, args.bad_rows)
            console.log(
                f"{fmt} {size_mb} MB: generated {generated.rows:,} rows ({len(generated.bad_rows)} bad)"
                f" in {time.perf_counter() - start:.1f}s"
            )
            start = time.perf_counter()
            ref = upload(s3, settings.lake_bucket, generated)
            generated.path.unlink()
            console.log(
                f"{fmt} {size_mb} MB: uploaded to s3://{ref['bucket']}/{ref['key']}"
                f" in {time.perf_counter() - start:.1f}s"
            )
            measured = measure(generated, ref, args.timeout, log_dir)
            if measured.result:
                r = measured.result
                console.log(
                    f"{fmt} {size_mb} MB: {r['status']} in {r['seconds']:.1f}s, {r['rows_in']:,} rows,"
                    f" peak RSS {as_mb(measured.peak_kib):,.0f} MB"
                )
            else:
                console.log(f"{fmt} {size_mb} MB: {measured.failure}", markup=False)
            results.append(measured)
    return results


if __name__ == "__main__":
    sys.exit(main())
