"""PayPal Transaction Search facts: event codes, statuses, and which ones moved money.

Event codes are PayPal's (Transaction Search, "transaction event codes"); the groups below are the
ones finance reconciles. The record transform of the paypal_transactions pipeline is in
``ingest.core.transforms.paypal``.
"""

from __future__ import annotations

PAYMENT_CODES = frozenset({"T0006", "T0007"})  # PayPal Checkout and website payments: sales
REFUND_CODES = frozenset({"T1107"})  # refunds; fee_amount > 0 is the part of the fee given back
REVERSAL_CODES = frozenset({"T1106"})  # PayPal takes a payment back (dispute, risk decision)
CHARGEBACK_CODES = frozenset({"T1201", "T1205", "T1207"})  # the buyer's bank takes it back
CHARGEBACK_REVERSAL_CODES = frozenset({"T1202"})  # a chargeback undone: money back to us
CHARGEBACK_FEE_CODES = frozenset({"T0106"})  # the fee for a chargeback, booked as its own record
HOLD_CODES = frozenset({"T1110"})  # money held while a dispute is investigated
HOLD_RELEASE_CODES = frozenset({"T1111"})  # the hold cancelled: the money is back
CONVERSION_CODES = frozenset({"T0200", "T0201"})  # one record per currency, debit and credit
WITHDRAWAL_CODES = frozenset({"T0400", "T0401", "T0403"})
# Codes this account may see besides the ones above: other payment types, holds on payouts,
# fee reversals and so on. They move the balance as "other"; any code outside KNOWN_EVENT_CODES
# moves it as "unknown" and is reported, never dropped (the suite only warns about it).
OTHER_KNOWN_CODES = frozenset(
    {
        "T0000", "T0001", "T0002", "T0003", "T0004", "T0005", "T0008", "T0009", "T0010",
        "T0011", "T0012", "T0013", "T0300", "T0700", "T1105", "T1108",
        "T1501", "T1502", "T1503", "T2101", "T2102", "T2103",
    }
)  # fmt: skip
# What each class of record is called in the reconciliation (adjustments.kind, daily_balances'
# columns); a sale is not an adjustment. ``ingest/sql`` reads these through ``sql_in``.
ADJUSTMENT_CODES = {
    "refund": REFUND_CODES,
    "reversal": REVERSAL_CODES,
    "chargeback": CHARGEBACK_CODES,
    "chargeback_reversal": CHARGEBACK_REVERSAL_CODES,
    "chargeback_fee": CHARGEBACK_FEE_CODES,
    "hold": HOLD_CODES,
    "hold_release": HOLD_RELEASE_CODES,
}
KNOWN_EVENT_CODES = (
    PAYMENT_CODES
    | CONVERSION_CODES
    | WITHDRAWAL_CODES
    | OTHER_KNOWN_CODES
    | frozenset().union(*ADJUSTMENT_CODES.values())
)
STATUSES = {"S": "success", "P": "pending", "D": "denied", "V": "reversed"}
# A denied payment never moved money; every other status did (a reversed one was completed first,
# and the reversal record takes it back).
MOVED_MONEY_STATUSES = ("S", "P", "V")


def sql_in(codes: frozenset[str]) -> str:
    """``('T1107', 'T1106')``: a code set as a Standard SQL list (codes are [A-Z0-9] only)."""
    return "(" + ", ".join(f"'{code}'" for code in sorted(codes)) + ")"
