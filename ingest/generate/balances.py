"""PayPal's running balances over the account's records, day by day (the rule is stated in the
package docstring), and the daily statement the manifest promises."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ingest.generate import paypal
from ingest.generate.defects import Defect

CATEGORIES = ("sales", "fees", "refunds", "reversals", "chargebacks", "withdrawals")
ZERO = Decimal("0.00")
# Keeps every withdrawal well inside the suite's paypal.gross_bounded (+-1,000,000).
TRANSFER_LIMIT = Decimal("500000")


@dataclass(slots=True)
class Entry:
    """A PayPal record on its way to a page, with the true amounts its balance moves by."""

    moment: datetime  # transaction_initiation_date
    seq: int  # PayPal's own order among records of the same second
    record: dict
    category: str  # one of CATEGORIES but "fees", or "repeat" for a completed version
    gross: Decimal
    fee: Decimal
    completes_at: datetime | None = None  # a pending payment: when its completed version is dated
    repeat_day: int = 0  # ... and the day whose pages carry that version
    defect: Defect | None = None
    loads: bool = True  # False when quarantined or on the page that is lost


def amount_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class Balances:
    """The account's ending balance and the pending payments held out of the available one."""

    def __init__(self, opening: Decimal) -> None:
        self.ending = opening
        self._pending: list[tuple[datetime, int, Decimal]] = []  # (completes_at, seq, net) heap
        self._held = ZERO

    def settle(self, rng: random.Random, day: datetime, entries: list[Entry]) -> tuple[dict, list[Entry]]:
        """Fill in the balances of one day's entries (sorted by initiation); return the day's
        statement and the completed versions of the day's pending payments. Withdrawals take
        their amount here; one with nothing to take is dropped from ``entries``."""
        opening = self.ending
        sums = dict.fromkeys(CATEGORIES, ZERO)
        not_loaded = ZERO
        completions = []
        for entry in list(entries):
            while self._pending and self._pending[0][0] <= entry.moment:
                self._held -= heapq.heappop(self._pending)[2]
            info = entry.record["transaction_info"]
            if entry.category == "withdrawals":
                taken = withdrawal_amount(rng, self.ending - self._held)
                if not taken:
                    entries.remove(entry)
                    continue
                entry.gross = -taken
                info["transaction_amount"] = paypal.money(entry.gross)
            net = entry.gross + entry.fee
            self.ending += net
            if entry.completes_at is not None:
                heapq.heappush(self._pending, (entry.completes_at, entry.seq, net))
                self._held += net
            info["ending_balance"] = paypal.money(self.ending)
            info["available_balance"] = paypal.money(self.ending - self._held)
            sums[entry.category] += entry.gross
            sums["fees"] += entry.fee
            if not entry.loads:
                not_loaded += net
            if entry.completes_at is not None:
                completions.append(completed_version(entry, net))
        statement = {
            "date": day.date().isoformat(),
            "opening": amount_text(opening),
            "closing": amount_text(self.ending),
            **{name: amount_text(value) for name, value in sums.items()},
            "not_loaded": amount_text(not_loaded),
        }
        return statement, completions


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


def withdrawal_amount(rng: random.Random, available: Decimal) -> Decimal:
    """Most of what is available, in round figures and at most one transfer's limit (at large
    scale the rest waits for the next sweep); nothing when there is little."""
    if available >= 1000:
        share = Decimal(int(available * Decimal(rng.uniform(0.6, 0.9)) / 100) * 100)
        return min(share, TRANSFER_LIMIT).quantize(paypal.CENT)
    if available >= 50:
        return Decimal(int(available * Decimal("0.8"))).quantize(paypal.CENT)
    return ZERO
