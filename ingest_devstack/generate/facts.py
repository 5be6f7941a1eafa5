"""Which sales carry an injected fact, and the discrepancy each one makes.

A fact is one of ``FACT_SHARES``' kinds, ``"bad_refund"`` (a refund whose reference is planted
missing), ``"lost"`` (on the PayPal page that gets cut), or a planted defect, written
``("row", defect)`` for a game DB row and ``("paypal", defect)`` for a PayPal payment. A sale
carries at most one, so no fact ever depends on a row that another one defaces or removes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Hashable
from datetime import date
from decimal import Decimal
from typing import Any

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate.balances import amount_text

# Share of the month's expected sales, at least MIN_FACTS of each. Kinds that need more days
# after the sale come first: on a busy day they pick before the others.
FACT_SHARES = {
    "chargeback_reversed": 1 / 2000,  # a chargeback, its fee, and later its reversal (T1202)
    "hold": 1 / 2000,  # a hold for a dispute (T1110), later released (T1111)
    "missing_ours": 1 / 200,
    "missing_paypal": 1 / 200,
    "amount_mismatch": 1 / 200,
    "late": 1 / 200,
    "pending": 0.03,
    "refund": 1 / 150,
    "partial_refund": 1 / 400,  # one item of a two-item cart refunded
    "reversal": 1 / 600,
    "voided": 1 / 600,  # reversed, and listed again with status V
    "chargeback": 1 / 900,  # a chargeback and its fee (T0106)
    "denied": 1 / 400,  # status D, and our row failed
    "cart": 1 / 100,  # two or three items, some several times
    "shipping": 1 / 150,  # a cart (one or two items) whose gross includes shipping_amount
    "shipping_mismatch": 1 / 2000,  # ... and our total_cost leaves the shipping out
    "country": 1 / 150,  # PayPal's payer country is not the one our row has
}
MIN_FACTS = 2
SALES_PER_DEFECT = 5000  # each planted defect once per this many expected sales, at least once
# Facts that add later PayPal records referring to the sale's payment, and how many later days
# their chain needs (a chargeback's reversal, a hold's release land after the first record).
REFERRING = {
    "refund": 1,
    "partial_refund": 1,
    "reversal": 1,
    "voided": 1,
    "chargeback": 1,
    "bad_refund": 1,
    "chargeback_reversed": 2,
    "hold": 2,
}
# Facts whose sale is a cart other than one item at its list price.
CARTS = frozenset({"cart", "shipping", "shipping_mismatch", "partial_refund"})
ROW_DEFECTS = {("row", defect): (column, value) for defect, column, value in planted.ROW_DEFECTS}
PAYPAL_DEFECTS = tuple(("paypal", defect) for defect in planted.PAYPAL_DEFECTS)


class Quotas:
    """How many of each fact fall on which day: drawn for the month, handed out day by day."""

    def __init__(
        self, rng: random.Random, expected_sales: int, eligible: Callable[[Hashable], list[int]]
    ) -> None:
        wanted: dict[Hashable, int] = {
            kind: max(MIN_FACTS, round(expected_sales * share)) for kind, share in FACT_SHARES.items()
        }
        defects = max(1, round(expected_sales / SALES_PER_DEFECT))
        wanted.update(dict.fromkeys(("bad_refund", *ROW_DEFECTS, *PAYPAL_DEFECTS), defects))
        self._eligible = {kind: set(eligible(kind)) for kind in wanted}
        self._per_day = {
            kind: Counter(rng.choices(sorted(self._eligible[kind]), k=count))
            for kind, count in wanted.items()
        }
        self._carry: Counter[Hashable] = Counter()

    def assign(self, rng: random.Random, index: int, pool: list[Any]) -> None:
        """Give the day's share of each fact to distinct members of ``pool`` (``.fact`` set).
        A day with too few candidates passes the rest on to the next day that may take it."""
        pool = list(pool)
        rng.shuffle(pool)
        for kind, per_day in self._per_day.items():
            wanted = per_day.get(index, 0) + self._carry[kind]
            if not wanted or index not in self._eligible[kind]:
                continue
            taken = min(wanted, len(pool))
            for candidate in pool[len(pool) - taken :]:
                candidate.fact = kind
            del pool[len(pool) - taken :]
            self._carry[kind] = wanted - taken


def discrepancy(
    kind: str,
    cause: str,
    on: date,
    *,
    paypal_id: str | None,
    item_id: int | None,
    payment_id: int | None,
    paypal_amount: Decimal | None = None,
    our_amount: Decimal | None = None,
    days_late: int | None = None,
    original: str | None = None,
    component: str | None = None,
    payer_country: str | None = None,
    our_country: str | None = None,
) -> dict[str, Any]:
    """One exception of the reconciliation, with the fields a matcher of the loaded data has."""
    return {
        "kind": kind,
        "cause": cause,
        "date": on.isoformat(),
        "paypal_transaction_id": paypal_id,
        "item_code": None if item_id is None else str(item_id),
        "transaction_item_id": item_id,
        "payment_transaction_id": payment_id,
        "paypal_amount": amount_text(paypal_amount),
        "our_amount": amount_text(our_amount),
        "days_late": days_late,
        "original_transaction_id": original,
        "mismatch_component": component,
        "payer_country_code": payer_country,
        "our_country_code": our_country,
    }


def discrepancy_order(found: dict[str, Any]) -> tuple[Any, ...]:
    return found["date"], found["kind"], found["item_code"] or "", found["paypal_transaction_id"] or ""
