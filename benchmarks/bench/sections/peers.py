"""Sections dlt, pandas and limit: the peers on the same files as ours.

dlt: its filesystem source reading the same moto bucket into its DuckDB destination, with its
parquet loader file format (its best); full mode also runs its default (jsonl) on the small set.
In a venv of its own (.local/bench-peers-venv). pandas: per file, get_object, ``read_json``,
``json_normalize``, ``to_gbq`` into the emulator, as a notebook would; on a labelled subset of the
files where all of them would take too long. limit: DuckDB ``read_json`` of the local copies into
a table of the same flat columns, its schema declared and detected.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bench import summary
from benchmarks.bench.config import PEERS_DIR
from benchmarks.bench.files import notebook_columns
from benchmarks.bench.harness import Bench
from benchmarks.bench.processes import peak_rss_figure, run_child
from benchmarks.bench.summary import MB


def dlt(bench: Bench) -> None:
    assert bench.stack is not None and bench.peers is not None
    configurations = [("dlt_parquet", "parquet", ("big", "small"))]
    if bench.sizes.dlt_default_on_small:
        configurations.append(("dlt_default", "default", ("small",)))
    peers = bench.sections.setdefault("peers", {})
    for key, file_format, set_names in configurations:
        for name in set_names:
            file_set = bench.sets[name]

            measured = run_child(
                [
                    str(bench.peers),
                    str(PEERS_DIR / "dlt_run.py"),
                    "--bucket-url",
                    f"s3://{bench.settings.lake_bucket}/{file_set.prefix.rstrip('/')}",
                    "--endpoint",
                    bench.stack.aws_endpoint,
                    "--work-dir",
                    str(bench.work / "dlt" / f"{key}-{name}"),
                    "--loader-file-format",
                    file_format,
                    "--runs",
                    str(bench.runs),
                ],
                bench.logs / f"{key}-{name}.log",
                bench.sizes.child_timeout_seconds,
                on_result=bench.progress(f"{key} {name}", "rows"),
            )
            for result in measured:
                label = f"{key} {name} run {result['run']}"
                if problem := summary.rows_accounting_problem(label, file_set.rows, result["rows"]):
                    bench.problems.append(problem)
            figures = bench.throughput(file_set, measured, loaded_key="rows")
            figures["peak_rss_mb"] = peak_rss_figure(measured)
            figures["loader_file_format"] = file_format if file_format != "default" else "default (jsonl)"
            figures["raw"] = measured
            peers.setdefault(key, {})[name] = figures


def pandas_gbq(bench: Bench) -> None:
    columns = notebook_columns()
    peers = bench.sections.setdefault("peers", {})
    subsets = {"big": bench.sizes.pandas_big_files, "small": bench.sizes.pandas_small_files}
    for name, file_set in bench.sets.items():
        keys = file_set.keys[: subsets[name]]
        paths = sorted(file_set.local_dir.iterdir())[: len(keys)]
        given = {
            "files_given": len(keys),
            "rows_given": len(keys) * file_set.rows_per_file,
            "megabytes_given": sum(path.stat().st_size for path in paths) / MB,
        }
        spec = {
            "bucket": bench.settings.lake_bucket,
            "keys": keys,
            "project": bench.settings.bq_project,
            "location": bench.settings.bq_location,
            "dataset": "bench_pandas",
            "tables": [f"paypal_{name}_r{run}" for run in range(1, bench.runs + 1)],
            "columns": columns,
        }

        measured = bench.child(
            "pandas", f"pandas-{name}", spec, on_result=bench.progress(f"pandas-gbq {name}", "rows")
        )
        for result in measured:
            result |= given
            label = f"pandas-gbq {name} run {result['run']}"
            written, loaded = given["rows_given"], result["rows_in_table"]
            if problem := summary.rows_accounting_problem(label, written, loaded):
                bench.problems.append(problem)
        figures = bench.throughput(file_set, measured, loaded_key="rows_in_table")
        figures["peak_rss_mb"] = peak_rss_figure(measured)
        if len(keys) < file_set.files:
            figures["measured_on"] = f"measured on the first {len(keys):,} of {file_set.files:,} files"
        figures["raw"] = measured
        peers.setdefault("pandas_gbq", {})[name] = figures


def limit(bench: Bench) -> None:
    assert bench.peers is not None
    section = bench.sections.setdefault("limit", {})
    for schema in ("declared", "detected"):
        for name, file_set in bench.sets.items():
            measured: list[dict[str, Any]] = []
            for run in range(1, bench.runs + 1):
                (result,) = run_child(
                    [
                        str(bench.peers),
                        str(PEERS_DIR / "duckdb_limit.py"),
                        "--files",
                        str(file_set.local_dir / "*.json"),
                        "--schema",
                        schema,
                    ],
                    bench.logs / f"duckdb-{schema}-{name}-r{run}.log",
                    bench.sizes.child_timeout_seconds,
                )
                result["run"] = run
                measured.append(result)
                label = f"DuckDB ({schema}) {name} run {run}"
                if problem := summary.rows_accounting_problem(label, file_set.rows, result["rows"]):
                    bench.problems.append(problem)
            figures = bench.throughput(file_set, measured, loaded_key="rows")
            figures["peak_rss_mb"] = peak_rss_figure(measured)
            figures["raw"] = measured
            section.setdefault(f"duckdb_{schema}", {})[name] = figures
            bench.log(f"DuckDB {schema} {name}: {figures['seconds']['median']:,.2f} s")
    for name in bench.sets:
        schemas = {schema: section[f"duckdb_{schema}"][name] for schema in ("declared", "detected")}
        section.setdefault("duckdb_best", {})[name] = summary.fastest(schemas)
