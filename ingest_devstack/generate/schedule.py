"""The month's calendar and the counters every part of it draws from.

Its days, the day whose first PayPal page is lost and the days the game DB is exported whole;
the account and the numbering of PayPal ids, DB rows and PayPal's own order; what waits under a
later day (records, late DB rows, later versions of a payment); and the discrepancies noted.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from typing import Any

from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.balances import Entry
from ingest_devstack.generate.files import Row
from ingest_devstack.generate.reference import code


class Schedule:
    """The days of one month and what lands on each; built from the month's ``rng``."""

    def __init__(
        self,
        rng: random.Random,
        year: int,
        month: int,
        seed: int,
        days: list[datetime],
        discrepancies: list[dict[str, Any]],
    ) -> None:
        self.days = days
        self.discrepancies = discrepancies
        self.account = code(rng, 13)
        # Ids depend on the seed and a counter that runs on from month to month: never reused.
        self._id_offset = random.Random(f"paypal-ids-{seed}").randrange(36**17)
        month_index = (year % 100) * 12 + month
        self._next_txn = itertools.count(month_index * 1_000_000_000)
        self.next_row = itertools.count(month_index * 10_000_000 + 1)
        self.seq = itertools.count()
        self.broken = rng.randrange(len(days) // 3, 2 * len(days) // 3)
        exports = rng.sample(range(len(days)), 4)
        self.exports = dict.fromkeys(exports[:2], "csv") | dict.fromkeys(exports[2:], "parquet")
        # What lands on a later day, by day index.
        self.entries_on: dict[int, list[Entry]] = {}
        self.rows_on: dict[int, list[Row]] = {}
        self.updates_on: dict[int, list[Entry]] = {}

    @property
    def last(self) -> int:
        return len(self.days) - 1

    def eligible_days(self, kind: object) -> list[int]:
        last = self.last
        if kind in facts.REFERRING:  # every record of the chain lands in the month
            return list(range(last - 1 if facts.REFERRING[kind] == 1 else last - 4))
        if kind == "late":
            return list(range(last))
        if kind in facts.ROW_DEFECTS:  # typed exports cannot hold a value of the wrong type
            return [d for d in range(last + 1) if d not in self.exports]
        return list(range(last + 1))

    def later_day(self, rng: random.Random, after: int, reach: int, latest: int) -> int:
        """A day 1 to ``reach`` days after ``after``, at most ``latest``, never the day whose
        first page is lost (nothing but sales on it)."""
        days = [d for d in range(after + 1, min(after + reach, latest) + 1) if d != self.broken]
        return rng.choice(days)

    def at(self, rng: random.Random, index: int, earliest: int = 300, latest: int = 86_100) -> datetime:
        return self.days[index] + timedelta(seconds=rng.randrange(earliest, latest))

    def new_txn_id(self) -> str:
        return paypal.transaction_id(next(self._next_txn), self._id_offset)
