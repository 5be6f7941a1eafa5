"""One month of the lake, built and handed out day by day so that memory stays flat at any scale.

Each day: the game's sales (a DB row and a PayPal payment each), the facts injected into some of
them (``ingest.generate.facts``), PayPal's records of the day in initiation order with their
balances, then the day's files. Facts that reach forward (a refund days later, a late DB row,
the completed version of a pending payment, a weekly withdrawal) wait under the day they land on.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ingest.generate import defects as planted
from ingest.generate import facts, paypal
from ingest.generate.balances import ZERO, Balances, Entry
from ingest.generate.files import Row, Tally, payment_files, paypal_pages
from ingest.generate.model import GeneratedFile, GeneratedMonth, build_manifest
from ingest.generate.reference import (
    PRODUCT_WEIGHTS,
    PRODUCTS,
    Player,
    code,
    players,
    reference_files,
    unknown_dump,
)

PAGE_SIZE = 25  # records per extract page at scale 1; grows with scale up to PayPal's maximum
MAX_PAGE_SIZE = 500
INVOICE_CODES = ("71001", "71002")  # the storefront: iOS, Android
_CUM_WEIGHTS = list(itertools.accumulate(PRODUCT_WEIGHTS))
_PRICES = {product_id: Decimal(price) for product_id, _, price in PRODUCTS}


def game_time(moment: datetime) -> str:
    """The game DB's JSON timestamps, ``2021-07-03T22:05:31.000Z``."""
    return moment.isoformat(timespec="seconds")[:19] + ".000Z"


