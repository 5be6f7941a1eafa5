"""PayPal and reference-data transforms, cart items as a REPEATED RECORD, and payer pseudonyms."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from support.helpers import PAYER_EMAIL, paypal_transaction

from ingest.core.coerce.arrow_casts import to_arrow
from ingest.core.coerce.privacy import pseudonym
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import load_pipelines, parse_pipeline
from ingest.core.errors import ConfigError
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.settings import PACKAGE_DIR
from ingest.core.transforms.apply import apply_transform
from ingest.core.transforms.exchange_rates import exchange_rate_rows
from ingest.core.transforms.paypal import flatten_transaction, product_name

KEY = b"pseudonym-key-of-the-tests"
LINEAGE = {"_source_uri": "s3://lake/k", "_source_etag": "e", "_ingested_at": None}


def shipped(name: str):
    return next(p for p in load_pipelines(PACKAGE_DIR / "pipelines") if p.name == name)


def coerce(pipeline, *records, key: bytes | None = KEY):
    rows = [ParsedRow(n, r) for n, r in enumerate(records, 1)]
    return RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=key).coerce(
        apply_transform(pipeline, rows)
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("InApp Product 1 (ID: #100110)", "InApp Product 1"),
        ("Gem Pack (ID: #2202)", "Gem Pack"),
        ("Season Pass", "Season Pass"),
        ("Bundle (ID: #) ", "Bundle"),
        ("Remove Ads (ID: #7) (ID: #8)", "Remove Ads (ID: #7)"),  # only the trailing suffix
        (None, None),
    ],
)
def test_product_name_drops_only_the_trailing_id_suffix(name, expected):
    assert product_name(name) == expected


def test_cart_items_load_as_typed_records_with_product_names():
    record = paypal_transaction()
    record["cart_info"]["item_details"] = [
        {
            "item_code": "500010001",
            "item_name": "Gem Pack (ID: #2202)",
            "item_quantity": "2",
            "item_unit_price": {"currency_code": "USD", "value": "4.99"},
            "item_amount": {"currency_code": "USD", "value": "9.98"},
        },
        {"item_code": "500010002", "item_name": "Remove Ads (ID: #2208)", "item_quantity": "1"},
    ]

    result = coerce(shipped("paypal_transactions"), record)

    assert result.rejected == []
    (items,) = result.columns["cart_items"]
    assert [(i["item_code"], i["product_name"], i["quantity"]) for i in items] == [
        ("500010001", "Gem Pack", 2),
        ("500010002", "Remove Ads", 1),
    ]
    assert items[0]["unit_price"] == Decimal("4.99") and items[1]["unit_price"] is None


def test_records_without_a_cart_have_an_empty_item_list_not_null():
    reversal = paypal_transaction(transaction_event_code="T1106", paypal_reference_id="ORIGINAL1")
    del reversal["cart_info"]

    result = coerce(shipped("paypal_transactions"), reversal)

    assert result.columns["cart_items"] == [[]]


def test_a_bad_item_quantity_rejects_the_row_naming_the_item():
    record = paypal_transaction()
    record["cart_info"]["item_details"][0]["item_quantity"] = "two"

    result = coerce(shipped("paypal_transactions"), record)

    assert result.row_numbers == []
    assert result.rejected[0].reason.startswith("cart_items: [0].quantity 'two'")


def test_the_kept_record_is_the_source_record_not_the_transformed_one():
    result = coerce(shipped("paypal_transactions"), paypal_transaction())

    kept = json.loads(result.columns["_raw"][0])
    assert "cart_items" not in kept
    assert kept["cart_info"]["item_details"][0]["item_code"] == "gems-100"


def test_payer_email_is_stored_as_a_keyed_hash_only():
    upper = paypal_transaction(email=PAYER_EMAIL.upper())
    result = coerce(shipped("paypal_transactions"), paypal_transaction(), upper)
    table = to_arrow(shipped("paypal_transactions"), result, {**LINEAGE, "_ingested_at": None})

    first, second = result.columns["payer_email_hash"]
    assert first == second == pseudonym(KEY, PAYER_EMAIL)  # case and spaces do not matter
    assert first != pseudonym(b"another key", PAYER_EMAIL)
    assert PAYER_EMAIL not in json.dumps(table.to_pylist(), default=str)


def test_a_pseudonymising_pipeline_refuses_to_run_without_a_key():
    with pytest.raises(ConfigError, match="INGEST_PSEUDONYM_KEY"):
        coerce(shipped("paypal_transactions"), paypal_transaction(), key=None)


def test_exchange_rates_object_becomes_one_row_per_currency():
    record = {
        "disclaimer": "…",
        "timestamp": 1630724128,
        "base": "USD",
        "rates": {"EUR": 0.84, "BTC": 0.000019999139},
    }

    result = coerce(shipped("exchange_rates"), record)

    assert result.columns["currency_code"] == ["BTC", "EUR"]
    assert result.columns["rate"] == [0.000019999139, 0.84]
    assert {str(t) for t in result.columns["rates_at"]} == {"2021-09-04 02:55:28+00:00"}
    assert result.row_numbers == [1, 2]


def test_an_exchange_rates_object_without_rates_is_a_quarantined_row_with_its_source():
    result = coerce(shipped("exchange_rates"), {"base": "USD", "timestamp": 1})

    (rejected,) = result.rejected
    assert "no 'rates' object" in rejected.reason
    assert json.loads(rejected.raw) == {"base": "USD", "timestamp": 1}


def test_transform_output_rows_are_numbered_in_order():
    pipeline = shipped("exchange_rates")
    rows = [
        ParsedRow(1, {"base": "USD", "timestamp": 1, "rates": {"A": 1, "B": 2}}),
        ParsedRow(2, None, error="not JSON", raw="{"),
        ParsedRow(3, {"base": "USD", "timestamp": 1, "rates": {"C": 3}}),
    ]

    numbered = [
        (row.number, row.record and row.record["currency_code"]) for row in apply_transform(pipeline, rows)
    ]

    assert numbered == [(1, "A"), (2, "B"), (3, None), (4, "C")]


def test_exchange_rate_rows_refuse_a_timestamp_that_is_not_epoch_seconds():
    with pytest.raises(ValueError, match="epoch"):
        exchange_rate_rows({"base": "USD", "timestamp": "2021-09-04", "rates": {"EUR": 1}})


def test_flatten_transaction_refuses_items_that_are_not_a_list():
    with pytest.raises(ValueError, match="not a list"):
        flatten_transaction({"cart_info": {"item_details": {"item_code": "1"}}})


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"name": "items", "type": "RECORD"}, "lists its fields"),
        (
            {
                "name": "items",
                "type": "RECORD",
                "mode": "NULLABLE",
                "fields": [{"name": "a", "type": "STRING"}],
            },
            "REPEATED",
        ),
        ({"name": "items", "type": "RECORD", "fields": [{"name": "a", "type": "RECORD"}]}, "not one of"),
        ({"name": "email", "type": "INT64", "pseudonymise": True}, "only STRING"),
        ({"name": "tags", "type": "STRING", "mode": "REPEATED"}, "NULLABLE or REQUIRED"),
    ],
)
def test_config_refuses_malformed_record_and_pseudonym_columns(column, message):
    raw = {
        "name": "x",
        "key_pattern": "^x/",
        "table": "raw.x",
        "business_key": ["id"],
        "columns": [{"name": "id", "type": "STRING"}, column],
    }
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(raw, "test.yaml")


def test_config_refuses_a_transform_that_does_not_exist():
    raw = {
        "name": "x",
        "key_pattern": "^x/",
        "table": "raw.x",
        "business_key": ["id"],
        "columns": [{"name": "id", "type": "STRING"}],
        "transform": "ingest.core.transforms.paypal:no_such_function",
    }
    with pytest.raises(ConfigError, match="cannot be loaded"):
        parse_pipeline(raw, "test.yaml")
