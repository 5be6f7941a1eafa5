"""Run a pipeline's Great Expectations suite on typed rows and split good rows from bad ones.

Suites are GX Core 1.x JSON files in ``expectations/``, one per pipeline, reviewed like code. Each
expectation's ``meta`` carries an ``id`` (named in quarantine reasons and reports); its GX
``severity`` says what a failure does:

- ``critical`` on a row-level expectation: the rows it flags are quarantined, the rest load;
- ``critical`` on a table-level expectation (row count, ...): the file fails;
- ``warning`` (or ``info``): reported (ledger, results table, ``ingest validate``), nothing held back.

GX runs on an ephemeral context built from the JSON, so Lambda needs no GX project folder.
Failing rows are found by position from ``result_format="COMPLETE"``'s index list; asking GX for
``unexpected_index_column_names`` instead made 1M rows take 33 s rather than 3 s.

A GX run costs 0.2-0.6 s however few its rows, so many small files are validated in one run
(``Suite.run_files``) on a variant of the suite that judges each file as if alone: uniqueness
is checked within each file, and a row count becomes a check of each file's count. A suite with
an expectation that cannot be judged per file that way is run file by file.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingest.core.config import Pipeline

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
SEVERITIES = ("critical", "warning", "info")
SAMPLE_ROWS = 20
"""Row numbers kept per failed expectation in results (the quarantine file has every row)."""
# Columns added to a frame of many files: which file a row is from, that file's row count, and
# per uniqueness check the file again (null where the check ignores the row).
FILE_COLUMN = "__file"
FILE_ROWS_COLUMN = "__file_rows"
# Row-level expectations that compare a row with its neighbours: not judged per file in a group.
ORDER_DEPENDENT = frozenset(
    {"expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"}
)
UNIQUE_KWARGS = frozenset({"column", "column_list", "ignore_row_if", "row_condition", "condition_parser"})


class SuiteError(ValueError):
    """A suite file is missing or invalid."""


@dataclass(frozen=True)
class Check:
    """One expectation's outcome on one batch of rows."""

    id: str
    type: str
    column: str | None
    severity: str
    success: bool
    row_level: bool
    element_count: int = 0
    unexpected_count: int = 0
    sample_rows: tuple[int, ...] = ()
    error: str | None = None
    """GX's exception when the expectation could not run (treated as a critical file failure)."""

    @property
    def fails_file(self) -> bool:
        if self.success:
            return False
        return self.error is not None or (self.severity == "critical" and not self.row_level)

    def describe(self) -> str:
        target = f" on {self.column}" if self.column else ""
        if self.error:
            return f"{self.id} could not run ({self.type}{target}): {self.error}"
        return f"{self.id} failed ({self.type}{target})"


@dataclass
class Validation:
    """A suite's outcome on a whole file, accumulated over the batches it was run on."""

    suite: str
    rows: int = 0
    bad_rows: int = 0
    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, checks: Sequence[Check], rows: int, bad_rows: int) -> None:
        self.rows += rows
        self.bad_rows += bad_rows
        for check in checks:
            seen = self.checks.get(check.id)
            if seen is None:
                self.checks[check.id] = check
                continue
            self.checks[check.id] = replace(
                seen,
                success=seen.success and check.success,
                element_count=seen.element_count + check.element_count,
                unexpected_count=seen.unexpected_count + check.unexpected_count,
                sample_rows=(seen.sample_rows + check.sample_rows)[:SAMPLE_ROWS],
                error=seen.error or check.error,
            )

    @property
    def file_failures(self) -> list[Check]:
        return [c for c in self.checks.values() if c.fails_file]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks.values() if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks.values() if not c.success and c.severity != "critical"]

    def summary(self) -> dict[str, Any]:
        """Compact form for the ledger: counts per failed expectation id."""
        return {
            "suite": self.suite,
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "failed": {c.id: c.unexpected_count for c in self.failed},
            "warnings": {c.id: c.unexpected_count for c in self.warnings},
        }


