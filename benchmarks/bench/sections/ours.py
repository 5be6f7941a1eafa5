"""Section e2e: ours, ``run_batch`` over each set, a fresh ledger table and target dataset per run.

All runs happen in one child process (``benchmarks.bench.child ours``), the GX suite built before
timing as in a warm Lambda: files/s, rows/s, MB/s, load jobs, the per-stage split, the CPU of
ours and of each emulator (with our CPU per 1,000 files and per 1M rows, and each process's share
of the cores), and the peak RSS of each run.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks.bench import summary
from benchmarks.bench.config import PIPELINE
from benchmarks.bench.harness import Bench
from benchmarks.bench.processes import peak_rss_figure


def end_to_end(bench: Bench) -> None:
    runs = []
    for name in ("big", "small"):
        for run in range(1, bench.runs + 1):
            dataset = f"bench_{name}_r{run}"
            runs.append(
                {
                    "set": name,
                    "run": run,
                    "bucket": bench.settings.lake_bucket,
                    "prefix": bench.sets[name].prefix,
                    "pipeline": PIPELINE,
                    "ledger_table": bench.fresh_ledger(f"bench-ledger-{name}-r{run}"),
                    "pipelines_dir": str(bench.fresh_pipelines_dir(dataset)),
                }
            )

    def heard(result: dict[str, Any]) -> None:
        bench.log(
            f"ours {result['set']} run {result['run']}: {result['seconds']:,.1f} s,"
            f" {result['rows_loaded']:,} rows, {result['load_jobs']} load jobs, {result['statuses']}"
        )

    assert bench.stack is not None
    emulators = {"moto": bench.stack.moto_pid, "bigquery": bench.stack.bigquery_pid}
    results = bench.child("ours", "ours", {"runs": runs, "emulators": emulators}, on_result=heard)
    section: dict[str, Any] = {}
    for name, file_set in bench.sets.items():
        measured = [r for r in results if r["set"] == name]
        for r in measured:
            label = f"ours {name} run {r['run']}"
            if problem := summary.rows_accounting_problem(label, file_set.rows, r["rows_loaded"]):
                bench.problems.append(f"{problem}; {r['statuses']}; {r['failures']}")
            elif r["statuses"] != {"LOADED": file_set.files}:
                bench.problems.append(f"{label}: statuses {r['statuses']} for {file_set.files} files")
        section[name] = bench.throughput(file_set, measured, loaded_key="rows_loaded")
        section[name]["load_jobs"] = summary.per_run(measured, lambda r: r["load_jobs"], "jobs")
        section[name]["peak_rss_mb"] = peak_rss_figure(measured)
        stages = sorted({stage for r in measured for stage in r["stage_seconds"]})
        section[name]["stage_seconds"] = {
            stage: summary.figure([r["stage_seconds"].get(stage, 0.0) for r in measured], "s")
            for stage in stages
        }
        section[name]["cpu_seconds"] = {
            who: summary.figure([r["cpu_seconds"][who] for r in measured], "s")
            for who in summary.CPU_PROCESSES
        }
        # The cores as the results' machine section counts them (os.cpu_count() there too).
        section[name] |= summary.cpu_figures(measured, os.cpu_count() or 1)
        section[name]["raw"] = measured
    section["suite_build_seconds"] = results[0]["suite_build_seconds"]
    bench.sections["end_to_end"] = section
