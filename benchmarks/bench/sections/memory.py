"""Section memory: peak RSS ingesting a 1 GB NDJSON file and a 1 GB CSV file, one run each.

The files, the child process and its memory samples are the peak-memory tool's
(``benchmarks.bench.peak_memory``); the figures go into the harness's results.
"""

from __future__ import annotations

import os

from benchmarks.bench import summary
from benchmarks.bench.harness import Bench
from benchmarks.bench.peak_memory import measure as peak
from benchmarks.bench.peak_memory import orders
from benchmarks.bench.summary import MB


def memory(bench: Bench) -> None:
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    pipelines_dir = bench.work / "memory-pipelines"
    orders.write_pipelines(pipelines_dir)
    data = bench.work / "memory-data"
    data.mkdir()
    section = bench.sections.setdefault("memory", {})
    saved = os.environ.get("INGEST_PIPELINES_DIR")
    os.environ["INGEST_PIPELINES_DIR"] = str(pipelines_dir)  # the ingest child reads it
    try:
        for fmt in orders.FORMATS:
            generated = orders.generate(fmt, bench.sizes.memory_mb, data, seed=7, bad_count=10)
            ref = peak.upload(s3, bench.settings.lake_bucket, generated)
            generated.path.unlink()
            measured = peak.measure(generated, ref, bench.sizes.child_timeout_seconds, bench.logs)
            result = measured.result
            if result is None:
                bench.problems.append(f"memory {fmt}: {measured.failure}")
                continue
            expected = (generated.rows, len(generated.bad_rows), generated.rows - len(generated.bad_rows))
            found = (result["rows_in"], result["rows_quarantined"], result["rows_loaded"])
            if result["status"] != "LOADED" or found != expected:
                bench.problems.append(
                    f"memory {fmt}: {result['status']}, rows in/quarantined/loaded {found},"
                    f" expected {expected}"
                )
            # Not measured.peak_kib: it includes ru_maxrss, which Linux carries over exec from
            # the forked copy of this (larger) process. VmHWM starts afresh at exec.
            peak_mb = peak.as_mb(max(result["vmhwm_kib"], measured.parent_vmhwm_kib))
            bench.log(f"memory {fmt} {generated.bytes / MB:,.0f} MB: peak RSS {peak_mb:,.0f} MB")
            section[fmt] = {
                "runs_note": "one run (runs=1): a 1 GB ingest per format",
                "file_mb": generated.bytes / MB,
                "rows": generated.rows,
                "bad_rows": len(generated.bad_rows),
                "peak_rss_mb": summary.figure([peak_mb], "MB"),
                "seconds": summary.figure([result["seconds"]], "s"),
                "rows_per_s": summary.figure([summary.rate(result["rows_in"], result["seconds"])], "rows/s"),
                "mb_per_s": summary.figure([summary.rate(generated.bytes / MB, result["seconds"])], "MB/s"),
                "rss_before_ingest_mb": peak.as_mb(result["rss_before_kib"]),
                "raw": result,
            }
    finally:
        if saved is None:
            os.environ.pop("INGEST_PIPELINES_DIR", None)
        else:
            os.environ["INGEST_PIPELINES_DIR"] = saved
