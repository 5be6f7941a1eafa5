"""A Great Expectations suite loaded from its JSON file, and run on DataFrames of typed rows."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingest.core.config import Pipeline
from ingest.core.validate.gx_import import import_great_expectations
from ingest.core.validate.per_file import add_file_columns, per_file_variant
from ingest.core.validate.results import SAMPLE_ROWS, BatchOutcome, Check

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

SEVERITIES = ("critical", "warning", "info")


class SuiteError(ValueError):
    """A suite file is missing or invalid."""


class Suite:
    """A GX suite loaded from JSON, with a reusable ephemeral context to run it on DataFrames."""

    def __init__(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SuiteError(f"suite file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise SuiteError(f"{path}: not valid JSON: {err}") from None
        self.path = path
        self.name: str = document.get("name") or path.stem
        self.expectations: list[dict[str, Any]] = document.get("expectations") or []
        ids = [e.get("meta", {}).get("id") for e in self.expectations]
        if not self.expectations or None in ids or len(set(ids)) != len(ids):
            raise SuiteError(f"{path}: every expectation needs a unique meta.id")
        for expectation in self.expectations:
            # GX's own default: an expectation without a severity is critical.
            expectation.setdefault("severity", "critical")
            if expectation["severity"] not in SEVERITIES:
                raise SuiteError(f"{path}: {expectation['meta']['id']}: severity must be one of {SEVERITIES}")
        self._severity = {e["meta"]["id"]: e["severity"] for e in self.expectations}
        # One GX context per suite, and GX keeps per-batch state in its execution engine: two
        # threads validating at once mix their frames ("Unalignable boolean Series").
        self._lock = threading.Lock()
        self._gx_suite, self._batch_definition = self._build()
        self._per_file = per_file_variant(self.expectations)
        self._gx_per_file_suite = self._gx_suite_of(self._per_file) if self._per_file else None

    def columns(self) -> set[str]:
        """Columns the suite reads (a frame needs at least these)."""
        names: set[str] = set()
        for expectation in self.expectations:
            kwargs = expectation.get("kwargs", {})
            for key in ("column", "column_A", "column_B"):
                if key in kwargs:
                    names.add(kwargs[key])
            names.update(kwargs.get("column_list", ()))
        return names

    def _build(self) -> tuple[ExpectationSuite, BatchDefinition[None]]:
        gx = import_great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX logs a line per context at INFO ("temporary directory for ephemeral docs site"),
        # from a logger whose own level GX sets, so the parent's level alone does not quiet it.
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        # The bars write to stderr for every batch: noise in Lambda logs and CLI output.
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        suite = self._gx_suite_of(self.expectations)
        source = context.data_sources.add_pandas(f"{self.name}_rows")
        batch_definition = source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("batch")
        return suite, batch_definition

    def _gx_suite_of(self, expectations: list[dict[str, Any]]) -> ExpectationSuite:
        from great_expectations.core.expectation_suite import ExpectationSuite
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        try:
            domain = [ExpectationConfiguration(**e).to_domain_obj() for e in expectations]
        except Exception as err:  # GX raises its own errors for unknown types and bad kwargs
            raise SuiteError(f"{self.path}: {err}") from err
        return ExpectationSuite(name=self.name, expectations=domain)

    @property
    def validates_files_together(self) -> bool:
        """Whether ``run_files`` validates many files in one GX run (else one run per file)."""
        return self._per_file is not None

    def run(self, frame: pd.DataFrame, row_numbers: Sequence[int]) -> BatchOutcome:
        """Validate one DataFrame (index 0..n-1); ``row_numbers`` are the rows' numbers in the file."""
        result = self._gx_run(frame, self._gx_suite)
        checks: list[Check] = []
        bad_positions: dict[int, list[str]] = {}
        for outcome in result.results:
            config = _config(outcome)
            meta = config.meta or {}
            details = outcome.result or {}
            indexes = details.get("unexpected_index_list")
            error = _exception_message(outcome.exception_info or {})
            row_level = indexes is not None or "unexpected_count" in details
            check = Check(
                id=meta["id"],
                type=config.type,
                column=config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", ())) or None,
                severity=self._severity[meta["id"]],
                success=bool(outcome.success),
                row_level=row_level,
                element_count=int(details.get("element_count") or len(frame)),
                unexpected_count=int(details.get("unexpected_count") or 0),
                sample_rows=tuple(row_numbers[i] for i in (indexes or [])[:SAMPLE_ROWS]),
                error=error,
            )
            checks.append(check)
            if not check.success and check.severity == "critical" and indexes:
                for position in indexes:
                    bad_positions.setdefault(int(position), []).append(check.id)
        return BatchOutcome(checks, bad_positions)

    def _gx_run(self, frame: pd.DataFrame, gx_suite: ExpectationSuite) -> ExpectationSuiteValidationResult:
        with self._lock:
            batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
            return batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})

    def run_files(
        self, frames: Sequence[pd.DataFrame], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        """Validate several files' rows, each file judged as if validated alone; one outcome each.

        One GX run for all of them when the suite allows it, else one run per file. An
        expectation that raises in the shared run sends every file back to its own run, so an
        error is charged to the file that causes it.
        """
        if self._per_file is None or len(frames) < 2:
            return [self.run(frame, numbers) for frame, numbers in zip(frames, row_numbers, strict=True)]
        import pandas as pd

        combined = pd.concat(frames, ignore_index=True)
        return self.run_concatenated(combined, [len(frame) for frame in frames], row_numbers)

    def _run_each(
        self, frame: pd.DataFrame, sizes: Sequence[int], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        starts = [0, *itertools.accumulate(sizes)]
        return [
            self.run(frame.iloc[start:end].reset_index(drop=True), numbers)
            for start, end, numbers in zip(starts[:-1], starts[1:], row_numbers, strict=True)
        ]

    def run_concatenated(
        self, frame: pd.DataFrame, sizes: Sequence[int], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        """``run_files`` on the files' rows already in one frame (index 0..n-1), ``sizes`` each."""
        if self._per_file is None or self._gx_per_file_suite is None or len(sizes) < 2:
            return self._run_each(frame, sizes, row_numbers)
        starts = add_file_columns(frame, sizes, self._per_file)
        result = self._gx_run(frame, self._gx_per_file_suite)
        if any(_exception_message(outcome.exception_info or {}) for outcome in result.results):
            return self._run_each(frame, sizes, row_numbers)
        checks: list[list[Check]] = [[] for _ in sizes]
        bad_positions: list[dict[int, list[str]]] = [{} for _ in sizes]
        originals = {e["meta"]["id"]: e for e in self.expectations}
        for outcome in result.results:
            meta_id = (_config(outcome).meta or {})["id"]
            original = originals[meta_id]
            details = outcome.result or {}
            per_file: list[list[int]] = [[] for _ in sizes]
            for position in details.get("unexpected_index_list") or []:
                file = bisect.bisect_right(starts, int(position)) - 1
                per_file[file].append(int(position) - starts[file])
            row_level = original["type"] != "expect_table_row_count_to_be_between"
            kwargs = original.get("kwargs", {})
            for file, positions in enumerate(per_file):
                positions.sort()
                check = Check(
                    id=meta_id,
                    type=original["type"],
                    column=kwargs.get("column") or ",".join(kwargs.get("column_list", ())) or None,
                    severity=self._severity[meta_id],
                    success=not positions,
                    row_level=row_level,
                    element_count=sizes[file],
                    unexpected_count=len(positions) if row_level else 0,
                    sample_rows=tuple(row_numbers[file][i] for i in positions[:SAMPLE_ROWS])
                    if row_level
                    else (),
                )
                checks[file].append(check)
                if row_level and positions and check.severity == "critical":
                    for position in positions:
                        bad_positions[file].setdefault(position, []).append(meta_id)
        return [BatchOutcome(c, b) for c, b in zip(checks, bad_positions, strict=True)]


def _config(outcome: ExpectationValidationResult) -> ExpectationConfiguration:
    """The expectation a result is about (GX sets it on every result of a suite run)."""
    if outcome.expectation_config is None:
        raise SuiteError("GX returned a result without its expectation")
    return outcome.expectation_config


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX's exception, whether reported flat or per metric (``{metric id: {...}}``)."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "raised an exception")
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return None


@cache
def load_suite(path: Path) -> Suite:
    """The suite at ``path``, built once per process (GX contexts are slow to build)."""
    return Suite(path)


def suite_for(pipeline: Pipeline, expectations_dir: Path) -> Suite | None:
    if not pipeline.suite:
        return None
    return load_suite(expectations_dir / f"{pipeline.suite}.json")


def validation_frame(table: pa.Table | pa.RecordBatch, columns: set[str]) -> pd.DataFrame:
    """The suite's columns as a DataFrame GX can check: NUMERIC as float64 for comparisons.

    Float64 is exact enough for bounds and signs of money amounts (15 significant digits).
    Timestamps lose their (always UTC) zone: pandas 3 warns on every zoned comparison GX makes.
    """
    arrays = {}
    # _source_row keeps the row count even for a suite of table-level checks only.
    for name in sorted((columns | {"_source_row"}) & set(table.schema.names)):
        array = table.column(name)
        if pa.types.is_decimal(array.type):
            array = array.cast(pa.float64())
        elif pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = array.cast(pa.timestamp(array.type.unit))
        arrays[name] = array
    frame: pd.DataFrame = pa.table(arrays).to_pandas()
    return frame


def row_reason(check_ids: Sequence[str], suite: Suite) -> str:
    by_id = {e["meta"]["id"]: e for e in suite.expectations}
    parts = []
    for check_id in check_ids:
        expectation = by_id[check_id]
        kwargs = expectation.get("kwargs", {})
        column = kwargs.get("column") or ",".join(kwargs.get("column_list", ()))
        parts.append(f"{check_id} ({expectation['type']} on {column})")
    return "validation: " + "; ".join(parts)
