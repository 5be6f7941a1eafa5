"""The harness's tables: one per section, then ours against the peers, then the targets."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from rich.table import Table

from benchmarks.bench import summary
from benchmarks.bench.harness import Bench


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def med(node: dict[str, Any] | None, key: str) -> float | None:
    if not node or key not in node:
        return None
    value = node[key]
    return value.get("median") if isinstance(value, dict) else value


def new_table(title: str, columns: list[str], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, caption_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def share(node: dict[str, Any] | None, key: str) -> str:
    """A median fraction of the cores as a percentage; '-' when the results predate it."""
    value = med(node, key)
    return "-" if value is None else f"{value:.0%}"


def print_cpu(bench: Bench, e2e: dict[str, Any], median_of: str) -> None:
    """Who used the machine's cores during our runs, and our CPU per unit of work.

    The emulators share the cores with us and bound the wall clock, so our CPU per 1,000 files
    and per 1M rows is the figure a change on our side moves even when the wall time does not.
    """
    processes = summary.CPU_PROCESSES
    labels = ("ours", "moto", "BigQuery", "all three")
    cores = {node.get("cores") for name in ("big", "small") if (node := e2e.get(name))} - {None}
    table = new_table(
        f"End to end, CPU per run on {', '.join(map(str, cores)) or '?'} cores, {median_of}",
        ["set", "wall s"]
        + [f"CPU s {who}" for who in labels]
        + ["ours CPU s / 1,000 files", "ours CPU s / 1M rows"]
        + [f"% of cores {who}" for who in labels],
        caption="CPU: user + system time of each process during the run (/proc/PID/stat), the median of the"
        " runs ('all three': the sum of the three medians). Ours per 1,000 files is the small set's figure,"
        " per 1M rows the big set's. % of cores: CPU s / (wall s x cores) of each run, the median; near"
        " 100% for all three, no arrangement of the same work can be faster.",
    )
    for name in ("big", "small"):
        if not (node := e2e.get(name)) or "cpu_seconds" not in node:
            continue
        cpu = node["cpu_seconds"]
        total = sum(value for who in processes if (value := med(cpu, who)) is not None)
        table.add_row(
            name,
            number(med(node, "seconds"), 1),
            *[number(med(cpu, who), 1) for who in processes],
            number(total, 1),
            number(med(node, "ours_cpu_per_1k_files_s"), 2),
            number(med(node, "ours_cpu_per_million_rows_s"), 1),
            *[share(node.get("core_share"), who) for who in (*processes, "all")],
        )
    bench.console.print(table)


def print_report(bench: Bench) -> None:
    console, sections, runs = bench.console, bench.sections, bench.runs
    median_of = f"median of {runs} run{'s' if runs != 1 else ''}"
    if e2e := sections.get("end_to_end"):
        stages = ("read", "validate", "load", "ledger")
        table = new_table(
            f"End to end, ours (run_batch, fresh ledger and table per run), {median_of}",
            ["set", "files", "rows", "MB", "seconds", "files/s", "rows/s", "MB/s", "load jobs"]
            + [f"{stage} s" for stage in stages]
            + ["peak RSS MB"],
            caption="read/validate/load/ledger s: BatchRun.stage_seconds, summed over the staging threads"
            " (so they may add up to more than the wall time); '-' where the run does not report them."
            " Peak RSS: VmHWM of the child, reset before each run.",
        )
        for name in ("big", "small"):
            if not (node := e2e.get(name)):
                continue
            table.add_row(
                name,
                number(node["files"]),
                number(node["rows"]),
                number(node["megabytes"], 1),
                number(med(node, "seconds"), 2),
                number(med(node, "files_per_s"), 1),
                number(med(node, "rows_per_s")),
                number(med(node, "mb_per_s"), 2),
                number(med(node, "load_jobs")),
                *[number(med(node["stage_seconds"], stage), 2) for stage in stages],
                number(med(node, "peak_rss_mb")),
            )
        console.print(table)
        print_cpu(bench, e2e, median_of)

    if peers := sections.get("peers"):
        table = new_table(
            f"Peers on the same files, {median_of}",
            ["peer", "set", "measured on", "seconds", "files/s", "rows/s", "MB/s", "peak RSS MB"],
            caption="The issue measured here at full sizes: dlt 1.31, parquet, 217 s on the big set and 35 s"
            " on the 2,000 small files; DuckDB read_json of the big set 7.5 s.",
        )
        names = {
            "dlt_parquet": "dlt, parquet loader (its best)",
            "dlt_default": "dlt, default loader (jsonl)",
            "pandas_gbq": "pandas read_json + pandas-gbq to_gbq",
        }
        for key, label in names.items():
            for name, node in peers.get(key, {}).items():
                table.add_row(
                    label,
                    name,
                    node.get("measured_on", f"all {node['files']:,} files"),
                    number(med(node, "seconds"), 2),
                    number(med(node, "files_per_s"), 1),
                    number(med(node, "rows_per_s")),
                    number(med(node, "mb_per_s"), 2),
                    number(med(node, "peak_rss_mb")),
                )
        console.print(table)

    if limit := sections.get("limit"):
        table = new_table(
            "The limit: DuckDB read_json from local disk into a table (no validation, ledger or network),"
            f" {median_of}",
            ["DuckDB schema", "set", "seconds", "rows/s", "MB/s", "peak RSS MB", "ours as share"],
        )
        for schema in ("declared", "detected"):
            for name, node in limit.get(f"duckdb_{schema}", {}).items():
                ours = med(sections.get("end_to_end", {}).get(name), "rows_per_s")
                share = summary.ratio(ours, med(node, "rows_per_s"))
                label = f"{schema} (DuckDB's default)" if schema == "detected" else schema
                if limit.get("duckdb_best", {}).get(name, {}).get("schema") == schema:
                    label += ": the limit"
                table.add_row(
                    label,
                    name,
                    number(med(node, "seconds"), 2),
                    number(med(node, "rows_per_s")),
                    number(med(node, "mb_per_s"), 1),
                    number(med(node, "peak_rss_mb")),
                    summary.format_ratio(share, as_share=True),
                )
        console.print(table)

    if memory := sections.get("memory"):
        table = new_table(
            "Memory: peak RSS of one ingest_file (child process), one run per format; MB = 10^6 B",
            ["format", "file MB", "rows", "seconds", "rows/s", "MB/s", "RSS before MB", "peak RSS MB"],
        )
        for fmt, node in memory.items():
            table.add_row(
                fmt,
                number(node["file_mb"], 1),
                number(node["rows"]),
                number(med(node, "seconds"), 1),
                number(med(node, "rows_per_s")),
                number(med(node, "mb_per_s"), 2),
                number(node["rss_before_ingest_mb"]),
                number(med(node, "peak_rss_mb")),
            )
        console.print(table)

    if shape := sections.get("lambda"):
        starts = len(shape["raw"])
        cold_starts = median_of if starts == runs else f"{starts} cold start{'s' if starts != 1 else ''}"
        table = new_table(
            f"Lambda shape: fresh process, {shape['rows_per_file']}-row PayPal files, direct S3 events,"
            f" {shape['warm_files_per_run']} warm files per run, {cold_starts}",
            ["step", "median", "each run"],
        )
        lines = (
            ("import ingest.apps.lambda_handler", "import_seconds"),
            ("Services.from_env", "services_seconds"),
            ("GX import + suite build", "suite_build_seconds"),
            ("cold start: import to ready", "import_to_ready_seconds"),
            ("first file (cold invocation)", "first_file_seconds"),
            ("first file: import to loaded", "cold_total_seconds"),
            ("warm per file, median", "warm_median_seconds"),
            ("warm per file, p90", "warm_p90_seconds"),
            ("warm per file: our CPU, ms", "warm_cpu_ms"),
            (f"batch of {shape.get('batch_files', '?')} files (SQS), seconds", "batch_seconds"),
            ("batch: our CPU per file, ms (second batch of the process)", "batch_cpu_per_file_ms"),
            ("first batch of the process: our CPU per file, ms", "first_batch_cpu_per_file_ms"),
        )
        for label, key in lines:
            each_run = ", ".join(f"{value:.3f}" for value in shape[key]["runs"])
            table.add_row(label, number(med(shape, key), 3), each_run)
        table.add_row("peak RSS MB", number(med(shape, "peak_rss_mb")), "")
        console.print(table)

    if validation := sections.get("validation"):
        table = new_table(
            f"Validation: PayPal suite on {validation['rows']:,} typed rows"
            f" ({validation['planted_defects']:,} planted defects), {median_of}",
            ["engine", "seconds", "rows/s", "each run", "suite build, s"],
        )
        engines = (("Arrow (ingestion's default)", ""), ("GX (INGEST_VALIDATION_ENGINE=gx)", "gx_"))
        for label, prefix in engines:
            if f"{prefix}seconds" not in validation:
                continue
            table.add_row(
                label,
                number(med(validation, f"{prefix}seconds"), 2),
                number(med(validation, f"{prefix}rows_per_s")),
                ", ".join(f"{v:.2f}" for v in validation[f"{prefix}seconds"]["runs"]),
                number(validation[f"{prefix}suite_build_seconds"], 3),
            )
        console.print(table)

    if load := sections.get("loadtest"):
        print_loadtest(bench, load)

    ratios = new_table(
        "Summary: ours against the peers on the same files (throughput; above 1x ours is faster)",
        ["ours against", "set", "per second", "ours", "peer", "ours / peer", "note"],
    )
    for line in summary.summary_ratios(sections):
        share = line["peer"] == summary.DUCKDB_LIMIT
        ratios.add_row(
            f"{line['peer']}{' (ours as a share of it)' if share else ''}",
            line["set"],
            line["metric"].removesuffix("_per_s"),
            number(line["ours"], 1),
            number(line["peer_value"], 1),
            summary.format_ratio(line["ratio"], as_share=share),
            line["note"] or "",
        )
    console.print(ratios)

    sizes_note = ", quick sizes: smaller than the issue's" if bench.args.quick else ""
    targets = new_table(
        f"Targets ({bench.args.mode} mode{sizes_note})",
        ["target", "bound", "measured", "verdict"],
    )
    for judged in summary.judge(sections):
        colour = {"PASS": "green", "FAIL": "red"}.get(judged["verdict"], "yellow")
        target = summary.Target(**{field.name: judged[field.name] for field in fields(summary.Target)})
        measured = target.show(judged["value"])
        if judged["against"]:  # which of the peer's configurations was its best here
            measured += f" (vs {judged['against'].split('.')[1]})"
        targets.add_row(judged["label"], target.describe(), measured, f"[{colour}]{judged['verdict']}[/]")
    console.print(targets)


def print_loadtest(bench: Bench, load: dict[str, Any]) -> None:
    """The load test and the backfill side by side: one run each, with the CPU of each process."""
    table = new_table(
        "Load test (4 runner processes through the Lambda handler), one run each",
        [
            "mode",
            "files",
            "deliveries",
            "wall s",
            "files/s",
            "lost",
            "duplicated",
            "checks",
            "load jobs",
            "CPU s: runners / moto / BigQuery emulator",
            "share of the machine",
        ],
    )
    for mode, node in load.items():
        cpu, share = node["cpu_seconds"], node["cpu_share_of_machine"]
        names = ("runners", "moto_emulator", "bigquery_emulator")
        table.add_row(
            mode,
            number(node["files"]),
            number(node["deliveries"]),
            number(node["wall_seconds"], 1),
            number(med(node, "files_per_s"), 1),
            number(node["lost"]),
            number(node["duplicated"]),
            "PASS" if node["checks_passed"] else "[red]FAIL[/]",
            number(node["load_jobs"]),
            " / ".join(number(cpu.get(name), 1) for name in names),
            " / ".join(f"{share[name]:.0%}" if name in share else "-" for name in names),
        )
    bench.console.print(table)
