"""The demo-data generator: reproducible, realistic, shaped like the lake, and honest about what
it injects: its manifest must be exactly what ingestion, validation and reconciliation find."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest
import yaml

from ingest.apps.cli.main import main
from ingest.core import errors
from ingest.core.formats.reader import read_rows
from ingest.core.paypal import KNOWN_EVENT_CODES
from ingest_devstack.generate import (
    GeneratedFile,
    GeneratedMonth,
    MonthStream,
    generate_month,
    open_sink,
    pages,
    parse_s3_uri,
    write_month,
)
from ingest_devstack.generate.model import ADJUSTMENT_KINDS, DISCREPANCY_KINDS

REPO_DIR = Path(__file__).resolve().parents[2]
PIPELINES_DIR = REPO_DIR / "ingest" / "pipelines"
EXPECTATIONS_DIR = REPO_DIR / "expectations"
GZIP_MAGIC = b"\x1f\x8b"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
PAYPAL = "paypal_transactions"
PAYMENTS = "payment_transactions"
PAYMENT_CODES = ("T0006", "T0007")
# Records that adjust a sale, by event code, as the reconciliation names them (/tmp/spec.md).
ADJUSTMENTS = {
    "T1107": "refund",
    "T1106": "reversal",
    "T1201": "chargeback",
    "T1205": "chargeback",
    "T1207": "chargeback",
    "T1202": "chargeback_reversal",
    "T0106": "chargeback_fee",
    "T1110": "hold",
    "T1111": "hold_release",
}
KNOWN_CODES = KNOWN_EVENT_CODES | ADJUSTMENTS.keys()
# Every code the reconciliation covers, each of which the generated month must hold.
COVERED_CODES = {"T0006", "T0007", "T0200", "T0201", "T0400", *ADJUSTMENTS} - {"T1205", "T1207"}


@dataclass(frozen=True)
class Row:
    """One record of one file, as the real reader numbers it."""

    file: GeneratedFile
    number: int
    record: dict

    @property
    def info(self) -> dict:
        return self.record["transaction_info"]


@dataclass(frozen=True)
class Lake:
    month: GeneratedMonth
    manifest: dict
    rows: dict[str, list[Row]]  # every record of every loadable file, by pipeline, in file order
    critical: frozenset[tuple[str, int]]  # (key, row) of rows that must be quarantined
    planted: frozenset[tuple[str, int]]  # (key, row) of every planted row, warnings too

    def loaded(self, pipeline: str) -> list[Row]:
        return [row for row in self.rows[pipeline] if (row.file.key, row.number) not in self.critical]


def parse(file: GeneratedFile) -> list[dict]:
    _, rows = read_rows(io.BytesIO(file.body))
    parsed = list(rows)
    assert all(row.error is None for row in parsed), file.key
    return [row.record for row in parsed]


def build_lake(month: GeneratedMonth) -> Lake:
    manifest = month.manifest()
    rows: dict[str, list[Row]] = {}
    for file in month.files:
        if file.expect_failure is None:
            rows.setdefault(file.pipeline, []).extend(
                Row(file, number, record) for number, record in enumerate(parse(file), 1)
            )
    critical = {(d["key"], d["row"]) for d in manifest["defects"] if d["severity"] == "critical"}
    planted = {(d["key"], d["row"]) for d in manifest["defects"]}
    return Lake(month, manifest, rows, frozenset(critical), frozenset(planted))


@pytest.fixture(scope="module")
def month() -> GeneratedMonth:
    return generate_month(2021, 7)


@pytest.fixture(scope="module")
def lake(month: GeneratedMonth) -> Lake:
    return build_lake(month)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, dict]:
    configs = (yaml.safe_load(path.read_text()) for path in sorted(PIPELINES_DIR.glob("*.yaml")))
    return {config["name"]: config for config in configs}


def money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def amount(info: dict, field: str) -> Decimal:
    value = info.get(field)
    return Decimal(value["value"]) if value else Decimal(0)


def cart(record: dict) -> list[dict]:
    return (record.get("cart_info") or {}).get("item_details") or []


def item_code(record: dict) -> str:
    """The cart's first item by item_code, which an adjustment of the sale is filed under."""
    return min(item["item_code"] for item in cart(record))


def shares(record: dict) -> dict[str, Decimal]:
    """The spec's allocation, written out again: the gross in proportion to item_amount, items
    by item_code, each but the last rounded to the cent, the last the remainder."""
    gross = amount(record["transaction_info"], "transaction_amount")
    amounts = {item["item_code"]: Decimal(item["item_amount"]["value"]) for item in cart(record)}
    codes, total = sorted(amounts), sum(amounts.values())
    found = {code: (gross * amounts[code] / total).quantize(CENT, ROUND_HALF_UP) for code in codes[:-1]}
    found[codes[-1]] = gross - sum(found.values(), Decimal(0))
    return found


def currency_of(info: dict) -> str:
    return info["ending_balance"]["currency_code"]


def net(info: dict) -> Decimal:
    """What a record moves its currency's balance by: nothing for a denied payment."""
    if info.get("transaction_status") == "D":
        return Decimal(0)
    return amount(info, "transaction_amount") + amount(info, "fee_amount")


def latest(rows: list[Row], key) -> dict:
    """Dedup by business key: the version updated last wins (file order breaks ties)."""
    found: dict = {}
    for row in rows:
        found[key(row)] = (
            row
            if key(row) not in found
            else max(found[key(row)], row, key=lambda r: r.info.get("transaction_updated_date", ""))
        )
    return found


def paypal_key(row: Row) -> tuple:
    return row.info["transaction_id"], row.info["transaction_event_code"]


def payment_key(row: Row) -> object:
    return int(row.record["transaction_id"])


# -- determinism and arguments ------------------------------------------------------------------


def test_same_arguments_give_identical_bytes() -> None:
    first, second = generate_month(2021, 7, seed=11), generate_month(2021, 7, seed=11)
    assert [(f.key, f.body) for f in first.files] == [(f.key, f.body) for f in second.files]
    assert first.manifest() == second.manifest()


def test_different_seed_gives_different_files(month: GeneratedMonth) -> None:
    other = generate_month(2021, 7, seed=8)
    assert {f.body for f in month.files} != {f.body for f in other.files}
    assert {f.key for f in month.files} != {f.key for f in other.files}


def test_generation_takes_well_under_two_seconds() -> None:
    started = time.perf_counter()
    generate_month(2021, 8)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "arguments", [{"month": 13}, {"month": 7, "payments_per_day": 0}, {"month": 7, "scale": 0}]
)
def test_invalid_arguments_are_rejected(arguments: dict) -> None:
    with pytest.raises(ValueError):
        generate_month(2021, **arguments)


def test_scale_multiplies_the_sales() -> None:
    small = generate_month(2021, 9, payments_per_day=5)
    large = generate_month(2021, 9, payments_per_day=5, scale=4)
    # The game's rows are the sales; PayPal's add the month's fixed events (conversions, ...).
    small_rows, large_rows = (m.manifest()["pipelines"][PAYMENTS]["rows_in"] for m in (small, large))
    assert 3.3 * small_rows < large_rows < 4.5 * small_rows
    assert large.manifest()["scale"] == 4


def test_a_stream_hands_out_the_same_files_and_manifest(month: GeneratedMonth) -> None:
    stream = MonthStream(2021, 7)
    with pytest.raises(RuntimeError):
        stream.manifest()
    assert [(f.key, f.body) for f in stream] == [(f.key, f.body) for f in month.files]
    assert stream.manifest() == month.manifest()
    with pytest.raises(RuntimeError):
        list(stream)


# -- keys, formats, files ---------------------------------------------------------------------


def test_every_dated_key_falls_in_the_requested_month() -> None:
    february = generate_month(2024, 2, payments_per_day=5)
    dated = [f.key for f in february.files if f.key.startswith(("payments/", "paypal/"))]
    assert all("/2024/02/" in key for key in dated)
    paypal_days = {key.split("/")[4] for key in dated if key.startswith("paypal/")}
    assert len(paypal_days) == 29  # a leap February, with PayPal pages every day


