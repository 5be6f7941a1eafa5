"""GX's own validation result for a file, for ``ingest validate --gx-json``.

Ingestion may evaluate a suite with Arrow kernels (``Suite.engine``), which give the same verdict
as GX but not GX's result document. Engineers who work with GX tooling want that document
(``ExpectationSuiteValidationResult``: statistics, each expectation's ``result`` with its
``partial_unexpected_list`` and ``unexpected_index_list``), so this runs the suite on GX itself
over the file's coerced rows, before any row is quarantined: the rows the suite judges in a load.

The frame is indexed by ``_source_row``, so GX's unexpected indexes are the row numbers that the
quarantine file and ``ingest validate`` use. The values it quotes are masked as the validation
page masks them (``masked``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ingest.apps.tools.masking import mask_record, mask_value
from ingest.apps.tools.validate_file import ROW_COLUMN
from ingest.core.prepare import VALIDATION_ROWS
from ingest.core.validate.gx_import import import_great_expectations
from ingest.core.validate.suite import validation_frame

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_suite import ExpectationSuite

    from ingest.core.prepare import Prepared
    from ingest.core.validate.suite import Suite


def gx_results(prepared: Prepared, suite: Suite) -> list[dict[str, Any]]:
    """GX's result of ``suite`` on the file's rows as JSON-ready dicts, one per window of
    ``VALIDATION_ROWS`` rows (the windows a load validates a large file in); none for no rows."""
    gx_suite, batch_definition = _gx_parts(suite)
    results = []
    for frame in _frames(prepared, suite):
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})
        results.append(masked(result.to_json_dict()))  # type: ignore[no-untyped-call]  # GX's own, untyped
    return results


def masked(document: dict[str, Any]) -> dict[str, Any]:
    """GX's result with every value it quotes masked as the page masks it (``mask_record``, by
    the column it came from): a suite may check a column the pipeline keeps in clear."""
    for entry in document.get("results", []):
        kwargs = (entry.get("expectation_config") or {}).get("kwargs") or {}
        found = entry.get("result") or {}
        columns = [kwargs[name] for name in ("column", "column_A", "column_B") if name in kwargs]
        columns += list(kwargs.get("column_list") or [])

        def one(value: Any, columns: list[str] = columns) -> Any:
            if isinstance(value, dict):
                return mask_record(value)
            if len(columns) == 1:
                return mask_record({columns[0]: value})[columns[0]]
            if isinstance(value, list) and len(value) == len(columns):
                return list(mask_record(dict(zip(columns, value, strict=True))).values())
            return mask_value(value)

        for name in (
            "partial_unexpected_list",
            "unexpected_list",
            "partial_unexpected_index_list",
            "unexpected_index_list",
        ):
            if isinstance(found.get(name), list):
                found[name] = [one(value) for value in found[name]]
        if isinstance(found.get("partial_unexpected_counts"), list):
            found["partial_unexpected_counts"] = [
                {**count, "value": one(count.get("value"))} if isinstance(count, dict) else count
                for count in found["partial_unexpected_counts"]
            ]
    return document


def gx_document(results: list[dict[str, Any]]) -> Any:
    """What ``--gx-json`` writes: GX's result object, or a list of them for a file validated in
    several windows (or none, for a file with no rows to validate)."""
    return results[0] if len(results) == 1 else results


def _frames(prepared: Prepared, suite: Suite) -> Iterator[Any]:
    wanted = suite.columns() | {ROW_COLUMN}
    schema = prepared.schema
    present = [name for name in (schema.names if schema is not None else ()) if name in wanted]
    for batch in prepared.batches(VALIDATION_ROWS, present):
        frame = validation_frame(batch, wanted)
        yield frame.set_index(ROW_COLUMN) if ROW_COLUMN in frame.columns else frame


@functools.cache
def _gx_parts(suite: Suite) -> tuple[ExpectationSuite, BatchDefinition[None]]:
    """An ephemeral GX context with the suite, built once per suite object (``load_suite`` keeps
    one per file; contexts are slow to build)."""
    gx = import_great_expectations()
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    for logger_name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(logger_name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    # GX's progress bars would write to the terminal over the command's own output.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    configurations = [ExpectationConfiguration(**e).to_domain_obj() for e in suite.expectations]
    gx_suite = ExpectationSuite(name=suite.name, expectations=configurations)
    source = context.data_sources.add_pandas(f"{suite.name}_file")
    batch_definition = source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("file")
    return gx_suite, batch_definition
