"""The whole-file Arrow reader of NDJSON never changes what loads or what is quarantined.

Each file is prepared twice: with the fast path (``ingest.core.arrow_ndjson``) allowed, and with it
off (``ARROW_NDJSON_BYTES = 0``: the row-by-row reference). Both outcomes must be the same: the
rows loaded (typed columns as Python values, the kept JSON as JSON values), the quarantined rows,
the tally, or the error that failed the file. Whether the fast path was taken is recorded too.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from ingest.core import arrow_ndjson, prepare
from ingest.core.coerce.privacy import pseudonym
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import Pipeline, load_pipelines
from ingest.core.settings import PACKAGE_DIR

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}
PAYPAL = PIPELINES["paypal_transactions"]
PAYMENTS = PIPELINES["payment_transactions"]
KEY = b"test-key"
LINEAGE = {
    "_source_uri": "s3://lake/k",
    "_source_etag": "e",
    "_ingested_at": datetime(2026, 1, 1, tzinfo=UTC),
}
JSON_COLUMNS = {"_raw", "_extra"}
INFO = "transaction_info"


# ---------------------------------------------------------------- running both readers


@dataclass
class Outcome:
    """What one prepare_file run gives, in a form two runs can be compared by."""

    taken: bool = field(compare=False)
    """Whether ``arrow_ndjson.load_table`` was called and returned a table."""
    error: tuple[str, str] | None = None
    """The exception (type name, message) prepare_file or raise_if_file_fails raised."""
    # Left out of the repr: failure messages stay short, the asserts compare them one by one.
    schema: list[tuple[str, str, bool]] | None = field(default=None, repr=False)
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    rejected: list[dict[str, Any]] = field(default_factory=list, repr=False)
    tally: dict[str, Any] = field(default_factory=dict)


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: json.loads(value) if name in JSON_COLUMNS and value is not None else value
        for name, value in row.items()
    }


def prepare_once(
    monkeypatch: pytest.MonkeyPatch, data: bytes, pipeline: Pipeline, fast: bool, any_size: bool = True
) -> Outcome:
    """One run of prepare_file; ``fast``: the Arrow reader allowed (for files of any size with
    ``any_size``, else only within prepare's own size range)."""
    returned: list[bool] = []
    real = arrow_ndjson.load_table

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        returned.append(result is not None)
        return result

    outcome = Outcome(taken=False)
    with monkeypatch.context() as patch, contextlib.ExitStack() as temporary:
        patch.setattr(arrow_ndjson, "load_table", spy)
        if not fast:
            patch.setattr(prepare, "ARROW_NDJSON_BYTES", 0)
        elif any_size:
            # Small files are read row by row for speed alone: the test files are small.
            patch.setattr(prepare, "ARROW_MIN_BYTES", 0, raising=False)
        try:
            prepared = prepare.prepare_file(
                io.BytesIO(data),
                pipeline,
                lambda detected: RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=KEY),
                None,
                dict(LINEAGE),
                temporary,
            )
        except Exception as err:  # any failure is part of the outcome to compare
            outcome.error = (type(err).__name__, str(err))
            outcome.taken = any(returned)
            return outcome
        outcome.taken = any(returned)
        record_prepared(outcome, prepared)
    return outcome


def record_prepared(outcome: Outcome, prepared: prepare.Prepared) -> None:
    """Fill ``outcome`` from a prepared file: tally, quarantined rows, the file's error, its rows."""
    tally = prepared.tally
    outcome.tally = {
        "rows_in": tally.rows_in,
        "rows_loaded": tally.rows_loaded,
        "rows_quarantined": tally.rows_quarantined,
        "reasons": dict(tally.reasons),
        "extra_fields": sorted(tally.extra_fields),
    }
    prepared.rejected.seek(0)
    outcome.rejected = [json.loads(line) for line in prepared.rejected.read().splitlines()]
    try:
        prepared.raise_if_file_fails()
    except Exception as err:
        outcome.error = (type(err).__name__, str(err))
    parquet = prepared.parquet  # what the load job reads
    parquet.seek(0)
    if parquet.read(1):
        parquet.seek(0)
        table = pq.read_table(parquet)
        outcome.schema = [(f.name, str(f.type), f.nullable) for f in table.schema]
        outcome.rows = [_parsed(row) for row in table.to_pylist()]


def prepare_both(
    monkeypatch: pytest.MonkeyPatch, data: bytes, pipeline: Pipeline, any_size: bool = True
) -> tuple[Outcome, Outcome]:
    """The outcome with the fast path allowed, and the reference's (fast path off)."""
    fast = prepare_once(monkeypatch, data, pipeline, fast=True, any_size=any_size)
    reference = prepare_once(monkeypatch, data, pipeline, fast=False)
    assert not reference.taken
    return fast, reference


def assert_same(fast: Outcome, reference: Outcome) -> None:
    assert fast.error == reference.error
    assert fast.tally == reference.tally
    assert fast.rejected == reference.rejected
    assert fast.schema == reference.schema
    assert len(fast.rows) == len(reference.rows)
    for got, expected in zip(fast.rows, reference.rows, strict=True):
        assert got == expected, f"row {expected.get('_source_row')}"


# ---------------------------------------------------------------- records


GIVEN_NAMES = ("Ava", "Zoë", "Chloé", "José", "Łukasz", "Søren", "美咲", "Nguyễn", 'Jo "JJ"', "O'Brien")
SURNAMES = ("Smith", "Müller", "García", "de Vries", "Ødegård", "Ñúñez", "山田", "Back\\Slash")
PRODUCTS = (
    ("2201", "Handful of Gems", 99),
    ("2202", "Gem Pack", 499),
    ("2203", "Sack of Gems", 999),
    ("2206", "Starter Bundle ✨", 299),
    ("2207", 'Season Pass "Gold"', 999),
)
BASE_TIME = datetime(2021, 7, 1, tzinfo=UTC)


def cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def money(value_cents: int, currency: str = "USD") -> dict[str, str]:
    return {"currency_code": currency, "value": cents(value_cents)}


def paypal_time(moment: datetime, style: int = 0) -> str:
    if style == 1:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if style == 2:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return moment.isoformat(timespec="seconds")[:19] + "+0000"


def paypal_record(rng: random.Random, number: int, varied: bool = True) -> dict[str, Any]:
    """One realistic Transaction Search record: sales (some multi-item, some without a cart),
    refunds, optional fields missing, non-ASCII names, quotes, backslashes and escapes.

    Not ``varied``: a sale with every object present (only scalar fields may be missing).
    """
    started = BASE_TIME + timedelta(seconds=number * 7 + rng.randrange(5))
    user = rng.randrange(60_000)
    given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
    invoice = f"INV-2021-{number:09d}"
    refund = varied and number % 9 == 4
    cart = rng.sample(PRODUCTS, rng.choice((1, 1, 1, 2, 3)))
    gross = sum(unit for _, _, unit in cart)
    info: dict[str, Any] = {
        "paypal_account_id": "6STWC2LSUYYYE",
        "transaction_id": f"TX{number:015d}",
        "transaction_event_code": "T1107" if refund else rng.choice(("T0006", "T0007")),
        "transaction_initiation_date": paypal_time(started, number % 3),
        "transaction_updated_date": paypal_time(started + timedelta(seconds=rng.randrange(60)), number % 2),
        "transaction_amount": money(-gross if refund else gross),
        "fee_amount": money(0 if refund else -((gross * 29 + 500) // 1000 + 30)),
        "transaction_status": rng.choice("SSSSP"),
        "transaction_subject": f'{cart[0][1]} x1 — "quoted" \\ back\\slash\nsecond line\ttab',
        "ending_balance": money(1_000_000 + number * 37),
        "available_balance": money(975_000 + number * 37),
        "invoice_id": invoice,
        "custom_field": f"user:{user}",
        "protection_eligibility": "02",
        "instrument_type": rng.choice(("PAYPAL", "CREDIT_CARD")),
    }
    if refund:
        info |= {"paypal_reference_id": f"TX{number - 1:015d}", "paypal_reference_id_type": "TXN"}
    # Optional fields PayPal leaves out.
    for optional in (
        "transaction_updated_date",
        "fee_amount",
        "invoice_id",
        "custom_field",
        "ending_balance",
    ):
        if rng.random() < 0.15 and (varied or optional not in {"fee_amount", "ending_balance"}):
            del info[optional]
    record: dict[str, Any] = {
        "transaction_info": info,
        "payer_info": {
            "account_id": f"P{user:08d}WXYZ",
            "email_address": rng.choice((f"player{user}@example.org", f" Player{user}@Example.ORG ")),
            "address_status": "Y",
            "payer_status": rng.choice("YN"),
            "payer_name": {
                "given_name": given,
                "surname": surname,
                "alternate_full_name": f"{given} {surname}",
            },
            "country_code": rng.choice(("US", "DE", "FR", "JP")),
        },
        "shipping_info": {
            "name": f"{surname}, {given}",
            "address": {
                "line1": f"{rng.randint(1, 240)} Hauptstraße",
                "city": "Zürich",
                "postal_code": "8001",
            },
        },
        "store_info": {"store_id": "web", "terminal_id": rng.randrange(3)},
        "incentive_info": {
            "incentive_details": [{"incentive_type": "none", "ok": True, "code": rng.randrange(9)}]
        },
    }
    if refund or (varied and number % 11 == 5):
        return record  # withdrawals, reversals and refunds carry no cart
    record["cart_info"] = {
        "item_details": [
            {
                "item_code": code,
                "item_name": f"{name} (ID: #{code})",
                "item_description": f"{name} for the game",
                "item_quantity": "1",
                "item_unit_price": money(unit),
                "item_amount": money(unit),
                "total_item_amount": money(unit),
                "invoice_number": invoice,
            }
            for code, name, unit in cart
        ]
    }
    return record


def paypal_records(count: int, seed: int = 7, varied: bool = True) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [paypal_record(rng, number, varied) for number in range(1, count + 1)]


def payment(number: int) -> dict[str, Any]:
    """One row of the game's payment database as Firehose streams it."""
    return {
        "transaction_id": 100_000 + number,
        "transaction_item_id": 2200 + number % 8,
        "user_id": number * 13,
        "payment_merchant_id": 1,
        "merchant_invoice_code": f"INV-{number:06d}",
        "merchant_invoice_code_id": number,
        "product_id": 2200 + number % 8,
        "item_count": 1 + number % 3,
        "total_cost": cents(99 + number * 100),
        "currency_code": "EUR",
        "country_code": "DE",
        "payment_date": f"2021-07-01T10:{number % 60:02d}:00Z",
        "transaction_status": "completed",
        "created_at": f"2021-07-01T10:{number % 60:02d}:31.000Z",
        "payer_email": f"player{number}@example.org",
        "ip_address": f"10.0.0.{number % 250}",
    }


def ndjson(*lines: dict[str, Any] | str | bytes) -> bytes:
    """NDJSON from records (serialised) and raw lines (str or bytes, written as they are)."""
    out = []
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line, ensure_ascii=False)
        out.append(line.encode() if isinstance(line, str) else line)
    return b"\n".join(out) + b"\n"


def edited(record: dict[str, Any], path: str, value: Any = ...) -> dict[str, Any]:
    """A deep copy of ``record`` with the value at the dotted ``path`` set (``...``: removed)."""
    result = copy.deepcopy(record)
    *parents, last = path.split(".")
    target = result
    for part in parents:
        target = target.setdefault(part, {})
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result


def with_text(record: dict[str, Any], path: str, members: str) -> str:
    """``record`` as a JSON line with raw ``members`` text added inside the object at ``path``
    (``""``: the record itself), for what a dict cannot hold: duplicate keys, odd literals."""
    parts = path.split(".") if path else []

    def render(value: Any, rest: list[str]) -> str:
        if not rest:
            inner = json.dumps(value, ensure_ascii=False)[1:-1]
            return "{" + (inner + ", " if inner else "") + members + "}"
        items = [
            json.dumps(k)
            + ": "
            + (render(v, rest[1:]) if k == rest[0] else json.dumps(v, ensure_ascii=False))
            for k, v in value.items()
        ]
        return "{" + ", ".join(items) + "}"

    return render(record, parts)


# ---------------------------------------------------------------- 1. clean PayPal files


def assert_paypal_rows_match_records(outcome: Outcome, records: list[dict[str, Any]]) -> None:
    """The rows hold the records' values, without payer emails or names, hashed as the key says."""
    assert [row["transaction_id"] for row in outcome.rows] == [r[INFO]["transaction_id"] for r in records]
    for row, record in zip(outcome.rows, records, strict=True):
        raw = row["_raw"]
        assert "email_address" not in raw["payer_info"] and "payer_name" not in raw["payer_info"]
        assert "shipping_info" not in raw
        assert raw["transaction_info"] == record["transaction_info"]
        assert raw.get("cart_info") == record.get("cart_info")
        email = record["payer_info"]["email_address"]
        assert row["payer_email_hash"] == pseudonym(KEY, email)
        assert email.strip() not in json.dumps(raw, ensure_ascii=False)
        assert record["payer_info"]["payer_name"]["surname"] not in json.dumps(raw, ensure_ascii=False)


def test_clean_paypal_file_takes_the_fast_path_and_loads_what_the_reference_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = paypal_records(300)
    data = ndjson(*records)

    fast, reference = prepare_both(monkeypatch, data, PAYPAL)

    # The records really are as varied as this test means them to be.
    assert reference.error is None and reference.tally["rows_loaded"] == 300
    assert {0, 1, 2, 3} <= {len(row["cart_items"]) for row in reference.rows}
    assert {"T0006", "T0007", "T1107"} <= {row["transaction_event_code"] for row in reference.rows}
    assert any(row["fee_amount"] is None for row in reference.rows)
    assert any(row["transaction_updated_date"] is None for row in reference.rows)
    assert_paypal_rows_match_records(reference, records)
    assert_same(fast, reference)
    assert fast.taken


def test_clean_paypal_file_with_every_object_present_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = paypal_records(300, varied=False)

    fast, reference = prepare_both(monkeypatch, ndjson(*records), PAYPAL)

    assert fast.taken
    assert reference.error is None and reference.tally["rows_loaded"] == 300
    assert {1, 2, 3} <= {len(row["cart_items"]) for row in reference.rows}
    assert any(row["invoice_id"] is None for row in reference.rows)
    assert_same(fast, reference)
    assert_paypal_rows_match_records(fast, records)


def test_gzip_compressed_paypal_file_takes_the_fast_path_and_loads_what_the_reference_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = paypal_records(200, seed=11, varied=False)

    fast, reference = prepare_both(monkeypatch, gzip.compress(ndjson(*records)), PAYPAL)

    assert fast.taken
    assert reference.tally["rows_loaded"] == 200
    assert_same(fast, reference)
    assert_paypal_rows_match_records(fast, records)


def test_paypal_file_over_a_megabyte_takes_the_fast_path_with_the_shipped_size_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subject = "Gem Pack x1 " * 2_000
    records = [
        edited(r, f"{INFO}.transaction_subject", subject) for r in paypal_records(60, seed=13, varied=False)
    ]
    data = ndjson(*records)
    assert len(data) > 1 << 20

    fast, reference = prepare_both(monkeypatch, data, PAYPAL, any_size=False)

    assert fast.taken
    assert_same(fast, reference)
    assert_paypal_rows_match_records(fast, records)


def test_paypal_file_of_one_record_without_a_cart_takes_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = next(r for r in paypal_records(20) if "cart_info" not in r)

    fast, reference = prepare_both(monkeypatch, ndjson(record), PAYPAL)

    assert fast.taken
    assert reference.rows[0]["cart_items"] == []
    assert_same(fast, reference)


# ---------------------------------------------------------------- 2. payment_transactions and _extra


def test_unknown_fields_of_payments_go_to_extra_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [payment(n) for n in range(1, 41)]
    records[3]["campaign"] = "summer"
    records[7]["device"] = {"os": "iOS 17", "model": "iPhone15,2", "beta": False, "build": 1234}
    records[7]["campaign"] = 'Black "Friday" \\ Ünïcödé 🎁\nline'
    records[19]["tags"] = ["a", "b", "ü"]
    records[19]["nested"] = {"list": [{"k": 1}, {"k": 2, "z": [[1, 2], []]}], "empty": {}}
    records[25]["flags"] = [True, False]

    fast, reference = prepare_both(monkeypatch, ndjson(*records), PAYMENTS)

    assert fast.taken
    assert_same(fast, reference)
    assert fast.tally["extra_fields"] == ["campaign", "device", "flags", "nested", "tags"]
    extras = {row["_source_row"]: row["_extra"] for row in fast.rows}
    assert extras[4] == {"campaign": "summer"}
    assert extras[8]["device"]["build"] == 1234
    assert extras[20]["nested"]["empty"] == {}
    assert extras[1] is None and extras[40] is None
    assert all(row["_extra"] is None for row in reference.rows if row["_source_row"] not in {4, 8, 20, 26})
    assert not any("payer_email" in (row["_extra"] or {}) for row in fast.rows)


def test_unknown_fields_on_every_payment_go_to_extra_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        {
            **payment(n),
            "campaign": f'c{n} "ü" \\',
            "device": {"os": "iOS", "build": n, "beta": n % 2 == 0, "tags": ["a", "é"]},
        }
        for n in range(1, 30)
    ]

    fast, reference = prepare_both(monkeypatch, ndjson(*records), PAYMENTS)

    assert fast.taken
    assert_same(fast, reference)
    assert fast.tally["extra_fields"] == ["campaign", "device"]
    assert fast.rows[2]["_extra"] == {"campaign": records[2]["campaign"], "device": records[2]["device"]}


