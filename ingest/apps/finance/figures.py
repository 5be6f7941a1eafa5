"""The period's headline: its figures per currency (``figures.json``) and the table and sentence
the report leads with."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ingest.apps.finance.exceptions import EXCEPTION_KINDS, exceptions
from ingest.apps.finance.models import MOVEMENT_CLASSES, Tables, read, render
from ingest.apps.finance.money import cent
from ingest.apps.finance.period import DEFAULT_OPTIONS, Options, Period
from ingest.apps.reports.present import format_value

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

# The headline's figures per currency, in the order finance reads them. Every one is a number in
# figures.json, 0 or "0.00" when nothing of its kind happened, never null.
FIGURE_AMOUNTS = (
    "paypal_gross",
    "paypal_fees",
    "paypal_net",
    "our_total",
    "matched_amount",
    "paypal_items_amount",
    *MOVEMENT_CLASSES,
    "opening_balance",
    "closing_balance",
    "balance_difference",
    "revenue",
    "net_revenue",
    "vat",
)
FIGURE_COUNTS = ("our_count", "matched_count", "days_not_balanced")


def figures(
    client: bigquery.Client,
    tables: Tables,
    period: Period,
    found: pd.DataFrame | None = None,
    options: Options = DEFAULT_OPTIONS,
) -> dict[str, Any]:
    """The headline numbers of the period, per currency, JSON-ready (amounts as strings).

    The top level holds the account currency's figures (``Options.account_currency``), except the
    balance headline, which covers every currency: ``balance_check`` is true only when every
    currency balanced on every day, ``days_not_balanced`` counts the days on which any did not,
    and ``currencies_not_balanced`` names them. ``found``: the period's ``exceptions`` when the
    caller already has them (counted, not read again).
    """
    frame = read(client, render("report/figures", tables), period)
    unbalanced_days = read(client, render("report/unbalanced_days", tables), period)
    if found is None:
        found = exceptions(client, tables, period, options)
    counts = found["kind"].value_counts()
    by_currency = {}
    for row in frame.to_dict("records"):
        currency = row.pop("currency")
        by_currency[currency] = _complete({str(name): _json_value(value) for name, value in row.items()})
    headline_currency = (
        options.account_currency
        if options.account_currency in by_currency or not by_currency
        else max(by_currency, key=lambda c: (by_currency[c]["matched_count"], by_currency[c]["our_count"], c))
    )
    headline = by_currency.get(headline_currency) or _complete({})
    not_balanced = sorted(c for c, values in by_currency.items() if not values["balance_check"])
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "currency": headline_currency,
        **headline,
        "balance_check": not not_balanced,
        "days_not_balanced": len(unbalanced_days),
        "currencies_not_balanced": not_balanced,
        "vat_basis": options.vat_basis,
        "exceptions": {kind: int(counts.get(kind, 0)) for kind in EXCEPTION_KINDS},
        "exceptions_total": int(counts.sum()),
        "by_currency": by_currency,
    }


def _complete(values: dict[str, Any]) -> dict[str, Any]:
    """Every figure present and a number: nothing of a kind is 0 or "0.00", not null."""
    complete = dict(values)
    for name in FIGURE_AMOUNTS:
        if complete.get(name) is None:
            complete[name] = "0.00"
    for name in FIGURE_COUNTS:
        complete[name] = int(complete.get(name) or 0)
    if complete.get("balance_check") is None:
        complete["balance_check"] = True
    return complete


def _json_value(value: Any) -> Any:
    """Amounts as exact strings with cents, counts as ints, flags as bools, gaps as None."""
    import pandas as pd

    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, Decimal | float):
        return f"{Decimal(str(value)):.2f}"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value


# -- the headline table ------------------------------------------------------------

_HEADLINE_ROWS = (
    ("paypal_gross", "PayPal gross sales"),
    ("paypal_fees", "PayPal fees"),
    ("paypal_net", "PayPal net of fees"),
    ("our_total", "Our payments (total)"),
    ("our_count", "Our payments (count)"),
    ("matched_amount", "Matched with our payments (amount)"),
    ("matched_count", "Matched with our payments (items)"),
    ("refunds", "Refunds"),
    ("reversals", "Reversals"),
    ("chargebacks", "Chargebacks"),
    ("chargeback_reversals", "Chargebacks reversed in our favour"),
    ("chargeback_fees", "Chargeback fees"),
    ("holds", "Dispute holds less releases"),
    ("conversions", "Currency conversions"),
    ("withdrawals", "Withdrawals to the bank"),
    ("other", "Other PayPal records"),
    ("unknown", "Records of an unknown kind"),
    ("opening_balance", "Opening balance"),
    ("closing_balance", "Closing balance"),
    ("balance_difference", "Balance difference"),
    ("revenue", "Revenue (sales less money given back, VAT included)"),
    ("net_revenue", "Net revenue"),
    ("vat", "VAT"),
)
COUNT_FIGURES = frozenset({"our_count", "matched_count"})


# Always shown; the other figures only when something of their kind happened in some currency.
_CORE_FIGURES = frozenset(
    {
        "paypal_gross",
        "paypal_fees",
        "paypal_net",
        "our_total",
        "our_count",
        "matched_amount",
        "matched_count",
        "opening_balance",
        "closing_balance",
        "balance_difference",
        "revenue",
        "net_revenue",
        "vat",
    }
)


def headline(figures: dict[str, Any]) -> pd.DataFrame:
    """The period's figures as a table with one column per currency, in the order finance reads;
    a kind of movement that did not happen in any currency (no chargebacks, say) is left out."""
    import pandas as pd

    by_currency = figures.get("by_currency") or {}
    # The headline currency first, then any other the account holds.
    currencies = sorted(by_currency, key=lambda c: (c != figures.get("currency"), c))
    # Amounts and counts share a currency's column, so each is written out here, for people.
    rows = [
        (name, label)
        for name, label in _HEADLINE_ROWS
        if name in _CORE_FIGURES or any(cent(by_currency[c].get(name)) for c in currencies)
    ]
    frame = pd.DataFrame(
        {
            c: [
                format_value(by_currency[c].get(name), "count" if name in COUNT_FIGURES else "money")
                for name, _ in rows
            ]
            for c in currencies
        },
        index=[label for _, label in rows],
    )
    frame.index.name = "figure"
    return frame.reset_index()


def headline_summary(figures: dict[str, Any]) -> str:
    """The report's first paragraph (Markdown): what PayPal booked against our payments, what
    paired, whether the balance adds up, and how many items need a look."""
    currency = figures["currency"]
    difference = _amount(figures["our_total"]) - _amount(figures["paypal_gross"])
    comparison = (
        "the same" if difference == 0 else f"{abs(difference):,.2f} {'more' if difference > 0 else 'less'}"
    )
    if figures["balance_check"]:
        balance = "PayPal's balance adds up on every day, in every currency."
    else:
        balance = (
            f"**PayPal's balance does not add up on {figures['days_not_balanced']} day(s)** "
            f"({', '.join(figures['currencies_not_balanced'])}): the balance statement locates each break."
        )
    return (
        f"PayPal booked **{_amount(figures['paypal_gross']):,.2f} {currency}** of sales; the game's "
        f"payment database has **{_amount(figures['our_total']):,.2f} {currency}**, {comparison}. "
        f"{figures['matched_count']:,} items for {_amount(figures['matched_amount']):,.2f} {currency} "
        f"pair with a payment of ours. {balance} "
        f"**{figures['exceptions_total']:,} item(s) need a look** (exceptions below)."
    )


def headline_currencies(figures: dict[str, Any]) -> list[str]:
    """The currencies of the headline table's columns: the headline currency first, then the others."""
    return sorted(figures["by_currency"], key=lambda c: (c != figures["currency"], c))


def _amount(value: Any) -> Decimal:
    """A figure's amount; figures are never null (``_complete``)."""
    amount = cent(value)
    if amount is None:
        raise ValueError(f"a headline figure is missing: {value!r}")
    return amount
