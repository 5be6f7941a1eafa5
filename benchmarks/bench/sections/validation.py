"""Section validation: the PayPal GX suite on 1M typed rows with planted defects (target under 5 s).

The rows are the GX benchmark's (``benchmarks.bench.gx_suite.paypal_columns``); every run must
find exactly the planted defects.
"""

from __future__ import annotations

import time

from benchmarks.bench import summary
from benchmarks.bench.config import PIPELINE
from benchmarks.bench.gx_suite import paypal_columns
from benchmarks.bench.harness import Bench


def validation(bench: Bench) -> None:
    from ingest.core.settings import EXPECTATIONS_DIR
    from ingest.core.validate.suite import load_suite, validation_frame

    rows = bench.sizes.validation_rows
    start = time.perf_counter()
    suite = load_suite(EXPECTATIONS_DIR / f"{PIPELINE}.json")
    build_seconds = time.perf_counter() - start
    table, defects = paypal_columns(rows)
    expected = set(defects.tolist())
    start = time.perf_counter()
    frame = validation_frame(table, suite.columns())
    frame_seconds = time.perf_counter() - start
    numbers = table.column("_source_row").to_pylist()
    seconds = []
    for run in range(1, bench.runs + 1):
        start = time.perf_counter()
        found = set(suite.run(frame, numbers).bad_positions)
        seconds.append(time.perf_counter() - start)
        if found != expected:
            bench.problems.append(
                f"validation run {run}: found {len(found)} failing rows, planted {len(expected)}"
            )
    bench.sections["validation"] = {
        "rows": rows,
        "planted_defects": len(expected),
        "seconds": summary.figure(seconds, "s"),
        "rows_per_s": summary.figure([summary.rate(rows, s) for s in seconds], "rows/s"),
        "frame_seconds": frame_seconds,
        "suite_build_seconds_in_process": build_seconds,
    }
