"""`ingest validate`: offending values beside their row numbers, on the page and in JSON, and GX's
own result document. Records are built here from PayPal Transaction Search's documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.apps.cli import main as cli
from ingest.apps.tools.validate_file import to_html, validate_file

PAYER_EMAIL = "ada.lovelace@example.org"


@pytest.fixture(autouse=True)
def shipped_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INGEST_PIPELINES_DIR", "INGEST_EXPECTATIONS_DIR", "INGEST_VALIDATION_ENGINE"):
        monkeypatch.delenv(name, raising=False)


def transaction(transaction_id: str, status: str = "S", **info: Any) -> dict[str, Any]:
    """One ``transaction_details[]`` element of a Transaction Search response."""
    return {
        "transaction_info": {
            "transaction_id": transaction_id,
            "transaction_event_code": "T0006",
            "transaction_initiation_date": "2021-07-01T10:02:41+0000",
            "transaction_updated_date": "2021-07-01T10:02:44+0000",
            "transaction_amount": {"currency_code": "GBP", "value": "4.99"},
            "fee_amount": {"currency_code": "GBP", "value": "-0.45"},
            "ending_balance": {"currency_code": "GBP", "value": "104.99"},
            "transaction_status": status,
            **info,
        },
        "payer_info": {"email_address": PAYER_EMAIL, "country_code": "GB"},
        "cart_info": {"item_details": [{"item_code": "gems-500", "item_quantity": "1"}]},
    }


@pytest.fixture
def page(tmp_path: Path) -> Path:
    """Four records: rows 2 and 4 have statuses PayPal does not use, row 3 a clock oddity."""
    records = [
        transaction("8MC585209K746392H"),
        transaction("9XK10183MT371054P", status="X"),
        transaction("3VB44281NL229831C", transaction_updated_date="2021-06-30T09:00:00+0000"),
        transaction("1AB23456CD789012E", status="<script>alert(1)</script>"),
    ]
    path = tmp_path / "paypal" / "transactions" / "page-0001.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(records))
    return path


def check(checks: list[dict[str, Any]], check_id: str) -> dict[str, Any]:
    return next(c for c in checks if c["id"] == check_id)


def test_each_failed_expectation_lists_its_offending_values_by_row(page):
    report = validate_file(page, "paypal_transactions")

    status = check(report.failed_expectations, "paypal.status_known")
    assert status["unexpected"] == [
        {"row": 2, "value": "X"},
        {"row": 4, "value": "<script>alert(1)</script>"},
    ]
    # A warning's rows still load; its values come from them, one per column of the pair.
    clock = check(report.warnings, "paypal.updated_not_before_initiated")
    assert clock["unexpected"] == [
        {
            "row": 3,
            "value": {
                "transaction_updated_date": "2021-06-30T09:00:00+00:00",
                "transaction_initiation_date": "2021-07-01T10:02:41+00:00",
            },
        }
    ]


def test_the_page_shows_values_beside_rows_escaped_and_in_the_reports_style(page):
    html = to_html(validate_file(page, "paypal_transactions"))

    assert '<code class="value">X</code> <span class="dim">row 2</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "one of D, P, S, V" in html  # what the expectation wanted, in words
    assert "2 of 4 (50.0%)" in html
    assert "transaction_updated_date = 2021-06-30T09:00:00+00:00" in html
    # The shared stylesheet and Content-Security-Policy of every report; nothing fetched.
    assert 'HTTP-EQUIV="Content-Security-Policy"' in html and "table.report" in html
    assert '<nav class="contents">' in html
    assert "http" not in html and "<link" not in html


def test_personal_values_are_masked_on_the_page(tmp_path, monkeypatch):
    # GIVEN a pipeline whose suite checks a payer email and name columns (the shipped suites
    # check none: their values must be masked all the same if one ever does).
    pipelines, suites = tmp_path / "pipelines", tmp_path / "expectations"
    pipelines.mkdir()
    suites.mkdir()
    (pipelines / "payers.yaml").write_text(
        "name: payers\ndescription: test\nkey_pattern: '^payers/'\ntable: raw.payers\nformat: auto\n"
        "business_key: [payer_email]\nsuite: payers\ncolumns:\n  - {name: payer_email, type: STRING}\n"
        "  - {name: payer_name, type: STRING}\n"
    )
    expectations = [
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "payer_email", "regex": "@shop$"},
        },
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "payer_name", "value_set": ["?"]}},
    ]
    for number, expectation in enumerate(expectations):
        expectation["meta"] = {"id": f"payers.{number}"}
    (suites / "payers.json").write_text(json.dumps({"name": "payers", "expectations": expectations}))
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines))
    monkeypatch.setenv("INGEST_EXPECTATIONS_DIR", str(suites))
    path = tmp_path / "payers.ndjson"
    path.write_text(json.dumps({"payer_email": PAYER_EMAIL, "payer_name": "Ada Lovelace"}) + "\n")

    report = validate_file(path, "payers", gx_json=True)
    html = to_html(report)

    values = [c["unexpected"][0]["value"] for c in report.failed_expectations]
    assert values == ["a***@example.org", "A***"]
    assert report.gx_results is not None
    gx_document = json.dumps(report.gx_results)  # what --gx-json writes
    for secret in (PAYER_EMAIL, "Ada", "Lovelace"):
        assert secret not in html and secret not in json.dumps(report.to_dict())
        assert secret not in gx_document
    (gx,) = report.gx_results
    by_column = {r["expectation_config"]["kwargs"]["column"]: r["result"] for r in gx["results"]}
    assert by_column["payer_email"]["partial_unexpected_list"] == ["a***@example.org"]
    assert by_column["payer_name"]["partial_unexpected_index_list"] == [
        {"payer_name": "A***", "_source_row": 1}
    ]


def test_gx_json_writes_gxs_own_validation_result_with_file_row_numbers(page, tmp_path, capsys):
    out = tmp_path / "out" / "gx.json"

    code = cli.main(["validate", str(page), "--pipeline", "paypal_transactions", "--gx-json", str(out)])

    assert code == 1  # rows would be quarantined
    assert f"GX validation result: {out}" in capsys.readouterr().out
    document = json.loads(out.read_text())
    assert {"success", "results", "statistics", "suite_name"} <= document.keys()
    assert document["suite_name"] == "paypal_transactions" and document["success"] is False
    by_id = {r["expectation_config"]["meta"]["id"]: r for r in document["results"]}
    status = by_id["paypal.status_known"]["result"]
    assert status["unexpected_count"] == 2
    assert status["partial_unexpected_index_list"] == [
        {"transaction_status": "X", "_source_row": 2},
        {"transaction_status": "<script>alert(1)</script>", "_source_row": 4},
    ]
    assert by_id["paypal.gross_present"]["success"] is True


def test_terminal_output_lists_offending_values_and_html_flag_writes_the_page(page, tmp_path, capsys):
    out = tmp_path / "validation.html"

    code = cli.main(["validate", str(page), "--pipeline", "paypal_transactions", "--html", str(out)])

    printed = capsys.readouterr().out
    assert code == 1
    assert "X (row 2)" in printed
    assert "row 2" in out.read_text()


def test_a_conditional_expectation_shows_the_values_its_condition_read(tmp_path):
    # A refund (T1107) must name the payment it refunds; this one does not.
    refund = transaction(
        "2XY93410FG558203K",
        transaction_event_code="T1107",
        transaction_amount={"currency_code": "GBP", "value": "-4.99"},
        fee_amount={"currency_code": "GBP", "value": "0.45"},
    )
    path = tmp_path / "page.json"
    path.write_text(json.dumps([transaction("8MC585209K746392H"), refund]))

    report = validate_file(path, "paypal_transactions")

    reference = check(report.failed_expectations, "paypal.reference_on_reversals")
    assert reference["unexpected"] == [
        {"row": 2, "value": {"paypal_reference_id": None, "transaction_event_code": "T1107"}}
    ]
    assert "paypal_reference_id = null\ntransaction_event_code = T1107" in to_html(report)
