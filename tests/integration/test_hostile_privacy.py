"""Hostile privacy: a payer's email and phone number typed into free text never reach BigQuery.

PayPal's ``custom_field`` (set by the shop at checkout), a transaction note, an item description,
and a free-text ``note`` the game's payments export carries are producer text: a buyer's email and
phone number end up there. Whole email columns are already redacted or pseudonymised; these files
check that the same data inside free text is masked before storage, on both readers (the row
reader, and the whole-file Arrow reader of NDJSON), that a masked email still joins to the payer's
pseudonymised email, and that ``ingest inspect`` shows the masked values only.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.helpers import isolate_shipped_pipelines
from support.paypal_documented import item, payer, payment_row, sale

from ingest.adapters.bigquery import queries
from ingest.apps.tools.inspect import inspect_file
from ingest.core import arrow_ndjson, prepare
from ingest.core.config import load_pipelines
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file

pytestmark = pytest.mark.integration

EMAIL = "jane.roe@example.com"
PHONE = "+44 20 7946 0958"
US_PHONE = "+1 (555) 123-4567"
CUSTOM_FIELD = f"Gift from Jane Roe <{EMAIL}>, call {PHONE}"
NOTE = f"Customer {EMAIL.upper()} asked for a refund, phone {US_PHONE} or (555) 987-6543"
# Any piece of the contact details above, in any column, is a leak.
LEAKS = re.compile(r"jane\.roe@|@example\.com|7946|0958|123-4567|987-6543", re.IGNORECASE)
# inspect shows an email column as j***@example.com (by design: the domain tells a person what the
# field holds), so there the domain alone is no leak; a whole address or any phone digits are.
SHOWN_LEAKS = re.compile(r"jane\.roe@|7946|0958|123-4567|987-6543", re.IGNORECASE)
TRANSACTION_ID = "5TY05013RG002845M"
INVOICE = "INV-2021-000123"


def paypal_record() -> dict[str, Any]:
    """A sale in Transaction Search's documented shape, contact details in three free-text fields."""
    record = sale(
        TRANSACTION_ID,
        "2021-07-01T10:00:00+0000",
        "20.00",
        "-0.88",
        "19.12",
        buyer=payer("JANEROE1XYZ9", "GB", email=EMAIL, given_name="Jane", surname="Roe"),
        items=[{**item("502", "Gem Pack", "20.00"), "item_description": f"Gems for {EMAIL}"}],
    )
    info = record["transaction_info"]
    info |= {"invoice_id": INVOICE, "custom_field": CUSTOM_FIELD, "transaction_note": f"Text me: {PHONE}"}
    return record


def payment() -> dict[str, Any]:
    """The game's row of the same payment, a free-text ``note`` the pipeline has no column for."""
    row = payment_row(30001, 502, "20.00", "2021-07-01T10:05:00.000Z", country="GB")
    return {**row, "payer_email": EMAIL, "note": NOTE}


def payments_csv() -> bytes:
    out = io.StringIO()
    row = payment()
    writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


# (reader, pipeline, key under the prefix, bytes): each file alone in its table's rows.
FILES = {
    "paypal-json-array": ("row", "paypal_transactions", "paypal/transactions/2021/07/01/page-0001",
                          lambda: json.dumps([paypal_record()], indent=1).encode()),
    "paypal-ndjson": ("arrow", "paypal_transactions", "paypal/transactions/2021/07/01/page-0002.ndjson",
                      lambda: json.dumps(paypal_record()).encode() + b"\n"),
    "payments-csv-export": ("row", "payment_transactions", "payments/exports/2021-07-01.csv", payments_csv),
    "payments-firehose-ndjson": ("arrow", "payment_transactions", "payments/transactions/2021/07/01/stream",
                                 lambda: json.dumps(payment()).encode() + b"\n"),
}  # fmt: skip


@pytest.fixture
def tables(pipelines_dir: Path, prefix: str) -> dict[str, str]:
    return isolate_shipped_pipelines(pipelines_dir, prefix)


