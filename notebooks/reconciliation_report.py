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
# PayPal's records for the period set against the game's payment database: what PayPal took and
# paid out, PayPal's balance day by day, which payments pair with ours and which do not, revenue
# and VAT per country as the accounting export books it, and what was taken back. Amounts are to
# the cent in each currency of the PayPal account. Payers appear only by PayPal transaction and
# item ids: no names, no email addresses.

# %% tags=["parameters"]
start_date = ""  # YYYY-MM-DD (a day) or YYYY-MM (a month); empty: yesterday (UTC)
end_date = ""  # last day YYYY-MM-DD or month YYYY-MM; empty: the end of start_date
late_window_days = 3  # days our payment row may be dated after PayPal's and still match, as late
nominal = "4000"  # nominal account the accounting export books sales to
vat_basis = "transaction"  # VAT rounded per transaction (as each invoice) or once per "line"
refresh = True  # reconcile the period first, so the report reads what the raw tables hold now
output_dir = ""  # where the CSV and JSON files are written; empty: the working folder

# %%
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from IPython.display import Image, Markdown, display

from ingest.adapters.clients import aws_client
from ingest.apps.finance import balance_breaks, breakdowns, charts, data_quality, exports, figures, reconcile
from ingest.apps.finance.exceptions import KIND_LABELS, exception_counts
from ingest.apps.finance.models import Tables, model_rows
from ingest.apps.finance.period import Options, Period
from ingest.apps.ops import validation_results
from ingest.apps.reports.present import Col, anchor, contents, table
from ingest.ingestion.services import Services

logging.getLogger("ingest").setLevel(logging.ERROR)

services = Services.from_env()
settings = services.settings
tables = Tables.for_services(services)
period = Period.parse(
    start_date or (datetime.now(UTC).date() - timedelta(days=1)).isoformat(), end_date or None
)
options = Options(late_window_days=int(late_window_days), nominal=str(nominal), vat_basis=vat_basis)
client = services.bigquery

if refresh:
    reconcile.run(client, tables, period, options)
# Before anything that could break: the scheduler and the accounting import read these files.
written = exports.write_period_files(client, tables, period, options, Path(output_dir or "."))
headline, exceptions = written.figures, written.exceptions
currency = headline["currency"]

SECTIONS = [
    ("headline", "Headline"),
    ("balance", "Balance statement"),
    ("exceptions", "Exceptions to act on"),
    ("revenue", "Revenue and VAT by country"),
    ("taken-back", "Money taken back and disputes"),
    ("trend", "Daily trend"),
    ("quality", "Data quality"),
]
display(contents(SECTIONS))

# %%
display(anchor("headline", f"Headline: {period}"))
display(Markdown(figures.headline_summary(headline)))
display(
    table(
        figures.headline(headline),
        [Col("figure", "Figure"), *(Col(c, c, "figure") for c in figures.headline_currencies(headline))],
        empty="No PayPal records and no payments of ours in the period.",
        narrow=True,
    )
)

# %%
display(anchor("balance", "Balance statement"))
display(
    Markdown(
        "PayPal's account per day and currency: the opening balance, the day's movements by kind and "
        "the closing balance PayPal reports after its last record. A day balances when opening + "
        "movements = closing. Days that do not balance come first (highlighted), then the days with "
        "records; days without any PayPal record carry their balance over and are not listed."
    )
)
shown = breakdowns.balance_statement(client, tables, period, currency)
if shown.empty:
    display(Markdown("PayPal has no records for the period."))
# One table per currency; a kind of movement that never happened in it is left out.
for statement_currency, statement in shown.groupby("currency", sort=False):
    display(
        table(
            statement,
            [
                Col("day", "Day", "date"),
                *(Col(name, label, "money") for name, label in breakdowns.statement_movements(statement)),
                Col("balanced", "Balances", "flag"),
            ],
            caption=f"{statement_currency}" if shown["currency"].nunique() > 1 else None,
            highlight=statement["_flagged"],
        )
    )
breaks = model_rows(client, tables, "balance_breaks", period)
sources = data_quality.period_sources(client, tables, period)
files = data_quality.ledger_quality(services.ledger, sources)
SOURCE_NAMES = data_quality.SOURCE_NAMES
failures = data_quality.unreplayed_failures(
    services.ledger, data_quality.source_pipelines(services.pipelines)
)
if not breaks.empty:
    quarantined = balance_breaks.quarantined_paypal_records(aws_client("s3"), settings.error_bucket, files)
    paypal_failures = int((failures["pipeline"] == "paypal_transactions").sum())
    explained = balance_breaks.explain_breaks(breaks, quarantined, paypal_failures)
    display(
        Markdown(
            f"**Where the balance breaks.** {len(explained)} record(s) whose ending balance is not the "
            "previous record's balance plus their own net, each with its cause."
        )
    )
    display(
        table(
            explained,
            [
                Col("day", "Day", "date"),
                *([Col("currency", "Currency")] if explained["currency"].nunique() > 1 else []),
                Col("paypal_transaction_id", "PayPal record", "id"),
                Col("paypal_event_code", "Code", "id"),
                Col("expected_balance", "Expected balance", "money"),
                Col("reported_balance", "PayPal's balance", "money"),
                Col("difference", "Difference", "money"),
                Col("cause_label", "Cause"),
                Col("explanation", "Why", "note"),
            ],
        )
    )

