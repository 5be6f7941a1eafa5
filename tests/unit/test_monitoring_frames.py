"""The monitoring report's tables, from ledger file items built by hand (no ledger, no notebook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from ingest.apps.ops import frames, health
from ingest.core.model import Status

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MAX_ATTEMPTS = 5


def item(
    status: Status, minutes_ago: float, pipeline: str = "paypal_transactions", **fields
) -> SimpleNamespace:
    finished = NOW - timedelta(minutes=minutes_ago)
    values = {
        "bucket": "lake",
        "key": f"paypal/{pipeline}-{minutes_ago}",
        "pipeline": pipeline,
        "status": status,
        "rows_in": None,
        "rows_loaded": None,
        "rows_quarantined": None,
        "error_type": None,
        "error_message": None,
        "retryable": False,
        "attempts": 1,
        "event_time": (finished - timedelta(seconds=90)).isoformat(),
        "started_at": (finished - timedelta(seconds=30)).isoformat(),
        "finished_at": finished.isoformat(),
        **fields,
    }
    return SimpleNamespace(**values)


def loaded(minutes_ago: float, rows_in: int, quarantined: int, pipeline: str = "paypal_transactions"):
    return item(
        Status.LOADED,
        minutes_ago,
        pipeline,
        rows_in=rows_in,
        rows_loaded=rows_in - quarantined,
        rows_quarantined=quarantined,
    )


def test_the_headline_counts_files_by_outcome_and_rows_of_loaded_files_only():
    files = frames.file_frame(
        [
            loaded(5, 10, 1),
            loaded(6, 4, 0),
            item(Status.FAILED, 7, error_type="MalformedFile", rows_in=99),
            item(Status.SKIPPED_DUPLICATE, 8),
        ],
        MAX_ATTEMPTS,
    )

    headline = frames.headline_figures(files, redeliveries=2)

    assert headline["files_seen"] == 4
    assert (headline["files_loaded"], headline["files_failed"], headline["files_failed_for_good"]) == (
        2,
        1,
        1,
    )
    # A failed file's rows are not counted, whatever the ledger holds.
    assert (headline["rows_in"], headline["rows_loaded"], headline["rows_quarantined"]) == (14, 13, 1)
    assert (headline["duplicates_skipped"], headline["same_bytes_skipped"]) == (3, 1)


def test_the_quarantine_rate_is_per_pipeline_and_alarms_only_above_the_threshold():
    files = frames.file_frame(
        [loaded(5, 100, 5), loaded(6, 100, 6, pipeline="payment_transactions")], MAX_ATTEMPTS
    )

    rates = frames.quarantine_rates(files, threshold=5.0).set_index("pipeline")

    assert rates.loc["paypal_transactions", "rate_percent"] == 5.0
    assert rates.loc["paypal_transactions", "state"] == health.OK
    assert rates.loc["payment_transactions", "state"] == health.ALARM


def test_a_retryable_failure_is_counted_as_one_that_will_be_retried():
    files = frames.file_frame(
        [
            item(Status.FAILED, 5, error_type="TransientError", retryable=True, attempts=1),
            item(Status.FAILED, 6, error_type="TransientError", retryable=True, attempts=MAX_ATTEMPTS),
        ],
        MAX_ATTEMPTS,
    )

    (row,) = frames.failures_by_type(files).to_dict("records")

    assert (row["files"], row["failed_for_good"], row["will_retry"]) == (2, 1, 1)


def test_the_latest_failures_mask_email_shaped_text_and_cut_long_messages():
    message = "no pipeline matches key 'sent-by-ops@example.com.csv' " + "x" * 1000
    files = frames.file_frame(
        [item(Status.FAILED, 5, error_type="UnknownPipeline", error_message=message)], 5
    )

    (row,) = frames.latest_failures(files).to_dict("records")

    assert "@example.com" not in row["message"] and "…@…" in row["message"]
    assert len(row["message"]) == frames.MESSAGE_CHARACTERS + 1 and row["message"].endswith("…")


def test_spans_read_as_people_write_them():
    assert [frames.span(s) for s in (0, 59, 5400, 90061, None)] == [
        "0 s",
        "59 s",
        "1 h 30 min",
        "1 d 1 h 1 min",
        "",
    ]


def test_every_table_the_report_shows_escapes_lake_text_even_in_formatted_columns():
    import pandas as pd

    hostile = pd.DataFrame(
        {
            "key": ["<script>alert(1)</script>", "ok.ndjson"],
            "message": ['<img src=x onerror="alert(2)">', "fine"],
            "rate_percent": [12.3456, 0.5],
            "state": [health.ALARM, health.OK],
        }
    )

    html = frames.styled(hostile, {"message": "{}", "rate_percent": "{:.2f}"}, highlight=True).to_html()

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert "12.35" in html and "#fde0dc" in html


def test_rule_values_and_thresholds_read_as_people_write_them():
    def rule(value: float | None, threshold: float) -> dict[str, object]:
        return {
            "rule": "r",
            "pipeline": None,
            "state": "OK",
            "value": value,
            "threshold": threshold,
            "message": "",
        }

    table = frames.rule_table([rule(2.0, 0.0), rule(0.7449, 5.0), rule(23.671, 3600.0), rule(None, 900.0)])

    assert table["value"].tolist() == ["2", "0.74", "23.67", ""]
    assert table["threshold"].tolist() == ["0", "5", "3,600", "900"]
