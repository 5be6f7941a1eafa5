"""The account's own movements, planned for the month before its first day: the weekly
withdrawals to the bank, the currency conversions and the EUR sweep between them, and PayPal's
credit under an event code nobody lists."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.balances import ZERO, Entry
from ingest_devstack.generate.reference import USD_RATES
from ingest_devstack.generate.schedule import Schedule

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


def plan_withdrawals(rng: random.Random, schedule: Schedule) -> None:
    """The studio sweeps its balance to the bank once a week, in the morning."""
    last = schedule.last
    for index in range(rng.randrange(7), last + 1, 7):
        index += index == schedule.broken  # nothing but sales on the page that gets cut
        if index > last:
            continue
        moment = schedule.days[index] + timedelta(seconds=9 * 3600 + rng.randrange(7200))
        record = paypal.withdrawal_record(schedule.account, schedule.new_txn_id(), moment)
        entry = Entry(moment, next(schedule.seq), record, "withdrawals", ZERO, ZERO, sized=True)
        schedule.entries_on.setdefault(index, []).append(entry)


def plan_account_events(rng: random.Random, schedule: Schedule) -> None:
    """Early in the month part of the USD balance is converted to EUR (T0200); about a week
    later most of the EUR goes to the studio's European bank account (T0400 in EUR); near
    the end part of the rest comes back to USD (T0201). Once, mid-month, PayPal books a
    small credit under an event code nobody listed."""
    usd, eur = paypal.CURRENCY, paypal.SECOND_CURRENCY
    last = schedule.last
    out = schedule.later_day(rng, 0, 5, last)
    _plan_conversion(rng, schedule, out, "T0200", usd, eur)
    sweep = schedule.later_day(rng, out + 4, 5, last)
    moment = schedule.at(rng, sweep, 10 * 3600, 12 * 3600)
    record = paypal.withdrawal_record(schedule.account, schedule.new_txn_id(), moment, eur)
    entry = Entry(moment, next(schedule.seq), record, "withdrawals", ZERO, ZERO, currency=eur, sized=True)
    schedule.entries_on.setdefault(sweep, []).append(entry)
    _plan_conversion(rng, schedule, schedule.later_day(rng, last - 7, 6, last - 1), "T0201", eur, usd)

    index = schedule.later_day(rng, len(schedule.days) // 3 - 1, len(schedule.days) // 3, last - 1)
    moment = schedule.at(rng, index)
    txn_id = schedule.new_txn_id()
    gross = (Decimal(rng.randint(50, 500)) / 100).quantize(paypal.CENT)
    record = paypal.unknown_record(schedule.account, txn_id, moment, gross)
    entry = Entry(moment, next(schedule.seq), record, "unknown", gross, ZERO)
    entry.defect = planted.UNKNOWN_CODE_DEFECT  # the suite warns, and loads it
    schedule.entries_on.setdefault(index, []).append(entry)
    schedule.discrepancies.append(
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


def _plan_conversion(
    rng: random.Random, schedule: Schedule, index: int, code: str, source: str, target: str
) -> None:
    """Two records of the same second: ``source`` leaves (sized when the balance is known),
    ``target`` arrives at PayPal's rate and references the source side."""
    moment = schedule.at(rng, index, 13 * 3600, 17 * 3600)
    gone = paypal.conversion_record(schedule.account, schedule.new_txn_id(), code, moment)
    come = paypal.conversion_record(schedule.account, schedule.new_txn_id(), code, moment, gone)
    leaving = Entry(moment, next(schedule.seq), gone, "conversions", ZERO, ZERO, currency=source, sized=True)
    arriving = Entry(moment, next(schedule.seq), come, "conversions", ZERO, ZERO, currency=target)
    leaving.pair, leaving.rate = arriving, RATES[(source, target)]
    schedule.entries_on.setdefault(index, []).extend((leaving, arriving))
