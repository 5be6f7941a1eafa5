"""The later PayPal records that refer to a sale's payment, booked on the days they land on:
refunds, reversals, chargebacks with their fees and reversals, holds and their releases, each
with the discrepancy a reconciliation reports for it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.balances import ZERO, Entry
from ingest_devstack.generate.sales import Sale
from ingest_devstack.generate.schedule import Schedule


def plan_referring(
    rng: random.Random,
    schedule: Schedule,
    index: int,
    fact: str,
    sale: Sale,
    entry: Entry,
    items: list[dict[str, Any]],
) -> None:
    """The later records that refer to the sale's payment ``entry``, one to four days on:
    a refund (whole, or one item of a cart), a reversal (of a payment listed again as
    reversed, for ``voided``), a chargeback with its fee (and, for ``chargeback_reversed``,
    its reversal days later), or a hold and its release."""
    last = schedule.last
    original, sale_id = entry.record, entry.record["transaction_info"]["transaction_id"]
    first = sale.lines[0]
    two_hops = facts.REFERRING[fact] == 2
    target = schedule.later_day(rng, index, 3 if two_hops else 4, last - 2 if two_hops else last - 1)
    moment = schedule.at(rng, target)

    def book(day: int, record: dict[str, Any], category: str, kind: str | None) -> Entry:
        info = record["transaction_info"]
        gross = Decimal(info["transaction_amount"]["value"])
        fee = Decimal(info["fee_amount"]["value"]) if "fee_amount" in info else ZERO
        moment = datetime.strptime(info["transaction_initiation_date"], paypal.PAYPAL_TIME)
        later = Entry(moment.replace(tzinfo=UTC), next(schedule.seq), record, category, gross, fee)
        schedule.entries_on.setdefault(day, []).append(later)
        if kind is not None:
            schedule.discrepancies.append(
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
        refund = book(target, paypal.refund_record(rng, original, schedule.new_txn_id(), moment), "refunds",
                      None if fact == "bad_refund" else "refund")  # fmt: skip
        if fact == "bad_refund":  # quarantined, so a correct report never sees it
            refund.defect, refund.loads = planted.REFUND_DEFECT, False
    elif fact == "partial_refund":  # the cart's last item by code, not the one it is filed under
        line = sale.lines[-1]
        item = next(i for i in items if i["item_code"] == str(line.item_id))
        record = paypal.refund_record(
            rng, original, schedule.new_txn_id(), moment, Decimal(line.row["total_cost"]), item
        )
        book(target, record, "refunds", "refund")
    elif fact in ("reversal", "voided"):
        record = paypal.reversal_record(original, schedule.new_txn_id(), moment, rng.randint(100, 99_999))
        book(target, record, "reversals", "reversal")
        if fact == "voided":
            entry.voided_at, entry.repeat_day = moment, target
    elif fact in ("chargeback", "chargeback_reversed"):
        chargeback = paypal.chargeback_record(original, schedule.new_txn_id(), moment)
        book(target, chargeback, "chargebacks", "chargeback")
        charged = moment + timedelta(seconds=rng.randint(60, 240))
        fee = paypal.chargeback_fee_record(chargeback, schedule.new_txn_id(), charged)
        book(target, fee, "chargeback_fees", "chargeback_fee")
        if fact == "chargeback_reversed":
            day = schedule.later_day(rng, target, 3, last)
            record = paypal.chargeback_reversal_record(
                chargeback, schedule.new_txn_id(), schedule.at(rng, day)
            )
            book(day, record, "chargeback_reversals", "chargeback_reversal")
    elif fact == "hold":
        hold = paypal.hold_record(original, schedule.new_txn_id(), moment)
        book(target, hold, "holds", "hold")
        day = schedule.later_day(rng, target, 3, last)
        book(
            day,
            paypal.release_record(hold, schedule.new_txn_id(), schedule.at(rng, day)),
            "holds",
            "hold_release",
        )
