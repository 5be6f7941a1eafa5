"""One month of the lake, built and handed out day by day so that memory stays flat at any scale.

Each day: the game's sales (``sales``), the facts injected into some of them (``facts``), each
sale made into PayPal's record and our rows (``sale_records``), PayPal's records of the day in
initiation order with their balances, then the day's files. Facts that reach forward (a refund
or a chargeback days later and what follows it, a late DB row, the completed or reversed
version of a payment, a weekly withdrawal, the month's currency conversions) wait under the day
they land on (``schedule``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.account_events import plan_account_events, plan_withdrawals
from ingest_devstack.generate.balances import ZERO, Balances, Entry
from ingest_devstack.generate.files import Tally, payment_files, paypal_pages
from ingest_devstack.generate.model import GeneratedFile, GeneratedMonth, build_manifest
from ingest_devstack.generate.reference import players, reference_files, unknown_dump
from ingest_devstack.generate.sale_records import realise
from ingest_devstack.generate.sales import day_sales
from ingest_devstack.generate.schedule import Schedule

PAGE_SIZE = 25  # records per extract page at scale 1; grows with scale up to PayPal's maximum
MAX_PAGE_SIZE = 500


class MonthStream:
    """The files of one month, produced one at a time; ``manifest()`` once they are all out."""

    def __init__(self, year: int, month: int, *, seed: int = 7, payments_per_day: int = 30, scale: int = 1):
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1..12, got {month}")
        if payments_per_day < 1:
            raise ValueError(f"payments_per_day must be at least 1, got {payments_per_day}")
        if scale < 1:
            raise ValueError(f"scale must be at least 1, got {scale}")
        self.year, self.month, self.seed, self.scale = year, month, seed, scale
        self.per_day = payments_per_day * scale
        self.page_size = min(MAX_PAGE_SIZE, PAGE_SIZE * scale)
        first = datetime(year, month, 1, tzinfo=UTC)
        count = (date(year + month // 12, month % 12 + 1, 1) - first.date()).days
        self.days = [first + timedelta(days=n) for n in range(count)]
        self.files_meta: list[dict[str, Any]] = []
        self.discrepancies: list[dict[str, Any]] = []
        self.balances: list[dict[str, Any]] = []
        self.tally = Tally()
        self._state = "new"

    def __iter__(self) -> Iterator[GeneratedFile]:
        if self._state != "new":
            raise RuntimeError("a MonthStream hands its files out once")
        self._state = "running"
        for file in self._files():
            self.files_meta.append(file.describe())
            yield file
        self.discrepancies.sort(key=facts.discrepancy_order)
        self._state = "done"

    def manifest(self) -> dict[str, Any]:
        self._require_done()
        return build_manifest(
            self.year,
            self.month,
            self.seed,
            self.scale,
            self.files_meta,
            defects=self.tally.defects,
            discrepancies=self.discrepancies,
            balances=self.balances,
            expected_tables=dict(self.tally.expected_tables),
        )

    def generated(self, files: tuple[GeneratedFile, ...]) -> GeneratedMonth:
        """The month with its bodies, for callers that hold all of it (tests, the demo)."""
        self._require_done()
        return GeneratedMonth(
            self.year,
            self.month,
            self.seed,
            files,
            scale=self.scale,
            defects=tuple(self.tally.defects),
            discrepancies=tuple(self.discrepancies),
            balances=tuple(self.balances),
            expected_tables=dict(self.tally.expected_tables),
        )

    def _require_done(self) -> None:
        if self._state != "done":
            raise RuntimeError("iterate over every file before asking for the manifest")

    # -- the month ----------------------------------------------------------------------------

    def _files(self) -> Iterator[GeneratedFile]:
        rng = self._rng = random.Random(f"{self.year:04d}-{self.month:02d}-{self.seed}-{self.per_day}")
        days = self.days
        self._players = players(self.seed, max(40, self.per_day * 6))
        schedule = self._schedule = Schedule(rng, self.year, self.month, self.seed, days, self.discrepancies)
        self._quotas = facts.Quotas(rng, len(days) * self.per_day, schedule.eligible_days)
        plan_withdrawals(rng, schedule)
        opening = (Decimal(rng.randint(150_000, 450_000) * self.scale) / 100).quantize(paypal.CENT)
        self._balances = Balances({paypal.CURRENCY: opening, paypal.SECOND_CURRENCY: ZERO})
        plan_account_events(rng, schedule)

        for file in reference_files(rng, days[0]):
            assert file.pipeline is not None  # every reference file has its pipeline
            self.tally.expected_tables[file.pipeline] = file.rows
            yield file
        for index, day in enumerate(days):
            yield from self._day(index, day)
        yield unknown_dump(days[-1], self._players)

    # -- one day ------------------------------------------------------------------------------

    def _day(self, index: int, day: datetime) -> Iterator[GeneratedFile]:
        rng, schedule = self._rng, self._schedule
        broken = index == schedule.broken
        sales = day_sales(rng, schedule, self._players, day, self._sale_count(rng, broken))
        pool = sales
        if broken:  # the first page of the day is lost: no fact may rely on it
            by_start = sorted(sales, key=lambda s: (s.started, s.seq))
            for sale in by_start[: self.page_size]:
                sale.fact = "lost"
            pool = by_start[self.page_size :]
        self._quotas.assign(rng, index, pool)
        entries = schedule.entries_on.pop(index, [])
        rows = schedule.rows_on.pop(index, [])
        for sale in sales:
            realise(rng, schedule, index, sale, entries, rows)
        entries.sort(key=lambda e: (e.moment, e.seq))
        if broken:
            for entry in entries[: self.page_size]:
                entry.loads = False
        self._keep_ends_loaded(index, entries)
        statements, later = self._balances.settle(rng, day, entries)
        self.balances.extend(statements)
        for version in later:
            schedule.updates_on.setdefault(version.repeat_day, []).append(version)
        for entry in entries:
            if entry.defect is not None:  # after the balances, which stay PayPal's true figures
                planted.deface_paypal(entry.record, entry.defect.check)
        rows.sort(key=lambda r: (r.at, r.seq))
        yield from payment_files(rng, day, rows, schedule.exports.get(index), self.tally)
        updates = schedule.updates_on.pop(index, [])
        yield from paypal_pages(rng, day, entries, updates, self.page_size, self.tally, broken=broken)

    def _sale_count(self, rng: random.Random, broken: bool) -> int:
        count = max(1, round(self.per_day * rng.uniform(0.8, 1.2)))
        if broken and self.per_day >= self.page_size:
            count = max(count, self.page_size + 5)  # some of the day's records survive the cut
        return count

    def _keep_ends_loaded(self, index: int, entries: list[Entry]) -> None:
        """A record that will not load is never the last of its day that moves the balance, nor
        the month's first: the balances read from the loaded records then open and close where
        PayPal's do, and each day's difference is exactly the net of what did not load. Such a
        record moves just inside its loaded neighbour (planted records only ever are USD)."""
        usd = [e for e in entries if e.currency == paypal.CURRENCY]
        loaded = [e for e in usd if e.loads and e.category != "denied"]
        if not loaded:
            return
        after = usd[usd.index(loaded[-1]) + 1 :]
        before = usd[: usd.index(loaded[0])] if index == 0 else []
        for entry in after:
            if not entry.loads:
                _move(entry, loaded[-1].moment - timedelta(seconds=1))
        for entry in before:
            if not entry.loads:
                _move(entry, loaded[0].moment + timedelta(seconds=1))
        entries.sort(key=lambda e: (e.moment, e.seq))


def _move(entry: Entry, moment: datetime) -> None:
    """Date a record ``moment`` instead, its update keeping the same distance."""
    info = entry.record["transaction_info"]
    updated = datetime.strptime(info["transaction_updated_date"], paypal.PAYPAL_TIME).replace(tzinfo=UTC)
    info["transaction_initiation_date"] = paypal.paypal_time(moment)
    info["transaction_updated_date"] = paypal.paypal_time(updated + (moment - entry.moment))
    entry.moment = moment
