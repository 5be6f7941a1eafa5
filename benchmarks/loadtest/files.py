"""The files of a run, planned and built from ``ingest_devstack.generate``: the same seed and
number always give the same bytes.

PayPal Transaction Search pages (JSON array, NDJSON, concatenated JSON compact and pretty, some
gzipped, some without an extension, some keys with spaces and non-ASCII characters) and the
game's payments (Firehose streams of concatenated JSON or NDJSON with no extension, CSV exports,
some gzipped, and Parquet exports), 5 to 50 rows each, a quarter of the good files with one to
three planted bad rows; and the files that must fail whole, one kind of failure each.
"""

from __future__ import annotations

import gzip
import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks.loadtest.config import BAD_KINDS, GOOD, MAX_ROWS, PAYMENTS, PAYPAL, Planned
from ingest_devstack.generate.reference import Player

ID_STRIDE = 64  # business keys: file number * ID_STRIDE + row, unique within a run
PAYMENT_ID_BASE = 7_000_000_000
ITEM_ID_BASE = 50_000_000_000
MONTH_START = datetime(2021, 7, 1, tzinfo=UTC)
# Defects that the paypal_transactions pipeline quarantines (coercion, then critical GX checks).
PAYPAL_ROW_DEFECTS = (
    "transaction_id",
    "transaction_initiation_date",
    "gross_amount",
    "paypal.status_known",
    "paypal.currency_iso",
    "paypal.fee_not_positive_on_completed_payments",
)
# (column, value) the payment_transactions pipeline quarantines; Parquet can carry the typed ones.
PAYMENT_ROW_DEFECTS = (
    ("total_cost", "twelve"),
    ("payment_date", "yesterday"),
    ("transaction_id", None),
    ("item_count", "two"),
    ("transaction_status", "bogus"),
    ("total_cost", "-5.00"),
    ("currency_code", "US$"),
)
PARQUET_ROW_DEFECTS = (("transaction_status", "bogus"), ("total_cost", "-5.00"), ("currency_code", "US$"))
EXPORT_TIME = "%Y-%m-%d %H:%M:%S"


def players_of(seed: int) -> list[Player]:
    from ingest_devstack.generate.reference import players

    return players(seed, 300)


def _paypal_records(
    rng: random.Random, number: int, count: int, bad: set[int], players: list[Player]
) -> list[dict[str, Any]]:
    from ingest_devstack.generate import paypal as gp
    from ingest_devstack.generate.defects import deface_paypal
    from ingest_devstack.generate.reference import PRODUCTS

    records = []
    for row in range(count):
        product_id, product_name, price = rng.choice(PRODUCTS)
        unit, quantity = Decimal(price), rng.choice((1, 1, 1, 2, 3))
        serial = number * ID_STRIDE + row
        invoice = f"LT{number:06d}-{row:02d}"
        started = MONTH_START + timedelta(seconds=rng.randrange(30 * 86_400))
        gross = unit * quantity
        record = gp.payment_record(
            rng,
            account="LOADTEST00001",
            txn_id=gp.transaction_id(serial, 1_234_567),
            event_code=rng.choice(gp.PAYMENT_CODES),
            started=started,
            settled=started + timedelta(seconds=rng.randint(1, 3)),
            pending=False,
            player=rng.choice(players),
            item=gp.cart_item(ITEM_ID_BASE + serial, product_name, product_id, quantity, unit, invoice),
            invoice=invoice,
            gross=gross,
        )
        info = record["transaction_info"]
        info["ending_balance"] = gp.money("1000.00")
        info["available_balance"] = gp.money("1000.00")
        if row in bad:
            deface_paypal(record, rng.choice(PAYPAL_ROW_DEFECTS))
        records.append(record)
    return records


