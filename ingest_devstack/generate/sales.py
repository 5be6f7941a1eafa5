"""The game's sales of a day: who buys what and when, and the cart each one becomes, one game DB
row per item."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate import paypal
from ingest_devstack.generate.balances import ZERO
from ingest_devstack.generate.reference import PRODUCT_WEIGHTS, PRODUCTS, Player
from ingest_devstack.generate.schedule import Schedule

INVOICE_CODES = ("71001", "71002")  # the storefront: iOS, Android
_CUM_WEIGHTS = list(itertools.accumulate(PRODUCT_WEIGHTS))
PRICES = {product_id: Decimal(price) for product_id, _, price in PRODUCTS}


def game_time(moment: datetime) -> str:
    """The game DB's JSON timestamps, ``2021-07-03T22:05:31.000Z``."""
    return moment.isoformat(timespec="seconds")[:19] + ".000Z"


@dataclass(slots=True)
class Line:
    """One item of a sale: a game DB row, and an item of PayPal's cart."""

    row: dict[str, Any]
    product: tuple[Any, ...]
    quantity: int
    seq: int

    @property
    def item_id(self) -> int:
        item_id: int = self.row["transaction_item_id"]
        return item_id

    @property
    def amount(self) -> Decimal:
        return PRICES[self.product[0]] * self.quantity


@dataclass(slots=True)
class Sale:
    """One payment: a PayPal record with a cart of ``lines`` (in item_code order), plus
    ``shipping`` in its gross."""

    seq: int
    player: Player
    paid_at: datetime
    created_at: datetime
    started: datetime  # when PayPal dates the payment, a few seconds before the game does
    lines: list[Line] = field(default_factory=list)
    shipping: Decimal = ZERO
    fact: object = None  # see ingest_devstack.generate.facts

    @property
    def gross(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO) + self.shipping


def day_sales(
    rng: random.Random, schedule: Schedule, buyers: list[Player], day: datetime, count: int
) -> list[Sale]:
    """``count`` sales of one item each (their carts are filled later, as their facts want)."""
    # Sales stay 5 minutes clear of midnight so each day's files hold only that day.
    offsets = sorted(rng.randrange(300, 86_100) for _ in range(count))
    sales = []
    for offset in offsets:
        player = rng.choice(buyers)
        product = rng.choices(PRODUCTS, cum_weights=_CUM_WEIGHTS)[0]
        unit = PRICES[product[0]]
        quantity = rng.choice((1, 1, 1, 1, 2, 3, 5)) if unit < 5 else 1
        paid_at = day + timedelta(seconds=offset)
        created_at = paid_at + timedelta(seconds=rng.randint(1, 6))
        started = paid_at - timedelta(seconds=rng.randint(2, 40))
        seq = next(schedule.seq)
        sale = Sale(seq, player, paid_at, created_at, started)
        add_line(schedule, sale, rng.choice(INVOICE_CODES), product, quantity, seq)
        sales.append(sale)
    return sales


def add_line(
    schedule: Schedule, sale: Sale, invoice_code: str, product: tuple[Any, ...], quantity: int, seq: int
) -> Line:
    txn, player = next(schedule.next_row), sale.player
    row = {
        "transaction_id": txn,
        "payment_merchant_id": 7,
        "merchant_invoice_code": invoice_code,
        "merchant_invoice_code_id": 13_000_000_000 + txn,
        "user_id": player.user_id,
        "total_cost": str(PRICES[product[0]] * quantity),
        "currency_code": paypal.CURRENCY,
        "payer_email": f"player{player.user_id}@example.com",
        "country_code": player.country.iso_2_code if player.country else "",
        "payment_date": game_time(sale.paid_at),
        "transaction_status": "completed",
        "ip_address": player.ip_address,
        "created_at": game_time(sale.created_at),
        "transaction_item_id": 50_000_000_000 + txn,
        "product_id": product[0],
        "item_count": quantity,
    }
    line = Line(row, product, quantity, seq)
    sale.lines.append(line)
    return line


def fill_cart(rng: random.Random, schedule: Schedule, sale: Sale, fact: str) -> None:
    """Make the sale the cart its fact wants: more items (several of some), or shipping."""
    extra = {"cart": rng.choice((1, 2)), "partial_refund": 1, "shipping": rng.choice((0, 1))}
    invoice_code = sale.lines[0].row["merchant_invoice_code"]
    for _ in range(extra.get(fact, 0)):
        product = rng.choices(PRODUCTS, cum_weights=_CUM_WEIGHTS)[0]
        add_line(schedule, sale, invoice_code, product, rng.choice((1, 2, 3)), next(schedule.seq))
    if fact == "cart" and all(line.quantity == 1 for line in sale.lines):
        last = sale.lines[-1]
        last.quantity = last.row["item_count"] = 2
    if fact in ("shipping", "shipping_mismatch"):
        amounts = {str(line.item_id): line.amount for line in sale.lines}
        options = [Decimal(option) for option in paypal.SHIPPING]
        rng.shuffle(options)
        # No item's share may sit on half a cent, where roundings could disagree.
        fair = [o for o in options if not paypal.near_a_half_cent(sum(amounts.values()) + o, amounts)]
        sale.shipping = (fair or options)[0]
