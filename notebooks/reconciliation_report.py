# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # PayPal reconciliation
#
# PayPal's records for the period set against the game's payment database: what PayPal took
# and paid out, which payments pair with ours and which do not, PayPal's balance day by day,
# revenue and VAT per buyer country as the accounting export books it, and what came back as
# refunds, reversals and chargebacks. The last section says which files the figures come from,
# and whether any of them failed to load, so a figure that looks wrong can be traced.
#
# A scheduler runs it as `ingest report --start D`, which executes this notebook with papermill
# and keeps it under `reports/reconciliation/<start>_<end>/`, next to this report, the
# accounting import `accounting_export.csv`, `exceptions.csv` (every item to act on, with its
# reason) and `figures.json`. Amounts are in the PayPal account's currency. Payers appear only
# by PayPal transaction and item ids: no names, no email addresses.

# %% tags=["parameters"]
start_date = ""  # YYYY-MM-DD (a day) or YYYY-MM (a month); empty: yesterday (UTC)
end_date = ""  # last day YYYY-MM-DD or month YYYY-MM; empty: the end of start_date
late_window_days = 3  # days our payment row may be dated after PayPal's and still match, as late
nominal = "4000"  # nominal account the accounting export books sales to
refresh = True  # reconcile the period first, so the report reads what the raw tables hold now
output_dir = ""  # where the CSV and JSON files are written; empty: the working folder

# %%
import io
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from ingest import reconcile, report
from ingest.pipeline import Services

logging.getLogger("ingest").setLevel(logging.ERROR)
pd.set_option("display.max_rows", 1000)
pd.set_option("display.max_colwidth", None)

services = Services.from_env()
settings = services.settings
tables = reconcile.Tables.for_services(services)
period = reconcile.Period.parse(
    start_date or (datetime.now(UTC).date() - timedelta(days=1)).isoformat(), end_date or None
)
options = reconcile.Options(late_window_days=int(late_window_days), nominal=str(nominal))
client = services.bigquery

if refresh:
    reconcile.run(client, tables, period, options)
# Before anything that could break: the scheduler and the accounting import read these files.
written = report.write_period_files(client, tables, period, options, Path(output_dir or "."))
figures, exceptions = written.figures, written.exceptions
currency = figures["currency"] or ""

# %%
if not currency:
    display(Markdown(f"## Period {period}\n\n**No PayPal records and no payments of ours in the period.**"))
else:
    difference = Decimal(figures["our_total"] or 0) - Decimal(figures["paypal_gross"] or 0)
    comparison = (
        "the same"
        if difference == 0
        else f"{abs(difference)} {'more' if difference > 0 else 'less'} than PayPal's"
    )
    balance = (
        "PayPal's balance adds up on every day."
        if figures["balance_check"]
        else f"**PayPal's balance does not add up on {figures['days_not_balanced']} day(s)**: "
        "see the balance statement."
    )
    display(
        Markdown(
            f"## Headline: {period}\n\n"
            f"PayPal booked **{figures['paypal_gross']} {currency}** of sales; the game's payment "
            f"database has **{figures['our_total']} {currency}**, {comparison}. "
            f"{figures['matched_count']:,} items for {figures['matched_amount']} {currency} pair with a "
            f"payment of ours. {balance} "
            f"{figures['exceptions_total']} item(s) need a look (exceptions below)."
        )
    )
    display(report.headline(figures))

# %% [markdown]
# **Exceptions by kind.** An item pairs when PayPal's item code is our payment's item id and the
# two are dated at most `late_window_days` apart; everything that does not pair cleanly, and
# everything PayPal took back, is an exception.

# %%
counts = pd.Series(figures["exceptions"], name="items").rename_axis("kind").to_frame()
display(counts.T)

# %% [markdown]
# ## Balance statement
#
# PayPal's account per day: the opening balance, the day's movements by kind and the closing
# balance PayPal reports after its last record. A day balances when opening + movements =
# closing. Fees are PayPal's charges on each movement; *other* is anything that is none of the
# named kinds (currency conversions, holds).