def _payment_rows(
    rng: random.Random,
    number: int,
    count: int,
    bad: set[int],
    players: list[Player],
    defects: tuple[tuple[str, str | None], ...],
) -> list[dict[str, Any]]:
    """Rows of the game's payment table with typed timestamps (``_json_row`` makes strings)."""
    from ingest_devstack.generate.reference import PRODUCTS

    rows = []
    for row in range(count):
        product_id, _, price = rng.choice(PRODUCTS)
        quantity = rng.choice((1, 1, 1, 2, 3))
        serial = number * ID_STRIDE + row
        player = rng.choice(players)
        paid_at = MONTH_START + timedelta(seconds=rng.randrange(30 * 86_400))
        values = {
            "transaction_id": PAYMENT_ID_BASE + serial,
            "payment_merchant_id": 7,
            "merchant_invoice_code": rng.choice(("71001", "71002")),
            "merchant_invoice_code_id": 13_000_000_000 + serial,
            "user_id": player.user_id,
            "total_cost": Decimal(price) * quantity,
            "currency_code": "USD",
            "payer_email": f"player{player.user_id}@example.com",
            "country_code": player.country.iso_2_code if player.country else "",
            "payment_date": paid_at,
            "transaction_status": "completed",
            "ip_address": player.ip_address,
            "created_at": paid_at + timedelta(seconds=rng.randint(1, 6)),
            "transaction_item_id": ITEM_ID_BASE + serial,
            "product_id": product_id,
            "item_count": quantity,
        }
        if row in bad:
            column, value = rng.choice(defects)
            values[column] = Decimal(value) if column == "total_cost" and value == "-5.00" else value
        rows.append(values)
    return rows


def _json_row(values: dict[str, Any]) -> dict[str, Any]:
    """A payment row as Firehose streams it: strings for money and times."""
    out = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            value = value.isoformat(timespec="seconds")[:19] + ".000Z"
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    return out


def _csv(rows: list[dict[str, Any]], delimiter: str = ",") -> bytes:
    import csv

    from ingest_devstack.generate.encode import PAYMENT_COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    writer.writerow(name for name, _ in PAYMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            row[name].strftime(EXPORT_TIME)
            if isinstance(row[name], datetime)
            else ("" if row[name] is None else row[name])
            for name, _ in PAYMENT_COLUMNS
        )
    return out.getvalue().encode()


def _encode(records: list[dict[str, Any]], layout: str) -> bytes:
    from ingest_devstack.generate.encode import encode_json

    return encode_json(records, layout, compress=False)[0]


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def _bad_rows(rng: random.Random, count: int, share: float) -> set[int]:
    if rng.random() >= share:
        return set()
    return set(rng.sample(range(1, count), rng.randint(1, 3)))


def build_file(
    seed: int, number: int, kind: str, tag: str, players: list[Player], bad_row_share: float = 0.25
) -> tuple[Planned, bytes]:
    """The file ``number`` of a run: its plan and its bytes; the same arguments give the same bytes.

    ``tag`` is the run's folder inside each pipeline's key space (``loadtest-<run id>``).
    """
    rng = random.Random(f"loadtest:{seed}:{number}")
    day = rng.randint(1, 30)
    count = rng.randint(5, MAX_ROWS)
    if kind != GOOD:
        return _bad_file(rng, number, kind, tag, day, count, players)
    paypal_dir = f"paypal/transactions/{tag}/2021/07/{day:02d}"
    if rng.random() < 0.5:
        layout, ext = rng.choice(
            (
                ("json_array", ".json"),
                ("json_array", ".json"),
                ("ndjson", ".ndjson"),
                ("ndjson", ".jsonl"),
                ("json_concat", ""),
                ("json_concat_pretty", ""),
            )
        )
        bad = _bad_rows(rng, count, bad_row_share)
        body = _encode(_paypal_records(rng, number, count, bad, players), layout)
        if rng.random() < 0.25:
            body, layout = _gzip(body), f"{layout}+gzip"
            ext = f"{ext}.gz" if ext else ""
        if rng.random() < 0.15:
            ext = ""  # nothing to go by but the bytes
        name = f"page {number:05d} été+bonus 100%" if rng.random() < 0.05 else f"page-{number:05d}"
        key = f"{paypal_dir}/{name}{ext}"
        return Planned(number, key, PAYPAL, GOOD, f"paypal {layout}", count, len(bad)), body

    layout = rng.choices(("json_concat", "ndjson", "csv", "parquet"), weights=(40, 15, 30, 15))[0]
    if layout == "parquet":
        from ingest_devstack.generate.encode import encode_parquet_export

        bad = _bad_rows(rng, count, bad_row_share)
        body = encode_parquet_export(_payment_rows(rng, number, count, bad, players, PARQUET_ROW_DEFECTS))
        key = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.parquet"
        return Planned(number, key, PAYMENTS, GOOD, "payments parquet", count, len(bad)), body
    bad = _bad_rows(rng, count, bad_row_share)
    rows = _payment_rows(rng, number, count, bad, players, PAYMENT_ROW_DEFECTS)
    compress = rng.random() < 0.25
    if layout == "csv":
        body = _csv(rows)
        key = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.csv"
        if compress:
            body, key = _gzip(body), f"{key}.gz"
    else:
        body = _encode([_json_row(row) for row in rows], layout)
        hour, minute = rng.randrange(24), rng.randrange(60)
        key = (
            f"payments/transactions/{tag}/2021/07/{day:02d}/{hour:02d}/"
            f"payments-stream-1-2021-07-{day:02d}-{hour:02d}-{minute:02d}-00-{number:05d}"
        )
        if compress:
            body = _gzip(body)
    layout = f"{layout}+gzip" if compress else layout
    return Planned(number, key, PAYMENTS, GOOD, f"payments {layout}", count, len(bad)), body


