"""The monitoring notebook: files ingested through the Lambda handler, then the ledger's health as the
notebook reports it, in its no-code HTML and in monitoring.json."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from support.helpers import PAYER_EMAIL, paypal_transaction, s3_event, sqs_event

from ingest.adapters.clients import aws_client
from ingest.apps import lambda_handler as handler
from ingest.apps.reports.notebook_run import run_notebook
from ingest_devstack.worker import LocalContext

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "monitoring.py"
LANDED_SECONDS_AGO = 90
OPS_EMAIL = "ops.team@example.com"
SECTIONS = ("Headline", "Alarm rules", "Throughput", "Latency", "Failures", "Quarantine rate", "Freshness")
EMAIL_SHAPED = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}")


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def landed_event(bucket: str, key: str, body: bytes, landed: datetime) -> dict[str, Any]:
    """Put the object (no notification: the test delivers it) and its S3 event, landed at ``landed``."""
    response = aws_client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    event = s3_event(bucket, quote_plus(key), response["ETag"], len(body))
    event["Records"][0]["eventTime"] = landed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def by_rule(figures: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(check["rule"], check["pipeline"]): check for check in figures["checks"]}


def test_monitoring_notebook_reports_the_period_of_its_files(stack, prefix, scratch_bucket, tmp_path):
    # GIVEN three good PayPal files (9 rows, one without a transaction id), a truncated page, a
    # key no pipeline takes (whose error quotes an email-shaped key), all landed 90 s ago and
    # delivered in one SQS batch, and the first file's event delivered a second time
    landed = datetime.now(UTC) - timedelta(seconds=LANDED_SECONDS_AGO)
    base = f"paypal/transactions/{prefix}"
    missing_id = paypal_transaction("")
    missing_id["transaction_info"].pop("transaction_id")

    def transactions(*numbers: int) -> list[dict[str, Any]]:
        return [paypal_transaction(f"{prefix}-{n}") for n in numbers]

    page = json.dumps(transactions(9, 10), indent=2)
    files = {
        f"{base}/part-0001": ndjson(transactions(1, 2, 3)),
        f"{base}/part-0002": ndjson([*transactions(4), missing_id, *transactions(5, 6)]),
        f"{base}/part-0003": ndjson(transactions(7, 8)),
        f"{base}/page-0004.json": page[: len(page) // 2].encode(),  # the extractor died mid-page
        f"exports/{prefix}/sent-by-{OPS_EMAIL}.csv": b"id,amount\n1,2\n",
    }
    events = [landed_event(scratch_bucket, key, body, landed) for key, body in files.items()]
    assert handler.handle(sqs_event(*events), LocalContext()) == {"batchItemFailures": []}
    assert handler.handle(sqs_event(events[0]), LocalContext()) == {"batchItemFailures": []}

    # WHEN the notebook reports the last hour for the test's keys
    out_dir = tmp_path / "monitoring"
    run = run_notebook(NOTEBOOK, out_dir, {"hours": 1.0, "key_prefix": prefix})

    # THEN it ran, and its figures are the files' own
    assert run.ok, run.error
    figures = json.loads((out_dir / "monitoring.json").read_text(encoding="utf-8"))
    assert figures["period"]["key_prefix"] == prefix
    assert figures["headline"] == {
        "files_seen": 5,
        "files_loaded": 3,
        "files_failed": 2,
        "files_failed_for_good": 2,
        "files_in_progress": 0,
        "duplicates_skipped": 1,
        "redeliveries_skipped": 1,
        "same_bytes_skipped": 0,
        "rows_in": 9,
        "rows_loaded": 8,
        "rows_quarantined": 1,
    }
    assert figures["failures_by_type"] == {"MalformedFile": 1, "UnknownPipeline": 1}
    failures = sorted(
        (f["error_type"], f["pipeline"], f["files"], f["failed_for_good"]) for f in figures["failures"]
    )
    assert failures == [("MalformedFile", "paypal_transactions", 1, 1), ("UnknownPipeline", "unrouted", 1, 1)]
    assert figures["quarantine_rate"] == {
        "paypal_transactions": {
            "files": 3,
            "rows_in": 9,
            "rows_loaded": 8,
            "rows_quarantined": 1,
            "rate_percent": 11.1111,
            "threshold_percent": 5.0,
            "state": "ALARM",
        }
    }
    paypal_hours = [row for row in figures["throughput"] if row["pipeline"] == "paypal_transactions"]
    assert sum(row["files_loaded"] for row in paypal_hours) == 3
    assert sum(row["files_failed"] for row in paypal_hours) == 1
    assert sum(row["rows_loaded"] for row in paypal_hours) == 8

    # Landed to loaded counts from the S3 event time; claim to outcome covers failures too.
    latency = figures["latency"]["paypal_transactions"]
    landed_to_loaded = latency["landed_to_loaded"]
    assert landed_to_loaded["files"] == 3
    assert LANDED_SECONDS_AGO <= landed_to_loaded["p50"] <= landed_to_loaded["p90"] <= landed_to_loaded["p99"]
    assert landed_to_loaded["p99"] <= landed_to_loaded["max"]
    assert landed_to_loaded["max"] < LANDED_SECONDS_AGO + 600
    claim_to_outcome = latency["claim_to_outcome"]
    assert claim_to_outcome["files"] == 4
    assert 0 <= claim_to_outcome["p50"] <= claim_to_outcome["p99"] < landed_to_loaded["p50"]
    assert figures["latency"]["unrouted"]["claim_to_outcome"]["files"] == 1
    assert "landed_to_loaded" not in figures["latency"]["unrouted"]

    # The alarm rules, judged on these files only: both failures, the quarantine rate, freshness.
    checks = by_rule(figures)
    assert (checks["failed_files", None]["state"], checks["failed_files", None]["value"]) == ("ALARM", 2)
    assert checks["quarantine_rate", "paypal_transactions"]["state"] == "ALARM"
    assert checks["quarantine_rate", "paypal_transactions"]["value"] == pytest.approx(100 / 9, abs=1e-3)
    assert checks["freshness", "paypal_transactions"]["state"] == "OK"
    assert checks["freshness", "payment_transactions"]["state"] == "ALARM"
    assert {"dead_letters", "oldest_message"} <= {rule for rule, _ in checks}
    assert figures["healthy"] is False
    freshness = {row["pipeline"]: row for row in figures["freshness"]}
    assert freshness["paypal_transactions"]["last_loaded_at"] is not None
    assert freshness["paypal_transactions"]["expected_seconds"] == 180 * 60
    assert freshness["vat_rates"]["state"] == "not watched"

    # AND the HTML shows it without code, with its charts described, and no email address
    html = run.html.read_text(encoding="utf-8")
    for heading in SECTIONS:
        assert re.search(rf"<h2[^>]*>{heading}", html), heading
    assert "deploy/template.yaml" in html
    assert f"s3://{scratch_bucket}/{base}/page-0004.json" in html and "MalformedFile" in html
    alts = re.findall(r'<img [^>]*alt="([^"]+)"', html)
    assert len(alts) == 3 and all(alt != "image" for alt in alts)
    assert "read_file_entries(" not in html and "import pandas" not in html and "Traceback" not in html
    executed = run.executed.read_text(encoding="utf-8")
    for text in (html, executed):
        assert OPS_EMAIL not in text and PAYER_EMAIL not in text
    assert EMAIL_SHAPED.findall(html) == []
    # The failure's message is kept, its email-shaped text masked (in the ledger already).
    assert re.search(r"no pipeline matches key (&#39;|')[^&']*\[email\](&#39;|')", html)


def test_monitoring_notebook_says_so_when_the_period_has_no_files(stack, prefix, tmp_path):
    # GIVEN a period before the ledger's time, and keys no file has
    out_dir = tmp_path / "empty"

    # WHEN the notebook reports it
    run = run_notebook(
        NOTEBOOK, out_dir, {"hours": 2.0, "until": "2001-01-01T00:00:00Z", "key_prefix": prefix}
    )

    # THEN it runs to the end and says there was nothing, with zeros and the rules' verdicts
    assert run.ok, run.error
    figures = json.loads((out_dir / "monitoring.json").read_text(encoding="utf-8"))
    assert figures["period"]["start"] == "2000-12-31T22:00:00+00:00"
    assert figures["period"]["until"] == "2001-01-01T00:00:00+00:00"
    assert set(figures["headline"].values()) == {0}
    assert figures["throughput"] == [] and figures["failures"] == []
    assert figures["failures_by_type"] == {} and figures["quarantine_rate"] == {} and figures["latency"] == {}
    checks = by_rule(figures)
    assert checks["failed_files", None]["state"] == "OK"
    # Silence is what freshness catches: no file loaded is an alarm.
    assert checks["freshness", "paypal_transactions"]["state"] == "ALARM"
    html = run.html.read_text(encoding="utf-8")
    assert "No files in this period" in html
    assert "<img " not in html
