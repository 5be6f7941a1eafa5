"""One month of the lake, built and handed out day by day so that memory stays flat at any scale.

Each day: the game's sales (a PayPal payment each, with a DB row per item of its cart), the
facts injected into some of them (``ingest_devstack.generate.facts``), PayPal's records of the day in
initiation order with their balances, then the day's files. Facts that reach forward (a refund
or a chargeback days later and what follows it, a late DB row, the completed or reversed
version of a payment, a weekly withdrawal, the month's currency conversions) wait under the day
they land on.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.balances import ZERO, Balances, Entry
from ingest_devstack.generate.files import Row, Tally, payment_files, paypal_pages
from ingest_devstack.generate.model import GeneratedFile, GeneratedMonth, build_manifest
from ingest_devstack.generate.reference import (
    COUNTRIES,
    PRODUCT_WEIGHTS,
    PRODUCTS,
    USD_RATES,
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
# PayPal converts at the market rate less its margin, whichever way the money goes.
CONVERSION_MARGIN = Decimal("0.03")
_EUR_PER_USD = Decimal(str(USD_RATES[paypal.SECOND_CURRENCY]))
RATES = {
    (paypal.CURRENCY, paypal.SECOND_CURRENCY): (_EUR_PER_USD * (1 - CONVERSION_MARGIN)).quantize(
        Decimal("0.000001"), ROUND_HALF_UP
    ),
    (paypal.SECOND_CURRENCY, paypal.CURRENCY): (1 / _EUR_PER_USD * (1 - CONVERSION_MARGIN)).quantize(
        Decimal("0.000001"), ROUND_HALF_UP
    ),
}
# Sales PayPal and our row both have, so the reconciliation pairs them.
_UNPAIRED = frozenset({"missing_ours", "missing_paypal", "lost", "denied"})


def game_time(moment: datetime) -> str:
    """The game DB's JSON timestamps, ``2021-07-03T22:05:31.000Z``."""
    return moment.isoformat(timespec="seconds")[:19] + ".000Z"


@dataclass(slots=True)
class _Line:
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
        return _PRICES[self.product[0]] * self.quantity


