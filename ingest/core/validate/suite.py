"""A Great Expectations suite loaded from its JSON file, and run on tables of typed rows."""

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
from ingest.core.validate.arrow_checks import ArrowSuite, Unsupported
from ingest.core.validate.arrow_checks import Result as ArrowResult
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

logger = logging.getLogger(__name__)
SEVERITIES = ("critical", "warning", "info")


class SuiteError(ValueError):
    """A suite file is missing or invalid."""


ENGINES = ("arrow", "gx")
"""``arrow``: Arrow kernels for a suite whose expectations ``arrow_checks`` evaluates as GX does,
GX for any other suite or run; ``gx``: GX always."""


class Suite:
    """A GX suite loaded from JSON, run on Arrow tables of typed rows (see ``ENGINES``).

    The GX context is built on first use only, so a process that never needs GX never imports it.
    """

    def __init__(self, path: Path, engine: str = "arrow") -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SuiteError(f"suite file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise SuiteError(f"{path}: not valid JSON: {err}") from None
        if engine not in ENGINES:
            raise SuiteError(f"validation engine {engine!r}: must be one of {ENGINES}")
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
        self._gx: _GxParts | None = None
        self._arrow: ArrowSuite | None = None
        self.gx_reason = "INGEST_VALIDATION_ENGINE=gx"
        """Why GX runs this suite, when it does."""
        if engine == "arrow":
            try:
                self._arrow = ArrowSuite(self.expectations)
            except Unsupported as err:
                self.gx_reason = f"Arrow does not evaluate {err}"
        if self._arrow is None:
            self._gx_parts()  # a suite GX rejects is reported when it is loaded, not mid-batch

    @property
    def engine(self) -> str:
        """What evaluates the suite: ``arrow`` or ``gx``."""
        return "arrow" if self._arrow is not None else "gx"

    def columns(self) -> set[str]:
        """Columns the suite reads (a frame needs at least these)."""
        names: set[str] = set()
        for expectation in self.expectations:
            kwargs = expectation.get("kwargs", {})
            for key in ("column", "column_A", "column_B"):
                if key in kwargs:
                    names.add(kwargs[key])
            names.update(kwargs.get("column_list", ()))
            names.update(_condition_columns(kwargs.get("row_condition")))
        return names

    def _gx_parts(self) -> _GxParts:
        with self._lock:
            if self._gx is None:
                self._gx = _GxParts.build(self)
            return self._gx

    @property
    def validates_files_together(self) -> bool:
        """Whether ``run_files`` validates many files in one pass (else one run per file)."""
        return self._arrow is not None or self._gx_parts().per_file is not None

    def run(self, table: pa.Table | pa.RecordBatch, row_numbers: Sequence[int]) -> BatchOutcome:
        """Validate one file's rows; ``row_numbers`` are the rows' numbers in the file."""
        return self.run_concatenated(table, [table.num_rows], [row_numbers])[0]

    def run_files(
        self, tables: Sequence[pa.Table | pa.RecordBatch], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        """Validate several files' rows, each file judged as if validated alone; one outcome each."""
        combined = pa.concat_tables(
            [pa.Table.from_batches([t]) if isinstance(t, pa.RecordBatch) else t for t in tables],
            promote_options="permissive",
        )
        return self.run_concatenated(combined, [t.num_rows for t in tables], row_numbers)

    def run_concatenated(
        self, table: pa.Table | pa.RecordBatch, sizes: Sequence[int], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        """``run_files`` on the files' rows already in one table, ``sizes`` rows each.

        On Arrow, one pass over all of them. On GX, one run for all when the suite's per-file
        variant allows it, else one run per file; an expectation that raises in the shared run
        sends every file back to its own run, so an error is charged to the file that causes it.
        """
        rows = comparable(table, self.columns())
        if self._arrow is not None:
            try:
                results = self._arrow.run(rows, sizes)
            except (Unsupported, pa.ArrowException) as err:
                # GX runs it, so what users see is GX's verdict and GX's words.
                logger.debug("suite %s: GX runs this batch: %s", self.name, err)
            else:
                return [
                    self._outcome(_arrow_results(self.expectations, file_results), numbers, size)
                    for file_results, numbers, size in zip(results, row_numbers, sizes, strict=True)
                ]
        frame = _frame(rows)
        gx = self._gx_parts()
        if gx.per_file is None or gx.per_file_suite is None or len(sizes) < 2:
            return self._gx_each(frame, sizes, row_numbers)
        starts = add_file_columns(frame, sizes, gx.per_file)
        result = self._gx_run(frame, gx.per_file_suite)
        if any(_exception_message(outcome.exception_info or {}) for outcome in result.results):
            return self._gx_each(frame, sizes, row_numbers)
        return self._split_gx_group(result, starts, sizes, row_numbers)

    def _gx_each(
        self, frame: pd.DataFrame, sizes: Sequence[int], row_numbers: Sequence[Sequence[int]]
    ) -> list[BatchOutcome]:
        starts = [0, *itertools.accumulate(sizes)]
        outcomes = []
        for start, end, numbers in zip(starts[:-1], starts[1:], row_numbers, strict=True):
            part = frame.iloc[start:end].reset_index(drop=True)
            result = self._gx_run(part, self._gx_parts().suite)
            outcomes.append(self._outcome(_gx_results(result), numbers, end - start))
        return outcomes

    def _outcome(self, results: list[_Result], row_numbers: Sequence[int], rows: int) -> BatchOutcome:
        """Checks and quarantined positions from each expectation's result, whichever engine ran."""
        checks: list[Check] = []
        bad_positions: dict[int, list[str]] = {}
        for expectation, success, details, error in results:
            kwargs = expectation.get("kwargs", {})
            meta_id = expectation["meta"]["id"]
            indexes = details.get("unexpected_index_list")
            check = Check(
                id=meta_id,
                type=expectation["type"],
                column=kwargs.get("column") or ",".join(kwargs.get("column_list", ())) or None,
                severity=self._severity[meta_id],
                success=success,
                row_level=indexes is not None or "unexpected_count" in details,
                element_count=int(details.get("element_count") or rows),
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
        gx = self._gx_parts()
        with self._lock:
            batch = gx.batch_definition.get_batch(batch_parameters={"dataframe": frame})
            return batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})

    def _split_gx_group(
        self,
        result: ExpectationSuiteValidationResult,
        starts: list[int],
        sizes: Sequence[int],
        row_numbers: Sequence[Sequence[int]],
    ) -> list[BatchOutcome]:
        """Each file's outcome from one GX run of the per-file variant over all of them."""
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


_Result = tuple[dict[str, Any], bool, dict[str, Any], str | None]
"""One expectation's result, whichever engine ran it: expectation, success, GX's result
fields (``element_count``, ``unexpected_count``, ``unexpected_index_list``), error."""


def _arrow_results(expectations: list[dict[str, Any]], results: list[ArrowResult]) -> list[_Result]:
    out: list[_Result] = []
    for expectation, result in zip(expectations, results, strict=True):
        details: dict[str, Any] = {}
        if result.unexpected_index_list is not None:
            details = {
                "element_count": result.element_count,
                "unexpected_count": len(result.unexpected_index_list),
                "unexpected_index_list": result.unexpected_index_list,
            }
        out.append((expectation, result.success, details, None))
    return out


def _gx_results(result: ExpectationSuiteValidationResult) -> list[_Result]:
    out: list[_Result] = []
    for outcome in result.results:
        config = _config(outcome)
        expectation = {"type": config.type, "kwargs": dict(config.kwargs), "meta": config.meta or {}}
        error = _exception_message(outcome.exception_info or {})
        out.append((expectation, bool(outcome.success), outcome.result or {}, error))
    return out


class _GxParts:
    """What running the suite on GX takes: its ephemeral context, the suite, the per-file variant."""

    def __init__(
        self,
        suite: ExpectationSuite,
        batch_definition: BatchDefinition[None],
        per_file: list[dict[str, Any]] | None,
        per_file_suite: ExpectationSuite | None,
    ) -> None:
        self.suite, self.batch_definition = suite, batch_definition
        self.per_file, self.per_file_suite = per_file, per_file_suite

    @classmethod
    def build(cls, owner: Suite) -> _GxParts:
        gx = import_great_expectations()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX logs a line per context at INFO ("temporary directory for ephemeral docs site"),
        # from a logger whose own level GX sets, so the parent's level alone does not quiet it.
        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        # The bars write to stderr for every batch: noise in Lambda logs and CLI output.
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        suite = _gx_suite_of(owner, owner.expectations)
        source = context.data_sources.add_pandas(f"{owner.name}_rows")
        batch_definition = source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("batch")
        per_file = per_file_variant(owner.expectations)
        return cls(suite, batch_definition, per_file, _gx_suite_of(owner, per_file) if per_file else None)


def _gx_suite_of(owner: Suite, expectations: list[dict[str, Any]]) -> ExpectationSuite:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    try:
        domain = [ExpectationConfiguration(**e).to_domain_obj() for e in expectations]
    except Exception as err:  # GX raises its own errors for unknown types and bad kwargs
        raise SuiteError(f"{owner.path}: {err}") from err
    return ExpectationSuite(name=owner.name, expectations=domain)


def _condition_columns(condition: Any) -> set[str]:
    """Columns a row_condition (GX Condition JSON) reads."""
    if not isinstance(condition, dict):
        return set()
    names = {condition["column"]["name"]} if isinstance(condition.get("column"), dict) else set()
    for part in condition.get("conditions") or ():
        names |= _condition_columns(part)
    return names


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
def load_suite(path: Path, engine: str = "arrow") -> Suite:
    """The suite at ``path``, built once per process (GX contexts are slow to build)."""
    return Suite(path, engine)


def suite_for(pipeline: Pipeline, expectations_dir: Path, engine: str = "arrow") -> Suite | None:
    if not pipeline.suite:
        return None
    return load_suite(expectations_dir / f"{pipeline.suite}.json", engine)


def comparable(table: pa.Table | pa.RecordBatch, columns: set[str]) -> pa.Table:
    """The suite's columns as both engines compare them: NUMERIC as float64, timestamps unzoned.

    Float64 is exact enough for bounds and signs of money amounts (15 significant digits), and
    is what GX compares on pandas. Timestamps lose their (always UTC) zone: pandas 3 warns on
    every zoned comparison GX makes.
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
    return pa.table(arrays) if arrays else pa.table({"_source_row": pa.nulls(table.num_rows, pa.int64())})


def validation_frame(table: pa.Table | pa.RecordBatch, columns: set[str]) -> pd.DataFrame:
    """The suite's columns as the DataFrame GX checks (see ``comparable``)."""
    return _frame(comparable(table, columns))


def _frame(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
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
