"""A sale made into PayPal's record of it and the game's DB rows, as the fact injected into it
wants them (``ingest_devstack.generate.facts``), with the discrepancies it makes and whatever it
books for later days."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate import facts, paypal
from ingest_devstack.generate.adjustments import plan_referring
from ingest_devstack.generate.balances import ZERO, Entry
from ingest_devstack.generate.files import Row
from ingest_devstack.generate.reference import COUNTRIES
from ingest_devstack.generate.sales import PRICES, Sale, fill_cart, game_time
from ingest_devstack.generate.schedule import Schedule

# Sales PayPal and our row both have, so the reconciliation pairs them.
_UNPAIRED = frozenset({"missing_ours", "missing_paypal", "lost", "denied"})


def realise(
    rng: random.Random, schedule: Schedule, index: int, sale: Sale, entries: list[Entry], rows: list[Row]
) -> None:
    """Build the sale's PayPal record and DB rows as its fact wants them, and note the fact."""
    fact = sale.fact
    if fact in facts.CARTS:
        fill_cart(rng, schedule, sale, str(fact))
    lines, first, gross = sale.lines, sale.lines[0], sale.gross
    txn_id = schedule.new_txn_id()
    invoice = f"{first.row['merchant_invoice_code']}-{first.row['transaction_id']}"
    items = [
        paypal.cart_item(line.item_id, line.product[1], line.product[0], line.quantity,
                         PRICES[line.product[0]], invoice)
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
        account=schedule.account,
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
    found = schedule.discrepancies.append
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
        days_late = rng.choice((1, 2)) if index + 2 < len(schedule.days) else 1
        rows.pop()
        shift = timedelta(days=days_late)
        db_row.at, db_row.created_at = sale.paid_at + shift, sale.created_at + shift
        row["payment_date"], row["created_at"] = game_time(db_row.at), game_time(db_row.created_at)
        schedule.rows_on.setdefault(index + days_late, []).append(db_row)
        both = {"paypal_amount": gross, "our_amount": gross, "days_late": days_late}
        found(facts.discrepancy("late", "injected", paypal_date, **ids, **both))
    elif fact == "pending":
        plan_completion(rng, schedule, index, sale, entry)
    elif fact in facts.REFERRING:
        plan_referring(rng, schedule, index, str(fact), sale, entry, items)
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


def plan_completion(rng: random.Random, schedule: Schedule, index: int, sale: Sale, entry: Entry) -> None:
    """A pending payment completes later the same day or the next, still inside the month."""
    if index + 1 < len(schedule.days) and rng.random() < 0.5:
        entry.repeat_day = index + 1
        entry.completes_at = schedule.at(rng, index + 1)
    else:
        entry.repeat_day = index
        day_end = schedule.days[index] + timedelta(seconds=86_399)
        entry.completes_at = min(sale.started + timedelta(seconds=rng.randrange(600, 10_800)), day_end)