def _bad_file(
    rng: random.Random, number: int, kind: str, tag: str, day: int, count: int, players: list[Player]
) -> tuple[Planned, bytes]:
    """A file that must fail as a whole, with ``BAD_KINDS[kind]``; its bytes are unique in the run."""
    paypal_key = f"paypal/transactions/{tag}/2021/07/{day:02d}/page-{number:05d}"
    stream_key = f"payments/transactions/{tag}/2021/07/{day:02d}/00/payments-stream-1-bad-{number:05d}"
    pipeline = PAYPAL
    if kind == "truncated_json_array":
        body = _encode(_paypal_records(rng, number, count, set(), players), "json_array")
        key, body = f"{paypal_key}.json", body[: len(body) // 2]
    elif kind == "truncated_gzip":
        body = _gzip(_encode(_paypal_records(rng, number, count, set(), players), "ndjson"))
        key, body = f"{paypal_key}.json.gz", body[: len(body) * 2 // 3]
    elif kind == "empty_object":
        key, body = f"{paypal_key}.json", b"{}" + b"\n" * (1 + number)  # the newlines keep it unique
    elif kind == "unroutable_key":
        rows = _payment_rows(rng, number, count, set(), players, ())
        key, pipeline = f"payments/refunds/{tag}/refunds-{number:05d}.ndjson", ""
        body = _encode([_json_row(row) for row in rows], "ndjson")
    elif kind == "wrong_delimiter":
        body = _csv(_payment_rows(rng, number, count, set(), players, ()), delimiter=":")
        key, pipeline = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.csv", PAYMENTS
    elif kind == "garbage":
        body = b"\x00\xff\xfe" + rng.randbytes(rng.randint(200, 4000))
        key, pipeline = stream_key, PAYMENTS
    elif kind == "all_rows_bad":
        rows = _payment_rows(rng, number, count, set(range(count)), players, (("total_cost", "twelve"),))
        key, pipeline = stream_key, PAYMENTS
        body = _encode([_json_row(row) for row in rows], "json_concat")
    elif kind == "broken_concatenation":
        rows = [_json_row(row) for row in _payment_rows(rng, number, count, set(), players, ())]
        text = _encode(rows, "json_concat").decode()
        cut = text.index("}{", len(text) // 2)
        key, pipeline = stream_key, PAYMENTS
        body = (text[: cut - 5] + text[cut + 1 :]).encode()  # an object loses its end
    else:
        raise ValueError(f"no such bad file kind: {kind}")
    return Planned(number, key, pipeline, kind, kind, count, 0, BAD_KINDS[kind]), body


def plan_kinds(files: int, bad_share: float, seed: int) -> list[str]:
    """The kind of each file: ``bad_share`` of them bad, the bad kinds in turn, spread at random."""
    rng = random.Random(f"loadtest:{seed}:kinds")
    bad = round(files * bad_share)
    kinds = [GOOD] * files
    names = list(BAD_KINDS)
    for turn, number in enumerate(rng.sample(range(files), bad)):
        kinds[number] = names[turn % len(names)]
    return kinds