@dataclass(slots=True)
class _Sale:
    seq: int
    row: dict
    player: Player
    paid_at: datetime
    created_at: datetime
    started: datetime  # when PayPal dates the payment, a few seconds before the game does
    product: tuple
    quantity: int
    total: Decimal
    fact: object = None  # see ingest.generate.facts


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
        self.files_meta: list[dict] = []
        self.discrepancies: list[dict] = []
        self.balances: list[dict] = []
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

    def manifest(self) -> dict:
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
        days, last = self.days, len(self.days) - 1
        self._players = players(self.seed, max(40, self.per_day * 6))
        self._account = code(rng, 13)
        # Ids depend on the seed and a counter that runs on from month to month: never reused.
        self._id_offset = random.Random(f"paypal-ids-{self.seed}").randrange(36**17)
        month_index = (self.year % 100) * 12 + self.month
        self._next_txn = itertools.count(month_index * 1_000_000_000)
        self._next_row = itertools.count(month_index * 10_000_000 + 1)
        self._seq = itertools.count()
        self.broken = rng.randrange(len(days) // 3, 2 * len(days) // 3)
        exports = rng.sample(range(len(days)), 4)
        self.exports = dict.fromkeys(exports[:2], "csv") | dict.fromkeys(exports[2:], "parquet")
        self._quotas = facts.Quotas(rng, len(days) * self.per_day, self._eligible_days)
        # What lands on a later day, by day index.
        self._entries_on: dict[int, list[Entry]] = {}
        self._rows_on: dict[int, list[Row]] = {}
        self._updates_on: dict[int, list[Entry]] = {}
        self._plan_withdrawals(rng, last)
        opening = (Decimal(rng.randint(150_000, 450_000) * self.scale) / 100).quantize(paypal.CENT)
        self._balances = Balances(opening)

        for file in reference_files(rng, days[0]):
            self.tally.expected_tables[file.pipeline] = file.rows
            yield file
        for index, day in enumerate(days):
            yield from self._day(index, day)
        yield unknown_dump(days[-1], self._players)

    def _eligible_days(self, kind: object) -> list[int]:
        last = len(self.days) - 1
        if kind in facts.REFERRING:
            return list(range(last - 1))  # the refund, reversal or chargeback lands in the month
        if kind == "late":
            return list(range(last))
        if kind in facts.ROW_DEFECTS:  # typed exports cannot hold a value of the wrong type
            return [d for d in range(last + 1) if d not in self.exports]
        return list(range(last + 1))

    def _plan_withdrawals(self, rng: random.Random, last: int) -> None:
        """The studio sweeps its balance to the bank once a week, in the morning."""
        for index in range(rng.randrange(7), last + 1, 7):
            index += index == self.broken  # nothing but sales on the page that gets cut
            if index > last:
                continue
            moment = self.days[index] + timedelta(seconds=9 * 3600 + rng.randrange(7200))
            record = paypal.withdrawal_record(self._account, self._new_txn_id(), moment)
            entry = Entry(moment, next(self._seq), record, "withdrawals", ZERO, ZERO)
            self._entries_on.setdefault(index, []).append(entry)

    def _new_txn_id(self) -> str:
        return paypal.transaction_id(next(self._next_txn), self._id_offset)

    # -- one day ------------------------------------------------------------------------------

    def _day(self, index: int, day: datetime) -> Iterator[GeneratedFile]:
        rng = self._rng
        sales = self._sales(rng, day)
        pool = sales
        if index == self.broken:  # the first page of the day is lost: no fact may rely on it
            by_start = sorted(sales, key=lambda s: (s.started, s.seq))
            for sale in by_start[: self.page_size]:
                sale.fact = "lost"
            pool = by_start[self.page_size :]
        self._quotas.assign(rng, index, pool)
        entries = self._entries_on.pop(index, [])
        rows = self._rows_on.pop(index, [])
        for sale in sales:
            self._realise(rng, index, sale, entries, rows)
        entries.sort(key=lambda e: (e.moment, e.seq))
        if index == self.broken:
            for entry in entries[: self.page_size]:
                entry.loads = False
        statement, completions = self._balances.settle(rng, day, entries)
        self.balances.append(statement)
        for completed in completions:
            self._updates_on.setdefault(completed.repeat_day, []).append(completed)
        for entry in entries:
            if entry.defect is not None:  # after the balances, which stay PayPal's true figures
                planted.deface_paypal(entry.record, entry.defect.check)
        rows.sort(key=lambda r: (r.at, r.seq))
        yield from payment_files(rng, day, rows, self.exports.get(index), self.tally)
        updates = self._updates_on.pop(index, [])
        yield from paypal_pages(
            rng, day, entries, updates, self.page_size, self.tally, broken=index == self.broken
        )

    def _sales(self, rng: random.Random, day: datetime) -> list[_Sale]:
        count = max(1, round(self.per_day * rng.uniform(0.8, 1.2)))
        # Sales stay 5 minutes clear of midnight so each day's files hold only that day.
        offsets = sorted(rng.randrange(300, 86_100) for _ in range(count))
        sales = []
        for offset in offsets:
            player = rng.choice(self._players)
            product = rng.choices(PRODUCTS, cum_weights=_CUM_WEIGHTS)[0]
            unit = _PRICES[product[0]]
            quantity = rng.choice((1, 1, 1, 1, 2, 3, 5)) if unit < 5 else 1
            paid_at = day + timedelta(seconds=offset)
            created_at = paid_at + timedelta(seconds=rng.randint(1, 6))
            started = paid_at - timedelta(seconds=rng.randint(2, 40))
            txn = next(self._next_row)
            row = {
                "transaction_id": txn,
                "payment_merchant_id": 7,
                "merchant_invoice_code": rng.choice(INVOICE_CODES),
                "merchant_invoice_code_id": 13_000_000_000 + txn,
                "user_id": player.user_id,
                "total_cost": str(unit * quantity),
                "currency_code": paypal.CURRENCY,
                "payer_email": f"player{player.user_id}@example.com",
                "country_code": player.country.iso_2_code if player.country else "",
                "payment_date": game_time(paid_at),
                "transaction_status": "completed",
                "ip_address": player.ip_address,
                "created_at": game_time(created_at),
                "transaction_item_id": 50_000_000_000 + txn,
                "product_id": product[0],
                "item_count": quantity,
            }
            seq = next(self._seq)
            sales.append(
                _Sale(seq, row, player, paid_at, created_at, started, product, quantity, unit * quantity)
            )
        return sales

    def _realise(
        self, rng: random.Random, index: int, sale: _Sale, entries: list[Entry], rows: list[Row]
    ) -> None:
        """Build the sale's PayPal record and DB row as its fact wants them, and note the fact."""
        fact, row = sale.fact, sale.row
        txn_id = self._new_txn_id()
        product_id, product_name, _ = sale.product
        invoice = f"{row['merchant_invoice_code']}-{row['transaction_id']}"
        item = paypal.cart_item(
            row["transaction_item_id"], product_name, product_id, sale.quantity, _PRICES[product_id], invoice
        )
        record = paypal.payment_record(
            rng,
            account=self._account,
            txn_id=txn_id,
            event_code=rng.choice(paypal.PAYMENT_CODES),
            started=sale.started,
            settled=sale.started + timedelta(seconds=rng.randint(1, 3)),
            pending=fact == "pending",
            player=sale.player,
            item=item,
            invoice=invoice,
            gross=sale.total,
        )
        entry = Entry(sale.started, sale.seq, record, "sales", sale.total, paypal.payment_fee(sale.total))
        if fact != "missing_paypal":
            entries.append(entry)
        db_row = Row(sale.paid_at, sale.created_at, sale.seq, row)
        if fact != "missing_ours":
            rows.append(db_row)
        ids = {
            "paypal_id": txn_id,
            "item_id": row["transaction_item_id"],
            "payment_id": row["transaction_id"],
        }
        # What a matcher sees of an unmatched side: PayPal's payment alone, or our row alone.
        paypal_only = {**ids, "payment_id": None, "paypal_amount": sale.total}
        ours_only = {**ids, "paypal_id": None, "our_amount": sale.total}
        paypal_date, our_date = sale.started.date(), sale.paid_at.date()
        found = self.discrepancies.append

        if fact == "missing_ours":
            found(facts.discrepancy("missing_ours", "injected", paypal_date, **paypal_only))
        elif fact == "missing_paypal":
            found(facts.discrepancy("missing_paypal", "injected", our_date, **ours_only))
        elif fact == "lost":
            found(facts.discrepancy("missing_paypal", "file_failed", our_date, **ours_only))
        elif fact == "amount_mismatch":
            ours = sale.total + Decimal(rng.choice(("0.01", "0.50", "1.00", "5.00")))
            row["total_cost"] = str(ours)
            both = {"paypal_amount": sale.total, "our_amount": ours}
            found(facts.discrepancy("amount_mismatch", "injected", paypal_date, **ids, **both))
        elif fact == "late":
            days_late = rng.choice((1, 2)) if index + 2 < len(self.days) else 1
            rows.pop()
            shift = timedelta(days=days_late)
            db_row.at, db_row.created_at = sale.paid_at + shift, sale.created_at + shift
            row["payment_date"], row["created_at"] = game_time(db_row.at), game_time(db_row.created_at)
            self._rows_on.setdefault(index + days_late, []).append(db_row)
            both = {"paypal_amount": sale.total, "our_amount": sale.total, "days_late": days_late}
            found(facts.discrepancy("late", "injected", paypal_date, **ids, **both))
        elif fact == "pending":
            self._plan_completion(rng, index, sale, entry)
        elif fact in facts.REFERRING:
            self._plan_referring(rng, index, str(fact), record, ids)
        elif fact in facts.ROW_DEFECTS:
            planted.deface_row(row, *facts.ROW_DEFECTS[fact])
            db_row.defect = fact[1]
            found(facts.discrepancy("missing_ours", "quarantined", paypal_date, **paypal_only))
        elif fact in facts.PAYPAL_DEFECTS:
            entry.defect = fact[1]  # planted once the balances are in
            if entry.defect.severity == "critical":
                entry.loads = False
                found(facts.discrepancy("missing_paypal", "quarantined", our_date, **ours_only))

    def _plan_completion(self, rng: random.Random, index: int, sale: _Sale, entry: Entry) -> None:
        """A pending payment completes later the same day or the next, still inside the month."""
        if index + 1 < len(self.days) and rng.random() < 0.5:
            entry.repeat_day = index + 1
            entry.completes_at = self.days[index + 1] + timedelta(seconds=rng.randrange(300, 86_100))
        else:
            entry.repeat_day = index
            day_end = self.days[index] + timedelta(seconds=86_399)
            entry.completes_at = min(sale.started + timedelta(seconds=rng.randrange(600, 10_800)), day_end)

    def _plan_referring(self, rng: random.Random, index: int, fact: str, original: dict, ids: dict) -> None:
        """A refund, reversal or chargeback of ``original``, one to four days later."""
        last = len(self.days) - 1
        target = index + rng.randint(1, min(4, last - 1 - index))
        target += target == self.broken  # nothing but sales on the page that gets cut
        moment = self.days[target] + timedelta(seconds=rng.randrange(300, 86_100))
        txn_id = self._new_txn_id()
        if fact in ("refund", "bad_refund"):
            record = paypal.refund_record(rng, original, txn_id, moment)
        elif fact == "reversal":
            record = paypal.reversal_record(original, txn_id, moment, rng.randint(100, 99_999))
        else:
            record = paypal.chargeback_record(original, txn_id, moment)
        info = record["transaction_info"]
        gross = Decimal(info["transaction_amount"]["value"])
        fee = Decimal(info["fee_amount"]["value"]) if "fee_amount" in info else ZERO
        entry = Entry(moment, next(self._seq), record, facts.REFERRING[fact], gross, fee)
        self._entries_on.setdefault(target, []).append(entry)
        if fact == "bad_refund":  # quarantined, so a correct report never sees it
            entry.defect, entry.loads = planted.REFUND_DEFECT, False
            return
        self.discrepancies.append(
            facts.discrepancy(
                fact,
                "injected",
                moment.date(),
                paypal_id=txn_id,
                item_id=ids["item_id"],
                payment_id=ids["payment_id"],
                paypal_amount=gross,
                original=original["transaction_info"]["transaction_id"],
            )
        )
