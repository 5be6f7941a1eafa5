"""``ingest validate``: run a pipeline's suite on a local or S3 file without loading anything.

The file goes through exactly what ingestion does (read, transform, coerce, validate) so the
answer is what a load would do: rows that load, rows quarantined and why, expectations failed,
and for each failed expectation its first offending rows with their values (as GX Data Docs show
unexpected values). The HTML form (``validation_page``) is one self-contained page that renders
offline; ``gx_result`` gives GX's own result document.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.apps.tools.dry_run import dry_run, quarantined_rows
from ingest.apps.tools.masking import mask_record
from ingest.apps.tools.targets import InspectError, choose_pipeline, open_target
from ingest.core.coerce.converters import json_text
from ingest.core.coerce.privacy import mask_free_text
from ingest.core.config import Pipeline, load_pipelines
from ingest.core.errors import IngestError
from ingest.core.settings import Settings
from ingest.core.validate.results import Check
from ingest.core.validate.suite import suite_for

if TYPE_CHECKING:
    from ingest.core.prepare import Prepared
    from ingest.core.validate.suite import Suite

MAX_LISTED_ROWS = 50
ROW_COLUMN = "_source_row"
_SUITE_REASON = "validation: "
"""How a row the suite quarantined is marked in the quarantine file (``suite.row_reason``)."""


@dataclass
class FileValidation:
    source: str
    pipeline: str
    suite: str | None
    engine: str | None = None
    """What evaluates the suite: ``arrow`` or ``gx`` (``INGEST_VALIDATION_ENGINE``)."""
    engine_reason: str | None = None
    """Why GX evaluates it, when GX does."""
    rows: int = 0
    good: int = 0
    bad: int = 0
    rejected_by_coercion: int = 0
    rejected_by_suite: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failed_expectations: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    passed_expectations: list[str] = field(default_factory=list)
    file_error: str | None = None
    """Why a load would fail the whole file (unreadable, missing column, table-level check)."""
    quarantined_rows: list[dict[str, Any]] = field(default_factory=list)
    """The first rows a load would quarantine: row number and reason (values in it masked)."""
    validated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    gx_results: list[dict[str, Any]] | None = None
    """GX's own ``ExpectationSuiteValidationResult`` documents, when asked for (``gx_result``)."""

    @property
    def ok(self) -> bool:
        return self.file_error is None and self.bad == 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data; GX's documents are written on their own (``--gx-json``)."""
        data = asdict(self)
        del data["gx_results"]
        return {**data, "ok": self.ok}


def _check_dict(check: Check, suite: Suite) -> dict[str, Any]:
    expectation = next(e for e in suite.expectations if e["meta"]["id"] == check.id)
    return {
        "id": check.id,
        "type": check.type,
        "column": check.column,
        "columns": checked_columns(expectation),
        "condition_columns": _condition_columns(expectation.get("kwargs", {}).get("row_condition")),
        "kwargs": expectation.get("kwargs", {}),
        "why": expectation.get("meta", {}).get("why"),
        "severity": check.severity,
        "unexpected_count": check.unexpected_count,
        "element_count": check.element_count,
        "sample_rows": list(check.sample_rows),
        "unexpected": [],
        "error": check.error,
    }


def _condition_columns(condition: Any) -> list[str]:
    """Columns a GX row condition reads, in order: shown beside a value, they say why the rule
    applied to its row (a missing reference matters on a refund only)."""
    if not isinstance(condition, dict):
        return []
    names = [condition["column"]["name"]] if isinstance(condition.get("column"), dict) else []
    for part in condition.get("conditions") or ():
        names += [name for name in _condition_columns(part) if name not in names]
    return names


def checked_columns(expectation: dict[str, Any]) -> list[str]:
    """The columns whose values decide an expectation (``column``, the pair, or ``column_list``)."""
    kwargs = expectation.get("kwargs", {})
    names = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
    return names + [name for name in kwargs.get("column_list", ()) if name not in names]