@dataclass(slots=True)
class _Sale:
    """One payment: a PayPal record with a cart of ``lines`` (in item_code order), plus
    ``shipping`` in its gross."""

    seq: int
    player: Player
    paid_at: datetime
    created_at: datetime
    started: datetime  # when PayPal dates the payment, a few seconds before the game does
    lines: list[_Line] = field(default_factory=list)
    shipping: Decimal = ZERO
    fact: object = None  # see ingest_devstack.generate.facts

    @property
    def gross(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO) + self.shipping


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
        self._balances = Balances({paypal.CURRENCY: opening, paypal.SECOND_CURRENCY: ZERO})
        self._plan_account_events(rng, last)

        for file in reference_files(rng, days[0]):
            assert file.pipeline is not None  # every reference file has its pipeline
            self.tally.expected_tables[file.pipeline] = file.rows
            yield file
        for index, day in enumerate(days):
            yield from self._day(index, day)
        yield unknown_dump(days[-1], self._players)

    def _eligible_days(self, kind: object) -> list[int]:
        last = len(self.days) - 1
        if kind in facts.REFERRING:  # every record of the chain lands in the month
            return list(range(last - 1 if facts.REFERRING[kind] == 1 else last - 4))
        if kind == "late":
            return list(range(last))
        if kind in facts.ROW_DEFECTS:  # typed exports cannot hold a value of the wrong type
            return [d for d in range(last + 1) if d not in self.exports]
        return list(range(last + 1))

    def _later_day(self, rng: random.Random, after: int, reach: int, latest: int) -> int:
        """A day 1 to ``reach`` days after ``after``, at most ``latest``, never the day whose
        first page is lost (nothing but sales on it)."""
        days = [d for d in range(after + 1, min(after + reach, latest) + 1) if d != self.broken]
        return rng.choice(days)

    def _at(self, rng: random.Random, index: int, earliest: int = 300, latest: int = 86_100) -> datetime:
        return self.days[index] + timedelta(seconds=rng.randrange(earliest, latest))

    def _plan_withdrawals(self, rng: random.Random, last: int) -> None:
        """The studio sweeps its balance to the bank once a week, in the morning."""
        for index in range(rng.randrange(7), last + 1, 7):
            index += index == self.broken  # nothing but sales on the page that gets cut
            if index > last:
                continue
            moment = self.days[index] + timedelta(seconds=9 * 3600 + rng.randrange(7200))
            record = paypal.withdrawal_record(self._account, self._new_txn_id(), moment)
            entry = Entry(moment, next(self._seq), record, "withdrawals", ZERO, ZERO, sized=True)
            self._entries_on.setdefault(index, []).append(entry)

    def _plan_account_events(self, rng: random.Random, last: int) -> None:
        """Early in the month part of the USD balance is converted to EUR (T0200); about a week
        later most of the EUR goes to the studio's European bank account (T0400 in EUR); near
        the end part of the rest comes back to USD (T0201). Once, mid-month, PayPal books a
        small credit under an event code nobody listed."""
        usd, eur = paypal.CURRENCY, paypal.SECOND_CURRENCY
        out = self._later_day(rng, 0, 5, last)
        self._plan_conversion(rng, out, "T0200", usd, eur)
        sweep = self._later_day(rng, out + 4, 5, last)
        moment = self._at(rng, sweep, 10 * 3600, 12 * 3600)
        record = paypal.withdrawal_record(self._account, self._new_txn_id(), moment, eur)
        entry = Entry(moment, next(self._seq), record, "withdrawals", ZERO, ZERO, currency=eur, sized=True)
        self._entries_on.setdefault(sweep, []).append(entry)
        self._plan_conversion(rng, self._later_day(rng, last - 7, 6, last - 1), "T0201", eur, usd)

        index = self._later_day(rng, len(self.days) // 3 - 1, len(self.days) // 3, last - 1)
        moment = self._at(rng, index)
        txn_id = self._new_txn_id()
        gross = (Decimal(rng.randint(50, 500)) / 100).quantize(paypal.CENT)
        record = paypal.unknown_record(self._account, txn_id, moment, gross)
        entry = Entry(moment, next(self._seq), record, "unknown", gross, ZERO)
        entry.defect = planted.UNKNOWN_CODE_DEFECT  # the suite warns, and loads it
        self._entries_on.setdefault(index, []).append(entry)
        self.discrepancies.append(
            facts.discrepancy(
                "unknown_event_code",
                "injected",
                moment.date(),
                paypal_id=txn_id,
                item_id=None,
                payment_id=None,
                paypal_amount=gross,
            )
        )

    def _plan_conversion(self, rng: random.Random, index: int, code: str, source: str, target: str) -> None:
        """Two records of the same second: ``source`` leaves (sized when the balance is known),
        ``target`` arrives at PayPal's rate and references the source side."""
        moment = self._at(rng, index, 13 * 3600, 17 * 3600)
        gone = paypal.conversion_record(self._account, self._new_txn_id(), code, moment)
        come = paypal.conversion_record(self._account, self._new_txn_id(), code, moment, gone)
        leaving = Entry(moment, next(self._seq), gone, "conversions", ZERO, ZERO, currency=source, sized=True)
        arriving = Entry(moment, next(self._seq), come, "conversions", ZERO, ZERO, currency=target)
        leaving.pair, leaving.rate = arriving, RATES[(source, target)]
        self._entries_on.setdefault(index, []).extend((leaving, arriving))

    def _new_txn_id(self) -> str:
        return paypal.transaction_id(next(self._next_txn), self._id_offset)

    # -- one day ------------------------------------------------------------------------------

    def _day(self, index: int, day: datetime) -> Iterator[GeneratedFile]:
        rng = self._rng
        sales = self._sales(rng, day, index == self.broken)
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
        self._keep_ends_loaded(index, entries)
        statements, later = self._balances.settle(rng, day, entries)
        self.balances.extend(statements)
        for version in later:
            self._updates_on.setdefault(version.repeat_day, []).append(version)
        for entry in entries:
            if entry.defect is not None:  # after the balances, which stay PayPal's true figures
                planted.deface_paypal(entry.record, entry.defect.check)
        rows.sort(key=lambda r: (r.at, r.seq))
        yield from payment_files(rng, day, rows, self.exports.get(index), self.tally)
        updates = self._updates_on.pop(index, [])
        yield from paypal_pages(
            rng, day, entries, updates, self.page_size, self.tally, broken=index == self.broken
        )

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

    def _sales(self, rng: random.Random, day: datetime, broken: bool) -> list[_Sale]:
        count = max(1, round(self.per_day * rng.uniform(0.8, 1.2)))
        if broken and self.per_day >= self.page_size:
            count = max(count, self.page_size + 5)  # some of the day's records survive the cut
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
            seq = next(self._seq)
            sale = _Sale(seq, player, paid_at, created_at, started)
            self._add_line(sale, rng.choice(INVOICE_CODES), product, quantity, seq)
            sales.append(sale)
        return sales

    def _add_line(
        self, sale: _Sale, invoice_code: str, product: tuple[Any, ...], quantity: int, seq: int
    ) -> _Line:
        txn, player = next(self._next_row), sale.player
        row = {
            "transaction_id": txn,
            "payment_merchant_id": 7,
            "merchant_invoice_code": invoice_code,
            "merchant_invoice_code_id": 13_000_000_000 + txn,
            "user_id": player.user_id,
            "total_cost": str(_PRICES[product[0]] * quantity),
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
        line = _Line(row, product, quantity, seq)
        sale.lines.append(line)
        return line

    def _fill_cart(self, rng: random.Random, sale: _Sale, fact: str) -> None:
        """Make the sale the cart its fact wants: more items (several of some), or shipping."""
        extra = {"cart": rng.choice((1, 2)), "partial_refund": 1, "shipping": rng.choice((0, 1))}
        invoice_code = sale.lines[0].row["merchant_invoice_code"]
        for _ in range(extra.get(fact, 0)):
            product = rng.choices(PRODUCTS, cum_weights=_CUM_WEIGHTS)[0]
            self._add_line(sale, invoice_code, product, rng.choice((1, 2, 3)), next(self._seq))
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

    def _realise(
        self, rng: random.Random, index: int, sale: _Sale, entries: list[Entry], rows: list[Row]
    ) -> None:
        """Build the sale's PayPal record and DB rows as its fact wants them, and note the fact."""
        fact = sale.fact
        if fact in facts.CARTS:
            self._fill_cart(rng, sale, str(fact))
        lines, first, gross = sale.lines, sale.lines[0], sale.gross
        txn_id = self._new_txn_id()
        invoice = f"{first.row['merchant_invoice_code']}-{first.row['transaction_id']}"
        items = [
            paypal.cart_item(line.item_id, line.product[1], line.product[0], line.quantity,
                             _PRICES[line.product[0]], invoice)
            for line in lines
        ]  # fmt: skip
        if len(items) > 1:  # PayPal's order is its own; shares go by item_code
            rng.shuffle(items)
        shares = paypal.allocate(gross, {str(line.item_id): line.amount for line in lines})
        for line in lines:
            line.row["total_cost"] = str(shares[str(line.item_id)])
        payer_country = sale.player.paypal_country.iso_2_code
        if fact == "country":  # paid from a PayPal account of another country
            ours = first.row["country_code"]
            payer_country = rng.choice(
                [c.iso_2_code for c in COUNTRIES if c.iso_2_code not in (ours, payer_country)]
            )
        denied = fact == "denied"
        record = paypal.payment_record(
            rng,
            account=self._account,
            txn_id=txn_id,
            event_code=rng.choice(paypal.PAYMENT_CODES),
            started=sale.started,
            settled=sale.started + timedelta(seconds=rng.randint(1, 3)),
            pending=fact == "pending",
            player=sale.player,
            items=items,
            invoice=invoice,
            gross=gross,
            shipping=sale.shipping or None,
            denied=denied,
            payer_country=payer_country,
        )
        fee = ZERO if denied else paypal.payment_fee(gross)
        entry = Entry(sale.started, sale.seq, record, "denied" if denied else "sales", gross, fee)
        if fact != "missing_paypal":
            entries.append(entry)
        db_rows = [Row(sale.paid_at, sale.created_at, line.seq, line.row) for line in lines]
        if denied:  # the game saw PayPal refuse the payment
            for line in lines:
                line.row["transaction_status"] = "failed"
        if fact != "missing_ours":
            rows.extend(db_rows)
        row, db_row = first.row, db_rows[0]
        ids: dict[str, Any] = {
            "paypal_id": txn_id,
            "item_id": row["transaction_item_id"],
            "payment_id": row["transaction_id"],
        }
        # What a matcher sees of an unmatched side: PayPal's payment alone, or our row alone.
        paypal_only = {**ids, "payment_id": None, "paypal_amount": gross}
        ours_only = {**ids, "paypal_id": None, "our_amount": gross}
        paypal_date, our_date = sale.started.date(), sale.paid_at.date()
        found = self.discrepancies.append
        paired = fact not in _UNPAIRED and fact not in facts.ROW_DEFECTS

        if fact == "missing_ours":
            found(facts.discrepancy("missing_ours", "injected", paypal_date, **paypal_only))
        elif fact == "missing_paypal":
            found(facts.discrepancy("missing_paypal", "injected", our_date, **ours_only))
        elif fact == "lost":
            found(facts.discrepancy("missing_paypal", "file_failed", our_date, **ours_only))
        elif fact == "amount_mismatch":
            ours = gross + Decimal(rng.choice(("0.01", "0.50", "1.00", "5.00")))
            row["total_cost"] = str(ours)
            both: dict[str, Any] = {"paypal_amount": gross, "our_amount": ours, "component": "price"}
            found(facts.discrepancy("amount_mismatch", "injected", paypal_date, **ids, **both))
        elif fact == "shipping_mismatch":  # ours is the item's amount, PayPal's has the shipping
            row["total_cost"] = str(first.amount)
            both = {"paypal_amount": gross, "our_amount": first.amount, "component": "shipping"}
            found(facts.discrepancy("amount_mismatch", "injected", paypal_date, **ids, **both))
        elif fact == "late":
            days_late = rng.choice((1, 2)) if index + 2 < len(self.days) else 1
            rows.pop()
            shift = timedelta(days=days_late)
            db_row.at, db_row.created_at = sale.paid_at + shift, sale.created_at + shift
            row["payment_date"], row["created_at"] = game_time(db_row.at), game_time(db_row.created_at)
            self._rows_on.setdefault(index + days_late, []).append(db_row)
            both = {"paypal_amount": gross, "our_amount": gross, "days_late": days_late}
            found(facts.discrepancy("late", "injected", paypal_date, **ids, **both))
        elif fact == "pending":
            self._plan_completion(rng, index, sale, entry)
        elif fact in facts.REFERRING:
            self._plan_referring(rng, index, str(fact), sale, entry, items)
        elif fact in facts.ROW_DEFECTS:
            planted.deface_row(row, *facts.ROW_DEFECTS[fact])
            db_row.defect = fact[1]
            found(facts.discrepancy("missing_ours", "quarantined", paypal_date, **paypal_only))
        elif fact in facts.PAYPAL_DEFECTS:
            entry.defect = fact[1]  # planted once the balances are in
            if entry.defect.severity == "critical":
                entry.loads = paired = False
                found(facts.discrepancy("missing_paypal", "quarantined", our_date, **ours_only))
        if paired:  # VAT is booked on PayPal's payer country: say where ours differs
            for line in lines:
                ours = line.row["country_code"] or None
                if ours != payer_country:
                    found(
                        facts.discrepancy(
                            "country_mismatch",
                            "injected" if fact == "country" else "no_country",
                            paypal_date,
                            paypal_id=txn_id,
                            item_id=line.item_id,
                            payment_id=line.row["transaction_id"],
                            paypal_amount=shares[str(line.item_id)],
                            our_amount=Decimal(line.row["total_cost"]),
                            payer_country=payer_country,
                            our_country=ours,
                        )
                    )

    def _plan_completion(self, rng: random.Random, index: int, sale: _Sale, entry: Entry) -> None:
        """A pending payment completes later the same day or the next, still inside the month."""
        if index + 1 < len(self.days) and rng.random() < 0.5:
            entry.repeat_day = index + 1
            entry.completes_at = self._at(rng, index + 1)
        else:
            entry.repeat_day = index
            day_end = self.days[index] + timedelta(seconds=86_399)
            entry.completes_at = min(sale.started + timedelta(seconds=rng.randrange(600, 10_800)), day_end)

    def _plan_referring(
        self,
        rng: random.Random,
        index: int,
        fact: str,
        sale: _Sale,
        entry: Entry,
        items: list[dict[str, Any]],
    ) -> None:
        """The later records that refer to the sale's payment ``entry``, one to four days on:
        a refund (whole, or one item of a cart), a reversal (of a payment listed again as
        reversed, for ``voided``), a chargeback with its fee (and, for ``chargeback_reversed``,
        its reversal days later), or a hold and its release."""
        last = len(self.days) - 1
        original, sale_id = entry.record, entry.record["transaction_info"]["transaction_id"]
        first = sale.lines[0]
        two_hops = facts.REFERRING[fact] == 2
        target = self._later_day(rng, index, 3 if two_hops else 4, last - 2 if two_hops else last - 1)
        moment = self._at(rng, target)

        def book(day: int, record: dict[str, Any], category: str, kind: str | None) -> Entry:
            info = record["transaction_info"]
            gross = Decimal(info["transaction_amount"]["value"])
            fee = Decimal(info["fee_amount"]["value"]) if "fee_amount" in info else ZERO
            moment = datetime.strptime(info["transaction_initiation_date"], paypal.PAYPAL_TIME)
            later = Entry(moment.replace(tzinfo=UTC), next(self._seq), record, category, gross, fee)
            self._entries_on.setdefault(day, []).append(later)
            if kind is not None:
                self.discrepancies.append(
                    facts.discrepancy(
                        kind,
                        "injected",
                        later.moment.date(),
                        paypal_id=info["transaction_id"],
                        item_id=first.item_id,
                        payment_id=first.row["transaction_id"],
                        paypal_amount=gross,
                        original=sale_id,
                    )
                )
            return later

        if fact in ("refund", "bad_refund"):
            refund = book(target, paypal.refund_record(rng, original, self._new_txn_id(), moment), "refunds",
                          None if fact == "bad_refund" else "refund")  # fmt: skip
            if fact == "bad_refund":  # quarantined, so a correct report never sees it
                refund.defect, refund.loads = planted.REFUND_DEFECT, False
        elif fact == "partial_refund":  # the cart's last item by code, not the one it is filed under
            line = sale.lines[-1]
            item = next(i for i in items if i["item_code"] == str(line.item_id))
            record = paypal.refund_record(
                rng, original, self._new_txn_id(), moment, Decimal(line.row["total_cost"]), item
            )
            book(target, record, "refunds", "refund")
        elif fact in ("reversal", "voided"):
            record = paypal.reversal_record(original, self._new_txn_id(), moment, rng.randint(100, 99_999))
            book(target, record, "reversals", "reversal")
            if fact == "voided":
                entry.voided_at, entry.repeat_day = moment, target
        elif fact in ("chargeback", "chargeback_reversed"):
            chargeback = paypal.chargeback_record(original, self._new_txn_id(), moment)
            book(target, chargeback, "chargebacks", "chargeback")
            charged = moment + timedelta(seconds=rng.randint(60, 240))
            fee = paypal.chargeback_fee_record(chargeback, self._new_txn_id(), charged)
            book(target, fee, "chargeback_fees", "chargeback_fee")
            if fact == "chargeback_reversed":
                day = self._later_day(rng, target, 3, last)
                record = paypal.chargeback_reversal_record(chargeback, self._new_txn_id(), self._at(rng, day))
                book(day, record, "chargeback_reversals", "chargeback_reversal")
        elif fact == "hold":
            hold = paypal.hold_record(original, self._new_txn_id(), moment)
            book(target, hold, "holds", "hold")
            day = self._later_day(rng, target, 3, last)
            book(
                day,
                paypal.release_record(hold, self._new_txn_id(), self._at(rng, day)),
                "holds",
                "hold_release",
            )


def _move(entry: Entry, moment: datetime) -> None:
    """Date a record ``moment`` instead, its update keeping the same distance."""
    info = entry.record["transaction_info"]
    updated = datetime.strptime(info["transaction_updated_date"], paypal.PAYPAL_TIME).replace(tzinfo=UTC)
    info["transaction_initiation_date"] = paypal.paypal_time(moment)
    info["transaction_updated_date"] = paypal.paypal_time(updated + (moment - entry.moment))
    entry.moment = moment
