"""The reconciliation's exceptions: every item finance has to act on, its kind, words and action.

Read from the materialised models by ``sql/report/exceptions.sql``; the report lists them with
``KIND_LABELS`` and counts them per kind with what to do (``EXCEPTION_ACTIONS``), and
``exceptions.csv`` keeps each kind's name for tools. (Exceptions in finance's sense: not Python's.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.apps.finance.models import Tables, read, render
from ingest.apps.finance.money import in_cents, total
from ingest.apps.finance.period import DEFAULT_OPTIONS, Options, Period
from ingest.core import paypal

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

EXCEPTION_KINDS = (
    "missing_ours",
    "missing_paypal",
    "amount_mismatch",
    "late",
    "pending",
    "duplicate",
    "country_mismatch",
    *paypal.ADJUSTMENT_CODES,
    "no_tax_code",
    "unknown_event_code",
)
# What finance does about each kind of exception, in the order the report lists them.
EXCEPTION_ACTIONS = {
    "missing_ours": "PayPal took the payment but the game has no payment row for the item: check the "
    "player got what they paid for, and that the day's payment exports all loaded.",
    "missing_paypal": "The game recorded a payment PayPal has no record of: check PayPal's activity for "
    "the item; on a day whose PayPal records did not all load (see Data quality) it is usually that.",
    "amount_mismatch": "PayPal and the game disagree on the amount; the reason names the part that "
    "differs (price, quantity, shipping, tax, discount, currency): check what was charged.",
    "late": "Our payment row is dated after PayPal booked the payment: timing only, nothing to book.",
    "pending": "PayPal has not completed the payment yet: not revenue until it does.",
    "duplicate": "One item pairs with more than one payment: check for a double charge.",
    "country_mismatch": "PayPal and the game place the buyer in different countries (or one has none). "
    "VAT is booked on PayPal's payer country: check the buyer's location evidence for the VAT return.",
    "refund": "Money given back to the buyer, booked against the original payment's country.",
    "reversal": "PayPal took back a payment (buyer dispute or risk decision): check the case at PayPal.",
    "chargeback": "The buyer's bank took back a payment: respond to the case at PayPal in time.",
    "chargeback_reversal": "A chargeback was decided in our favour: the money came back.",
    "chargeback_fee": "PayPal's fee for handling a chargeback: a cost of the dispute, not revenue.",
    "hold": "PayPal holds money while it investigates a dispute: watch the case; it comes back or "
    "becomes a chargeback.",
    "hold_release": "A dispute hold was released: the money is available again.",
    "no_tax_code": "Sales in a country the tax table does not know: booked without VAT until it is added.",
    "unknown_event_code": "A PayPal record of a kind the reconciliation has no class for: it is in the "
    "balance as 'unknown'; tell the data team which kind of record it is.",
}
# Each kind as finance reads it in the report (the CSV keeps the kind's name for tools).
KIND_LABELS = {
    "missing_ours": "Missing on our side",
    "missing_paypal": "Missing at PayPal",
    "amount_mismatch": "Amount differs",
    "late": "Late on our side",
    "pending": "Pending at PayPal",
    "duplicate": "Paired twice",
    "country_mismatch": "Country differs",
    "refund": "Refund",
    "reversal": "Reversal",
    "chargeback": "Chargeback",
    "chargeback_reversal": "Chargeback reversed",
    "chargeback_fee": "Chargeback fee",
    "hold": "Dispute hold",
    "hold_release": "Hold released",
    "no_tax_code": "No tax code",
    "unknown_event_code": "Unknown event code",
}


def exceptions(
    client: bigquery.Client, tables: Tables, period: Period, options: Options = DEFAULT_OPTIONS
) -> pd.DataFrame:
    """Every item finance has to act on, with its reason, by day then kind."""
    frame = read(client, render("report/exceptions", tables), period, sale_codes=list(options.sale_codes))
    frame = frame.sort_values(["date", "kind", "item_code", "paypal_transaction_id"], na_position="first")
    frame = in_cents(frame, ["paypal_amount", "our_amount"])
    for column in ("payment_transaction_id", "days_late"):
        frame[column] = frame[column].astype("Int64")
    return frame.reset_index(drop=True)


def exception_counts(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Per kind of exception: items, PayPal's and our amounts, and what to do about them."""
    import pandas as pd

    rows = []
    for kind, action in EXCEPTION_ACTIONS.items():
        of_kind = exceptions[exceptions["kind"] == kind]
        if of_kind.empty:
            continue
        rows.append(
            {
                "kind": kind,
                "items": len(of_kind),
                "paypal_amount": total(of_kind["paypal_amount"]),
                "our_amount": total(of_kind["our_amount"]),
                "what to do": action,
            }
        )
    return pd.DataFrame(rows, columns=["kind", "items", "paypal_amount", "our_amount", "what to do"])
