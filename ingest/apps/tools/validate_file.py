"""``ingest validate``: run a pipeline's suite on a local or S3 file without loading anything.

The file goes through exactly what ingestion does (read, transform, coerce, validate) so the
answer is what a load would do: rows that load, rows quarantined and why, expectations failed.
The HTML form is one self-contained page (inline CSS, no scripts) that renders offline.
"""

from __future__ import annotations

import contextlib
import html
import itertools
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.apps.reports.present import CSP_META, REPORT_CSS
from ingest.apps.tools.dry_run import dry_run, quarantined_rows
from ingest.apps.tools.targets import InspectError, choose_pipeline, open_target
from ingest.core.config import Pipeline, load_pipelines
from ingest.core.errors import IngestError
from ingest.core.settings import Settings
from ingest.core.validate.results import Check
from ingest.core.validate.suite import suite_for

MAX_LISTED_ROWS = 50


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
    """The first rows a load would quarantine: row number and reason."""
    validated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return self.file_error is None and self.bad == 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _check_dict(check: Check) -> dict[str, Any]:
    return {
        "id": check.id,
        "type": check.type,
        "column": check.column,
        "severity": check.severity,
        "unexpected_count": check.unexpected_count,
        "element_count": check.element_count,
        "sample_rows": list(check.sample_rows),
        "error": check.error,
    }


def validate_file(
    target: str | Path,
    pipeline: str,
    settings: Settings | None = None,
    s3: Any = None,
    pipelines: tuple[Pipeline, ...] | None = None,
) -> FileValidation:
    """Validate a local path or ``s3://bucket/key`` against a pipeline (a name or ``auto``)."""
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
            prepared = dry_run(stream, chosen, text, suite, temporary)
        except IngestError as err:
            report.file_error = f"{err.error_type}: {err}"
            return report
        finally:
            stream.close()
        tally, validation = prepared.tally, prepared.validation
        report.rows, report.good = tally.rows_in, tally.rows_loaded
        report.bad = tally.rows_quarantined
        report.rejected_by_suite = validation.bad_rows if validation else 0
        report.rejected_by_coercion = report.bad - report.rejected_by_suite
        report.reasons = dict(tally.reasons.most_common())
        if validation is not None:
            report.failed_expectations = [_check_dict(c) for c in validation.failed]
            report.warnings = [_check_dict(c) for c in validation.warnings]
            report.passed_expectations = [c.id for c in validation.checks.values() if c.success]
        try:
            prepared.raise_if_file_fails()
        except IngestError as err:
            report.file_error = f"{err.error_type}: {err}"
            report.good = 0  # the whole file would fail: nothing loads
        listed = itertools.islice(quarantined_rows(prepared), MAX_LISTED_ROWS)
        report.quarantined_rows = [{"row": row, "reason": reason} for row, reason in listed]
    report.quarantined_rows.sort(key=lambda r: r["row"])
    return report


def engine_text(report: FileValidation) -> str:
    """ " on arrow", or " on gx (why)"; "" without a suite."""
    if report.engine is None:
        return ""
    return f" on {report.engine}" + (f" ({report.engine_reason})" if report.engine_reason else "")


def to_html(report: FileValidation) -> str:
    """One self-contained page: inline CSS, no scripts, no network."""
    e = html.escape
    verdict = (
        f'<p class="bad">The file would fail: {e(report.file_error)}</p>'
        if report.file_error
        else '<p class="ok">Every row would load.</p>'
        if report.ok
        else f'<p class="warn">{report.bad:,} row(s) would be quarantined; the rest would load.</p>'
    )
    cards = "".join(
        f'<div class="card">{label}<b>{value:,}</b></div>'
        for label, value in (
            ("rows", report.rows),
            ("would load", report.good),
            ("quarantined", report.bad),
            ("by type coercion", report.rejected_by_coercion),
            ("by the suite", report.rejected_by_suite),
        )
    )

    def checks_table(checks: list[dict[str, Any]], css: str) -> str:
        if not checks:
            return "<p>None.</p>"
        rows = "".join(
            f'<tr><td class="{css}">{e(c["id"])}</td><td>{e(c["type"])}</td><td>{e(c["column"] or "")}</td>'
            f'<td class="num">{c["unexpected_count"]:,}</td><td class="num">{c["element_count"]:,}</td>'
            f"<td>{e(', '.join(map(str, c['sample_rows'])))}</td></tr>"
            for c in checks
        )
        head = "<tr><th>check</th><th>expectation</th><th>column</th><th>rows failing</th>"
        return f"<table>{head}<th>rows checked</th><th>first row numbers</th></tr>{rows}</table>"

    quarantined = "".join(
        f'<tr><td class="num">{r["row"]}</td><td>{e(r["reason"])}</td></tr>' for r in report.quarantined_rows
    )
    passed = ", ".join(e(check) for check in report.passed_expectations) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{CSP_META}<title>Validation of {e(report.source)}</title>
<style>{REPORT_CSS}</style></head><body>
<h1>Validation: {e(report.source)}</h1>
<p>Pipeline <b>{e(report.pipeline)}</b>, suite <b>{e(report.suite or "none")}</b>{e(engine_text(report))},
validated {e(report.validated_at)}.</p>
{verdict}
<div class="cards">{cards}</div>
<h2>Critical expectations failed</h2>{checks_table(report.failed_expectations, "bad")}
<h2>Warnings</h2>{checks_table(report.warnings, "warn")}
<h2>Rows that would be quarantined (first {MAX_LISTED_ROWS})</h2>
{f"<table><tr><th>row</th><th>reason</th></tr>{quarantined}</table>" if quarantined else "<p>None.</p>"}
<h2>Expectations passed</h2><p>{passed}</p>
</body></html>
"""