@dataclass(frozen=True)
class BatchOutcome:
    checks: list[Check]
    bad_positions: dict[int, list[str]]
    """Position of each quarantined row in the batch -> ids of the critical checks it failed."""


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
        self._per_file = _per_file_variant(self.expectations)
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

    def _build(self) -> tuple[Any, Any]:
        import great_expectations as gx

        # GX logs a line per context at INFO ("temporary directory for ephemeral docs site"),
        # from a logger whose own level GX sets, so the parent's level alone does not quiet it.
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        # The bars write to stderr for every batch: noise in Lambda logs and CLI output.
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
        suite = self._gx_suite_of(self.expectations)
        source = context.data_sources.add_pandas(f"{self.name}_rows")
        batch_definition = source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("batch")
        return suite, batch_definition

    def _gx_suite_of(self, expectations: list[dict[str, Any]]) -> Any:
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
            config = outcome.expectation_config
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

    def _gx_run(self, frame: pd.DataFrame, gx_suite: Any) -> Any:
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
        if self._per_file is None or len(sizes) < 2:
            return self._run_each(frame, sizes, row_numbers)
        starts = _add_file_columns(frame, sizes, self._per_file)
        result = self._gx_run(frame, self._gx_per_file_suite)
        if any(_exception_message(outcome.exception_info or {}) for outcome in result.results):
            return self._run_each(frame, sizes, row_numbers)
        checks: list[list[Check]] = [[] for _ in sizes]
        bad_positions: list[dict[int, list[str]]] = [{} for _ in sizes]
        originals = {e["meta"]["id"]: e for e in self.expectations}
        for outcome in result.results:
            meta_id = (outcome.expectation_config.meta or {})["id"]
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


def _per_file_variant(
    expectations: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The suite rewritten to judge each file of a many-file frame alone, with the expectation
    each rewritten one stands for; None if some expectation cannot be rewritten that way."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    rewritten = []
    for number, expectation in enumerate(expectations):
        kind, kwargs = expectation["type"], dict(expectation.get("kwargs", {}))
        if "mostly" in kwargs or kind in ORDER_DEPENDENT:
            return None
        if kind == "expect_table_row_count_to_be_between":
            if set(kwargs) - {"min_value", "max_value"}:
                return None
            # Every row carries its file's row count, so a file of the wrong size fails whole.
            kind, kwargs = "expect_column_values_to_be_between", {"column": FILE_ROWS_COLUMN, **kwargs}
        elif kind == "expect_column_values_to_be_unique":
            if set(kwargs) - UNIQUE_KWARGS:
                return None
            # GX ignores nulls in a column's uniqueness; a null key column ignores the row too.
            column = kwargs.pop("column")
            kind = "expect_compound_columns_to_be_unique"
            kwargs.update(column_list=[f"__key_{number}", column], ignore_row_if="any_value_is_missing")
        elif kind == "expect_compound_columns_to_be_unique":
            if set(kwargs) - UNIQUE_KWARGS:
                return None
            kwargs["column_list"] = [f"__key_{number}", *kwargs["column_list"]]
        else:
            try:
                implementation = get_expectation_impl(kind)
            except Exception:  # an unknown type: the suite build reports it
                return None
            if not issubclass(
                implementation, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation
            ):
                return None
        rewritten.append({**expectation, "type": kind, "kwargs": kwargs})
    return rewritten


def _add_file_columns(
    frame: pd.DataFrame, sizes: Sequence[int], expectations: list[dict[str, Any]]
) -> list[int]:
    """Add the columns the per-file variant reads to a frame of files one after another;
    where each file starts."""
    import numpy as np

    starts = [0, *itertools.accumulate(sizes)][:-1]
    file_of_row = np.repeat(np.arange(len(sizes), dtype="float64"), sizes)
    frame[FILE_COLUMN] = file_of_row
    frame[FILE_ROWS_COLUMN] = np.repeat(np.asarray(sizes, dtype="int64"), sizes)
    for expectation in expectations:
        column_list = expectation["kwargs"].get("column_list", ())
        if column_list and column_list[0].startswith("__key_"):
            key = file_of_row.copy()
            if (
                expectation["kwargs"].get("ignore_row_if", "all_values_are_missing")
                == "all_values_are_missing"
            ):
                # The row is ignored when all of the original columns are null, as alone.
                key[frame[list(column_list[1:])].isna().all(axis=1).to_numpy()] = np.nan
            frame[column_list[0]] = key
    return starts


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
    return pa.table(arrays).to_pandas()


def row_reason(check_ids: Sequence[str], suite: Suite) -> str:
    by_id = {e["meta"]["id"]: e for e in suite.expectations}
    parts = []
    for check_id in check_ids:
        expectation = by_id[check_id]
        kwargs = expectation.get("kwargs", {})
        column = kwargs.get("column") or ",".join(kwargs.get("column_list", ()))
        parts.append(f"{check_id} ({expectation['type']} on {column})")
    return "validation: " + "; ".join(parts)