def test_default_month_has_about_thirty_sales_a_day(lake: Lake) -> None:
    assert 800 <= len(lake.rows[PAYMENTS]) <= 1100
    assert 750 <= len(lake.rows[PAYPAL]) <= 1150
    assert 100 <= len(lake.month.files) <= 500


def test_keys_are_unique(month: GeneratedMonth) -> None:
    keys = [file.key for file in month.files]
    assert len(keys) == len(set(keys))


def test_files_parse_with_the_reader_as_the_format_they_declare(month: GeneratedMonth) -> None:
    for file in month.files:
        if file.expect_failure:
            continue
        detected, rows = read_rows(io.BytesIO(file.body))
        records = [row.record for row in rows]
        assert detected.compression == file.compression, file.key
        if file.format == "tsv":
            assert (detected.format, detected.delimiter) == ("csv", "\t"), file.key
        else:
            assert detected.format == file.format, file.key
        if file.pipeline == "exchange_rates":  # one object, one row per currency once spread out
            assert len(records) == 1 and len(records[0]["rates"]) == file.rows
        else:
            assert len(records) == file.rows, file.key


def test_all_formats_are_present(month: GeneratedMonth) -> None:
    formats = {file.format for file in month.files}
    assert formats == {"json_array", "ndjson", "json_concat", "csv", "tsv", "parquet"}


def test_gzipped_bodies_start_with_the_magic_and_decompress(month: GeneratedMonth) -> None:
    gzipped = [file for file in month.files if file.compression == "gzip"]
    assert any(f.pipeline == PAYMENTS for f in gzipped)
    assert any(f.pipeline == PAYPAL for f in gzipped)
    for file in gzipped:
        assert file.body.startswith(GZIP_MAGIC)
        assert gzip.decompress(file.body)
    plain = [file for file in month.files if file.compression is None]
    assert not any(file.body.startswith(GZIP_MAGIC) for file in plain)


def test_firehose_deliveries_are_mostly_gzipped_concatenated_objects_without_extension(
    month: GeneratedMonth,
) -> None:
    pattern = re.compile(
        r"^payments/transactions/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"
        r"payments-stream-1-\1-\2-\3-\4-\d{2}-\d{2}-[0-9a-f]{8}$"
    )
    firehose = [f for f in month.files if f.key.startswith("payments/transactions/")]
    assert all(pattern.match(f.key) for f in firehose)
    formats = Counter(f.format for f in firehose)
    assert set(formats) == {"json_concat", "ndjson"} and formats["json_concat"] > formats["ndjson"]
    assert sum(f.compression == "gzip" for f in firehose) > len(firehose) / 2
    bodies = [gzip.decompress(f.body) if f.compression else f.body for f in firehose]
    concatenated = [b for f, b in zip(firehose, bodies, strict=True) if f.format == "json_concat"]
    assert any(b"}{" in body for body in concatenated)  # compact, back to back
    assert any(b"}{\n" in body for body in concatenated)  # pretty-printed, back to back


def test_a_few_days_arrive_as_one_database_export_in_csv_or_parquet(month: GeneratedMonth) -> None:
    exports = [f for f in month.files if f.key.startswith("payments/exports/")]
    assert Counter(f.format for f in exports) == {"csv": 2, "parquet": 2}
    pattern = re.compile(r"^payments/exports/2021/07/(\d{2})/payments-export-202107\1\.(csv|parquet)$")
    for file in exports:
        match = pattern.match(file.key)
        assert match and match.group(2) == file.format
        day = f"2021/07/{match.group(1)}/"
        assert not any(f.key.startswith(f"payments/transactions/{day}") for f in month.files)
    (csv_file, *_) = [f for f in exports if f.format == "csv"]
    header = csv_file.body.split(b"\n", 1)[0].decode().split(",")
    assert {"payer_email", "ip_address", "transaction_item_id", "total_cost"} <= set(header)


def test_parquet_exports_have_typed_columns(month: GeneratedMonth) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (file, *_) = [f for f in month.files if f.format == "parquet"]
    schema = pq.read_schema(io.BytesIO(file.body))
    assert schema.field("transaction_id").type == pa.int64()
    assert schema.field("transaction_item_id").type == pa.int64()
    assert schema.field("total_cost").type == pa.decimal128(10, 2)
    assert schema.field("payment_date").type == pa.timestamp("us", tz="UTC")
    assert schema.field("currency_code").type == pa.string()


def test_paypal_pages_are_json_arrays_or_ndjson_some_gzipped(month: GeneratedMonth) -> None:
    pages = [f for f in month.files if f.pipeline == PAYPAL]
    assert all(re.match(r"^paypal/transactions/2021/07/\d{2}/(page|part)-\d{4}", f.key) for f in pages)
    formats = Counter(f.format for f in pages)
    assert set(formats) == {"json_array", "ndjson"} and formats["json_array"] > formats["ndjson"]
    for file in pages:
        assert file.key.endswith(".gz") == (file.compression == "gzip")


def test_truncated_paypal_page_is_malformed(month: GeneratedMonth) -> None:
    (broken,) = [f for f in month.files if f.expect_failure == "MalformedFile"]
    assert broken.pipeline == PAYPAL and broken.format == "json_array"
    assert broken.body.lstrip().startswith(b"[")
    with pytest.raises(errors.MalformedFile):
        list(read_rows(io.BytesIO(broken.body))[1])


def test_unknown_export_is_expected_to_find_no_pipeline(month: GeneratedMonth) -> None:
    (unknown,) = [f for f in month.files if f.expect_failure == "UnknownPipeline"]
    assert re.fullmatch(r"exports/unknown/dump-202107\d{2}\.csv", unknown.key)
    assert unknown.pipeline is None


def test_expected_failures_name_real_error_types_and_count_no_rows(month: GeneratedMonth) -> None:
    failing = [file for file in month.files if file.expect_failure]
    assert len(failing) == 2
    for file in failing:
        assert issubclass(getattr(errors, file.expect_failure), errors.IngestError)
        assert file.rows == 0 and file.bad_rows == 0


def test_keys_match_exactly_one_pipeline_except_the_unknown_export(
    month: GeneratedMonth, pipelines: dict[str, dict]
) -> None:
    for file in month.files:
        matches = [n for n, cfg in pipelines.items() if re.search(cfg["key_pattern"], file.key)]
        assert matches == ([] if file.expect_failure == "UnknownPipeline" else [file.pipeline]), file.key


# -- manifest ---------------------------------------------------------------------------------


