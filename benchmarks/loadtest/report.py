"""The run's result: written as JSON, printed as a table of measures and a table of checks."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    result["result_path"] = str(path)
    return path


def print_result(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    summary = Table(
        title=f"Load test {result['run_id']}, {result.get('mode', 'event')} mode", show_header=False
    )
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    latency = result["latency_seconds"]

    def spread(values: dict[str, float | None]) -> str:
        return " / ".join(
            "-" if values[k] is None else f"{values[k]:.1f}" for k in ("p50", "p90", "p99", "max")
        )

    per_file = ", ".join(f"{n}x: {count:,}" for n, count in result["deliveries_per_file"].items())
    rows = [
        ("files (good / bad)", f"{result['files']:,} ({result['files_good']:,} / {result['files_bad']:,})"),
        ("deliveries sent (per file)", f"{result['deliveries']:,} ({per_file})"),
        (
            "messages received / failed back",
            f"{result['messages_received']:,} / {result['messages_failed']:,}",
        ),
        ("duplicate deliveries skipped", f"{result['duplicates_skipped']:,}"),
        ("retried claims", f"{result['retried_claims']:,}"),
        ("wall time, first delivery to drained", f"{result['wall_seconds']:,.1f} s"),
        ("files/s", f"{result['files_per_second']:,.1f}"),
        ("rows/s (loaded)", f"{result['rows_per_second']:,.0f}"),
        ("deliveries/s", f"{result['deliveries_per_second']:,.1f}"),
        ("landed -> loaded p50/p90/p99/max", f"{spread(latency['landed_to_loaded'])} s"),
        ("claim -> loaded p50/p90/p99/max", f"{spread(latency['claim_to_loaded'])} s"),
        (
            "handler batches (messages each)",
            f"{result['handler_batches']:,} ({result['messages_per_batch']:g})",
        ),
        ("batch seconds p50/p90/p99/max", spread(result["batch_seconds"])),
        (
            "load jobs (failed) / files per job",
            f"{result['load_jobs']:,} ({result['load_jobs_failed']}) / {result['files_per_load_job']:g}",
        ),
        ("rows_in", f"{result['rows_in']:,}"),
        ("rows_loaded (BigQuery)", f"{result['rows_loaded']:,} ({result['rows_in_bigquery']:,})"),
        ("rows_quarantined", f"{result['rows_quarantined']:,}"),
        ("duplicates_loaded", f"{result['duplicates_loaded']:,}"),
        ("machine", f"{result['machine']['cores']} cores, {result['machine']['memory_gb']} GB"),
    ]
    cpu = result.get("cpu_seconds") or {}
    if cpu:
        rows.append(("CPU seconds: " + " / ".join(cpu), " / ".join(f"{v:,.0f}" for v in cpu.values())))
    for label, stage in (result.get("runner_stages") or {}).items():
        rows.append((f"{label} (s per call, calls)", f"{stage['seconds_per_call']:.3f} ({stage['calls']:,})"))
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)

    checks = Table(title="Accounting checks")
    for column in ("check", "result", "detail"):
        checks.add_column(column)
    for check in result["checks"]:
        verdict = "[green]PASS[/]" if check["passed"] else "[red]FAIL[/]"
        checks.add_row(check["check"], verdict, check["detail"])
    console.print(checks)
    if result.get("load_job_errors"):
        console.print("Failed load jobs (retried):", *result["load_job_errors"], sep="\n  ")
    if result.get("runner_log_warnings"):
        console.print("Runner log warnings:", result["runner_log_warnings"])
        console.print("First message of each:", result.get("runner_log_samples", {}))
    verdict = "[bold green]PASS[/]" if result["passed"] else "[bold red]FAIL[/]"
    console.print(f"Accounting: {verdict}. Result: {result.get('result_path', '')}")
