"""The report's breakdowns of a period: the balance statement, revenue and VAT per country and
product, the money taken back, and the daily trend, each read from the materialised models."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ingest.apps.finance.models import MOVEMENT_CLASSES, Tables, model_rows, read, render
from ingest.apps.finance.money import CENT, cent, in_cents
from ingest.apps.finance.period import Period

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

# Column labels of the movements besides sales and fees (models.MOVEMENT_CLASSES).
MOVEMENT_LABELS = {
    "refunds": "Refunds",
    "reversals": "Reversals",
    "chargebacks": "Charge\u00adbacks",
    "chargeback_reversals": "Chargebacks reversed",
    "chargeback_fees": "Chargeback fees",
    "holds": "Holds",
    "conversions": "Conversions",
    "withdrawals": "With\u00addrawals",
    "other": "Other",
    "unknown": "Unknown kind",
}
# The balance statement's movements, in the order finance reads them, with their column labels.
BALANCE_MOVEMENTS = (
    ("opening_balance", "Opening"),
    ("gross_sales", "Sales"),
    ("fees", "Fees"),
    *((name, MOVEMENT_LABELS[name]) for name in MOVEMENT_CLASSES),
    ("closing_balance", "Closing"),
    ("difference", "Difference"),
)
_ALWAYS_SHOWN = frozenset({"opening_balance", "closing_balance", "difference"})
# The kinds of money given back a country's revenue is net of, with their column labels.
GIVEN_BACK = (
    ("refunds", "Refunds"),
    ("reversals", "Reversals"),
    ("chargebacks", "Chargebacks"),
    ("chargeback_reversals", "Chargebacks reversed"),
)


def balance_statement(
    client: bigquery.Client, tables: Tables, period: Period, account_currency: str
) -> pd.DataFrame:
    """The days of ``daily_balances`` worth showing, with ``_flagged`` marking those that do not
    balance: first the account currency, and within each currency the flagged days first, then
    the days with records (days without a PayPal record carry their balance over: left out)."""
    import pandas as pd

    balances = model_rows(client, tables, "daily_balances", period)
    flagged = balances["balanced"].map(lambda value: value is not None and not pd.isna(value) and not value)
    shown = balances[flagged | (balances["records"] > 0)].assign(_flagged=flagged)
    shown = shown.sort_values(["_flagged", "day"], ascending=[False, True])
    shown = shown.sort_values("currency", key=lambda c: c != account_currency, kind="stable")
    shown["day"] = shown["day"].astype(str)
    return shown


def statement_movements(statement: pd.DataFrame) -> list[tuple[str, str]]:
    """The movements (column, label) of one currency's statement: a kind of movement that never
    happened in it is left out; the balances and their difference always stay."""
    return [
        (name, label)
        for name, label in BALANCE_MOVEMENTS
        if name in _ALWAYS_SHOWN or (statement[name].fillna(0) != 0).any()
    ]


def revenue_by_country(client: bigquery.Client, tables: Tables, period: Period) -> pd.DataFrame:
    """Per buyer country over the period: sales, money given back, revenue, net, VAT and tax code."""
    frame = read(client, render("report/revenue_by_country", tables), period)
    money = ("gross_sales", *(name for name, _ in GIVEN_BACK), "revenue", "net_amount", "vat_amount")
    frame = in_cents(frame, money)
    frame["vat_rate"] = [_percent(rate) for rate in frame["vat_rate"]]
    return frame


def given_back(by_country: pd.DataFrame) -> list[tuple[str, str]]:
    """The kinds of money given back (column, label) that happened in some country."""
    return [(name, label) for name, label in GIVEN_BACK if (by_country[name].fillna(0) != 0).any()]


def _percent(rate: Any) -> str | None:
    """0.19 as ``19%``, 0.055 as ``5.5%``; None without a known rate."""
    if cent(rate) is None:
        return None
    return f"{(Decimal(str(rate)) * 100).quantize(CENT).normalize():f}%"


def products_by_country(client: bigquery.Client, tables: Tables, period: Period) -> pd.DataFrame:
    """Per buyer country and product: completed PayPal items that paired with a payment of ours
    (matched, late or with another amount), and their amount at PayPal."""
    return in_cents(read(client, render("report/products_by_country", tables), period), ("amount",))


def taken_back(client: bigquery.Client, tables: Tables, period: Period) -> pd.DataFrame:
    """The period's refunds, reversals, chargebacks (with their fees and reversals) and dispute
    holds, each with the sale it is about (followed through PayPal's reference chain), its day and
    its country."""
    rows = model_rows(client, tables, "adjustments", period)
    columns = [
        "day",
        "kind",
        "paypal_transaction_id",
        "amount",
        "fee",
        "currency",
        "reference_id",
        "original_transaction_id",
        "original_day",
        "linked",
        "country_code",
        "item_code",
        "payment_transaction_id",
    ]
    frame = in_cents(rows[columns], ("amount", "fee"))
    for column in ("day", "original_day"):
        frame[column] = [None if value is None or value != value else str(value) for value in frame[column]]
    return frame.reset_index(drop=True)


def daily_trend(client: bigquery.Client, tables: Tables, period: Period) -> pd.DataFrame:
    """Per day and currency: PayPal's gross sales and the total of our payments, as the headline
    counts them (every day of the period, zero when nothing happened)."""
    frame = read(client, render("report/daily_trend", tables), period)
    frame = in_cents(frame, ("paypal_gross", "our_total"))
    frame["day"] = frame["day"].astype(str)
    return frame
