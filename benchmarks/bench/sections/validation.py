"""Section validation: the PayPal suite on 1M typed rows with planted defects (target under 5 s).

The rows are the GX benchmark's (``benchmarks.bench.gx_suite.paypal_columns``); every run must
find exactly the planted defects. Both engines run in the same process on the same table: Arrow
(what ingestion uses) is the target's figure, GX is shown beside it.
"""

from __future__ import annotations

import time

from benchmarks.bench import summary
from benchmarks.bench.config import PIPELINE
from benchmarks.bench.gx_suite import paypal_columns
from benchmarks.bench.harness import Bench


def validation(bench: Bench) -> None:
    from ingest.core.settings import EXPECTATIONS_DIR
    from ingest.core.validate.suite import Suite

    rows = bench.sizes.validation_rows
    table, defects = paypal_columns(rows)
    expected = set(defects.tolist())
    numbers = table.column("_source_row").to_pylist()
    figures: dict[str, object] = {"rows": rows, "planted_defects": len(expected)}
    for engine in ("arrow", "gx"):
        start = time.perf_counter()
        suite = Suite(EXPECTATIONS_DIR / f"{PIPELINE}.json", engine)
        build_seconds = time.perf_counter() - start
        seconds = []
        for run in range(1, bench.runs + 1):
            start = time.perf_counter()
            found = set(suite.run(table, numbers).bad_positions)
            seconds.append(time.perf_counter() - start)
            if found != expected:
                bench.problems.append(
                    f"validation on {engine}, run {run}: found {len(found)} failing rows, "
                    f"planted {len(expected)}"
                )
        prefix = "" if engine == "arrow" else "gx_"
        figures |= {
            f"{prefix}seconds": summary.figure(seconds, "s"),
            f"{prefix}rows_per_s": summary.figure([summary.rate(rows, s) for s in seconds], "rows/s"),
            f"{prefix}suite_build_seconds": build_seconds,
        }
    bench.sections["validation"] = figures
