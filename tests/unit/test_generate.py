"""The demo-data generator: reproducible, honest about what it injects, and shaped like the lake."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest
import yaml

from ingest import errors
from ingest.generate import GeneratedFile, GeneratedMonth, generate_month, write_month

PIPELINES_DIR = Path(__file__).resolve().parents[2] / "ingest" / "pipelines"
GZIP_MAGIC = b"\x1f\x8b"
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def month() -> GeneratedMonth:
    return generate_month(2021, 7)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, dict]:
    configs = (yaml.safe_load(path.read_text()) for path in sorted(PIPELINES_DIR.glob("*.yaml")))
    return {config["name"]: config for config in configs}


def text_of(file: GeneratedFile) -> str:
    body = gzip.decompress(file.body) if file.compression == "gzip" else file.body
    return body.decode("utf-8")


def parse_records(file: GeneratedFile) -> list:
    """Records as a reader of the file's format would see them (JSON values or CSV rows)."""
    text = text_of(file)
    if file.format == "json_array":
        return json.loads(text)
    if file.format == "ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if file.format == "json_concat":
        decoder, records, position = json.JSONDecoder(), [], 0
        while position < len(text):
            if text[position].isspace():
                position += 1
                continue
            record, position = decoder.raw_decode(text, position)
            records.append(record)
        return records
    delimiter = "\t" if file.format == "tsv" else ","
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def loadable(month: GeneratedMonth, pipeline: str | None = None) -> list[GeneratedFile]:
    wanted = [file for file in month.files if pipeline in (None, file.pipeline)]
    return [file for file in wanted if file.expect_failure is None]


def records_of(month: GeneratedMonth, pipeline: str) -> list[dict]:
    return [record for file in loadable(month, pipeline) for record in parse_records(file)]


def payment_rows(month: GeneratedMonth) -> list[dict]:
    return records_of(month, "payment_transactions")


def value_at(record: dict, path: str) -> object:
    for part in path.split("."):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    return record


def fits_type(value: object, column_type: str) -> bool:
    """Whether a non-null value can be read as the declared BigQuery type."""
    if isinstance(value, bool):
        return column_type in ("BOOL", "STRING")
    if column_type == "STRING":
        return isinstance(value, str)
    if column_type == "INT64":
        return isinstance(value, int) or re.fullmatch(r"-?\d+", str(value)) is not None
    if column_type == "NUMERIC":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return False
        return number.is_finite() and number.as_tuple().exponent >= -9
    if column_type == "TIMESTAMP":
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            return False
        return True
    if column_type == "BOOL":
        return str(value).lower() in ("0", "1", "true", "false")
    raise AssertionError(f"type {column_type} not covered by this test")


def breaks_schema(record: dict, columns: list[dict], *, empty_is_null: bool) -> bool:
    for column in columns:
        value = value_at(record, column.get("source", column["name"]))
        if value is None or (empty_is_null and value == ""):
            if column.get("mode") == "REQUIRED":
                return True
        elif not fits_type(value, column["type"]):
            return True
    return False


def test_same_seed_gives_identical_bytes() -> None:
    first, second = generate_month(2021, 7, seed=11), generate_month(2021, 7, seed=11)
    assert [(f.key, f.body) for f in first.files] == [(f.key, f.body) for f in second.files]
    assert first.manifest() == second.manifest()


def test_different_seed_gives_different_files(month: GeneratedMonth) -> None:
    other = generate_month(2021, 7, seed=8)
    assert {f.body for f in month.files} != {f.body for f in other.files}
    assert {f.key for f in month.files} != {f.key for f in other.files}


def test_every_dated_key_falls_in_the_requested_month() -> None:
    february = generate_month(2024, 2, payments_per_day=5)
    dated = [f.key for f in february.files if f.key.startswith(("payments/", "paypal/"))]
    assert all("/2024/02/" in key for key in dated)
    paypal_days = {key.split("/")[4] for key in dated if key.startswith("paypal/")}
    assert len(paypal_days) == 29  # a leap February, with PayPal pages every day