def test_payments_without_unknown_fields_have_no_extra_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, reference = prepare_both(monkeypatch, ndjson(*[payment(n) for n in range(1, 30)]), PAYMENTS)

    assert fast.taken
    assert_same(fast, reference)
    assert fast.tally["extra_fields"] == []
    assert all(row["_extra"] is None for row in fast.rows)


# ---------------------------------------------------------------- 3. hostile inputs


GOOD = paypal_records(8, seed=3, varied=False)
SALE = next(r for r in GOOD if "cart_info" in r and "fee_amount" in r["transaction_info"])
PAYMENT = payment(4)


def paypal_file(bad: dict[str, Any] | str | bytes, before: int = 3) -> bytes:
    """Good PayPal records with ``bad`` as row ``before + 1``."""
    return ndjson(*GOOD[:before], bad, *GOOD[before:])


def payments_file(bad: dict[str, Any] | str | bytes) -> bytes:
    return ndjson(*[payment(n) for n in (1, 2, 3)], bad, *[payment(n) for n in (5, 6)])


def large_paypal_file(last: dict[str, Any] | str) -> bytes:
    """Good records past the first ``SAMPLE_BYTES`` that Arrow infers the schema from, then ``last``.

    Few long records (a long subject), so the file is past the sample but quick to read row by row.
    """
    subject = "Gem Pack x1 " * 1_000
    records = [
        edited(edited(SALE, f"{INFO}.transaction_id", f"L{n:016d}"), f"{INFO}.transaction_subject", subject)
        for n in range(arrow_ndjson.SAMPLE_BYTES // len(subject) + 2)
    ]
    body = ndjson(*records)
    assert len(body) > arrow_ndjson.SAMPLE_BYTES
    return body + ndjson(last)


def large_payments_file(last: dict[str, Any] | str) -> bytes:
    code = "INV-" + "0" * 12_000
    body = ndjson(
        *[
            {**payment(n), "merchant_invoice_code": code}
            for n in range(1, arrow_ndjson.SAMPLE_BYTES // len(code) + 2)
        ]
    )
    assert len(body) > arrow_ndjson.SAMPLE_BYTES
    return body + ndjson(last)


VALUE = "transaction_info.transaction_amount.value"
ITEMS = "cart_info.item_details"


@dataclass(frozen=True)
class Case:
    build: Callable[[], bytes]
    pipeline: Pipeline = PAYPAL
    must_decline: bool = False
    """The reference quarantines a row or fails the file: the fast path cannot give that."""


CASES: dict[str, Case] = {
    # Lines that are not one JSON object.
    "not-json": Case(lambda: paypal_file('{"transaction_info": {"transaction_id": '), must_decline=True),
    "two-objects-on-a-line": Case(
        lambda: paypal_file(json.dumps(SALE) + json.dumps(edited(SALE, f"{INFO}.transaction_id", "X2"))),
        must_decline=True,
    ),
    "two-objects-on-a-line-with-a-space": Case(
        lambda: paypal_file(json.dumps(SALE) + " " + json.dumps(SALE)), must_decline=True
    ),
    "null-line": Case(lambda: paypal_file("null"), must_decline=True),
    "array-line": Case(lambda: paypal_file("[1, 2]"), must_decline=True),
    "array-of-a-record-line": Case(lambda: paypal_file("[" + json.dumps(SALE) + "]"), must_decline=True),
    "scalar-line-number": Case(lambda: paypal_file("42"), must_decline=True),
    "scalar-line-string": Case(lambda: paypal_file('"text"'), must_decline=True),
    "scalar-line-true": Case(lambda: paypal_file("true"), must_decline=True),
    "empty-object-line": Case(lambda: paypal_file("{}"), must_decline=True),
    # Literal nulls (the module declines on every one: Arrow cannot tell null from absent).
    "null-in-a-string-column": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.invoice_id", None)), must_decline=True
    ),
    "null-in-a-required-column": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_id", None)), must_decline=True
    ),
    "null-in-kept-json-only": Case(
        lambda: paypal_file(edited(SALE, "store_info.store_id", None)), must_decline=True
    ),
    "null-object": Case(lambda: paypal_file(edited(SALE, "cart_info", None)), must_decline=True),
    "null-item-list": Case(lambda: paypal_file(edited(SALE, ITEMS, None)), must_decline=True),
    "null-item": Case(lambda: paypal_file(edited(SALE, ITEMS, [None])), must_decline=True),
    "null-in-extra": Case(lambda: payments_file({**PAYMENT, "campaign": None}), PAYMENTS, must_decline=True),
    "null-spaced": Case(lambda: paypal_file(with_text(SALE, INFO, '"memo" :  null')), must_decline=True),
    # Duplicate keys (the row reader keeps the last value; the module declines).
    "duplicate-key-typed": Case(
        lambda: paypal_file(with_text(SALE, INFO, '"transaction_id": "DUPLICATE"')), must_decline=True
    ),
    "duplicate-key-amount": Case(
        lambda: paypal_file(with_text(SALE, "transaction_info.fee_amount", '"value": "-9.99"')),
        must_decline=True,
    ),
    "duplicate-key-kept-json": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"store_id": "app"')), must_decline=True
    ),
    "duplicate-key-top-level": Case(
        lambda: paypal_file(with_text(SALE, "", '"store_info": {"store_id": "app"}')), must_decline=True
    ),
    "duplicate-key-redacted": Case(
        lambda: paypal_file(with_text(SALE, "payer_info", '"email_address": "b@x.org"')), must_decline=True
    ),
    "duplicate-key-in-item": Case(
        lambda: paypal_file(
            with_text(SALE, "", '"cart_info": {"item_details": [{"item_code": "1", "item_code": "2"}]}')
        ),
        must_decline=True,
    ),
    "duplicate-key-payments": Case(
        lambda: payments_file(with_text(PAYMENT, "", '"total_cost": "7.77"')), PAYMENTS, must_decline=True
    ),
    "duplicate-key-payments-extra": Case(
        lambda: payments_file(with_text({**PAYMENT, "campaign": "a"}, "", '"campaign": "b"')),
        PAYMENTS,
        must_decline=True,
    ),
    # Numbers and text in the wrong places.
    "number-in-required-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.transaction_id", 12345))),
    "number-in-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", 42))),
    "bool-in-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", True))),
    "object-in-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", {"a": "b"}))),
    "number-in-item-string": Case(lambda: paypal_file(edited(SALE, ITEMS, [{"item_code": 2202}]))),
    "number-in-payments-string": Case(lambda: payments_file({**PAYMENT, "currency_code": 978}), PAYMENTS),
    "float-amount": Case(lambda: paypal_file(edited(SALE, VALUE, 12.5)), must_decline=True),
    "float-amount-payments": Case(
        lambda: payments_file({**PAYMENT, "total_cost": 12.5}), PAYMENTS, must_decline=True
    ),
    "float-whole-amount-payments": Case(
        lambda: payments_file({**PAYMENT, "total_cost": 12.0}), PAYMENTS, must_decline=True
    ),
    "exponent-amount-payments": Case(lambda: payments_file({**PAYMENT, "total_cost": "1e2"}), PAYMENTS),
    "exponent-number-payments": Case(
        lambda: payments_file(with_text(PAYMENT, "", '"item_count": 1E2')), PAYMENTS
    ),
    "float-in-kept-json": Case(
        lambda: paypal_file(edited(SALE, "store_info.terminal_id", 1.5)), must_decline=True
    ),
    "int-amount": Case(lambda: paypal_file(edited(SALE, VALUE, 12))),
    "int-amount-payments": Case(lambda: payments_file({**PAYMENT, "total_cost": 12}), PAYMENTS),
    "negative-zero-payments": Case(lambda: payments_file(with_text(PAYMENT, "", '"user_id": -0')), PAYMENTS),
    "int-in-item-quantity": Case(
        lambda: paypal_file(
            edited(SALE, ITEMS, [{**SALE["cart_info"]["item_details"][0], "item_quantity": 2}])
        )
    ),
    "float-in-item-quantity": Case(
        lambda: paypal_file(
            edited(SALE, ITEMS, [{**SALE["cart_info"]["item_details"][0], "item_quantity": 2.0}])
        ),
        must_decline=True,
    ),
    "text-int-payments": Case(lambda: payments_file({**PAYMENT, "transaction_id": "100004"}), PAYMENTS),
    "huge-int-payments": Case(lambda: payments_file({**PAYMENT, "transaction_id": 2**70}), PAYMENTS),
    "huge-int-in-kept-json": Case(lambda: paypal_file(edited(SALE, "store_info.terminal_id", 2**70))),
    "huge-int-in-extra": Case(lambda: payments_file({**PAYMENT, "campaign": 2**64}), PAYMENTS),
    "int64-max-in-extra": Case(lambda: payments_file({**PAYMENT, "campaign": 2**63 - 1}), PAYMENTS),
    "nan-literal": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"ratio": NaN')), must_decline=True
    ),
    "infinity-amount": Case(
        lambda: payments_file(with_text(PAYMENT, "", '"item_count": Infinity')), PAYMENTS
    ),
    # Timestamps.
    "unparseable-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_initiation_date", "yesterday")),
        must_decline=True,
    ),
    "rfc-2822-timestamp": Case(
        lambda: paypal_file(
            edited(SALE, f"{INFO}.transaction_updated_date", "Thu, 01 Jul 2021 10:02:41 +0000")
        )
    ),
    "naive-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", "2021-07-01 10:02:41"))
    ),
    "date-only-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", "2021-07-01"))
    ),
    "nanosecond-timestamp": Case(
        lambda: paypal_file(
            edited(SALE, f"{INFO}.transaction_updated_date", "2021-07-01T10:02:41.123456789Z")
        )
    ),
    "offset-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", "2021-07-01T23:02:41-05:30"))
    ),
    "basic-format-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", "20210701T100241Z"))
    ),
    "number-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", 1625133761))
    ),
    "padded-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_updated_date", " 2021-07-01T10:02:41Z "))
    ),
    # Missing and empty values.
    "missing-required": Case(lambda: paypal_file(edited(SALE, f"{INFO}.transaction_id")), must_decline=True),
    "missing-required-object": Case(lambda: paypal_file(edited(SALE, INFO)), must_decline=True),
    "missing-required-payments": Case(
        lambda: payments_file({k: v for k, v in PAYMENT.items() if k != "total_cost"}),
        PAYMENTS,
        must_decline=True,
    ),
    "empty-required-timestamp": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.transaction_initiation_date", "")), must_decline=True
    ),
    "empty-required-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.transaction_id", ""))),
    "empty-nullable-numeric": Case(
        lambda: paypal_file(edited(SALE, "transaction_info.fee_amount.value", ""))
    ),
    "empty-nullable-string": Case(lambda: paypal_file(edited(SALE, f"{INFO}.invoice_id", ""))),
    "empty-required-numeric-payments": Case(
        lambda: payments_file({**PAYMENT, "total_cost": ""}), PAYMENTS, must_decline=True
    ),
    "empty-item-fields": Case(
        lambda: paypal_file(edited(SALE, ITEMS, [{"item_code": "", "item_quantity": "", "item_name": ""}]))
    ),
    "empty-email": Case(lambda: paypal_file(edited(SALE, "payer_info.email_address", ""))),
    # Numbers as text.
    "thousands-separators": Case(lambda: paypal_file(edited(SALE, VALUE, "1,234.50"))),
    "ten-decimal-places": Case(lambda: paypal_file(edited(SALE, VALUE, "1.1234567891")), must_decline=True),
    "ten-decimal-places-zero": Case(lambda: paypal_file(edited(SALE, VALUE, "1.0000000000"))),
    "padded-amount": Case(lambda: paypal_file(edited(SALE, VALUE, " 19.99 "))),
    "not-a-number-amount": Case(lambda: paypal_file(edited(SALE, VALUE, "abc")), must_decline=True),
    "nan-text-amount": Case(lambda: paypal_file(edited(SALE, VALUE, "NaN")), must_decline=True),
    "too-large-amount": Case(lambda: paypal_file(edited(SALE, VALUE, "1e29")), must_decline=True),
    # Cart shapes.
    "item-details-not-a-list": Case(
        lambda: paypal_file(edited(SALE, ITEMS, {"item_code": "1"})), must_decline=True
    ),
    "item-details-a-string": Case(lambda: paypal_file(edited(SALE, ITEMS, "none")), must_decline=True),
    "item-a-string": Case(lambda: paypal_file(edited(SALE, ITEMS, ["gems"])), must_decline=True),
    "item-name-a-number": Case(
        lambda: paypal_file(edited(SALE, ITEMS, [{"item_code": "1", "item_name": 2202}]))
    ),
    "item-details-empty-everywhere": Case(
        lambda: ndjson(*[edited(r, ITEMS, []) for r in GOOD if "cart_info" in r])
    ),
    "cart-info-a-list": Case(lambda: paypal_file(edited(SALE, "cart_info", []))),
    "cart-info-empty": Case(lambda: paypal_file(edited(SALE, "cart_info", {}))),
    "items-already-derived": Case(lambda: paypal_file({**SALE, "cart_items": [{"item_code": "zzz"}]})),
    "item-with-product-name": Case(
        lambda: paypal_file(
            edited(SALE, ITEMS, [{"item_code": "1", "item_name": "A (ID: #1)", "product_name": "B"}])
        )
    ),
    "payer-info-a-string": Case(lambda: paypal_file(edited(SALE, "payer_info", "anonymous"))),
    # Text encoding and line structure.
    "invalid-utf8": Case(
        lambda: paypal_file(
            json.dumps(edited(SALE, f"{INFO}.custom_field", "@@")).encode().replace(b"@@", b"\xff")
        )
    ),
    "invalid-utf8-at-end": Case(lambda: ndjson(*GOOD) + b'{"a": "\xc3"}\n'),
    "utf8-bom": Case(lambda: b"\xef\xbb\xbf" + ndjson(*GOOD)),
    "utf8-bom-mid-file": Case(lambda: paypal_file(b"\xef\xbb\xbf" + json.dumps(SALE).encode())),
    "lone-cr": Case(lambda: ndjson(*GOOD).replace(b"\n", b"\r", 2)),
    "lone-cr-everywhere": Case(lambda: ndjson(*GOOD).replace(b"\n", b"\r")),
    "crlf": Case(lambda: ndjson(*GOOD).replace(b"\n", b"\r\n")),
    "blank-lines": Case(lambda: b"\n" + ndjson(*GOOD).replace(b"\n", b"\n\n  \n\t\n", 3)),
    "no-final-newline": Case(lambda: ndjson(*GOOD).rstrip(b"\n")),
    "form-feed-line": Case(lambda: paypal_file("\f")),
    "nbsp-line": Case(lambda: paypal_file("\u00a0")),
    "unicode-line-separator-in-string": Case(
        lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", "a\u2028b\u0085c"))
    ),
    "escaped-control-character": Case(lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", "a\u0001b"))),
    "escaped-control-character-payments": Case(
        lambda: payments_file({**PAYMENT, "merchant_invoice_code": "a\u0001b"}), PAYMENTS
    ),
    "escaped-nul": Case(lambda: paypal_file(edited(SALE, f"{INFO}.custom_field", "a\u0000b"))),
    "raw-control-character": Case(
        lambda: paypal_file(json.dumps(edited(SALE, f"{INFO}.custom_field", "a@b")).replace("@", "\x01")),
        must_decline=True,
    ),
    "raw-tab-in-string": Case(
        lambda: paypal_file(json.dumps(edited(SALE, f"{INFO}.custom_field", "a@b")).replace("@", "\t")),
        must_decline=True,
    ),
    "lone-surrogate-escape": Case(lambda: paypal_file(with_text(SALE, "store_info", '"memo": "\\ud800"'))),
    "surrogate-pair-escape": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"memo": "\\ud83d\\ude00"'))
    ),
    "escaped-slash-and-unicode": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"memo": "\\/\\u00e9"'))
    ),
    "odd-keys": Case(
        lambda: payments_file({**PAYMENT, 'we"ird': 1, "a.b": "x", "": "empty", "é": "x"}), PAYMENTS
    ),
    "deep-nesting": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"deep": ' + "[" * 1500 + "]" * 1500))
    ),
    # Sizes and what Arrow infers from the first lines only.
    "record-over-1-mb": Case(lambda: paypal_file(edited(SALE, "store_info.memo", "x" * 1_200_000))),
    "record-over-block-size": Case(lambda: paypal_file(edited(SALE, "store_info.memo", "é" * 2_500_000))),
    "late-new-nested-key": Case(lambda: large_paypal_file(edited(SALE, f"{INFO}.settlement_id", "S-1"))),
    "late-new-top-level-key": Case(lambda: large_paypal_file({**SALE, "risk_info": {"score": "low"}})),
    "late-object-with-other-keys": Case(lambda: large_paypal_file(edited(SALE, "store_info", {"new": "x"}))),
    "late-new-item-key": Case(
        lambda: large_paypal_file(
            edited(SALE, ITEMS, [{**SALE["cart_info"]["item_details"][0], "tax": "1.00"}])
        )
    ),
    "late-timestamp-looking-new-key": Case(
        lambda: large_paypal_file(edited(SALE, f"{INFO}.settled_at", "2021-07-01T10:02:41Z"))
    ),
    "late-timestamp-looking-top-level-key": Case(
        lambda: large_paypal_file({**SALE, "settled_at": "2021-07-01T10:02:41+0000"})
    ),
    "late-timestamp-looking-string-column": Case(
        lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", "2021-07-01T10:02:41Z"))
    ),
    "late-number-in-string": Case(lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", 42))),
    "late-number-in-required-string": Case(
        lambda: large_paypal_file(edited(SALE, f"{INFO}.transaction_id", 12345))
    ),
    "late-float-amount": Case(lambda: large_paypal_file(edited(SALE, VALUE, 12.5)), must_decline=True),
    "late-int-amount": Case(lambda: large_paypal_file(edited(SALE, VALUE, 12))),
    "late-bool-in-string": Case(lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", True))),
    "late-string-in-int-kept-json": Case(
        lambda: large_paypal_file(edited(SALE, "store_info.terminal_id", "7"))
    ),
    "late-object-in-string": Case(lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", {"a": 1}))),
    "late-list-in-string": Case(lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", ["a"]))),
    "late-null": Case(
        lambda: large_paypal_file(edited(SALE, f"{INFO}.custom_field", None)), must_decline=True
    ),
    "late-extra-payments": Case(lambda: large_payments_file({**PAYMENT, "campaign": "late"}), PAYMENTS),
    "late-text-int-payments": Case(lambda: large_payments_file({**PAYMENT, "user_id": "77"}), PAYMENTS),
    "late-number-in-string-payments": Case(
        lambda: large_payments_file({**PAYMENT, "merchant_invoice_code": 77}), PAYMENTS
    ),
    "late-float-payments": Case(
        lambda: large_payments_file({**PAYMENT, "total_cost": 12.5}), PAYMENTS, must_decline=True
    ),
    "late-int-in-numeric-payments": Case(
        lambda: large_payments_file({**PAYMENT, "total_cost": 12}), PAYMENTS
    ),
    # Objects some records have and others lack (every record above has every object).
    "object-missing-in-one-record": Case(lambda: paypal_file(edited(SALE, "transaction_info.fee_amount"))),
    "record-without-a-cart": Case(lambda: paypal_file(edited(SALE, "cart_info"))),
    "empty-object-in-one-record": Case(lambda: paypal_file(edited(SALE, "store_info", {}))),
    "item-without-a-price": Case(
        lambda: paypal_file(edited(SALE, ITEMS, [{"item_code": "2201", "item_quantity": "1"}]))
    ),
    "extra-field-on-one-payment": Case(lambda: payments_file({**PAYMENT, "campaign": "x"}), PAYMENTS),
    "payer-info-only-redacted-fields": Case(
        lambda: ndjson(
            *[{**r, "payer_info": {"email_address": "a@b.org", "payer_name": {"surname": "X"}}} for r in GOOD]
        )
    ),
    "payer-info-only-redacted-fields-and-absent-in-one-record": Case(
        lambda: ndjson(
            *[{**r, "payer_info": {"email_address": "a@b.org"}} for r in GOOD[:3]],
            edited(GOOD[3], "payer_info"),
            *[{**r, "payer_info": {"email_address": "a@b.org"}} for r in GOOD[4:]],
        )
    ),
    "payer-info-only-redacted-fields-in-one-record": Case(
        lambda: paypal_file({**SALE, "payer_info": {"email_address": "a@b.org"}})
    ),
    "timestamp-looking-text-in-lists": Case(
        lambda: ndjson(*[{**r, "store_info": {"seen": ["2021-07-01T10:02:41Z", "x"]}} for r in GOOD])
    ),
    "timestamp-looking-text-in-extra": Case(
        lambda: ndjson(*[{**payment(n), "refunded_at": f"2021-07-0{n}T10:00:00Z"} for n in range(1, 6)]),
        PAYMENTS,
    ),
    # Almost JSON: the row reader quarantines these lines.
    **{
        f"almost-json-{name}": Case(
            lambda tail=tail: paypal_file(json.dumps(SALE)[:-1] + tail), must_decline=True
        )
        for name, tail in {
            "trailing-comma": ", }",
            "comment": "} // note",
            "block-comment": "/* note */}",
            "leading-zero": ', "z": 01}',
            "single-quotes": ", 'z': 'a'}",
            "unquoted-key": ', z: "a"}',
            "plus-sign": ', "z": +1}',
            "bare-fraction": ', "z": .5}',
            "bad-escape": ', "z": "\\q"}',
            "short-unicode-escape": ', "z": "\\u12"}',
            "garbage-after": "} xyz",
            "comma-after": "},",
            "capital-true": ', "z": True}',
        }.items()
    },
    "indented-line": Case(lambda: paypal_file("   " + json.dumps(SALE) + " \t")),
    "huge-exponent": Case(
        lambda: paypal_file(with_text(SALE, "store_info", '"z": 1e400')), must_decline=True
    ),
    # Nothing to read.
    "empty-file": Case(lambda: b"", must_decline=True),
    "whitespace-only": Case(lambda: b" \n\n\t \r\n", must_decline=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gives_what_the_reference_gives(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    case = CASES[name]

    fast, reference = prepare_both(monkeypatch, case.build(), case.pipeline)

    if case.must_decline:
        assert not fast.taken
    assert_same(fast, reference)


# ---------------------------------------------------------------- 4. row numbers


def test_row_numbers_skip_blank_lines_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    records = paypal_records(12, seed=21, varied=False)
    data = b"\n\n" + b"\n \n\n".join(json.dumps(r).encode() for r in records) + b"\n\n\t\n"

    fast, reference = prepare_both(monkeypatch, data, PAYPAL)

    assert fast.taken
    assert_same(fast, reference)
    assert [row["_source_row"] for row in fast.rows] == list(range(1, 13))
    assert [row["transaction_id"] for row in fast.rows] == [
        r["transaction_info"]["transaction_id"] for r in records
    ]


def test_row_numbers_of_a_declined_file_with_blank_lines_are_the_references(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = [json.dumps(r) for r in GOOD]
    lines[4] = "not json"
    data = ("\n\n".join(lines) + "\n").encode()

    fast, reference = prepare_both(monkeypatch, data, PAYPAL)

    assert not fast.taken
    assert_same(fast, reference)
    assert [r["row"] for r in fast.rejected] == [5]
    assert [row["_source_row"] for row in fast.rows] == [1, 2, 3, 4, 6, 7, 8]


# ---------------------------------------------------------------- 5. contact details in free text

CONTACT = "Jane Roe <jane.roe@example.com>, +44 20 7946 0958"
CONTACT_CASES: dict[str, Callable[[], tuple[bytes, Pipeline]]] = {
    "custom-field": lambda: (paypal_file(edited(SALE, f"{INFO}.custom_field", CONTACT)), PAYPAL),
    "note-in-raw-next-to-escapes": lambda: (
        paypal_file(edited(SALE, f"{INFO}.transaction_note", 'a"\\\njane@example.com\t(555) 123-4567')),
        PAYPAL,
    ),
    "item-description": lambda: (
        paypal_file(
            edited(SALE, ITEMS, [{**SALE["cart_info"]["item_details"][0], "item_description": CONTACT}])
        ),
        PAYPAL,
    ),
    # A key is a field name, not masked (two masked alike would collide): the value still is.
    "email-shaped-key": lambda: (paypal_file(edited(SALE, "store_info.jane@example.com", CONTACT)), PAYPAL),
    "extra-payments": lambda: (
        payments_file({**PAYMENT, "note": CONTACT, "tags": ["+1 (555) 123-4567", "ok"], "m": {"n": CONTACT}}),
        PAYMENTS,
    ),
    "late-in-a-large-file": lambda: (
        large_paypal_file(edited(SALE, f"{INFO}.custom_field", CONTACT)),
        PAYPAL,
    ),
}


@pytest.mark.parametrize("name", list(CONTACT_CASES))
def test_contact_details_in_free_text_are_masked_the_same_by_both_readers(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    data, pipeline = CONTACT_CASES[name]()

    fast, reference = prepare_both(monkeypatch, data, pipeline)

    assert fast.taken
    assert_same(fast, reference)
    stored = json.dumps(fast.rows, default=str, ensure_ascii=False)
    assert "jane.roe@" not in stored and "7946" not in stored and "123-4567" not in stored
    assert "[phone]" in stored and "[email:" in stored


def test_redacted_keys_spelled_with_json_escapes_are_redacted_by_both_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN PayPal records whose payer email, payer name and shipping address are under keys
    # written with escapes ("\u0065mail_address" is "email_address" once decoded)
    lines = []
    for record in paypal_records(30):
        record = {**record, "shipping_info": {"name": "Jane Roe", "address": {"line1": "1 Main St"}}}
        text = json.dumps(record, ensure_ascii=False)
        text = text.replace('"email_address"', '"\\u0065mail_address"')
        text = text.replace('"payer_name"', '"payer\\u005fname"')
        text = text.replace('"shipping_info"', '"shipping\\u005finfo"')
        lines.append(text)
    assert all("\\u0065mail_address" in line for line in lines)

    # WHEN both readers prepare the file
    fast, reference = prepare_both(monkeypatch, ("\n".join(lines) + "\n").encode(), PAYPAL)

    # THEN the fast path took it, and neither kept what the escaped keys hold
    assert fast.taken
    assert_same(fast, reference)
    for row in fast.rows:
        kept = row["_raw"]
        assert "email_address" not in kept["payer_info"] and "payer_name" not in kept["payer_info"]
        assert "shipping_info" not in kept