# %%
balances = reconcile.model_rows(client, tables, "daily_balances", period)
money = [
    "opening_balance",
    "gross_sales",
    "fees",
    "refunds",
    "reversals",
    "chargebacks",
    "withdrawals",
    "other",
    "closing_balance",
    "difference",
]
statement = balances[["day", "currency", *money, "balanced"]].copy()
statement["day"] = statement["day"].astype(str)
# Unknown (no balance before the period) is not flagged: only a day known not to balance is.
flagged = statement["balanced"].map(lambda value: value is not None and not pd.isna(value) and not value)
unbalanced = statement[flagged]
if statement.empty:
    print("PayPal has no records for the period.")
else:
    if unbalanced.empty:
        display(Markdown("Every day balances: all of PayPal's records for the period are loaded."))
    else:
        days = ", ".join(f"{row.day} ({row.difference} {row.currency})" for row in unbalanced.itertuples())
        display(
            Markdown(
                f"**{len(unbalanced)} day(s) do not balance** (highlighted): {days}. PayPal's closing "
                "balance is its own figure, so the difference is the net of PayPal records that did "
                "not load: a file that failed or rows quarantined for a defect (see Data quality). "
                "Those records are missing from the sales, fees and exceptions of that day too."
            )
        )
    if len(statement["currency"].unique()) == 1:
        statement = statement.drop(columns="currency")

    def highlight(row: pd.Series) -> list[str]:
        colour = "background-color: #fde0dc; font-weight: bold" if flagged[row.name] else ""
        return [colour] * len(row)

    display(statement.style.apply(highlight, axis=1).hide(axis="index"))

# %% [markdown]
# ## Exceptions to act on
#
# Every item of the period that did not pair cleanly with the game's records, and every refund,
# reversal and chargeback, with its reason. The same list is in `exceptions.csv`.

# %%
if exceptions.empty:
    print("No exceptions: every PayPal sale pairs with a payment of ours, and nothing was taken back.")
else:
    display(report.blank(report.exception_counts(exceptions)).style.hide(axis="index"))
    shown = exceptions[
        [
            "date",
            "kind",
            "reason",
            "country_code",
            "paypal_transaction_id",
            "item_code",
            "payment_transaction_id",
            "paypal_amount",
            "our_amount",
        ]
    ]
    display(report.blank(shown).style.hide(axis="index"))

# %% [markdown]
# ## Revenue and VAT by country
#
# Per buyer country (PayPal's payer country; a refund, reversal or chargeback counts in the
# country of the payment it takes back). Prices include VAT: revenue is the completed sales
# less what was given back, net = revenue / (1 + VAT rate) to the cent, and VAT is the rest.
# These are the accounting export's lines, summed over the period.

# %%
by_country = report.revenue_by_country(client, tables, period)
if by_country.empty:
    print("No sales and nothing given back in the period.")
else:
    display(report.blank(by_country).style.hide(axis="index"))

# %% [markdown]
# **Per country and product**: the completed PayPal items that pair with a payment of ours
# (on time, late or for another amount), at PayPal's amount.

# %%
products = report.products_by_country(client, tables, period)
if products.empty:
    print("No paired items in the period.")
else:
    display(report.blank(products).set_index(["country_code", "product_name"]))

# %% [markdown]
# **Per country and day**: revenue (VAT included) of each day; an empty cell is a day without
# sales or returns in that country. The accounting export has each cell's net and VAT.

# %%
per_day = report.revenue_by_day_and_country(client, tables, period)
if per_day.empty:
    print("No revenue in the period.")
else:
    display(per_day)

# %% [markdown]
# ## Reversals and chargebacks
#
# PayPal taking back a payment it made to us: a *reversal* (T1106) follows a dispute or PayPal's
# own risk decision, a *chargeback* (T12xx) the buyer's bank. Each is linked to its original
# payment through PayPal's reference id, which gives it the buyer's country for VAT. When the
# period has any, `ingest report` sends an alert to the alerts topic.

# %%
taken_back = report.reversals_and_chargebacks(client, tables, period)
if taken_back.empty:
    print("No reversals or chargebacks in the period.")
else:
    display(report.blank(taken_back).style.hide(axis="index"))