# %%
display(anchor("exceptions", "Exceptions to act on"))
display(
    Markdown(
        "An item pairs when PayPal's item code is our payment's item id, the two are dated at most "
        f"{options.late_window_days} days apart, and our amount is the item's share of what PayPal "
        "collected (a cart's gross, shipping and tax included, is shared among its items in proportion "
        "to their amounts). Everything that does not pair cleanly, every disagreement on the buyer's "
        "country, and everything PayPal took back or held is listed here and in `exceptions.csv`."
    )
)
counts = exception_counts(exceptions)
display(
    table(
        counts.assign(kind=counts["kind"].map(KIND_LABELS)),
        [
            Col("kind", "Kind"),
            Col("items", "Items", "count"),
            Col("paypal_amount", "PayPal amount", "money"),
            Col("our_amount", "Our amount", "money"),
            Col("what to do", "What to do", "note"),
        ],
        empty="No exceptions: every PayPal sale pairs with a payment of ours, and nothing was taken back.",
    )
)
if not exceptions.empty:
    display(
        table(
            exceptions.assign(kind=exceptions["kind"].map(KIND_LABELS)),
            [
                Col("date", "Day", "date"),
                Col("kind", "Kind"),
                Col("reason", "Reason", "note"),
                Col("country_code", "VAT country"),
                Col("paypal_transaction_id", "PayPal transaction", "id"),
                Col("item_code", "Item", "id"),
                Col("payment_transaction_id", "Our payment", "id"),
                Col("paypal_amount", "PayPal amount", "money"),
                Col("our_amount", "Our amount", "money"),
            ],
        )
    )

# %%
display(anchor("revenue", "Revenue and VAT by country"))
basis = (
    "each sale and each refund on its own, as its invoice would (a day, a country and the month are "
    "exact sums of the same transactions, so the daily exports add up to the monthly one to the cent)"
    if options.vat_basis == "transaction"
    else "once per day and country line"
)
display(
    Markdown(
        "Revenue is the completed sales less what was given back (refunds, reversals, chargebacks, "
        "plus chargebacks reversed in our favour), each in the country of the sale. **VAT is booked on "
        "PayPal's payer country**, the payment provider's record of where the buyer is; when PayPal "
        "gives none, on the country in our payment row. Where the two disagree, the item is a *country "
        "mismatch* exception above. Prices include VAT: net = amount / (1 + rate), rounded to the cent "
        f"{basis}; VAT is the rest."
    )
)
by_country = breakdowns.revenue_by_country(client, tables, period)
if not by_country.empty:
    png = charts.revenue_by_country_png(by_country, period, currency)
    display(Image(data=png, format="png", alt="Net revenue and VAT per country, bars"))
display(
    table(
        by_country,
        [
            Col("country_code", "Country"),
            Col("country_name", "Name"),
            Col("tax_code", "Tax code", "id"),
            Col("vat_rate", "VAT rate", "percent"),
            *([Col("currency", "Currency")] if by_country["currency"].nunique() > 1 else []),
            Col("sales", "Sales", "count"),
            Col("gross_sales", "Gross sales", "money"),
            *(Col(name, label, "money") for name, label in breakdowns.given_back(by_country)),
            Col("revenue", "Revenue", "money"),
            Col("net_amount", "Net", "money"),
            Col("vat_amount", "VAT", "money"),
        ],
        empty="No sales and nothing given back in the period.",
    )
)
display(Markdown("**Per country and product**: completed PayPal items that pair with a payment of ours."))
products = breakdowns.products_by_country(client, tables, period)
display(
    table(
        products,
        [
            Col("country_code", "Country"),
            Col("product_name", "Product"),
            Col("currency", "Currency"),
            Col("items", "Items", "count"),
            Col("amount", "Amount", "money"),
        ],
        empty="No paired items in the period.",
        narrow=True,
    )
)

