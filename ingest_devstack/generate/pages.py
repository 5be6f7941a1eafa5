"""PayPal Transaction Search pages of any size, for the benchmarks: records numbered by a serial.

A month (``MonthStream``) tells a story that reconciles; a benchmark needs something else: any
number of files of any number of rows, the same bytes for the same arguments, and every record
loadable, so that a run must load exactly the rows written. These pages are built from the same
record builders as the month (``generate.paypal``) with the same products, prices and players:
sales (T0006/T0007 with PayPal's fee), 3% of them first seen pending, and 2% refunds (T1107) of a
sale outside the page. Every record passes the PayPal suite. They are not a month: the balances
are plausible figures, not a running balance, and nothing here is in a manifest.
"""

from __future__ import annotations

import functools
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate.paypal import (
    CENT,
    PAYMENT_CODES,
    cart_item,
    money,
    payment_record,
    refund_record,
    transaction_id,
)
from ingest_devstack.generate.reference import MAX_PLAYERS, PRODUCT_WEIGHTS, PRODUCTS, Player, players

ACCOUNT = "6STWC2LSUYYYE"
FIRST_AT = datetime(2021, 7, 1, tzinfo=UTC)
SECONDS_APART = 2  # record n starts about n * 2 s after FIRST_AT: serials never share a moment
REFUND_SHARE = 0.02
PENDING_SHARE = 0.03
PLAYERS_SEED = 7
# transaction_id offsets: a record's own id, and the id of the sale a refund refunds (never in a
# page). Far apart, so no serial's sale id is another serial's refunded id.
OWN_IDS = 7_654_321
REFUNDED_IDS = 36**16 + OWN_IDS
ITEM_IDS = 50_000_000_000  # cart items' item_code: the serial plus this
INSTRUMENTS = ("PAYPAL", "CREDIT_CARD", "DEBIT_CARD")


@functools.cache
def _players() -> list[Player]:
    """The studio's players, built once per process (60,000 of them take a moment)."""
    return players(PLAYERS_SEED, MAX_PLAYERS)


def page_record(rng: random.Random, serial: int) -> dict[str, Any]:
    """The record numbered ``serial``: a sale, or with ``REFUND_SHARE`` a refund of one."""
    started = FIRST_AT + timedelta(seconds=serial * SECONDS_APART + rng.randrange(SECONDS_APART))
    product_id, name, price = rng.choices(PRODUCTS, PRODUCT_WEIGHTS)[0]
    quantity = 1 if rng.random() < 0.9 else rng.randint(2, 3)
    unit = Decimal(price)
    player = rng.choice(_players())
    invoice = f"INV-2021-{serial:09d}"
    refund = rng.random() < REFUND_SHARE
    pending = not refund and rng.random() < PENDING_SHARE
    sale = payment_record(
        rng,
        account=ACCOUNT,
        txn_id=transaction_id(serial, REFUNDED_IDS if refund else OWN_IDS),
        event_code=rng.choice(PAYMENT_CODES),
        started=started,
        settled=started + timedelta(seconds=3 + rng.randrange(40)),
        pending=pending,
        player=player,
        item=cart_item(ITEM_IDS + serial, name, product_id, quantity, unit, invoice),
        invoice=invoice,
        gross=unit * quantity,
    )
    # What Transaction Search adds that the month's records leave out: the subject, the means
    # of payment and the item's description.
    sale["transaction_info"]["transaction_subject"] = f"{name} x{quantity}"
    sale["transaction_info"]["instrument_type"] = rng.choice(INSTRUMENTS)
    sale["cart_info"]["item_details"][0]["item_description"] = f"{name} for the game"
    record = refund_record(rng, sale, transaction_id(serial, OWN_IDS), started) if refund else sale
    balance = Decimal(1_000_000 + (serial * 37) % 500_000) * CENT
    record["transaction_info"]["ending_balance"] = money(balance)
    record["transaction_info"]["available_balance"] = money(balance - 250)
    return record


def page_records(seed: str, first_serial: int, rows: int) -> list[dict[str, Any]]:
    """``rows`` records numbered from ``first_serial``; the same arguments give the same records."""
    rng = random.Random(seed)
    return [page_record(rng, first_serial + n) for n in range(rows)]


def ndjson_page(seed: str, first_serial: int, rows: int) -> bytes:
    """A page as NDJSON, compact and UTF-8 (about 1.5 KB a record), as the extractor writes it."""
    lines = (
        json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        for record in page_records(seed, first_serial, rows)
    )
    return ("\n".join(lines) + "\n").encode()
