"""Coercing records to a pipeline's BigQuery types: what is accepted, what is rejected and why."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.helpers import PAYER_EMAIL, PAYER_NAMES, SHIPPING_STREET, paypal_transaction

from ingest.core.coerce.arrow_casts import to_arrow
from ingest.core.coerce.privacy import redact
from ingest.core.coerce.rows import Coerced, RecordCoercer
from ingest.core.config import Pipeline, load_pipelines, parse_pipeline
from ingest.core.errors import MissingColumn
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.formats.reader import read_rows
from ingest.core.settings import PACKAGE_DIR

LINEAGE = {
    "_source_uri": "s3://payments-lake/orders/2021/07/01/orders.json",
    "_source_etag": "0123456789abcdef0123456789abcdef",
    "_ingested_at": datetime(2021, 7, 2, 0, 5, 12, tzinfo=UTC),
}
LARGEST_NUMERIC = "99999999999999999999999999999.999999999"

KEY = b"pseudonym-key-of-the-tests"


def pipeline_of(*columns: dict[str, Any], **options: Any) -> Pipeline:
    raw = {
        "name": "orders",
        "key_pattern": "^orders/",
        "table": "raw.orders",
        "business_key": [columns[0]["name"]],
        "columns": list(columns),
        **options,
    }
    return parse_pipeline(raw, "test")


ORDERS = pipeline_of(
    {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "amount", "type": "NUMERIC", "mode": "REQUIRED"},
    {"name": "ordered_at", "type": "TIMESTAMP"},
    {"name": "quantity", "type": "INT64"},
)


def shipped(name: str) -> Pipeline:
    return next(p for p in load_pipelines(PACKAGE_DIR / "pipelines") if p.name == name)


def rows_of(*records: dict[str, Any]) -> list[ParsedRow]:
    return [ParsedRow(number, record) for number, record in enumerate(records, start=1)]


def coerce_value(bq_type: str, value: Any, *, empty_is_null: bool = False) -> Coerced:
    pipeline = pipeline_of({"name": "value", "type": bq_type})
    return RecordCoercer(pipeline, empty_is_null).coerce(rows_of({"value": value}))


def accepted(bq_type: str, value: Any) -> Any:
    result = coerce_value(bq_type, value)
    assert result.rejected == [], result.rejected
    return result.columns["value"][0]


def rejection(bq_type: str, value: Any) -> str:
    result = coerce_value(bq_type, value)
    assert result.row_numbers == []
    assert len(result.rejected) == 1
    return result.rejected[0].reason


# ---------------------------------------------------------------- one rule per type


@pytest.mark.parametrize(("value", "expected"), [("12", 12), (" 42 ", 42), ("-7", -7), (12, 12), (12.0, 12)])
def test_int64_accepts_whole_numbers_in_text_or_json(value: Any, expected: int) -> None:
    result = accepted("INT64", value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [1.5, "1.5", "12.0", "twelve", True, False, 2**63, {"n": 1}])
def test_int64_rejects_fractions_booleans_and_out_of_range(value: Any) -> None:
    assert rejection("INT64", value).startswith("value: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19.99", "19.99"),
        (" -0.93 ", "-0.93"),
        (0.1, "0.1"),
        (5, "5"),
        ("0.000000001", "0.000000001"),
        ("1e3", "1000"),
        ("1.0000000000", "1"),  # zeros past the 9th place lose nothing
        (LARGEST_NUMERIC, LARGEST_NUMERIC),
        ("-" + LARGEST_NUMERIC, "-" + LARGEST_NUMERIC),
    ],
)
def test_numeric_is_an_exact_decimal(value: Any, expected: str) -> None:
    result = accepted("NUMERIC", value)
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0.0000000001", "more than 9 decimal places"),
        ("NaN", "not finite"),
        ("Infinity", "not finite"),
        ("-Infinity", "not finite"),
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        ("100000000000000000000000000000", "too large"),
        ("1e29", "too large"),
        ("19,99", "not a number"),
        (True, "bool"),
    ],
)
def test_numeric_rejects_what_bigquery_numeric_cannot_hold(value: Any, reason: str) -> None:
    assert reason in rejection("NUMERIC", value)


@pytest.mark.parametrize("bq_type", ["INT64", "NUMERIC", "FLOAT64"])
@pytest.mark.parametrize(
    "value",
    [
        "1_000_123",  # Python's int() and Decimal() take the underscores
        "\u0661\u0662\u0663",  # Arabic-Indic 123: int() reads it
        "\uff11\uff12\uff13",  # full-width 123: Decimal() reads it
        "\uff11\uff12.5",
    ],
)
def test_numbers_not_written_with_plain_digits_are_refused(bq_type: str, value: str) -> None:
    assert "not written with plain digits" in rejection(bq_type, value)


@pytest.mark.parametrize(("bq_type", "value"), [("INT64", "1,000,123"), ("NUMERIC", "1,000.50")])
def test_thousands_separators_still_read(bq_type: str, value: str) -> None:
    assert accepted(bq_type, value) == (1000123 if bq_type == "INT64" else Decimal("1000.50"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-07-01T10:02:41+0000", datetime(2021, 7, 1, 10, 2, 41, tzinfo=UTC)),  # PayPal
        ("2021-07-03T22:05:31.000Z", datetime(2021, 7, 3, 22, 5, 31, tzinfo=UTC)),  # game database
        ("2021-07-01T12:02:41+02:00", datetime(2021, 7, 1, 10, 2, 41, tzinfo=UTC)),
        ("2021-07-01 10:02:41", datetime(2021, 7, 1, 10, 2, 41, tzinfo=UTC)),  # naive is UTC
    ],
    ids=["paypal", "game-db", "offset", "naive"],
)
def test_timestamp_is_read_as_utc(value: str, expected: datetime) -> None:
    result = accepted("TIMESTAMP", value)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["yesterday", "2021-13-01T00:00:00Z", 1625133761, ""])
def test_timestamp_rejects_what_is_not_an_iso_timestamp(value: Any) -> None:
    pipeline = pipeline_of({"name": "value", "type": "TIMESTAMP", "mode": "REQUIRED"})
    result = RecordCoercer(pipeline, empty_is_null=False).coerce(rows_of({"value": value}))
    assert [r.number for r in result.rejected] == [1]
    assert result.rejected[0].reason.startswith("value: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("0", False), ("true", True), ("FALSE", False), (" yes ", True), (True, True), (0, False)],
)
def test_bool_accepts_the_usual_spellings(value: Any, expected: bool) -> None:
    assert accepted("BOOL", value) is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2])
def test_bool_rejects_other_values(value: Any) -> None:
    assert "not a boolean" in rejection("BOOL", value)


def test_date_accepts_iso_dates() -> None:
    assert accepted("DATE", "2021-07-01") == date(2021, 7, 1)


@pytest.mark.parametrize("value", ["01/07/2021", "2021-02-30", 20210701])
def test_date_rejects_other_shapes_and_impossible_days(value: Any) -> None:
    assert rejection("DATE", value).startswith("value: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), (True, "true"), ({"b": 1, "a": [2]}, '{"b":1,"a":[2]}'), ("é", "é")],
)
def test_string_columns_take_json_scalars_and_objects_as_text(value: Any, expected: str) -> None:
    assert accepted("STRING", value) == expected


# ---------------------------------------------------------------- rows


def test_required_value_missing_rejects_that_row_only_naming_the_column() -> None:
    rows = rows_of(
        {"order_id": "o-1", "amount": "1.50"},
        {"order_id": "o-2"},
        {"order_id": "o-3", "amount": "3.50"},
        {"order_id": "o-4", "amount": None},
    )

    result = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    assert [r.number for r in result.rejected] == [2, 4]
    assert all("amount" in r.reason for r in result.rejected)
    assert json.loads(result.rejected[0].raw) == {"order_id": "o-2"}
    assert result.row_numbers == [1, 3]
    assert result.columns["order_id"] == ["o-1", "o-3"]
    assert result.columns["amount"] == [Decimal("1.50"), Decimal("3.50")]
    assert result.rows_in == 4


def test_bad_value_rejects_the_row_with_column_and_value_and_keeps_the_others() -> None:
    rows = rows_of(
        {"order_id": "o-1", "amount": "1.00", "quantity": "2"},
        {"order_id": "o-2", "amount": "2.00", "quantity": "two"},
    )

    result = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    assert result.row_numbers == [1]
    (bad,) = result.rejected
    assert bad.number == 2
    assert "quantity" in bad.reason and "'two'" in bad.reason


def test_rows_the_reader_could_not_parse_are_rejected_with_its_reason_and_text() -> None:
    rows = [
        ParsedRow(1, {"order_id": "o-1", "amount": "1"}),
        ParsedRow(2, None, "line is not valid JSON: Expecting value", '{"order_id": "o-2",'),
    ]

    result = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    assert result.row_numbers == [1]
    (bad,) = result.rejected
    assert (bad.number, bad.raw) == (2, '{"order_id": "o-2",')
    assert "not valid JSON" in bad.reason


def test_nan_in_a_json_record_rejects_that_row_and_keeps_the_others() -> None:
    # Python's JSON reader accepts the non-standard NaN / Infinity literals some exporters write.
    data = (
        b'{"order_id": "o-1", "amount": "1"}\n{"order_id": "o-2", "amount": "2", "score": NaN}\n'
        b'{"order_id": "o-3", "amount": Infinity}\n{"order_id": "o-4", "amount": "4"}\n'
    )
    _, rows = read_rows(io.BytesIO(data))

    result = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    assert result.row_numbers == [1, 4]
    assert [r.number for r in result.rejected] == [2, 3]
    assert "amount" in result.rejected[1].reason and "not finite" in result.rejected[1].reason
    assert "NaN" in result.rejected[0].raw and "o-2" in result.rejected[0].raw


def test_empty_csv_fields_are_null_in_every_type() -> None:
    rows = rows_of({"order_id": "o-1", "amount": "1", "ordered_at": "", "quantity": ""})

    result = RecordCoercer(ORDERS, empty_is_null=True).coerce(rows)

    assert result.rejected == []
    assert (result.columns["ordered_at"], result.columns["quantity"]) == ([None], [None])


def test_empty_csv_string_in_a_nullable_string_column_is_null() -> None:
    pipeline = pipeline_of(
        {"name": "code", "type": "STRING", "mode": "REQUIRED"}, {"name": "note", "type": "STRING"}
    )

    result = RecordCoercer(pipeline, empty_is_null=True).coerce(rows_of({"code": "DE", "note": ""}))

    assert result.columns["note"] == [None]


def test_empty_csv_value_in_a_required_column_rejects_the_row() -> None:
    result = RecordCoercer(ORDERS, empty_is_null=True).coerce(rows_of({"order_id": "", "amount": "1"}))

    assert result.row_numbers == []
    assert "order_id" in result.rejected[0].reason


def test_empty_json_string_is_kept_in_string_columns_and_null_in_typed_ones() -> None:
    pipeline = pipeline_of(
        {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "note", "type": "STRING"},
        {"name": "amount", "type": "NUMERIC"},
        {"name": "quantity", "type": "INT64"},
        {"name": "ordered_at", "type": "TIMESTAMP"},
    )
    record = {"order_id": "o-1", "note": "", "amount": "", "quantity": "", "ordered_at": ""}

    result = RecordCoercer(pipeline, empty_is_null=False).coerce(rows_of(record))

    assert result.rejected == []
    assert result.columns["note"] == [""]
    assert [result.columns[c] for c in ("amount", "quantity", "ordered_at")] == [[None], [None], [None]]


def test_unknown_top_level_fields_are_kept_as_json_in_extra() -> None:
    rows = rows_of(
        {"order_id": "o-1", "amount": "1", "coupon": "SUMMER21", "meta": {"app": "ios", "build": 7}},
        {"order_id": "o-2", "amount": "2"},
    )

    result = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    first, second = result.columns["_extra"]
    assert json.loads(first) == {"coupon": "SUMMER21", "meta": {"app": "ios", "build": 7}}
    assert second is None
    assert result.extra_fields == {"coupon", "meta"}


def test_fields_under_a_mapped_nested_object_are_not_extras() -> None:
    pipeline = pipeline_of(
        {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "amount", "type": "NUMERIC", "source": "price.value"},
    )
    record = {"order_id": "o-1", "price": {"value": "1.25", "currency_code": "EUR"}}

    result = RecordCoercer(pipeline, empty_is_null=False).coerce(rows_of(record))

    assert result.columns["amount"] == [Decimal("1.25")]
    assert result.columns["_extra"] == [None]
    assert result.extra_fields == set()


# ---------------------------------------------------------------- personal data


def test_redact_removes_nested_and_whole_paths_and_leaves_the_input_alone() -> None:
    record = {
        "id": 1,
        "payer_info": {
            "account_id": "A1",
            "email_address": "jane@example.com",
            "payer_name": {"surname": "Doe"},
        },
        "shipping_info": {"address": {"city": "Berlin"}},
        "note": "plain",
    }
    before = copy.deepcopy(record)

    kept = redact(record, [("payer_info", "email_address"), ("payer_info", "payer_name"), ("shipping_info",)])

    assert kept == {"id": 1, "payer_info": {"account_id": "A1"}, "note": "plain"}
    assert record == before


def test_redact_ignores_paths_that_are_absent_or_run_through_non_objects() -> None:
    record = {"payer_info": "withheld", "id": 1}

    assert redact(record, [("payer_info", "email_address"), ("missing", "deep", "path")]) == record


def test_coercer_redacts_the_kept_record_without_touching_the_parsed_row() -> None:
    pipeline = pipeline_of(
        {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
        record_column="_raw",
        redact=["payer_info.email_address"],
    )
    record = {"order_id": "o-1", "payer_info": {"email_address": "jane@example.com", "country_code": "DE"}}
    before = copy.deepcopy(record)

    result = RecordCoercer(pipeline, empty_is_null=False).coerce(rows_of(record))

    assert json.loads(result.columns["_raw"][0]) == {"order_id": "o-1", "payer_info": {"country_code": "DE"}}
    assert record == before


def test_redacted_top_level_fields_never_reach_extra() -> None:
    pipeline = shipped("payment_transactions")
    record = {
        "transaction_id": 1001,
        "total_cost": "4.99",
        "currency_code": "EUR",
        "payment_date": "2021-07-03T22:05:31.000Z",
        "payer_email": "jane.doe@example.com",
        "ip_address": "203.0.113.7",
        "promo_code": "SUMMER21",
    }

    result = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=KEY).coerce(rows_of(record))

    assert result.rejected == []
    assert json.loads(result.columns["_extra"][0]) == {"promo_code": "SUMMER21"}
    assert result.extra_fields == {"promo_code"}


def test_paypal_pipeline_never_outputs_payer_email_or_name() -> None:
    # GIVEN a realistic PayPal record, and one that will be rejected (no transaction id)
    pipeline = shipped("paypal_transactions")
    good = paypal_transaction()
    bad = paypal_transaction(transaction_id=None)

    # WHEN it is coerced and turned into the load table
    result = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=KEY).coerce(rows_of(good, bad))
    table = to_arrow(pipeline, result, LINEAGE)

    # THEN the business columns are there ...
    (row,) = table.to_pylist()
    assert row["gross_amount"] == Decimal("19.99") and row["fee_amount"] == Decimal("-0.93")
    assert row["payer_account_id"] == "6STWC2LSUYYYE"
    assert row["payer_country_code"] == "DE"
    assert json.loads(row["_raw"])["transaction_info"]["transaction_subject"] == "Gem pack x100"
    # ... and no personal data is in any column, nor in the quarantined row
    stored = json.dumps(row, default=str, ensure_ascii=False)
    quarantined = result.rejected[0].raw
    for secret in (PAYER_EMAIL, *PAYER_NAMES, SHIPPING_STREET):
        assert secret not in stored
        assert secret not in quarantined


# ---------------------------------------------------------------- tabular headers


def test_check_header_names_the_missing_required_column() -> None:
    coercer = RecordCoercer(shipped("vat_rates"), empty_is_null=True)

    with pytest.raises(MissingColumn, match="vat_rate"):
        coercer.check_header(("tax_code", "name", "country_name"))


def test_check_header_accepts_a_header_with_the_required_columns_in_any_order() -> None:
    coercer = RecordCoercer(shipped("vat_rates"), empty_is_null=True)

    coercer.check_header(("name", "vat_rate", "tax_code", "something_new"))


def test_check_header_looks_for_the_source_name_of_a_renamed_column() -> None:
    pipeline = pipeline_of({"name": "tax_code", "type": "STRING", "mode": "REQUIRED", "source": "Tax Code"})

    with pytest.raises(MissingColumn, match="Tax Code"):
        RecordCoercer(pipeline, empty_is_null=True).check_header(("tax_code",))


# ---------------------------------------------------------------- Arrow


def test_to_arrow_has_the_load_schema_in_order_with_lineage_filled() -> None:
    rows = rows_of(
        {"order_id": "o-1", "amount": "1.50", "ordered_at": "2021-07-01T10:00:00Z", "quantity": 2},
        {"order_id": "o-2", "amount": "oops"},
        {"order_id": "o-3", "amount": "3.50", "tip": "0.50"},
    )
    coerced = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)

    table = to_arrow(ORDERS, coerced, LINEAGE)

    utc = pa.timestamp("us", tz="UTC")
    assert [(f.name, f.type, f.nullable) for f in table.schema] == [
        ("order_id", pa.string(), False),
        ("amount", pa.decimal128(38, 9), False),
        ("ordered_at", utc, True),
        ("quantity", pa.int64(), True),
        ("_extra", pa.json_(), True),
        ("_source_uri", pa.string(), False),
        ("_source_etag", pa.string(), False),
        ("_source_row", pa.int64(), False),
        ("_ingested_at", utc, False),
    ]
    assert table.schema.names == [c.name for c in ORDERS.bigquery_columns()]
    assert table.num_rows == 2
    assert table.column("_source_row").to_pylist() == [1, 3]
    assert table.column("_source_uri").to_pylist() == [LINEAGE["_source_uri"]] * 2
    assert table.column("_source_etag").to_pylist() == [LINEAGE["_source_etag"]] * 2
    assert table.column("_ingested_at").to_pylist() == [LINEAGE["_ingested_at"]] * 2
    assert table.column("ordered_at").to_pylist() == [datetime(2021, 7, 1, 10, tzinfo=UTC), None]
    assert [json.loads(v) if v else v for v in table.column("_extra").to_pylist()] == [None, {"tip": "0.50"}]


def test_to_arrow_includes_the_kept_record_column_before_extra() -> None:
    pipeline = shipped("paypal_transactions")
    coerced = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=KEY).coerce(
        rows_of(paypal_transaction())
    )

    table = to_arrow(pipeline, coerced, LINEAGE)

    names = table.schema.names
    assert names[-6:] == ["_raw", "_extra", "_source_uri", "_source_etag", "_source_row", "_ingested_at"]
    assert table.schema.field("_raw").type == pa.json_()


def test_numeric_values_survive_arrow_and_parquet_exactly() -> None:
    amounts = ["0.1", "19.99", "-0.93", "0.000000001", "123456789.123456789", LARGEST_NUMERIC]
    rows = rows_of(*({"order_id": f"o-{i}", "amount": a} for i, a in enumerate(amounts)))
    coerced = RecordCoercer(ORDERS, empty_is_null=False).coerce(rows)
    assert coerced.rejected == []

    table = to_arrow(ORDERS, coerced, LINEAGE)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    read_back = pq.read_table(buffer)

    expected = [Decimal(a) for a in amounts]
    assert table.column("amount").to_pylist() == expected
    assert read_back.column("amount").to_pylist() == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", float("nan")])
def test_float64_rejects_values_bigquery_cannot_compare_or_sum(value: Any) -> None:
    assert "not finite" in rejection("FLOAT64", value)