# %%
display(anchor("taken-back", "Money taken back and disputes"))
display(
    Markdown(
        "Refunds give money back to a buyer (PayPal returns part of its fee); a *reversal* is PayPal "
        "taking a payment back after a dispute or its own risk decision; a *chargeback* is the buyer's "
        "bank taking it back, with PayPal's chargeback fee, and sometimes reversed in our favour; a "
        "*hold* keeps money aside while a dispute is investigated. Each is linked to the sale it is "
        "about through PayPal's reference ids, even through a chargeback, and takes that sale's "
        "country. Reversals and chargebacks raise an alert."
    )
)
taken = breakdowns.taken_back(client, tables, period)
display(
    table(
        taken.assign(kind=taken["kind"].map(KIND_LABELS)),
        [
            Col("day", "Day", "date"),
            Col("kind", "Kind"),
            Col("paypal_transaction_id", "PayPal record", "id"),
            Col("amount", "Amount", "money"),
            Col("fee", "Fee", "money"),
            *([Col("currency", "Currency")] if taken["currency"].nunique() > 1 else []),
            Col("reference_id", "Refers to", "id"),
            Col("original_transaction_id", "Original sale", "id"),
            Col("original_day", "Sold on", "date"),
            Col("country_code", "Country"),
            Col("item_code", "Item", "id"),
            Col("payment_transaction_id", "Our payment", "id"),
        ],
        highlight=~taken["linked"].astype(bool) if not taken.empty else None,
        empty="Nothing was refunded, reversed, charged back or held in the period.",
    )
)

# %%
display(anchor("trend", "Daily trend"))
display(
    Markdown(
        "PayPal's gross sales and the total of the game's payments per day, and the exceptions found "
        "per day by kind. The lines part where payments are missing on one side."
    )
)
trend = breakdowns.daily_trend(client, tables, period)
trend = trend[trend["currency"] == currency]
if trend.empty:
    display(Markdown("Nothing happened in the period."))
else:
    alt = "PayPal gross sales and our payments per day, and exceptions per day by kind"
    display(Image(data=charts.daily_trend_png(trend, exceptions, period, currency), format="png", alt=alt))

# %%
display(anchor("quality", "Data quality"))
display(
    Markdown(
        "The files the period's PayPal records and payment rows were loaded from. Rows in, loaded and "
        "quarantined are whole files' (a file may also hold other days); *rows in period* are the "
        "file's rows dated in the period. A quarantined row failed a check and is kept aside with its "
        "reason instead of being loaded: it is missing from the figures above."
    )
)
if files.empty:
    display(Markdown("No rows of the period in the warehouse."))
else:
    display(
        table(
            data_quality.ledger_totals(files).reset_index().replace({"pipeline": SOURCE_NAMES}),
            [
                Col("pipeline", "Source"),
                Col("files", "Files", "count"),
                Col("rows_in_period", "Rows in period", "count"),
                Col("rows_in", "Rows in", "count"),
                Col("rows_loaded", "Loaded", "count"),
                Col("rows_quarantined", "Quarantined", "count"),
            ],
        )
    )
file_columns = [
    Col("pipeline", "Source"),
    Col("source_uri", "File"),
    Col("rows_in_period", "Rows in period", "count"),
    Col("status", "Status"),
    Col("rows_in", "Rows in", "count"),
    Col("rows_loaded", "Loaded", "count"),
    Col("rows_quarantined", "Quarantined", "count"),
]
if not files.empty:
    quarantining = files[files["rows_quarantined"].fillna(0) > 0]
    display(
        table(
            quarantining.replace({"pipeline": SOURCE_NAMES}),
            file_columns,
            caption="Files with quarantined rows",
            empty="No file of the period had rows quarantined.",
        )
    )
    not_loaded = files[files["status"] != "LOADED"]
    if not not_loaded.empty:
        display(
            table(
                not_loaded.replace({"pipeline": SOURCE_NAMES}),
                file_columns,
                caption="Files the ledger does not have as loaded",
            )
        )
if failures.empty:
    display(Markdown("No PayPal or payment file is failing: nothing is waiting to be loaded again."))
else:
    display(
        Markdown(
            f"**Warning: the period may be incomplete.** {len(failures)} PayPal or payment file(s) failed "
            "to load and have not been loaded again since. Whatever day their rows are, they are in none "
            "of the figures above; once the data team has fixed and replayed them, run this report again."
        )
    )
    display(
        table(
            failures.replace({"pipeline": SOURCE_NAMES}),
            [
                Col("pipeline", "Source"),
                Col("source_uri", "File"),
                Col("error_type", "Error"),
                Col("message", "Message"),
                Col("failed_at", "Failed at", "date"),
                Col("attempts", "Attempts", "count"),
            ],
        )
    )
checks = validation_results.latest_results(client, settings.ops_dataset, sources["ledger_key"])
if checks.empty:
    display(Markdown("None of these files has validation results."))
else:
    failed_checks = validation_results.failed_expectations(checks)
    validated = checks["ledger_key"].nunique()
    if failed_checks.empty:
        display(Markdown(f"Every check passed on all {validated:,} validated files."))
    else:
        display(Markdown(f"{validated:,} files checked before loading; the checks that failed:"))
        display(
            table(
                failed_checks.reset_index().replace({"pipeline": SOURCE_NAMES}),
                [
                    Col("pipeline", "Source"),
                    Col("expectation_id", "Check", "id"),
                    Col("severity", "Severity"),
                    Col("column_name", "Column"),
                    Col("files", "Files", "count"),
                    Col("unexpected_rows", "Rows caught", "count"),
                ],
            )
        )
