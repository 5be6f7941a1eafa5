"""What ``make demo`` prints: human log lines, planted failures labelled as expected, tables whose
check names are whole at 80 columns, the events explained, and the reports it wrote, index first."""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

import pytest
from rich.console import Console

from ingest_devstack import demo, demo_console
from ingest_devstack.demo_checks import planted_failures

BROKEN_PAGE = "s3://payments-lake/paypal/transactions/2021/07/13/page-0001.json"
LONG_CHECK = "paypal.fee_not_positive_on_completed_payments_of_a_rather_long_suite_name"


def recording(width: int = 80) -> Console:
    return Console(record=True, width=width, color_system=None)


def test_a_planted_failure_logs_a_human_line_labelled_expected():
    console = recording(width=200)
    failure_log = logging.getLogger("ingest.ingestion.failure")

    with demo_console.human_logs(console, {BROKEN_PAGE: "MalformedFile"}):
        failure_log.warning("failed %s: %s: %s", BROKEN_PAGE, "MalformedFile", "JSON array is cut off")

    first, second = console.export_text().splitlines()
    assert first.endswith(f" failed {BROKEN_PAGE}: MalformedFile: JSON array is cut off")
    assert second.strip().startswith("expected: the generator planted a truncated page")
    assert "WARNING" not in first


def test_another_failure_of_a_planted_file_is_not_labelled_expected():
    console = recording(width=200)
    failure_log = logging.getLogger("ingest.ingestion.failure")

    with demo_console.human_logs(console, {BROKEN_PAGE: "MalformedFile"}):
        failure_log.warning("failed %s: %s: %s", BROKEN_PAGE, "WarehouseError", "load job failed")

    shown = console.export_text()
    assert f"WARNING failed {BROKEN_PAGE}: WarehouseError" in shown
    assert "expected" not in shown


def test_other_warnings_show_their_level_and_lake_text_is_not_markup():
    console = recording(width=200)

    with demo_console.human_logs(console, {BROKEN_PAGE: "MalformedFile"}):
        logging.getLogger("ingest.ingestion.flow").warning("key [red]x[/red] is odd")

    shown = console.export_text()
    assert "WARNING key [red]x[/red] is odd" in shown
    assert "expected" not in shown


def test_the_loggers_get_their_own_handlers_back_after_the_demo(monkeypatch):
    ingest_logger = logging.getLogger("ingest")
    lambdas_json_lines = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(ingest_logger, "handlers", [lambdas_json_lines])
    monkeypatch.setattr(ingest_logger, "propagate", True)
    before = (list(ingest_logger.handlers), ingest_logger.propagate)

    with demo_console.human_logs(recording(), {}):
        assert [type(h) for h in ingest_logger.handlers] == [demo_console.ConsoleLog]

    assert (list(ingest_logger.handlers), ingest_logger.propagate) == before


def test_planted_failures_are_the_manifests_failing_files_as_uris():
    manifest = {
        "files": [
            {"key": "paypal/transactions/2021/07/13/page-0001.json", "expect_failure": "MalformedFile"},
            {"key": "payments/ok.csv", "expect_failure": None},
        ]
    }

    assert planted_failures(manifest, "payments-lake") == {BROKEN_PAGE: "MalformedFile"}


def test_the_events_after_the_batch_and_the_duplicates_are_explained_in_one_line():
    events = {"files": 205, "file_events": 410, "test_events": 2, "duplicates_skipped": 410}
    line = demo_console.events_line({**events, "files_loaded_added": 0})

    assert "\n" not in line
    assert line.startswith(
        "410 S3 events for 205 files after the batch (2 per file): 410 skipped as duplicates"
    )
    assert "0 loaded again" in line and "2 s3:TestEvent messages from S3, which name no file" in line


def summary(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "month": "2021-07",
        "files_seen": 205,
        "files_loaded": 203,
        "files_failed": 2,
        "failures": {"MalformedFile": 1, "UnknownPipeline": 1},
        "rows_in": 1966,
        "rows_loaded": 1951,
        "rows_quarantined": 15,
        "duplicates_skipped": 410,
        "load_jobs": 5,
        "validation_failed": {LONG_CHECK: 1},
        "validation_warnings": {"paypal.updated_not_before_initiated": 1},
        "events": {
            "files": 205,
            "file_events": 410,
            "test_events": 2,
            "duplicates_skipped": 410,
            "files_loaded_added": 0,
            "tables_changed": [],
        },
        "bigquery_rows": {"raw.paypal_transactions": 929},
        "checks": {"failures_match_generator": True, "rows_match_generator": True},
        "reconciliation": {"headline": {}, "exceptions": None, "error": None, "report": None},
    }
    return base | changes


def cells(shown: str, column: int) -> list[str]:
    """The text of one column of the tables printed, row by row (a wrapped cell is several rows)."""
    return [line.split("│")[column].strip() for line in shown.splitlines() if line.count("│") >= column + 1]