def load(name: str, services: Any, bucket: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> FileRef:
    """Put the file in the lake and ingest it, on the reader the case names (asserted taken)."""
    reader, _, key, build = FILES[name]
    body = build()
    taken: list[bool] = []
    real = arrow_ndjson.load_table

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(arrow_ndjson, "load_table", spy)
    # The test files are small; the Arrow reader only skips small files for speed.
    monkeypatch.setattr(prepare, "ARROW_MIN_BYTES", 0 if reader == "arrow" else prepare.ARROW_MIN_BYTES)
    response = services.s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
    ref = FileRef.of(bucket, f"{prefix}/{key}", response["ETag"], len(body))
    result = ingest_file(ref, services)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (Status.LOADED, 1, 0), (
        result.message
    )
    assert any(taken) is (reader == "arrow"), f"{name} was not read by the {reader} reader"
    return ref


def stored_row(services: Any, table_id: str, ref: FileRef) -> tuple[dict[str, Any], str]:
    """The file's row, and the whole row as BigQuery's own JSON text (every column, nested ones too)."""
    frame = queries.query_dataframe(
        services.bigquery,
        f"SELECT t.*, TO_JSON_STRING(t) AS row_text FROM `{services.bigquery.project}.{table_id}` AS t"
        " WHERE _source_uri = @uri",
        {"uri": ref.uri},
    )
    (row,) = frame.to_dict("records")
    return row, row.pop("row_text")


def as_json(value: Any) -> Any:
    """A JSON column's value as a Python value (the emulator may hand it back as text, once or twice)."""
    while isinstance(value, str):
        value = json.loads(value)
    return value


@pytest.mark.parametrize("name", list(FILES))
def test_contact_details_in_free_text_are_masked_before_storage(
    name, make_services, tables, scratch_bucket, prefix, monkeypatch
):
    services = make_services()
    _, pipeline, _, _ = FILES[name]
    ref = load(name, services, scratch_bucket, prefix, monkeypatch)

    row, row_text = stored_row(services, tables[pipeline], ref)

    assert not LEAKS.search(row_text), row_text
    # The masked email is the payer's pseudonym (12 hex digits of it): free text joins the payer.
    email = f"[email:{row['payer_email_hash'][:12]}]"
    if pipeline == "paypal_transactions":
        assert row["custom_field"] == f"Gift from Jane Roe <{email}>, call [phone]"
        raw = as_json(row["_raw"])
        info = raw["transaction_info"]
        assert info["custom_field"] == row["custom_field"]
        assert info["transaction_note"] == "Text me: [phone]"
        assert raw["cart_info"]["item_details"][0]["item_description"] == f"Gems for {email}"
        # Ids, invoices and timestamps are not contact details.
        assert (row["transaction_id"], row["invoice_id"]) == (TRANSACTION_ID, INVOICE)
        assert info["transaction_initiation_date"] == "2021-07-01T10:00:00+0000"
    else:
        extra = as_json(row["_extra"])
        assert extra == {"note": f"Customer {email} asked for a refund, phone [phone] or [phone]"}


def test_masked_email_in_free_text_joins_the_payer_on_both_sides(
    make_services, tables, scratch_bucket, prefix, monkeypatch
):
    services = make_services()
    paypal_ref = load("paypal-json-array", services, scratch_bucket, prefix, monkeypatch)
    payments_ref = load("payments-csv-export", services, scratch_bucket, prefix, monkeypatch)

    paypal, _ = stored_row(services, tables["paypal_transactions"], paypal_ref)
    ours, _ = stored_row(services, tables["payment_transactions"], payments_ref)

    # One key, one payer: the same pseudonym in both tables' email columns and in both free texts.
    assert paypal["payer_email_hash"] == ours["payer_email_hash"]
    marker = re.search(r"\[email:([0-9a-f]{12})\]", paypal["custom_field"])
    assert marker and ours["payer_email_hash"].startswith(marker[1])
    assert f"[email:{marker[1]}]" in as_json(ours["_extra"])["note"]


@pytest.mark.parametrize("name", ["paypal-json-array", "payments-csv-export"])
def test_inspect_shows_free_text_masked(name, tmp_path, pipelines_dir, tables):
    del tables  # written into pipelines_dir
    _, pipeline, _, build = FILES[name]
    path = tmp_path / name
    path.write_bytes(build())

    report = inspect_file(path, pipeline=pipeline, pipelines=load_pipelines(pipelines_dir))

    assert report.ok and report.pipeline is not None and report.pipeline.would_load == 1
    shown = json.dumps(report.to_dict(), default=str)
    assert not SHOWN_LEAKS.search(shown), shown
    (sample,) = report.sample
    if pipeline == "paypal_transactions":
        assert (
            sample["record"]["transaction_info"]["custom_field"]
            == "Gift from Jane Roe <[email]>, call [phone]"
        )
        assert sample["record"]["transaction_info"]["transaction_id"] == TRANSACTION_ID
    else:
        assert sample["record"]["note"] == "Customer [email] asked for a refund, phone [phone] or [phone]"
