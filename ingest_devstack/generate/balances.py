"""PayPal's running balances over the account's records, day by day and per currency (the rule
is stated in the package docstring), and the daily statements the manifest promises."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ingest_devstack.generate import paypal
from ingest_devstack.generate.defects import Defect

# What a day's statement sums, per currency: the gross of each class of record, and every fee.
CLASSES = (
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
)
# Categories of records that do not move the balance: a denied payment, and a later version
# (completed, reversed) of a payment already counted.
MOVES_NOTHING = frozenset({"denied", "repeat"})
ZERO = Decimal("0.00")
# Keeps every withdrawal well inside the suite's paypal.gross_bounded (+-1,000,000).
TRANSFER_LIMIT = Decimal("500000")


@dataclass(slots=True, eq=False)
class Entry:
    """A PayPal record on its way to a page, with the true amounts its balance moves by."""

    moment: datetime  # transaction_initiation_date
    seq: int  # PayPal's own order among records of the same second
    record: dict[str, Any]
    category: str  # one of CLASSES but "fees" and "other", "denied", or "repeat" (a later version)
    gross: Decimal
    fee: Decimal
    currency: str = paypal.CURRENCY
    completes_at: datetime | None = None  # a pending payment: when its completed version is dated
    voided_at: datetime | None = None  # a payment reversed later: when its V version is dated
    repeat_day: int = 0  # ... and the day whose pages carry that version
    sized: bool = False  # the amount is set from the balance: a withdrawal, a conversion's source
    pair: Entry | None = None  # a conversion's target side, sized from this source side
    rate: Decimal = Decimal(1)  # target units per source unit
    dropped: bool = False  # a conversion's target whose source had nothing to convert
    defect: Defect | None = None
    loads: bool = True  # False when quarantined or on the page that is lost


def amount_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class Balances:
    """The account's ending balance per currency, and the pending payments (USD, as every sale)
    held out of the available one."""

    def __init__(self, opening: dict[str, Decimal]) -> None:
        self.ending = dict(sorted(opening.items()))
        self._pending: list[tuple[datetime, int, Decimal]] = []  # (completes_at, seq, net) heap
        self._held = ZERO

    def available(self, currency: str) -> Decimal:
        return self.ending[currency] - (self._held if currency == paypal.CURRENCY else ZERO)

    def settle(
        self, rng: random.Random, day: datetime, entries: list[Entry]
    ) -> tuple[list[dict[str, Any]], list[Entry]]:
        """Fill in the balances of one day's entries (sorted by initiation); return the day's
        statement per currency, and the later versions (completed, reversed) of the day's
        payments. Sized entries take their amount here; one with nothing to take is dropped
        from ``entries``, with its conversion's other side."""
        opening = dict(self.ending)
        sums = {currency: dict.fromkeys(CLASSES, ZERO) for currency in self.ending}
        not_loaded = dict.fromkeys(self.ending, ZERO)
        later = []
        for entry in list(entries):
            while self._pending and self._pending[0][0] <= entry.moment:
                self._held -= heapq.heappop(self._pending)[2]
            if entry.dropped or (entry.sized and not self._size(rng, entry)):
                entries.remove(entry)
                continue
            currency, info = entry.currency, entry.record["transaction_info"]
            moves = entry.category not in MOVES_NOTHING
            net = entry.gross + entry.fee if moves else ZERO
            self.ending[currency] += net
            if entry.completes_at is not None:
                heapq.heappush(self._pending, (entry.completes_at, entry.seq, net))
                self._held += net
            info["ending_balance"] = paypal.money(self.ending[currency], currency)
            info["available_balance"] = paypal.money(self.available(currency), currency)
            if moves:
                sums[currency][entry.category] += entry.gross
                sums[currency]["fees"] += entry.fee
            if not entry.loads:
                not_loaded[currency] += net
            if entry.completes_at is not None:
                later.append(completed_version(entry, net))
            if entry.voided_at is not None:
                later.append(voided_version(entry))
        statements = [
            {
                "date": day.date().isoformat(),
                "currency": currency,
                "opening": amount_text(opening[currency]),
                "closing": amount_text(self.ending[currency]),
                **{name: amount_text(value) for name, value in sums[currency].items()},
                "activity": amount_text(self.ending[currency] - opening[currency]),
                "not_loaded": amount_text(not_loaded[currency]),
            }
            for currency in self.ending
        ]
        return statements, later

    def _size(self, rng: random.Random, entry: Entry) -> bool:
        """Set the amount of a withdrawal or of a conversion (both sides); False if nothing."""
        available = self.available(entry.currency)
        if entry.category == "withdrawals":
            taken = withdrawal_amount(rng, available)
        else:
            taken = conversion_amount(available)
        if not taken:
            if entry.pair is not None:
                entry.pair.dropped = True
            return False
        entry.gross = -taken
        entry.record["transaction_info"]["transaction_amount"] = paypal.money(entry.gross, entry.currency)
        if entry.pair is not None:
            target = entry.pair
            target.gross = (taken * entry.rate).quantize(paypal.CENT, ROUND_HALF_UP)
            target.record["transaction_info"]["transaction_amount"] = paypal.money(
                target.gross, target.currency
            )
        return True


def completed_version(pending: Entry, net: Decimal) -> Entry:
    """The completed version of a pending payment: same ending balance, now available."""
    assert pending.completes_at is not None
    info = dict(pending.record["transaction_info"])
    available = Decimal(info["available_balance"]["value"]) + net
    info.update(
        transaction_status="S",
        transaction_updated_date=paypal.paypal_time(pending.completes_at),
        available_balance=paypal.money(available),
    )
    record = {**pending.record, "transaction_info": info}
    entry = Entry(pending.completes_at, pending.seq, record, "repeat", ZERO, ZERO)
    entry.repeat_day = pending.repeat_day
    return entry


def voided_version(sale: Entry) -> Entry:
    """A completed payment listed again once reversed (status V, updated when the reversal is
    dated): the balances of its completed version, which it replaces under the business key."""
    assert sale.voided_at is not None
    info = dict(sale.record["transaction_info"])
    info.update(transaction_status="V", transaction_updated_date=paypal.paypal_time(sale.voided_at))
    record = {**sale.record, "transaction_info": info}
    entry = Entry(sale.voided_at, sale.seq, record, "repeat", ZERO, ZERO)
    entry.repeat_day = sale.repeat_day
    return entry


def withdrawal_amount(rng: random.Random, available: Decimal) -> Decimal:
    """Most of what is available, in round figures and at most one transfer's limit (at large
    scale the rest waits for the next sweep); nothing when there is little."""
    if available >= 1000:
        share = Decimal(int(available * Decimal(rng.uniform(0.6, 0.9)) / 100) * 100)
        return min(share, TRANSFER_LIMIT).quantize(paypal.CENT)
    if available >= 50:
        return Decimal(int(available * Decimal("0.8"))).quantize(paypal.CENT)
    return ZERO


def conversion_amount(available: Decimal) -> Decimal:
    """About a third of what is available, in round figures; nothing when under one unit."""
    share = available * Decimal("0.3")
    if share >= 100:
        share = Decimal(int(share / 100) * 100)
    return min(Decimal(int(max(share, ZERO))), TRANSFER_LIMIT).quantize(paypal.CENT)