# %% [markdown]
# ## Daily trend
#
# PayPal's gross sales and the total of the game's payments per day, and the exceptions found
# per day by kind. The lines part where payments are missing on one side; a day whose PayPal
# records did not all load shows as a dip in PayPal's line and a bar of payments missing at PayPal.

# %%
try:
    from matplotlib.figure import Figure
except ImportError:  # the report goes on without its chart
    Figure = None
    print("No chart: matplotlib is not installed (pip install 'ingest[notebooks]').")

trend = report.daily_trend(client, tables, period)
trend = trend[trend["currency"] == currency]
if Figure is not None and not trend.empty:
    days = [pd.Timestamp(day) for day in trend["day"]]
    per_kind = pd.crosstab(pd.to_datetime(exceptions["date"]), exceptions["kind"]).reindex(
        pd.to_datetime(trend["day"]), fill_value=0
    )
    # A figure of its own, rendered to PNG here: no pyplot state or backend, and the PNG is
    # what the HTML report embeds.
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
        exceptions_axes.bar(days, per_kind[kind], bottom=bottom, label=kind, width=0.8)
        bottom = bottom + per_kind[kind]
    exceptions_axes.set_ylabel("exceptions")
    if len(per_kind.columns):
        exceptions_axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    figure.autofmt_xdate()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100, bbox_inches="tight")
    alt = "PayPal gross sales and our payments per day, and exceptions per day by kind"
    display(Image(data=png.getvalue(), format="png", alt=alt))
elif Figure is not None:
    print("Nothing happened in the period.")

# %% [markdown]
# ## Data quality
#
# The files the period's PayPal records and payment rows were loaded from, as the ingestion
# ledger recorded them. Rows in, loaded and quarantined are whole files' (a file may also hold
# other days); *rows in period* are the file's rows in the warehouse dated in the period. A
# quarantined row failed a check and is kept aside in the error bucket, with its reason,
# instead of being loaded: it is missing from the figures above.

# %%
sources = report.period_sources(client, tables, period)
files = report.ledger_quality(services.ledger, sources)
if files.empty:
    print("No rows of the period in the warehouse.")
else:
    display(report.ledger_totals(files))
    quarantining = files[files["rows_quarantined"].fillna(0) > 0]
    if quarantining.empty:
        print("No file of the period had rows quarantined.")
    else:
        display(Markdown("**Files with quarantined rows**"))
        display(report.blank(quarantining.drop(columns="finished_at")).style.hide(axis="index"))
    not_loaded = files[files["status"] != "LOADED"]
    if not not_loaded.empty:
        display(Markdown("**Files the ledger does not have as loaded**"))
        display(report.blank(not_loaded).style.hide(axis="index"))

# %%
source_pipelines = [p for p in services.pipelines if p.name in report.SOURCE_DATES]
failures = report.unreplayed_failures(services.ledger, source_pipelines)
if failures.empty:
    print("No PayPal or payment file is failing: nothing is waiting to be replayed.")
else:
    display(
        Markdown(
            f"**Warning: the period may be incomplete.** {len(failures)} PayPal or payment file(s) "
            "failed to load and have not been replayed. Whatever day their rows are, they are in "
            "none of the figures above. Fix the cause, then `ingest replay` loads them, and running "
            "this report again includes them."
        )
    )
    display(report.blank(failures).style.hide(axis="index"))

# %% [markdown]
# **Validation.** Each file's rows are checked by its pipeline's expectations before they load:
# a failed *critical* check quarantines the rows (or fails the file), a *warning* is reported
# only. Below, the checks that failed on the files above, with how many rows they caught.

# %%
checks = report.validation_quality(client, settings.ops_dataset, sources["ledger_key"])
if checks.empty:
    print("None of these files has validation results (their pipelines have no suite).")
else:
    failed_checks = report.failed_expectations(checks)
    validated = checks["ledger_key"].nunique()
    if failed_checks.empty:
        print(f"Every expectation passed on all {validated} validated files.")
    else:
        display(Markdown(f"{validated} files validated; the failed expectations:"))
        display(failed_checks)
