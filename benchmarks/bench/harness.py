"""One benchmark run's state: the stack, the file sets, the sections' figures and the problems.

The sections (``benchmarks.bench.sections``) take a ``Bench`` and add their figures to it; what
they share is here: a fresh ledger table and target dataset per run, the child processes, the
throughput of a set of runs, and running a section so that its crash does not stop the others.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from benchmarks.bench import summary
from benchmarks.bench.config import PIPELINE, Sizes
from benchmarks.bench.files import FileSet, build_set
from benchmarks.bench.processes import run_child
from ingest.core.settings import PACKAGE_DIR, Settings
from ingest_devstack import local

SMALL_SET_FIRST_SERIAL = 100_000_000  # the small set's records are numbered after the big set's


@dataclass
class Bench:
    args: argparse.Namespace
    sizes: Sizes
    console: Console
    work: Path
    settings: Settings = field(default_factory=Settings)
    stack: local.Stack | None = None
    sets: dict[str, FileSet] = field(default_factory=dict)
    peers: Path | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        runs: int = self.args.runs
        return runs

    @property
    def logs(self) -> Path:
        path = self.work / "logs"
        path.mkdir(exist_ok=True)
        return path

    def wants(self, section: str) -> bool:
        return section in self.args.only

    def log(self, message: str) -> None:
        self.console.log(message, markup=False)

    # --- resources of one run ---

    def fresh_ledger(self, name: str) -> str:
        from ingest.adapters.clients import aws_client
        from ingest.adapters.dynamodb.table import table_definition

        dynamodb = aws_client("dynamodb")
        dynamodb.create_table(**table_definition(name))
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        return name

    def fresh_pipelines_dir(self, dataset: str) -> Path:
        """A copy of the PayPal pipeline whose table is in ``dataset`` (suite, transform, merge kept)."""
        directory = self.work / "pipelines" / dataset
        directory.mkdir(parents=True)
        raw = yaml.safe_load((PACKAGE_DIR / "pipelines" / f"{PIPELINE}.yaml").read_text(encoding="utf-8"))
        raw["table"] = f"{dataset}.{raw['table'].split('.', 1)[1]}"
        (directory / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return directory

    def spec_file(self, name: str, spec: dict[str, Any]) -> Path:
        path = self.work / "specs" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(spec), encoding="utf-8")
        return path

    def child(self, command: str, name: str, spec: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
        """Run ``benchmarks.bench.child`` ``command`` in our venv on ``spec``; its result lines."""
        return run_child(
            [sys.executable, "-m", "benchmarks.bench.child", command, str(self.spec_file(name, spec))],
            self.logs / f"{name}.log",
            self.sizes.child_timeout_seconds,
            env={"POWERTOOLS_METRICS_DISABLED": "true", **kwargs.pop("env", {})},
            **kwargs,
        )

    def progress(self, label: str, rows_key: str) -> Callable[[dict[str, Any]], None]:
        """A callback logging each run's result line as the child prints it."""

        def heard(result: dict[str, Any]) -> None:
            self.log(f"{label} run {result['run']}: {result['seconds']:,.1f} s, {result[rows_key]:,} rows")

        return heard

    def section(self, name: str, action: Callable[[Bench], None]) -> None:
        """Run one section; a crash is a problem of the run, and the other sections still run."""
        if not self.wants(name):
            return
        start = time.perf_counter()
        self.log(f"section {name}: start")
        try:
            action(self)
        except Exception as err:
            self.problems.append(f"{name}: {type(err).__name__}: {err}")
            self.console.print(f"[red]section {name} failed[/]")
            self.console.print(traceback.format_exc(), markup=False, highlight=False)
        self.log(f"section {name}: {time.perf_counter() - start:,.1f} s")

    # --- setup ---

    def start_stack(self) -> None:
        state_dir = self.work / "stack"
        self.log(f"starting the local stack in {state_dir}")
        self.stack = local.up(self.settings, state_dir=state_dir)
        local.apply_environment(self.stack)

    def build_sets(self) -> None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
        data = self.work / "data"
        for name, files, rows, first in (
            ("big", self.sizes.big_files, self.sizes.big_rows_per_file, 0),
            ("small", self.sizes.small_files, self.sizes.small_rows_per_file, SMALL_SET_FIRST_SERIAL),
        ):
            start = time.perf_counter()
            file_set = build_set(name, files, rows, first, s3, self.settings.lake_bucket, data)
            self.sets[name] = file_set
            self.log(
                f"{name} set: {file_set.files:,} files, {file_set.rows:,} rows, {file_set.megabytes:,.1f} MB"
                f" written and uploaded in {time.perf_counter() - start:,.1f} s"
            )

    # --- figures ---

    def throughput(
        self, file_set: FileSet, measured: list[dict[str, Any]], loaded_key: str
    ) -> dict[str, Any]:
        """Seconds, files/s, rows/s and MB/s of each run over the files it was given, and medians."""
        files = measured[0].get("files_given", file_set.files)
        rows = measured[0].get("rows_given", file_set.rows)
        megabytes = measured[0].get("megabytes_given", file_set.megabytes)
        return {
            "files": files,
            "rows": rows,
            "megabytes": megabytes,
            "seconds": summary.per_run(measured, lambda r: r["seconds"], "s"),
            "files_per_s": summary.per_run(measured, lambda r: summary.rate(files, r["seconds"]), "files/s"),
            "rows_per_s": summary.per_run(
                measured, lambda r: summary.rate(r[loaded_key], r["seconds"]), "rows/s"
            ),
            "mb_per_s": summary.per_run(measured, lambda r: summary.rate(megabytes, r["seconds"]), "MB/s"),
        }