def validate_file(
    target: str | Path,
    pipeline: str,
    settings: Settings | None = None,
    s3: Any = None,
    pipelines: tuple[Pipeline, ...] | None = None,
    gx_json: bool = False,
) -> FileValidation:
    """Validate a local path or ``s3://bucket/key`` against a pipeline (a name or ``auto``).

    ``gx_json``: also run the suite on GX and keep its result documents (``gx_results``).
    """
    from ingest.core.prepare import validate_files  # pyarrow: only when a file is validated

    settings = settings or Settings.from_env()
    text = str(target)
    stream, _, _, keys = open_target(text, s3)
    pipelines = pipelines or load_pipelines(settings.pipelines_dir)
    chosen, routing_error = choose_pipeline(pipeline, keys, pipelines)
    if chosen is None:
        stream.close()
        raise InspectError(str(routing_error))
    suite = suite_for(chosen, settings.expectations_dir, settings.validation_engine)
    report = FileValidation(source=text, pipeline=chosen.name, suite=suite.name if suite else None)
    if suite is not None:
        report.engine = suite.engine
        report.engine_reason = suite.gx_reason if suite.engine == "gx" else None
    with contextlib.ExitStack() as temporary:
        try:
            # The suite runs below, as prepare_file runs it: GX's document is of the same rows,
            # all of them, before the suite's own quarantine takes any out.
            prepared = dry_run(stream, chosen, text, None, temporary)
        except IngestError as err:
            report.file_error = f"{err.error_type}: {mask_free_text(str(err))}"
            return report
        finally:
            stream.close()
        if suite is not None:
            if gx_json:
                from ingest.apps.tools.gx_result import gx_results

                report.gx_results = gx_results(prepared, suite)
            validate_files([prepared], suite, temporary)
        tally, validation = prepared.tally, prepared.validation
        report.rows, report.good = tally.rows_in, tally.rows_loaded
        report.bad = tally.rows_quarantined
        report.rejected_by_suite = validation.bad_rows if validation else 0
        report.rejected_by_coercion = report.bad - report.rejected_by_suite
        report.reasons = dict(tally.reasons.most_common())
        if validation is not None and suite is not None:
            report.failed_expectations = [_check_dict(c, suite) for c in validation.failed]
            report.warnings = [_check_dict(c, suite) for c in validation.warnings]
            report.passed_expectations = [c.id for c in validation.checks.values() if c.success]
            _add_offending_values(prepared, [*report.failed_expectations, *report.warnings])
        try:
            prepared.raise_if_file_fails()
        except IngestError as err:
            report.file_error = f"{err.error_type}: {mask_free_text(str(err))}"
            report.good = 0  # the whole file would fail: nothing loads
        listed = itertools.islice(quarantined_rows(prepared), MAX_LISTED_ROWS)
        # A reason quotes the value it refused, which may be a note holding an address.
        report.quarantined_rows = [{"row": row, "reason": mask_free_text(reason)} for row, reason in listed]
    report.quarantined_rows.sort(key=lambda r: r["row"])
    return report


def _add_offending_values(prepared: Prepared, checks: list[dict[str, Any]]) -> None:
    """Each check's ``unexpected``: ``{"row", "value"}`` of its first failing rows, the value of
    its column (or ``{column: value}`` for several, and with the columns of its row condition),
    masked as every value shown to people is.

    A row the suite quarantined is in the quarantine file as it would have loaded; any other
    (a warning's, or every row of a file a table-level check fails) is still among the rows to load.
    """
    wanted = {row for check in checks for row in check["sample_rows"]}
    names = {name for check in checks for name in (*check["columns"], *check["condition_columns"])}
    if not wanted or not names:
        return
    found = _rows_to_load(prepared, wanted, names)
    prepared.rejected.seek(0)
    for line in prepared.rejected:
        item = json.loads(line)
        if item["row"] in wanted and str(item["reason"]).startswith(_SUITE_REASON):
            raw = json.loads(item["raw"])
            found[item["row"]] = {name: raw.get(name) for name in names}
    for check in checks:
        shown = check["columns"] + [
            name for name in check["condition_columns"] if name not in check["columns"]
        ]
        for row in check["sample_rows"]:
            values = mask_record({name: found.get(row, {}).get(name) for name in shown})
            value = values[shown[0]] if len(shown) == 1 else values
            check["unexpected"].append({"row": row, "value": value})


def _rows_to_load(prepared: Prepared, wanted: set[int], names: set[str]) -> dict[int, dict[str, Any]]:
    """Row number -> ``names``' values (as JSON, like the quarantine file's) of the ``wanted`` rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = prepared.schema
    present = [name for name in (schema.names if schema is not None else ()) if name in names | {ROW_COLUMN}]
    if ROW_COLUMN not in present:
        return {}
    found = {}
    value_set = pa.array(sorted(wanted), pa.int64())
    for batch in prepared.batches(100_000, present):
        numbers = batch.column(ROW_COLUMN).cast(pa.int64())
        for row in batch.filter(pc.is_in(numbers, value_set=value_set)).to_pylist():
            found[row[ROW_COLUMN]] = json.loads(json_text({k: v for k, v in row.items() if k != ROW_COLUMN}))
    return found


def engine_text(report: FileValidation) -> str:
    """ " on arrow", or " on gx (why)"; "" without a suite."""
    if report.engine is None:
        return ""
    return f" on {report.engine}" + (f" ({report.engine_reason})" if report.engine_reason else "")


def to_html(report: FileValidation) -> str:
    """One self-contained page: inline CSS, no scripts, no network (``validation_page``)."""
    from ingest.apps.tools.validation_page import render_page

    return render_page(report)
