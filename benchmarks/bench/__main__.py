"""Run the benchmark harness: ``python -m benchmarks.bench [--quick] [--runs N] [--only SECTION,...]``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

import benchmarks.bench
from benchmarks.bench import summary
from benchmarks.bench.config import FULL, QUICK, QUICK_RUNS, REPORT_PATH, SECTIONS
from benchmarks.bench.harness import Bench
from benchmarks.bench.processes import machine_info, peer_versions, peers_python, versions
from benchmarks.bench.report import print_report
from benchmarks.bench.sections.lambda_shape import lambda_shape
from benchmarks.bench.sections.loadtest import loadtest
from benchmarks.bench.sections.memory import memory
from benchmarks.bench.sections.ours import end_to_end
from benchmarks.bench.sections.peers import dlt, limit, pandas_gbq
from benchmarks.bench.sections.validation import validation
from ingest_devstack import local


def parse_only(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    return chosen


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=(benchmarks.bench.__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 runs per figure (a few minutes)")
    parser.add_argument(
        "--runs",
        type=int,
        help=f"runs per figure, the median reported (default 3; {QUICK_RUNS} with --quick)",
    )
    parser.add_argument(
        "--only", type=parse_only, default=list(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}"
    )
    parser.add_argument("--output", type=Path, default=REPORT_PATH, help="results JSON path")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary folder (data, logs)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = QUICK_RUNS if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.mode = "quick" if args.quick else "full"
    return args


def run_sections(bench: Bench) -> None:
    """The peers' venv, the stack and the file sets as far as the chosen sections need them; then
    each section in turn. The stack goes down and the work folder goes, whatever happened."""
    console = bench.console
    needs_stack = any(
        bench.wants(s) for s in ("e2e", "dlt", "pandas", "limit", "memory", "lambda", "loadtest")
    )
    needs_sets = any(bench.wants(s) for s in ("e2e", "dlt", "pandas", "limit"))
    try:
        if bench.wants("dlt") or bench.wants("limit"):
            bench.peers = peers_python(console)
            bench.versions |= peer_versions(bench.peers)
        if needs_stack:
            bench.start_stack()
        if needs_sets:
            bench.build_sets()
        bench.section("e2e", end_to_end)
        bench.section("dlt", dlt)
        bench.section("pandas", pandas_gbq)
        bench.section("limit", limit)
        bench.section("memory", memory)
        bench.section("lambda", lambda_shape)
        bench.section("validation", validation)
        bench.section("loadtest", loadtest)
    finally:
        if bench.stack is not None:
            local.down(Path(bench.stack.state_dir))
        if bench.args.keep_work:
            console.log(f"kept {bench.work}")
        else:
            shutil.rmtree(bench.work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=220)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    bench = Bench(args, QUICK if args.quick else FULL, console, work)
    bench.versions = versions()
    run_sections(bench)

    elapsed = time.perf_counter() - started
    print_report(bench)
    sizes = asdict(bench.sizes)
    sizes |= {
        name: {"files": s.files, "rows": s.rows, "megabytes": s.megabytes, "prefix": s.prefix}
        for name, s in bench.sets.items()
    }
    document = summary.results_document(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        mode=args.mode,
        runs=args.runs,
        elapsed_seconds=elapsed,
        command=sys.argv,
        machine_info=machine_info(),
        versions=bench.versions,
        sizes=sizes,
        sections=bench.sections,
        problems=bench.problems,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.output}")
    if bench.problems:
        console.print(f"[red]{len(bench.problems)} problem(s): the figures above are not to be trusted[/]")
        for problem in bench.problems:
            console.print(f"  - {problem}", markup=False)
    machine = document["machine"]
    console.print(
        f"machine: {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['cpu_model']},"
        f" Python {machine['python']}; dlt {bench.versions.get('dlt', '-')},"
        f" duckdb {bench.versions.get('duckdb', '-')}; source {bench.versions.get('source') or '-'}"
    )
    console.print(
        f"elapsed {elapsed / 60:,.1f} min ({elapsed:,.0f} s), {args.mode} mode, {args.runs} run(s) per figure"
    )
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