def test_summary_tables_keep_check_names_whole_at_80_columns():
    console = recording(width=80)

    demo_console.print_summary(summary(), console)

    shown = console.export_text()
    assert "…" not in shown
    # A name too long for its cell wraps within it: every piece is there, in order.
    assert LONG_CHECK in "".join(cells(shown, 1))
    assert "MalformedFile: 1, UnknownPipeline: 1 (all planted)" in " ".join(cells(shown, 2))


def test_piped_output_gets_room_for_titles(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())

    assert demo_console.demo_console().width == demo_console.PIPED_WIDTH


def test_the_last_lines_list_every_report_with_the_index_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reports = tmp_path / "reports"
    month = reports / "reconciliation/2021-07-01_2021-07-31/report.html"
    monitoring = reports / "monitoring/2026-12-07T065042Z/report.html"
    batch = reports / "batches/2026-12-07-064946-c79a0d/report.html"
    ran = summary(
        reconciliation={"report": str(month)},
        operations={"report": str(monitoring)},
        batch={"report": str(batch)},
    )
    console = recording(width=60)  # narrower than the paths: they must stay whole

    demo_console.print_reports(demo.written_reports(ran, reports), console)

    lines = console.export_text().splitlines()
    assert "Reports written" in lines[0]
    assert [line.split()[-1] for line in lines[1:]] == [
        "reports/index.html",
        "reports/reconciliation/2021-07-01_2021-07-31/report.html",
        "reports/monitoring/2026-12-07T065042Z/report.html",
        "reports/batches/2026-12-07-064946-c79a0d/report.html",
        "reports/demo/summary.json",
    ]
    assert [line.split()[0] for line in lines[1:]] == [
        "index",
        "reconciliation",
        "monitoring",
        "batch",
        "demo",
    ]


def test_a_report_that_was_not_written_is_not_listed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran = summary(
        reconciliation={"report": str(tmp_path / "reports/reconciliation/x/report.html")},
        operations={"report": None},
        batch={"report": None},
    )

    labels = [label for label, _ in demo.written_reports(ran, tmp_path / "reports")]

    assert labels == ["index", "reconciliation", "demo summary"]


def account_of(files: list[dict[str, Any]]) -> dict[str, Any]:
    """What a batch run's batch.json says, for these files and two load jobs."""
    failed = sum(f["status"] == "FAILED" for f in files)
    return {
        "listed": len(files),
        "files": files,
        "loads": [{"job_id": "j1"}, {"job_id": "j2"}],
        "failed": failed,
    }


def file_entry(uri: str, status: str, error_type: str | None = None) -> dict[str, Any]:
    return {"uri": uri, "status": status, "error_type": error_type, "message": "why" if error_type else None}


def test_the_batch_report_counts_its_files_and_labels_the_planted_failure(tmp_path):
    other = "s3://payments-lake/payments/odd.csv"
    account = account_of(
        [
            file_entry("s3://payments-lake/payments/a.csv", "LOADED"),
            file_entry(BROKEN_PAGE, "FAILED", "MalformedFile"),
            file_entry(other, "FAILED", "TypeMismatch"),
        ]
    )
    html = tmp_path / "run/report.html"

    # The notebook's deliberate FilesFailed is no error of the run (batch_notebook.unexpected).
    outcome = demo.batch_outcome("r1", account, html, None, planted_failures_of())

    assert (outcome["report"], outcome["error"]) == (str(html), None)
    assert (outcome["files_processed"], outcome["load_jobs"]) == (3, 2)
    assert {f["uri"]: f["planted"] for f in outcome["failed"]} == {BROKEN_PAGE: True, other: False}
    console = recording(width=200)
    for line in demo_console.batch_lines(outcome):
        console.print(line)
    shown = console.export_text()
    assert "3 objects listed, 3 processed with 2 load jobs, 2 failed" in shown
    assert f"{BROKEN_PAGE}: MalformedFile: why\n    expected: the generator planted a truncated page" in shown
    assert f"{other}: TypeMismatch: why\n    FAILED: the generator did not plant this failure" in shown


def planted_failures_of() -> dict[str, str]:
    return {BROKEN_PAGE: "MalformedFile"}


@pytest.mark.parametrize("with_account", [True, False])
@pytest.mark.parametrize("status", ["LOADED", "FAILED"])
def test_a_batch_without_its_account_or_with_a_broken_report_has_no_report(tmp_path, with_account, status):
    """A notebook error other than FilesFailed hides no failed file: the report is not counted."""
    account = (
        account_of([file_entry("s3://payments-lake/a.csv", status, "MalformedFile")])
        if with_account
        else None
    )

    outcome = demo.batch_outcome("r1", account, tmp_path / "report.html", "KeyError: 'x'", {})

    assert outcome["report"] is None
    assert outcome["error"] == "KeyError: 'x'"