def test_default_month_has_about_thirty_payments_a_day(month: GeneratedMonth) -> None:
    payments = payment_rows(month)
    paypal = records_of(month, "paypal_transactions")
    assert 800 <= len(payments) <= 1100
    assert 750 <= len(paypal) <= 1100  # minus the records lost with the broken page
    assert 100 <= len(month.files) <= 500


def test_generation_takes_well_under_two_seconds() -> None:
    started = time.perf_counter()
    generate_month(2021, 8)
    assert time.perf_counter() - started < 2


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        generate_month(2021, 13)
    with pytest.raises(ValueError):
        generate_month(2021, 7, payments_per_day=0)


def test_keys_are_unique(month: GeneratedMonth) -> None:
    keys = [file.key for file in month.files]
    assert len(keys) == len(set(keys))


def test_manifest_totals_equal_the_sum_over_files(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    files, totals = manifest["files"], manifest["totals"]
    working = [f for f in files if f["expect_failure"] is None]
    assert totals["files"] == len(files) == len(month.files)
    assert totals["files_expected_to_fail"] == len(files) - len(working)
    assert totals["rows_in"] == sum(f["rows"] for f in files)
    assert totals["rows_expected_loaded"] == sum(f["rows"] - f["bad_rows"] for f in working)
    assert totals["rows_expected_quarantined"] == sum(f["bad_rows"] for f in working)
    assert totals["rows_expected_loaded"] + totals["rows_expected_quarantined"] == sum(
        f["rows"] for f in working
    )


def test_files_that_fail_whole_count_no_rows(month: GeneratedMonth) -> None:
    failing = [file for file in month.files if file.expect_failure]
    assert failing
    assert all(file.rows == 0 and file.bad_rows == 0 for file in failing)


def test_manifest_per_pipeline_totals_add_up(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    per_pipeline = manifest["pipelines"]
    assert set(per_pipeline) == {f.pipeline for f in month.files if f.pipeline}
    for name, counts in per_pipeline.items():
        files = [f for f in month.files if f.pipeline == name]
        assert counts["files"] == len(files)
        assert counts["rows_in"] == sum(f.rows for f in files)
    for field in ("rows_in", "rows_expected_loaded", "rows_expected_quarantined"):
        assert sum(c[field] for c in per_pipeline.values()) == manifest["totals"][field]


def test_manifest_is_plain_json(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    assert json.loads(json.dumps(manifest)) == manifest
    assert set(manifest["files"][0]) == {
        "key",
        "pipeline",
        "format",
        "compression",
        "rows",
        "bad_rows",
        "expect_failure",
    }


def test_gzipped_bodies_start_with_the_magic_and_decompress(month: GeneratedMonth) -> None:
    gzipped = [file for file in month.files if file.compression == "gzip"]
    assert any(f.pipeline == "payment_transactions" for f in gzipped)
    assert any(f.pipeline == "paypal_transactions" for f in gzipped)
    for file in gzipped:
        assert file.body.startswith(GZIP_MAGIC)
        assert gzip.decompress(file.body)
    plain = [file for file in month.files if file.compression is None]
    assert not any(file.body.startswith(GZIP_MAGIC) for file in plain)


def test_firehose_payment_keys_have_no_extension(month: GeneratedMonth) -> None:
    pattern = re.compile(
        r"^payments/transactions/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"
        r"payments-stream-1-\1-\2-\3-\4-\d{2}-\d{2}-[0-9a-f]{8}$"
    )
    payment_files = [f for f in month.files if f.pipeline == "payment_transactions"]
    assert all(pattern.match(f.key) for f in payment_files)
    assert {f.format for f in payment_files} == {"json_concat", "ndjson"}


def test_parsed_record_count_matches_rows(month: GeneratedMonth) -> None:
    for file in loadable(month):
        assert len(parse_records(file)) == file.rows, file.key


def test_all_formats_are_present(month: GeneratedMonth) -> None:
    assert {file.format for file in month.files} == {
        "json_array",
        "ndjson",
        "json_concat",
        "csv",
        "tsv",
    }


def test_truncated_paypal_page_is_malformed(month: GeneratedMonth) -> None:
    (broken,) = [f for f in month.files if f.expect_failure == "MalformedFile"]
    assert broken.pipeline == "paypal_transactions"
    assert broken.format == "json_array"
    assert broken.body.lstrip().startswith(b"[")
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.body)


def test_unknown_export_is_expected_to_find_no_pipeline(month: GeneratedMonth) -> None:
    (unknown,) = [f for f in month.files if f.expect_failure == "UnknownPipeline"]
    assert re.fullmatch(r"exports/unknown/dump-202107\d{2}\.csv", unknown.key)
    assert unknown.pipeline is None


def test_expected_failures_name_real_error_types(month: GeneratedMonth) -> None:
    for file in month.files:
        if file.expect_failure:
            assert issubclass(getattr(errors, file.expect_failure), errors.IngestError)


def test_keys_match_exactly_one_pipeline_except_the_unknown_export(
    month: GeneratedMonth, pipelines: dict[str, dict]
) -> None:
    for file in month.files:
        key = file.key
        matches = [name for name, cfg in pipelines.items() if re.search(cfg["key_pattern"], key)]
        if file.expect_failure == "UnknownPipeline":
            assert matches == [], file.key
        else:
            assert matches == [file.pipeline], file.key


def test_bad_rows_are_exactly_the_rows_that_break_the_schema(
    month: GeneratedMonth, pipelines: dict[str, dict]
) -> None:
    for file in loadable(month):
        columns = pipelines[file.pipeline]["columns"]
        tabular = file.format in ("csv", "tsv")
        records = parse_records(file)
        broken = [r for r in records if breaks_schema(r, columns, empty_is_null=tabular)]
        assert len(broken) == file.bad_rows, file.key


def test_a_handful_of_bad_rows_in_both_payment_sources(month: GeneratedMonth) -> None:
    totals = month.manifest()["pipelines"]
    assert 1 <= totals["payment_transactions"]["rows_expected_quarantined"] <= 10
    assert 1 <= totals["paypal_transactions"]["rows_expected_quarantined"] <= 10
    payments = payment_rows(month)
    assert any(row["total_cost"] == "twelve" for row in payments)
    assert any(row["payment_date"] == "yesterday" for row in payments)
    paypal = records_of(month, "paypal_transactions")
    assert any("transaction_id" not in record["transaction_info"] for record in paypal)


def test_payment_ids_are_unique_and_increasing(month: GeneratedMonth) -> None:
    payments = payment_rows(month)
    ids = [row["transaction_id"] for row in payments if isinstance(row["transaction_id"], int)]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    item_ids = [row["transaction_item_id"] for row in payments]
    assert len(item_ids) == len(set(item_ids))


def test_successive_months_never_reuse_payment_ids(month: GeneratedMonth) -> None:
    august = payment_rows(generate_month(2021, 8, payments_per_day=5))
    july_ids = {row["transaction_id"] for row in payment_rows(month)} - {None}
    assert july_ids.isdisjoint(row["transaction_id"] for row in august)


def test_payments_look_like_the_game_database(month: GeneratedMonth) -> None:
    payments = payment_rows(month)
    currencies = [row["currency_code"] for row in payments]
    assert currencies.count("USD") > len(currencies) / 2
    assert {"GBP", "EUR"} <= set(currencies)
    assert "" in {row["country_code"] for row in payments}
    for row in payments:
        if row["payment_date"] != "yesterday":
            assert re.fullmatch(r"2021-07-\d\dT\d\d:\d\d:\d\d\.000Z", row["payment_date"])
            assert row["created_at"] > row["payment_date"]
        if row["total_cost"] != "twelve":
            assert re.fullmatch(r"\d+\.\d\d", row["total_cost"])


def test_refunds_reference_an_original_payment(month: GeneratedMonth) -> None:
    paypal = [record["transaction_info"] for record in records_of(month, "paypal_transactions")]
    originals = {
        info["transaction_id"]: info
        for info in paypal
        if info["transaction_event_code"] in ("T0006", "T0007") and "transaction_id" in info
    }
    refunds = [info for info in paypal if info["transaction_event_code"] == "T1107"]
    assert refunds
    for refund in refunds:
        original = originals[refund["paypal_reference_id"]]
        assert refund["paypal_reference_id_type"] == "TXN"
        assert Decimal(refund["transaction_amount"]["value"]) == -Decimal(
            original["transaction_amount"]["value"]
        )
        assert refund["transaction_initiation_date"] > original["transaction_initiation_date"]


def test_paypal_item_codes_match_payment_transaction_items(month: GeneratedMonth) -> None:
    payments = {str(row["transaction_item_id"]): row for row in payment_rows(month)}
    for record in records_of(month, "paypal_transactions"):
        for item in record.get("cart_info", {}).get("item_details", []):
            row = payments[item["item_code"]]
            assert item["item_name"].endswith(f"(ID: #{row['product_id']})")


def test_paypal_amounts_reconcile_with_the_game(month: GeneratedMonth) -> None:
    payments = {str(row["transaction_item_id"]): row for row in payment_rows(month)}
    checked = 0
    for record in records_of(month, "paypal_transactions"):
        info = record["transaction_info"]
        refund = info["transaction_event_code"] == "T1107"
        if refund or info["transaction_amount"]["value"] == "N/A":
            continue
        row = payments[record["cart_info"]["item_details"][0]["item_code"]]
        gross = Decimal(info["transaction_amount"]["value"])
        if row["total_cost"] != "twelve":
            assert gross == Decimal(row["total_cost"])
        assert info["transaction_amount"]["currency_code"] == row["currency_code"]
        fee = Decimal(info["fee_amount"]["value"])
        expected_fee = (gross * Decimal("0.029") + Decimal("0.30")).quantize(CENT, ROUND_HALF_UP)
        assert fee == -expected_fee
        checked += 1
    assert checked > 700


def test_reference_tables_cover_every_country_sold_in(
    month: GeneratedMonth, pipelines: dict[str, dict]
) -> None:
    by_pipeline = {f.pipeline: f for f in month.files}
    countries = parse_records(by_pipeline["country_tax_codes"])
    rates = parse_records(by_pipeline["vat_rates"])
    for name, rows in (("country_tax_codes", countries), ("vat_rates", rates)):
        assert {c["name"] for c in pipelines[name]["columns"]} <= set(rows[0])
    sold_in = {row["country_code"] for row in payment_rows(month)}
    assert sold_in - {""} <= {row["iso_2_code"] for row in countries}
    vat = {row["iso_2_code"]: Decimal(row["vat_rate"]) for row in rates}
    assert vat["GB"] == Decimal("0.2") and vat["DE"] == Decimal("0.19")
    assert vat["IE"] == Decimal("0.23") and vat["US"] == 0
    assert by_pipeline["vat_rates"].body.count(b"\r\n") == len(rates) + 1
    assert {row["is_in_european_union"] for row in countries} == {"0", "1"}


def test_write_month_writes_every_file_and_the_manifest(tmp_path: Path) -> None:
    generated = generate_month(2021, 7, payments_per_day=3)
    write_month(generated, tmp_path)
    for file in generated.files:
        assert (tmp_path / file.key).read_bytes() == file.body
    written = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert written == generated.manifest()
    on_disk = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert len(on_disk) == len(generated.files) + 1
