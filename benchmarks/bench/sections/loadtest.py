"""Section loadtest: the event-mode load test and the backfill, on the bench's own stack.

Each is ``benchmarks.loadtest`` run once (10,000 files in full mode, 1,000 in quick mode; a run
takes minutes, so it is one run whatever ``--runs`` says): event mode sends each file's S3 event
1-3 times, backfill mode enqueues the files with ``ingest backfill``'s code and runs it a second
time, which must enqueue nothing. Four runner processes drain the queue through the Lambda
handler. The figures are files/s from the first message to the queue drained, the accounting
(rows lost, rows loaded twice), and the CPU seconds of the runners and of each emulator. A failed
accounting check is a problem of the bench run, not only a missed target.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bench import summary
from benchmarks.bench.harness import Bench
from benchmarks.loadtest.config import MODES, Config


def loadtest(bench: Bench) -> None:
    from benchmarks.loadtest.run import run_loadtest

    files = bench.sizes.loadtest_files
    figures: dict[str, Any] = {}
    for mode in MODES:
        config = Config(mode=mode, files=files, out_dir=bench.work / f"loadtest-{mode}")
        result = run_loadtest(config, bench.console, bench.stack)
        figures[mode] = measures(result)
        failed = [c["check"] for c in result["checks"] if not c["passed"]]
        if failed:
            bench.problems.append(f"loadtest {mode}: {len(failed)} accounting check(s) failed: {failed}")
    bench.sections["loadtest"] = figures


def measures(result: dict[str, Any]) -> dict[str, Any]:
    """The bench's figures from one load test's result.json document."""
    lost = result["rows_in"] - result["rows_in_bigquery"] - result["rows_quarantined"]
    cpu = result["cpu_seconds"]
    cores = result["machine"]["cores"] or 1
    wall = result["wall_seconds"]
    return {
        "files": result["files"],
        "deliveries": result["deliveries"],
        "wall_seconds": wall,
        "files_per_s": summary.figure([result["files_per_second"]], "files/s"),
        "lost": max(lost, 0),
        "duplicated": result["duplicates_loaded"] + result["rows_loaded_twice"],
        "checks_passed": result["passed"],
        "load_jobs": result["load_jobs"],
        "landed_to_loaded_p50_s": result["latency_seconds"]["landed_to_loaded"]["p50"],
        "cpu_seconds": cpu,
        # Of the machine's CPU time over the run: the stack shares the cores with the runners.
        "cpu_share_of_machine": {name: round(s / (cores * wall), 3) for name, s in cpu.items()},
        "backfill": result.get("backfill"),
    }