def test_manifest_totals_equal_the_sum_over_files(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    files, totals = manifest["files"], manifest["totals"]
    working = [f for f in files if f["expect_failure"] is None]
    assert totals["files"] == len(files) == len(month.files)
    assert totals["files_expected_to_fail"] == len(files) - len(working)
    assert totals["rows_in"] == sum(f["rows"] for f in files)
    assert totals["rows_expected_loaded"] == sum(f["rows"] - f["bad_rows"] for f in working)
    assert totals["rows_expected_quarantined"] == sum(f["bad_rows"] for f in working)


def test_manifest_per_pipeline_totals_add_up(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    per_pipeline = manifest["pipelines"]
    assert set(per_pipeline) == {f.pipeline for f in month.files if f.pipeline}
    for name, counts in per_pipeline.items():
        files = [f for f in month.files if f.pipeline == name]
        assert counts["files"] == len(files)
        assert counts["rows_in"] == sum(f.rows for f in files)
    for field in ("files", "rows_in", "rows_expected_loaded", "rows_expected_quarantined"):
        unrouted = sum(f.rows if field == "rows_in" else 1 for f in month.files if f.pipeline is None)
        total = manifest["totals"][field] - (unrouted if field in ("files", "rows_in") else 0)
        assert sum(c[field] for c in per_pipeline.values()) == total


def test_manifest_is_plain_json_with_every_section(month: GeneratedMonth) -> None:
    manifest = month.manifest()
    assert json.loads(json.dumps(manifest)) == manifest
    assert {"files", "totals", "pipelines", "defects", "discrepancies", "balances", "expected_tables"} <= set(
        manifest
    )
    assert set(manifest["files"][0]) == {
        "key",
        "pipeline",
        "format",
        "compression",
        "rows",
        "bad_rows",
        "expect_failure",
    }
    assert set(manifest["discrepancies"][0]) == {
        "kind",
        "cause",
        "date",
        "paypal_transaction_id",
        "item_code",
        "transaction_item_id",
        "payment_transaction_id",
        "paypal_amount",
        "our_amount",
        "days_late",
        "original_transaction_id",
        "mismatch_component",
        "payer_country_code",
        "our_country_code",
    }
    assert set(manifest["balances"][0]) == {
        "date",
        "currency",
        "opening",
        "closing",
        "sales",
        "fees",
        "refunds",
        "reversals",
        "chargebacks",
        "chargeback_reversals",
        "chargeback_fees",
        "holds",
        "conversions",
        "withdrawals",
        "other",
        "unknown",
        "activity",
        "not_loaded",
    }


# -- defects ----------------------------------------------------------------------------------


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
    raise AssertionError(f"type {column_type} not covered by this test")


def broken_columns(record: dict, columns: list[dict]) -> list[str]:
    broken = []
    for column in columns:
        if column["type"] == "RECORD" or column.get("pseudonymise"):
            continue
        value = value_at(record, column.get("source", column["name"]))
        if value is None or value == "":
            if column.get("mode") == "REQUIRED":
                broken.append(column["name"])
        elif not fits_type(value, column["type"]):
            broken.append(column["name"])
    return broken


def test_coercion_defects_are_exactly_the_rows_that_break_the_schema(
    lake: Lake, pipelines: dict[str, dict]
) -> None:
    planted = {(d["key"], d["row"]): d["check"] for d in lake.manifest["defects"] if d["kind"] == "coercion"}
    found = {}
    for pipeline in (PAYMENTS, PAYPAL):
        for row in lake.rows[pipeline]:
            broken = broken_columns(row.record, pipelines[pipeline]["columns"])
            if broken:
                assert len(broken) == 1, (row.file.key, broken)
                found[(row.file.key, row.number)] = broken[0]
    assert found == planted


def test_bad_rows_count_the_critical_defects_of_each_file(lake: Lake) -> None:
    critical = Counter(d["key"] for d in lake.manifest["defects"] if d["severity"] == "critical")
    for file in lake.month.files:
        assert file.bad_rows == critical[file.key], file.key
    warnings = [d for d in lake.manifest["defects"] if d["severity"] == "warning"]
    assert sorted(d["check"] for d in warnings) == [
        "paypal.event_code_known",  # the unknown code, loaded so that the balance keeps it
        "paypal.updated_not_before_initiated",
    ]


def test_every_validation_defect_is_planted_under_a_suite_expectation_id(lake: Lake) -> None:
    suites = {}
    for path in EXPECTATIONS_DIR.glob("*.json"):
        for expectation in json.loads(path.read_text())["expectations"]:
            meta = expectation["meta"]
            suites[meta["id"]] = expectation.get("severity") or meta.get("severity")
    planted = {(d["check"], d["severity"]) for d in lake.manifest["defects"] if d["kind"] == "validation"}
    assert {check for check, _ in planted} == {
        "paypal.status_known",
        "paypal.currency_iso",
        "paypal.fee_not_positive_on_completed_payments",
        "paypal.reference_on_reversals",
        "paypal.sale_gross_not_negative",
        "paypal.updated_not_before_initiated",
        "paypal.event_code_known",
        "payments.status_known",
        "payments.total_cost_bounded",
        "payments.currency_iso",
    }
    for check, severity in planted:
        assert suites.get(check) == severity, check


def test_validation_defects_are_what_their_check_rejects(lake: Lake) -> None:
    rows = {(r.file.key, r.number): r for pipeline in (PAYPAL, PAYMENTS) for r in lake.rows[pipeline]}
    for defect in lake.manifest["defects"]:
        row = rows[(defect["key"], defect["row"])]
        record, check = row.record, defect["check"]
        info = record.get("transaction_info", {})
        if check == "paypal.status_known":
            assert info["transaction_status"] == "X"
        elif check == "paypal.currency_iso":
            assert info["transaction_amount"]["currency_code"] == "usd"
        elif check == "paypal.fee_not_positive_on_completed_payments":
            assert info["transaction_event_code"] == "T0006" and info["transaction_status"] == "S"
            assert amount(info, "fee_amount") > 0
        elif check == "paypal.reference_on_reversals":
            assert info["transaction_event_code"] == "T1107" and "paypal_reference_id" not in info
        elif check == "paypal.sale_gross_not_negative":
            assert info["transaction_event_code"] == "T0006" and amount(info, "transaction_amount") < 0
        elif check == "paypal.event_code_known":
            assert info["transaction_event_code"] not in KNOWN_CODES
        elif check == "paypal.updated_not_before_initiated":
            assert info["transaction_updated_date"] < info["transaction_initiation_date"]
        elif check == "payments.status_known":
            assert record["transaction_status"] == "bogus"
        elif check == "payments.total_cost_bounded":
            assert record["total_cost"] == "-5.00"
        elif check == "payments.currency_iso":
            assert record["currency_code"] == "US$"


# -- realism: PayPal ----------------------------------------------------------------------------


def currencies(value: object) -> list[str]:
    """Every currency_code anywhere in a JSON value."""
    if isinstance(value, dict):
        found = [value["currency_code"]] if "currency_code" in value and "value" in value else []
        return found + [c for v in value.values() for c in currencies(v)]
    if isinstance(value, list):
        return [c for v in value for c in currencies(v)]
    return []


def test_sales_are_in_usd_and_only_conversions_and_a_withdrawal_are_in_eur(lake: Lake) -> None:
    paypal = Counter(c for row in lake.rows[PAYPAL] for c in currencies(row.record))
    assert paypal.keys() == {"USD", "EUR", "usd"} and paypal["usd"] == 1  # the planted lowercase one
    for row in lake.rows[PAYPAL]:
        found = set(currencies(row.record))
        if "EUR" in found:  # a record's amounts, fee and balances are all in its own currency
            assert found == {"EUR"}
            assert row.info["transaction_event_code"] in ("T0200", "T0201", "T0400")
    ours = Counter(row.record["currency_code"] for row in lake.rows[PAYMENTS])
    assert ours.keys() == {"USD", "US$"} and ours["US$"] == 1
    payers = [row.record["payer_info"] for row in lake.rows[PAYPAL] if "payer_info" in row.record]
    countries = {payer["country_code"] for payer in payers}
    assert {"US", "GB", "DE", "PL", "SE", "CA", "AU"} <= countries


def test_every_event_code_the_reconciliation_covers_is_present(lake: Lake) -> None:
    codes = Counter(row.info["transaction_event_code"] for row in lake.rows[PAYPAL])
    assert codes.keys() >= COVERED_CODES
    assert [code for code in codes if code not in KNOWN_CODES] == ["T9901"]
    statuses = Counter(
        row.info["transaction_status"]
        for row in lake.rows[PAYPAL]
        if row.info["transaction_event_code"] in PAYMENT_CODES
    )
    assert statuses.keys() >= {"S", "P", "D", "V"}  # completed, pending, denied, reversed
    withdrawals = Counter(
        row.info["transaction_amount"]["currency_code"]
        for row in lake.rows[PAYPAL]
        if row.info["transaction_event_code"] == "T0400"
    )
    assert 3 <= withdrawals["USD"] <= 6 and withdrawals["EUR"] == 1  # about weekly, and the EUR once


def test_payment_fees_are_paypal_standard_rate(lake: Lake) -> None:
    checked = 0
    for row in lake.loaded(PAYPAL):
        info = row.info
        if info["transaction_event_code"] in PAYMENT_CODES and (row.file.key, row.number) not in lake.planted:
            if info["transaction_status"] == "D":  # a denied payment costs nothing
                assert info["fee_amount"]["value"] == "0.00"
                continue
            gross = amount(info, "transaction_amount")
            fee = -(gross * Decimal("0.029") + Decimal("0.30")).quantize(CENT, ROUND_HALF_UP)
            assert amount(info, "fee_amount") == fee
            checked += 1
    assert checked > 700


def versions(lake: Lake) -> dict[str, list[Row]]:
    """Every listing of each PayPal transaction id, in file order."""
    found: dict[str, list[Row]] = {}
    for row in lake.rows[PAYPAL]:
        if "transaction_id" in row.info:
            found.setdefault(row.info["transaction_id"], []).append(row)
    return found


def test_adjustments_reference_records_of_the_month_as_paypal_shapes_them(lake: Lake) -> None:
    listed = versions(lake)
    referring = [r for r in lake.rows[PAYPAL] if r.info["transaction_event_code"] in ADJUSTMENTS]
    assert {ADJUSTMENTS[r.info["transaction_event_code"]] for r in referring} == set(ADJUSTMENT_KINDS)
    on_sales = [
        r.info.get("paypal_reference_id")
        for r in referring
        if r.info["transaction_event_code"] in ("T1107", "T1106", "T1201", "T1110")
    ]
    assert len([ref for ref in on_sales if ref]) == len(set(filter(None, on_sales)))  # once each
    refunds = Counter()
    for row in referring:
        info, code = row.info, row.info["transaction_event_code"]
        if "paypal_reference_id" not in info:
            assert (row.file.key, row.number) in lake.critical  # the planted one
            continue
        original = listed[info["paypal_reference_id"]][0]
        source, gross = original.info, amount(info, "transaction_amount")
        assert info["transaction_initiation_date"] > source["transaction_initiation_date"]
        assert info["transaction_initiation_date"].startswith(f"{lake.month.year}-{lake.month.month:02d}-")
        assert code == "T1106" or info["paypal_reference_id_type"] == "TXN"
        expected_source = {"T0106": "T1201", "T1202": "T1201", "T1111": "T1110"}.get(code)
        if expected_source:
            assert source["transaction_event_code"] == expected_source
        else:
            assert source["transaction_event_code"] in PAYMENT_CODES
            assert any(v.info["transaction_status"] == "S" for v in listed[source["transaction_id"]])
        if code == "T1107":  # the percentage fee comes back, on what is refunded
            refunded = -gross
            assert amount(info, "fee_amount") == (refunded * Decimal("0.029")).quantize(CENT, ROUND_HALF_UP)
            if refunded == amount(source, "transaction_amount"):
                refunds["full"] += 1
            else:  # one item of the cart, which the refund lists alone
                (item,) = cart(row.record)
                assert 0 < refunded < amount(source, "transaction_amount")
                assert refunded == shares(original.record)[item["item_code"]]
                assert item["item_code"] != item_code(original.record)
                refunds["partial"] += 1
        elif code in ("T1106", "T1201", "T1110"):  # the whole payment, no payer nor cart
            assert gross == -amount(source, "transaction_amount")
            assert "cart_info" not in row.record and "payer_info" not in row.record
            assert amount(info, "fee_amount") == 0
        elif code == "T0106":  # the fee is the gross; the same day as its chargeback
            assert gross == Decimal("-20.00") and "fee_amount" not in info
            assert info["transaction_initiation_date"][:10] == source["transaction_initiation_date"][:10]
        elif code in ("T1202", "T1111"):  # what the chargeback or hold took, back, days later
            assert gross == -amount(source, "transaction_amount") > 0
            assert info["transaction_initiation_date"][:10] > source["transaction_initiation_date"][:10]
        if code == "T1106":
            assert "fee_amount" not in info
    assert refunds["full"] >= 2 and refunds["partial"] >= 2


def test_voided_sales_are_listed_again_reversed_with_the_same_balance(lake: Lake) -> None:
    keys = [file.key for file in lake.month.files]
    reversals = {
        r.info["paypal_reference_id"]: r.info
        for r in lake.rows[PAYPAL]
        if r.info["transaction_event_code"] == "T1106"
    }
    voided = [rows for rows in versions(lake).values() if rows[-1].info["transaction_status"] == "V"]
    assert len(voided) >= 2
    for completed, reversed_ in voided:
        assert (completed.info["transaction_status"], reversed_.info["transaction_status"]) == ("S", "V")
        assert keys.index(reversed_.file.key) > keys.index(completed.file.key)
        same = ("transaction_amount", "fee_amount", "ending_balance", "available_balance")
        assert all(completed.info[name] == reversed_.info[name] for name in same)
        reversal = reversals[completed.info["transaction_id"]]
        assert reversed_.info["transaction_updated_date"] == reversal["transaction_initiation_date"]
        assert reversed_.info["transaction_updated_date"] > completed.info["transaction_updated_date"]


def test_denied_sales_move_no_balance_and_our_row_failed(lake: Lake) -> None:
    ours = {str(r.record["transaction_item_id"]): r.record for r in lake.rows[PAYMENTS]}
    listed_items = {d["item_code"] for d in lake.manifest["discrepancies"]}
    previous: dict[str, Row] = {}
    denied = 0
    for row in balance_sequence(lake):
        if row is None:
            previous.pop("USD", None)
            continue
        if row.info["transaction_status"] == "D":
            assert row.info["ending_balance"] == previous[currency_of(row.info)].info["ending_balance"]
            for item in cart(row.record):
                assert ours[item["item_code"]]["transaction_status"] == "failed"
                assert item["item_code"] not in listed_items  # neither a sale nor a payment
            denied += 1
        previous[currency_of(row.info)] = row
    assert denied >= 2


def test_conversions_are_pairs_of_records_in_two_currencies(lake: Lake) -> None:
    rows = [r for r in lake.rows[PAYPAL] if r.info["transaction_event_code"] in ("T0200", "T0201")]
    by_id = {r.info["transaction_id"]: r.info for r in rows}
    targets = [info for info in by_id.values() if "paypal_reference_id" in info]
    assert len(targets) == 2 and len(by_id) == 4
    directions = set()
    for target in targets:
        source = by_id[target["paypal_reference_id"]]
        assert source["transaction_event_code"] == target["transaction_event_code"]
        assert source["transaction_initiation_date"] == target["transaction_initiation_date"]
        spent, got = amount(source, "transaction_amount"), amount(target, "transaction_amount")
        assert spent < 0 < got and "fee_amount" not in source and "fee_amount" not in target
        pair = (source["transaction_amount"]["currency_code"], target["transaction_amount"]["currency_code"])
        directions.add((source["transaction_event_code"], *pair))
        eur_per_usd = got / -spent if pair == ("USD", "EUR") else -spent / got
        assert Decimal("0.78") < eur_per_usd < Decimal("0.90")  # the month's rate, PayPal's margin
    assert directions == {("T0200", "USD", "EUR"), ("T0201", "EUR", "USD")}


def test_the_unknown_event_code_is_a_small_credit_that_loads_with_a_warning(lake: Lake) -> None:
    (row,) = [r for r in lake.rows[PAYPAL] if r.info["transaction_event_code"] not in KNOWN_CODES]
    assert 0 < amount(row.info, "transaction_amount") < 10 and "fee_amount" not in row.info
    (defect,) = [d for d in lake.manifest["defects"] if (d["key"], d["row"]) == (row.file.key, row.number)]
    assert (defect["check"], defect["severity"]) == ("paypal.event_code_known", "warning")
    (found,) = [d for d in lake.manifest["discrepancies"] if d["kind"] == "unknown_event_code"]
    assert found["paypal_transaction_id"] == row.info["transaction_id"] and found["item_code"] is None
    assert found["date"] == row.info["transaction_initiation_date"][:10]


def test_withdrawals_go_to_the_bank_without_payer_and_leave_money_behind(lake: Lake) -> None:
    withdrawals = [r for r in lake.rows[PAYPAL] if r.info["transaction_event_code"] == "T0400"]
    for row in withdrawals:
        assert "payer_info" not in row.record and "cart_info" not in row.record
        assert amount(row.info, "transaction_amount") < 0 and row.info["fee_amount"]["value"] == "0.00"
        assert amount(row.info, "available_balance") >= 0
    for row in lake.rows[PAYPAL]:
        assert amount(row.info, "ending_balance") >= 0 and amount(row.info, "available_balance") >= 0


def test_a_withdrawal_stays_inside_the_gross_bound_at_any_scale() -> None:
    from ingest_devstack.generate.balances import conversion_amount, withdrawal_amount

    assert withdrawal_amount(random.Random(1), Decimal("40000000.00")) == Decimal("500000.00")
    assert Decimal("600.00") <= withdrawal_amount(random.Random(1), Decimal("1000.00")) <= Decimal("900.00")
    assert withdrawal_amount(random.Random(1), Decimal("49.99")) == 0
    assert conversion_amount(Decimal("40000000.00")) == Decimal("500000.00")
    assert conversion_amount(Decimal("4321.00")) == Decimal("1200.00")
    assert conversion_amount(Decimal("2.00")) == 0


def balance_sequence(lake: Lake) -> list[Row | None]:
    """First occurrences of PayPal records in page order, ``None`` where a page was lost."""
    sequence: list[Row | None] = []
    seen: set = set()
    by_key = {}
    for row in lake.rows[PAYPAL]:
        by_key.setdefault(row.file.key, []).append(row)
    for file in lake.month.files:
        if file.pipeline != PAYPAL:
            continue
        if file.expect_failure:
            sequence.append(None)
            continue
        for row in by_key[file.key]:
            key = (row.info.get("transaction_id"), row.info["transaction_event_code"])
            if key[0] is None or key not in seen:
                seen.add(key)
                sequence.append(row)
    return sequence


def month_openings(lake: Lake) -> dict[str, Decimal]:
    first = lake.manifest["balances"][0]["date"]
    return {b["currency"]: money(b["opening"]) for b in lake.manifest["balances"] if b["date"] == first}


def check_balance_chain(lake: Lake) -> int:
    """In each currency, from the month's opening, ending_balance[i] = ending_balance[i-1] +
    gross[i] + fee[i] (nothing for a denied payment) along the initiation order; returns how many
    links were checked (a planted row's own amounts are not PayPal's, its balance is)."""
    balance, last_moment, checked = month_openings(lake), {}, 0
    for row in balance_sequence(lake):
        if row is None:  # the lost page's records (in USD) are missing from the chain
            balance.pop("USD", None)
            continue
        currency = currency_of(row.info)
        if (row.file.key, row.number) not in lake.planted:
            assert row.info["transaction_amount"]["currency_code"] == currency
            moment = row.info["transaction_initiation_date"]
            assert moment >= last_moment.get(currency, ""), row.info["transaction_id"]
            last_moment[currency] = moment
            if currency in balance:
                assert amount(row.info, "ending_balance") == balance[currency] + net(row.info), moment
                checked += 1
        balance[currency] = amount(row.info, "ending_balance")
    return checked


def test_ending_balance_follows_every_record_in_initiation_order(lake: Lake) -> None:
    assert check_balance_chain(lake) > 800


def test_the_balance_identity_holds_in_each_currency_over_the_month(lake: Lake) -> None:
    # opening + the gross and fees of every record that moved it = closing, in each currency
    statements: dict[str, list[dict]] = defaultdict(list)
    for statement in lake.manifest["balances"]:
        statements[statement["currency"]].append(statement)
    assert set(statements) == {"USD", "EUR"}
    classes = ("sales", "fees", "refunds", "reversals", "chargebacks", "chargeback_reversals")
    classes += ("chargeback_fees", "holds", "conversions", "withdrawals", "other", "unknown")
    for currency, days in statements.items():
        moved = sum(money(day[name]) for day in days for name in classes)
        assert money(days[0]["opening"]) + moved == money(days[-1]["closing"]), currency
    assert money(statements["EUR"][0]["opening"]) == 0 < money(statements["EUR"][-1]["closing"])
    # and, over the records that can be read, the month's last balance is where they lead
    last = {currency_of(r.info): amount(r.info, "ending_balance") for r in balance_sequence(lake) if r}
    assert {c: money(days[-1]["closing"]) for c, days in statements.items()} == last


def check_available_balances(lake: Lake) -> None:
    completed_at = {
        row.info.get("transaction_id"): row.info["transaction_updated_date"]
        for row in lake.rows[PAYPAL]
        if row.info["transaction_status"] == "S" and row.info["transaction_event_code"] in PAYMENT_CODES
    }
    pending: list[tuple[str, Decimal]] = []
    for row in balance_sequence(lake):
        if row is None or (row.file.key, row.number) in lake.planted:
            continue
        moment = row.info["transaction_initiation_date"]
        pending = [(done, net) for done, net in pending if done > moment]
        if row.info["transaction_status"] == "P":
            pending.append((completed_at[row.info["transaction_id"]], net(row.info)))
        held = sum((net for _, net in pending), Decimal(0)) if currency_of(row.info) == "USD" else 0
        assert amount(row.info, "available_balance") == amount(row.info, "ending_balance") - held


def test_available_balance_leaves_out_payments_still_pending(lake: Lake) -> None:
    check_available_balances(lake)


def test_pending_payments_complete_in_a_later_page_with_the_same_ending_balance(lake: Lake) -> None:
    payments = {
        txn: rows
        for txn, rows in versions(lake).items()
        if rows[0].info["transaction_event_code"] in PAYMENT_CODES
    }
    pairs = [rows for rows in payments.values() if rows[0].info["transaction_status"] == "P"]
    assert 0.02 * len(payments) <= len(pairs) <= 0.04 * len(payments)
    keys = [file.key for file in lake.month.files]
    for pending, completed in pairs:
        assert (pending.info["transaction_status"], completed.info["transaction_status"]) == ("P", "S")
        assert keys.index(completed.file.key) > keys.index(pending.file.key)
        assert completed.info["transaction_updated_date"] > pending.info["transaction_updated_date"]
        assert completed.info["ending_balance"] == pending.info["ending_balance"]
        gained = net(pending.info)
        assert (
            amount(completed.info, "available_balance") == amount(pending.info, "available_balance") + gained
        )
        assert completed.file.key.split("/")[2:4] == ["2021", "07"]
    assert all(len(rows) <= 2 for rows in payments.values())


def test_daily_balances_open_where_the_last_day_closed_and_add_up(lake: Lake) -> None:
    balances = lake.manifest["balances"]
    july = [f"2021-07-{d:02d}" for d in range(1, 32)]
    assert [(b["date"], b["currency"]) for b in balances] == [(d, c) for d in july for c in ("EUR", "USD")]
    classes = ("sales", "fees", "refunds", "reversals", "chargebacks", "chargeback_reversals")
    classes += ("chargeback_fees", "holds", "conversions", "withdrawals", "other", "unknown")
    for currency in ("EUR", "USD"):
        days = [b for b in balances if b["currency"] == currency]
        for before, after in itertools.pairwise(days):
            assert after["opening"] == before["closing"]
        for day in days:
            activity = sum(money(day[k]) for k in classes)
            assert (
                money(day["opening"]) + activity
                == money(day["closing"])
                == money(day["opening"]) + money(day["activity"])
            )
    last_of_day = {}
    for row in balance_sequence(lake):
        if row is not None and (row.file.key, row.number) not in lake.planted:
            last_of_day[(row.info["transaction_initiation_date"][:10], currency_of(row.info))] = row
    assert {currency for _, currency in last_of_day} == {"USD", "EUR"}
    for day in balances:
        if (day["date"], day["currency"]) in last_of_day:
            row = last_of_day[(day["date"], day["currency"])]
            assert day["closing"] == row.info["ending_balance"]["value"], day["date"]


def test_each_days_difference_is_the_net_of_what_did_not_load(lake: Lake) -> None:
    """The daily statement a reconciliation builds from the rows that load (deduplicated, denied
    ones left out): opening = the day before's closing (the first record's balance less its net
    before any), closing = the day's last record's balance, difference = closing - (opening +
    activity). It must open and close where PayPal does, its difference being ``not_loaded``."""
    position = {
        paypal_key(r): n for n, r in enumerate(balance_sequence(lake)) if r and r.info.get("transaction_id")
    }
    records = [
        r.info
        for r in latest(lake.loaded(PAYPAL), paypal_key).values()
        if r.info["transaction_status"] != "D"
    ]
    records.sort(key=lambda info: (info["transaction_initiation_date"], position[paypal_key_of(info)]))
    by_day: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for info in records:
        by_day[(info["transaction_initiation_date"][:10], currency_of(info))].append(info)
    statements = {(b["date"], b["currency"]): b for b in lake.manifest["balances"]}
    unbalanced = set()
    for currency in ("USD", "EUR"):
        first = next(info for info in records if currency_of(info) == currency)
        opening = amount(first, "ending_balance") - net(first)
        for day in sorted({date for date, _ in statements}):
            found = by_day.get((day, currency), [])
            closing = amount(found[-1], "ending_balance") if found else opening
            difference = closing - opening - sum((net(info) for info in found), Decimal(0))
            truth = statements[(day, currency)]
            assert (opening, closing) == (money(truth["opening"]), money(truth["closing"])), (day, currency)
            assert difference == money(truth["not_loaded"]), (day, currency)
            if difference:
                unbalanced.add((day, currency))
            opening = closing
    assert len(unbalanced) >= 2 and {currency for _, currency in unbalanced} == {"USD"}


def paypal_key_of(info: dict) -> tuple:
    return info["transaction_id"], info["transaction_event_code"]


def test_carts_share_their_gross_among_items_by_item_code(lake: Lake) -> None:
    ours = {str(r.record["transaction_item_id"]): r.record for r in lake.loaded(PAYMENTS)}
    mismatched = {d["item_code"]: d for d in lake.manifest["discrepancies"] if d["kind"] == "amount_mismatch"}
    carts = [
        r
        for r in latest(lake.loaded(PAYPAL), paypal_key).values()
        if r.info["transaction_event_code"] in PAYMENT_CODES
        and (len(cart(r.record)) > 1 or "shipping_amount" in r.info)
    ]
    sizes = Counter(len(cart(r.record)) for r in carts)
    assert sizes[2] >= 3 and sizes[3] >= 1
    assert any(
        int(item["item_quantity"]) > 1 for r in carts if len(cart(r.record)) > 1 for item in cart(r.record)
    )
    assert any(
        [i["item_code"] for i in cart(r.record)] != sorted(i["item_code"] for i in cart(r.record))
        for r in carts
    )
    shipped = [r for r in carts if "shipping_amount" in r.info]
    assert len(shipped) >= 4 and any(len(cart(r.record)) > 1 for r in shipped)
    components = Counter()
    for row in carts:
        info, items = row.info, cart(row.record)
        item_amounts = sum(Decimal(item["item_amount"]["value"]) for item in items)
        gross = amount(info, "transaction_amount")
        assert gross == item_amounts + amount(info, "shipping_amount")
        allocated = shares(row.record)
        assert sum(allocated.values()) == gross
        for item in items:
            code, share = item["item_code"], allocated[item["item_code"]]
            assert Decimal(item["item_amount"]["value"]) == Decimal(item["item_unit_price"]["value"]) * int(
                item["item_quantity"]
            )
            if code not in ours:
                continue
            cost = money(ours[code]["total_cost"])
            if code in mismatched:  # ours left PayPal's shipping out
                assert cost == Decimal(item["item_amount"]["value"]) != share
                components[mismatched[code]["mismatch_component"]] += 1
            else:
                assert cost == share
    assert components == {"shipping": 2}


# -- realism: the game's database -------------------------------------------------------------


def test_payment_rows_look_like_the_game_database(lake: Lake) -> None:
    rows = [r.record for r in lake.rows[PAYMENTS]]
    ids = [int(r["transaction_id"]) for r in rows if r["transaction_id"] not in (None, "")]
    assert len(ids) == len(set(ids))
    assert len({int(r["transaction_item_id"]) for r in rows}) == len(rows)
    assert "" in {r["country_code"] for r in rows}
    statuses = Counter(r["transaction_status"] for r in rows)
    assert statuses.most_common(1)[0][0] == "completed" and "failed" in statuses  # denied by PayPal
    for row in lake.rows[PAYMENTS]:
        record = row.record
        if row.file.format in ("json_concat", "ndjson") and record["payment_date"] != "yesterday":
            assert re.fullmatch(r"2021-07-\d\dT\d\d:\d\d:\d\d\.000Z", record["payment_date"])
            assert record["created_at"] > record["payment_date"]


def test_successive_months_never_reuse_ids(lake: Lake) -> None:
    august = build_lake(generate_month(2021, 8, payments_per_day=5))
    for pipeline, key in ((PAYMENTS, "transaction_item_id"), (PAYMENTS, "transaction_id")):
        july = {str(r.record[key]) for r in lake.rows[pipeline]} - {"None", ""}
        assert july.isdisjoint(str(r.record[key]) for r in august.rows[pipeline])
    july_paypal = {r.info.get("transaction_id") for r in lake.rows[PAYPAL]} - {None}
    assert july_paypal.isdisjoint(r.info.get("transaction_id") for r in august.rows[PAYPAL])


def test_paypal_items_name_the_game_product(lake: Lake) -> None:
    ours = {str(r.record["transaction_item_id"]): r.record for r in lake.rows[PAYMENTS]}
    for row in lake.rows[PAYPAL]:
        for item in row.record.get("cart_info", {}).get("item_details", []):
            if item["item_code"] in ours:
                product_id = ours[item["item_code"]]["product_id"]
                assert re.fullmatch(rf".+ \(ID: #{product_id}\)", item["item_name"])


# -- discrepancies ----------------------------------------------------------------------------


def original_sale(by_id: dict[str, Row], info: dict) -> Row | None:
    """The sale an adjustment's reference chain leads to, in at most three hops."""
    reference = info.get("paypal_reference_id")
    for _ in range(3):
        target = by_id.get(reference) if reference else None
        if target is None:
            return None
        if target.info["transaction_event_code"] in PAYMENT_CODES:
            return target
        reference = target.info.get("paypal_reference_id")
    return None


def reconcile(lake: Lake) -> set[tuple]:
    """A reference matcher over the rows that load, deduplicated by business key (/tmp/spec.md:
    items paired by item_code with the item's share of PayPal's gross, countries compared,
    adjustments linked to their original sale, unknown codes reported)."""
    paypal = latest(lake.loaded(PAYPAL), paypal_key)
    by_id = {row.info["transaction_id"]: row for row in paypal.values()}
    ours = {
        int(r.record["transaction_item_id"]): r.record
        for r in latest(lake.loaded(PAYMENTS), payment_key).values()
        if r.record["transaction_status"] == "completed"
    }
    sales = {}  # item -> (the sale's row, the item's share, the item's amount)
    for row in paypal.values():
        info = row.info
        if info["transaction_event_code"] in PAYMENT_CODES and info["transaction_status"] in ("S", "V"):
            allocated = shares(row.record)
            for item in cart(row.record):
                code = item["item_code"]
                sales[int(code)] = (row, allocated[code], Decimal(item["item_amount"]["value"]))
    found = set()
    for item, (sale, share, item_amount) in sales.items():
        info = sale.info
        on, txn = info["transaction_initiation_date"][:10], info["transaction_id"]
        row = ours.get(item)
        if row is None:
            found.add(("missing_ours", on, txn, item, None, share, None, None, None, None, None, None))
            continue
        cost, our_day = money(row["total_cost"]), str(row["payment_date"])[:10]
        both = (txn, item, int(row["transaction_id"]), share, cost)
        if cost != share:
            extras = "shipping" if "shipping_amount" in info else None
            component = extras if extras and cost == item_amount else "price"
            found.add(("amount_mismatch", on, *both, None, None, component, None, None))
        if our_day > on:
            late = (datetime.fromisoformat(our_day) - datetime.fromisoformat(on)).days
            found.add(("late", on, *both, late, None, None, None, None))
        payer, our_country = sale.record["payer_info"]["country_code"], row["country_code"] or None
        if payer != our_country:
            found.add(("country_mismatch", on, *both, None, None, None, payer, our_country))
    for item, row in ours.items():
        if item not in sales:
            on, cost = str(row["payment_date"])[:10], money(row["total_cost"])
            missing = (None, item, int(row["transaction_id"]), None, cost, None, None, None, None, None)
            found.add(("missing_paypal", on, *missing))
    for row in paypal.values():
        info, code = row.info, row.info["transaction_event_code"]
        on, gross = info["transaction_initiation_date"][:10], amount(info, "transaction_amount")
        if code in ADJUSTMENTS:
            sale = original_sale(by_id, info)
            item = int(item_code(sale.record))
            payment = int(ours[item]["transaction_id"]) if item in ours else None
            original = sale.info["transaction_id"]
            adjustment = (
                info["transaction_id"],
                item,
                payment,
                gross,
                None,
                None,
                original,
                None,
                None,
                None,
            )
            found.add((ADJUSTMENTS[code], on, *adjustment))
        elif code not in KNOWN_CODES:
            unknown = (info["transaction_id"], None, None, gross, None, None, None, None, None, None)
            found.add(("unknown_event_code", on, *unknown))
    return found


def listed(discrepancy: dict) -> tuple:
    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return (
        discrepancy["kind"],
        discrepancy["date"],
        discrepancy["paypal_transaction_id"],
        discrepancy["transaction_item_id"],
        discrepancy["payment_transaction_id"],
        number(discrepancy["paypal_amount"]),
        number(discrepancy["our_amount"]),
        discrepancy["days_late"],
        discrepancy["original_transaction_id"],
        discrepancy["mismatch_component"],
        discrepancy["payer_country_code"],
        discrepancy["our_country_code"],
    )


def test_discrepancies_are_exactly_what_a_correct_matcher_finds_in_the_loaded_data(lake: Lake) -> None:
    listed_set = [listed(d) for d in lake.manifest["discrepancies"]]
    assert len(listed_set) == len(set(listed_set))
    assert set(listed_set) == reconcile(lake)


@pytest.mark.parametrize(
    ("year", "month", "seed", "payments_per_day", "scale"), [(2024, 2, 3, 4, 1), (2021, 12, 5, 10, 3)]
)
def test_the_promises_hold_for_other_months_seeds_and_scales(
    year: int, month: int, seed: int, payments_per_day: int, scale: int
) -> None:
    lake = build_lake(generate_month(year, month, seed=seed, payments_per_day=payments_per_day, scale=scale))
    assert {listed(d) for d in lake.manifest["discrepancies"]} == reconcile(lake)
    assert {d["kind"] for d in lake.manifest["discrepancies"]} == set(DISCREPANCY_KINDS)
    assert check_balance_chain(lake) > 0
    check_available_balances(lake)
    test_the_balance_identity_holds_in_each_currency_over_the_month(lake)
    test_each_adjustment_is_listed_with_the_sale_its_reference_chain_leads_to(lake)
    test_conversions_are_pairs_of_records_in_two_currencies(lake)
    expected = lake.manifest["expected_tables"]
    assert expected[PAYPAL] == len(latest(lake.loaded(PAYPAL), paypal_key))
    assert expected[PAYMENTS] == len(latest(lake.loaded(PAYMENTS), payment_key))


def test_each_kind_of_discrepancy_is_injected_a_handful_of_times(lake: Lake) -> None:
    injected = Counter(d["kind"] for d in lake.manifest["discrepancies"] if d["cause"] == "injected")
    for kind in DISCREPANCY_KINDS:
        low, high = (1, 1) if kind == "unknown_event_code" else (2, 12)
        assert low <= injected[kind] <= high, kind
    causes = Counter((d["kind"], d["cause"]) for d in lake.manifest["discrepancies"])
    assert causes[("missing_ours", "quarantined")] == 7  # one per planted row defect
    assert causes[("missing_paypal", "quarantined")] == 7  # one per critical PayPal payment defect
    assert causes[("missing_paypal", "file_failed")] == 25  # the lost page: 25 payments
    assert causes[("country_mismatch", "no_country")] > 0  # our row has no country, PayPal has
    components = Counter(d["mismatch_component"] for d in lake.manifest["discrepancies"])
    assert components["price"] >= 2 and components["shipping"] >= 1


def test_discrepancies_agree_with_the_data(lake: Lake) -> None:
    ours = {str(r.record["transaction_item_id"]): r for r in lake.rows[PAYMENTS]}
    paypal_items = {i["item_code"] for r in lake.rows[PAYPAL] for i in cart(r.record)}
    for d in lake.manifest["discrepancies"]:
        if d["kind"] == "missing_ours" and d["cause"] == "injected":
            assert d["item_code"] not in ours
        if d["kind"] == "missing_ours" and d["cause"] == "quarantined":
            row = ours[d["item_code"]]
            assert (row.file.key, row.number) in lake.critical
        if d["kind"] == "missing_paypal" and d["cause"] == "injected":
            assert d["item_code"] not in paypal_items
        if d["kind"] == "amount_mismatch":
            assert d["paypal_amount"] != d["our_amount"]
            assert d["mismatch_component"] in ("price", "shipping")
        else:
            assert d["mismatch_component"] is None
        if d["kind"] == "late":
            assert d["days_late"] in (1, 2)
            assert str(ours[d["item_code"]].record["payment_date"])[:10] > d["date"]
        if d["kind"] == "country_mismatch":
            assert d["payer_country_code"] != d["our_country_code"] and d["payer_country_code"]
            assert (d["our_country_code"] is None) == (d["cause"] == "no_country")
            assert (ours[d["item_code"]].record["country_code"] or None) == d["our_country_code"]
        if d["kind"] in ADJUSTMENT_KINDS:
            assert d["original_transaction_id"] and d["item_code"]
            positive = d["kind"] in ("chargeback_reversal", "hold_release")
            assert (Decimal(d["paypal_amount"]) > 0) == positive
        if d["kind"] == "unknown_event_code":
            assert d["item_code"] is None and Decimal(d["paypal_amount"]) > 0
        assert re.fullmatch(r"2021-07-\d\d", d["date"])


def test_each_adjustment_is_listed_with_the_sale_its_reference_chain_leads_to(lake: Lake) -> None:
    by_id = {r.info["transaction_id"]: r for r in latest(lake.loaded(PAYPAL), paypal_key).values()}
    adjustments = [d for d in lake.manifest["discrepancies"] if d["kind"] in ADJUSTMENT_KINDS]
    assert {d["kind"] for d in adjustments} == set(ADJUSTMENT_KINDS)
    hops = Counter()
    for d in adjustments:
        row = by_id[d["paypal_transaction_id"]]
        assert ADJUSTMENTS[row.info["transaction_event_code"]] == d["kind"]
        assert d["date"] == row.info["transaction_initiation_date"][:10]
        sale = original_sale(by_id, row.info)
        assert sale is not None and d["original_transaction_id"] == sale.info["transaction_id"]
        assert d["item_code"] == item_code(sale.record)
        assert Decimal(d["paypal_amount"]) == amount(row.info, "transaction_amount")
        hops[row.info["paypal_reference_id"] != sale.info["transaction_id"]] += 1
        if cart(row.record) and d["kind"] == "refund" and len(cart(sale.record)) > 1:
            assert [i["item_code"] for i in cart(row.record)] != [d["item_code"]]  # a later item refunded
    assert hops[True] >= 6  # chargeback fees and reversals, hold releases: two hops to the sale
    loaded = {
        r.info["transaction_id"] for r in by_id.values() if r.info["transaction_event_code"] in ADJUSTMENTS
    }
    assert {d["paypal_transaction_id"] for d in adjustments} == loaded


def test_no_defect_is_planted_on_a_row_another_fact_depends_on(lake: Lake) -> None:
    rows = {(r.file.key, r.number): r for p in (PAYPAL, PAYMENTS) for r in lake.rows[p]}
    referenced = {r.info.get("paypal_reference_id") for r in lake.rows[PAYPAL]} - {None}
    pending = {r.info["transaction_id"] for r in lake.rows[PAYPAL] if r.info["transaction_status"] == "P"}
    injected_items = {d["item_code"] for d in lake.manifest["discrepancies"] if d["cause"] == "injected"}
    for defect in lake.manifest["defects"]:
        row = rows[(defect["key"], defect["row"])]
        if defect["pipeline"] == PAYPAL:
            assert row.info.get("transaction_id") not in referenced | pending
            if cart(row.record) and row.info["transaction_event_code"] != "T1107":
                assert item_code(row.record) not in injected_items
        else:
            assert str(row.record["transaction_item_id"]) not in injected_items


def test_no_record_that_fails_to_load_ends_a_day(lake: Lake) -> None:
    """So the balances read from the loaded records close each day where PayPal does."""
    last: dict[tuple[str, str], Row] = {}
    for row in balance_sequence(lake):
        if row is not None and row.info.get("transaction_status") != "D":
            moment = row.info["transaction_initiation_date"]
            if re.match(r"\d{4}-\d\d-\d\d", moment):
                last[(moment[:10], currency_of(row.info))] = row
    assert all((r.file.key, r.number) not in lake.critical for r in last.values())


def test_expected_tables_are_the_loaded_rows_deduplicated_by_business_key(lake: Lake) -> None:
    expected = lake.manifest["expected_tables"]
    assert expected[PAYPAL] == len(latest(lake.loaded(PAYPAL), paypal_key))
    assert expected[PAYMENTS] == len(latest(lake.loaded(PAYMENTS), payment_key))
    assert expected["country_tax_codes"] == expected["vat_rates"] == 13
    assert expected["exchange_rates"] >= 30


# -- reference data ---------------------------------------------------------------------------


def test_reference_tables_cover_every_country_sold_in(lake: Lake, pipelines: dict[str, dict]) -> None:
    by_pipeline = {f.pipeline: f for f in lake.month.files}
    countries = parse(by_pipeline["country_tax_codes"])
    rates = parse(by_pipeline["vat_rates"])
    for name, rows in (("country_tax_codes", countries), ("vat_rates", rates)):
        assert {c["name"] for c in pipelines[name]["columns"]} <= set(rows[0])
    sold_in = {row.record["country_code"] for row in lake.rows[PAYMENTS]}
    assert sold_in - {""} <= {row["iso_2_code"] for row in countries}
    vat = {row["iso_2_code"]: Decimal(row["vat_rate"]) for row in rates}
    assert vat["GB"] == Decimal("0.2") and vat["DE"] == Decimal("0.19") and vat["IE"] == Decimal("0.23")
    assert vat["PL"] == Decimal("0.23") and vat["SE"] == Decimal("0.25") and vat["AU"] == Decimal("0.1")
    assert vat["US"] == vat["CA"] == 0
    tax_codes = [row["tax_code"] for row in countries]
    assert len(tax_codes) == len(set(tax_codes))
    assert by_pipeline["vat_rates"].body.count(b"\r\n") == len(rates) + 1
    assert {row["is_in_european_union"] for row in countries} == {"0", "1"}


def test_exchange_rates_are_one_openexchangerates_object_for_the_month(month: GeneratedMonth) -> None:
    (file,) = [f for f in month.files if f.pipeline == "exchange_rates"]
    assert file.key == "reference/exchange_rates/2021-07-01/exchange_rates_USD"
    rates = json.loads(file.body)
    assert set(rates) == {"disclaimer", "license", "timestamp", "base", "rates"}
    assert rates["base"] == "USD" and rates["rates"]["USD"] == 1
    assert {"EUR", "GBP", "PLN", "SEK", "CAD", "AUD"} <= set(rates["rates"]) and len(rates["rates"]) >= 30
    assert all(isinstance(rate, int | float) and rate > 0 for rate in rates["rates"].values())
    assert datetime.fromtimestamp(rates["timestamp"]).strftime("%Y-%m") in ("2021-07", "2021-06")


# -- writing ----------------------------------------------------------------------------------


def test_write_month_writes_every_file_and_the_manifest(tmp_path: Path) -> None:
    generated = generate_month(2021, 7, payments_per_day=3)
    write_month(generated, tmp_path)
    for file in generated.files:
        assert (tmp_path / file.key).read_bytes() == file.body
    written = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert written == generated.manifest()
    on_disk = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert len(on_disk) == len(generated.files) + 1


def test_cli_generate_writes_the_month_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["generate", "--month", "2021-02", "--seed", "3", "--scale", "2", "--out", str(tmp_path)]
    assert main(arguments) == 0
    expected = generate_month(2021, 2, seed=3, scale=2)
    written = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert written == expected.manifest()
    for file in expected.files:
        assert (tmp_path / file.key).read_bytes() == file.body
    out = capsys.readouterr().out
    assert f"{len(expected.files):,} files" in out and "missing_ours" in out


def test_cli_generate_refuses_a_scale_below_one(tmp_path: Path) -> None:
    assert main(["generate", "--month", "2021-02", "--scale", "0", "--out", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())


def test_s3_uris_split_into_bucket_and_key_prefix() -> None:
    assert parse_s3_uri("s3://lake") == ("lake", "")
    assert parse_s3_uri("s3://lake/demo/2021-07/") == ("lake", "demo/2021-07/")
    with pytest.raises(ValueError):
        parse_s3_uri("s3:///prefix")


def test_an_s3_sink_puts_each_object_under_the_prefix() -> None:
    class RecordingClient:  # boto3's put_object signature, nothing else
        def __init__(self) -> None:
            self.calls: list[dict] = []

        def put_object(self, **kwargs: object) -> dict:
            self.calls.append(kwargs)
            return {}

    client = RecordingClient()
    open_sink("s3://lake/demo", client).put("paypal/transactions/x.json", b"[]")
    assert client.calls == [{"Bucket": "lake", "Key": "demo/paypal/transactions/x.json", "Body": b"[]"}]


# -- pages of any size, for the benchmarks -------------------------------------------------------


def test_benchmark_pages_are_reproducible_and_sized_as_asked() -> None:
    body = pages.ndjson_page("big-0", 1_000, 500)
    assert body == pages.ndjson_page("big-0", 1_000, 500)
    assert body != pages.ndjson_page("big-1", 1_000, 500)
    records = [json.loads(line) for line in body.decode().splitlines()]
    assert len(records) == 500
    # About 1.5 KB a record: the benchmark's figures per MB stay comparable across versions.
    assert 1_300 < len(body) / len(records) < 1_700


def test_benchmark_pages_load_whole_and_never_share_a_business_key(pipelines: dict[str, dict]) -> None:
    first, second = pages.page_records("a", 0, 3_000), pages.page_records("b", 3_000, 3_000)
    keys = Counter(
        (r["transaction_info"]["transaction_id"], r["transaction_info"]["transaction_event_code"])
        for r in first + second
    )
    assert len(keys) == 6_000 and set(keys.values()) == {1}
    for record in first + second:
        assert broken_columns(record, pipelines[PAYPAL]["columns"]) == []
        info = record["transaction_info"]
        code, status = info["transaction_event_code"], info["transaction_status"]
        if code == "T1107":  # a refund names the sale it refunds, which no page holds
            assert amount(info, "transaction_amount") < 0
            assert info["paypal_reference_id"] not in {key for key, _ in keys}
        else:
            assert code in PAYMENT_CODES and status in {"S", "P"}
            assert amount(info, "transaction_amount") > 0 > amount(info, "fee_amount")
    codes = Counter(r["transaction_info"]["transaction_event_code"] for r in first)
    assert 0 < codes["T1107"] < 0.05 * len(first)
