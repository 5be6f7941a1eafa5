"""The reconciliation report's charts, as PNG (the HTML report embeds them)."""

from __future__ import annotations

import io

import pandas as pd

from ingest.apps.finance.exceptions import KIND_LABELS
from ingest.apps.finance.period import Period
from ingest.apps.reports.present import bar_chart_png


def revenue_by_country_png(by_country: pd.DataFrame, period: Period, currency: str) -> bytes:
    """Net revenue and VAT per country (and currency, when there are several), as bars."""
    several = by_country["currency"].nunique() > 1
    labels = [
        f"{country or '?'} {code}" if several else (country or "?")
        for country, code in zip(by_country["country_code"], by_country["currency"], strict=True)
    ]
    return bar_chart_png(
        labels,
        {"Net revenue": list(by_country["net_amount"]), "VAT": list(by_country["vat_amount"])},
        title=f"Net revenue and VAT by country, {period}",
        ylabel=currency,
    )


def daily_trend_png(trend: pd.DataFrame, exceptions: pd.DataFrame, period: Period, currency: str) -> bytes:
    """PayPal's gross sales and our payments per day as lines, over the exceptions found per day,
    stacked by kind. ``trend`` holds one currency's days (``breakdowns.daily_trend``)."""
    from matplotlib.figure import Figure

    days = [pd.Timestamp(day) for day in trend["day"]]
    per_kind = pd.crosstab(pd.to_datetime(exceptions["date"]), exceptions["kind"]).reindex(
        pd.to_datetime(trend["day"]), fill_value=0
    )
    figure = Figure(figsize=(10, 6.5))
    sales_axes, exceptions_axes = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    sales_axes.plot(days, trend["paypal_gross"].astype(float), marker="o", label="PayPal gross sales")
    sales_axes.plot(days, trend["our_total"].astype(float), marker=".", label="our payments")
    sales_axes.set_ylabel(currency)
    sales_axes.set_title(f"Sales per day, {period}")
    sales_axes.legend(loc="upper left", frameon=False)
    sales_axes.grid(axis="y", alpha=0.3)
    bottom = pd.Series(0, index=per_kind.index)
    for kind in per_kind.columns:
        exceptions_axes.bar(days, per_kind[kind], bottom=bottom, label=KIND_LABELS[str(kind)], width=0.8)
        bottom = bottom + per_kind[kind]
    exceptions_axes.set_ylabel("exceptions")
    if len(per_kind.columns):
        exceptions_axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    figure.autofmt_xdate()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100, bbox_inches="tight")
    return png.getvalue()
