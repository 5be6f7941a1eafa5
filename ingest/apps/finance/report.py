"""What the reconciliation report (``notebooks/reconciliation_report.py``) reads, writes and sends.

The notebook displays; the queries and aggregations behind each of its sections live here, so
they are typed, tested through the report and reusable. Everything is read for a period of
``ingest.apps.finance.reconcile``: the materialised models, the raw tables' lineage columns (which files fed
the period), the ingestion ledger and the validation results. ``publish_alert`` tells people
about reversals and chargebacks on the alerts topic.

Nothing here selects a payer's email hash or any other payer field: the report has no use for
them, so they never reach its tables or files.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.adapters import bigquery_warehouse as warehouse
from ingest.apps.finance import reconcile
from ingest.core.settings import NOTEBOOKS_DIR

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.adapters.dynamodb_ledger import Ledger
    from ingest.apps.reports.notebook_run import NotebookRun
    from ingest.core.config import Pipeline
    from ingest.ingestion.services import Services

NOTEBOOK = NOTEBOOKS_DIR / "reconciliation_report.py"
REPORT_FILE = "report.html"
EXPORT_FILE = "accounting_export.csv"
EXCEPTIONS_FILE = "exceptions.csv"
FIGURES_FILE = "figures.json"
OUTPUT_FILES = (REPORT_FILE, EXPORT_FILE, EXCEPTIONS_FILE, FIGURES_FILE)

# The raw tables whose rows the period is made of, and the column each dates its rows by, as
# the SQL models read them.
SOURCE_DATES = {
    "paypal_transactions": "transaction_initiation_date",
    "payment_transactions": "payment_date",
}
CENT = Decimal("0.01")
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
_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+")


def masked(text: str | None) -> str:
    """``text`` with anything shaped like an email address replaced: error messages may quote data."""
    return _EMAIL.sub("…@…", text or "")


# -- the files the report writes before it shows anything -----------------------------------------


@dataclass(frozen=True)
class PeriodFiles:
    """The period's accounting export, exceptions and headline figures, and where they were written."""

    export: pd.DataFrame
    exceptions: pd.DataFrame
    figures: dict[str, Any]
    paths: dict[str, Path]


def write_period_files(
    client: bigquery.Client,
    tables: reconcile.Tables,
    period: reconcile.Period,
    options: reconcile.Options,
    output_dir: Path,
) -> PeriodFiles:
    """Write ``accounting_export.csv``, ``exceptions.csv`` and ``figures.json`` into ``output_dir``.

    Each file is written whole under a temporary name and then renamed, so a reader (a scheduler,
    the accounting import) never sees half a file.
    """
    from ingest.apps.reports.present import spreadsheet_safe

    export = reconcile.accounting_export(client, tables, period, options)
    exceptions = reconcile.exceptions(client, tables, period, options)
    exceptions["date"] = exceptions["date"].astype(str)
    figures = reconcile.figures(client, tables, period, exceptions, options)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        EXPORT_FILE: output_dir / EXPORT_FILE,
        EXCEPTIONS_FILE: output_dir / EXCEPTIONS_FILE,
        FIGURES_FILE: output_dir / FIGURES_FILE,
    }
    # Text from the lake (ids, reasons quoting them) must not run as a formula in a spreadsheet.
    _write_atomically(paths[EXPORT_FILE], spreadsheet_safe(export).to_csv(index=False))
    _write_atomically(paths[EXCEPTIONS_FILE], spreadsheet_safe(exceptions).to_csv(index=False))
    _write_atomically(paths[FIGURES_FILE], json.dumps(figures, indent=2, default=str) + "\n")
    return PeriodFiles(export, exceptions, figures, paths)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# -- running the notebook -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProducedReport:
    """A report run: its folder, the executed notebook, the figures, and why it failed if it did."""

    out_dir: Path
    notebook: NotebookRun
    figures: dict[str, Any] | None

    @property
    def error(self) -> str | None:
        if self.notebook.error is not None:
            return self.notebook.error
        return None if self.figures is not None else f"no {FIGURES_FILE} written"

    @property
    def report_path(self) -> Path:
        return self.out_dir / REPORT_FILE

    @property
    def files(self) -> dict[str, Path]:
        """The output files that exist, by what they are."""
        labels = {
            REPORT_FILE: "report",
            EXPORT_FILE: "accounting export",
            EXCEPTIONS_FILE: "exceptions",
            FIGURES_FILE: "figures",
        }
        return {
            label: self.out_dir / name for name, label in labels.items() if (self.out_dir / name).is_file()
        }


def produce(
    period: reconcile.Period, out_root: Path, options: reconcile.Options | None = None
) -> ProducedReport:
    """Reconcile the period and run the report notebook into ``<out_root>/<start>_<end>/``.

    A failing cell does not raise: it is in ``error``, and the executed notebook is kept.
    """
    from ingest.apps.reports.notebook_run import run_notebook

    if not NOTEBOOK.is_file():
        raise FileNotFoundError(
            f"reconciliation notebook not found: {NOTEBOOK} (reports run from a checkout of the repository)"
        )
    options = options or reconcile.Options()
    out_dir = (out_root / period.label).resolve()
    # A run that fails before writing its files must not leave an earlier run's passing for its own.
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    parameters = {
        "start_date": period.start.isoformat(),
        "end_date": period.end.isoformat(),
        "late_window_days": options.late_window_days,
        "nominal": options.nominal,
        "vat_basis": options.vat_basis,
        "refresh": True,
        "output_dir": str(out_dir),
    }
    run = run_notebook(NOTEBOOK, out_dir, parameters, title=f"PayPal reconciliation {period}")
    figures_path = out_dir / FIGURES_FILE
    figures = json.loads(figures_path.read_text(encoding="utf-8")) if figures_path.is_file() else None
    return ProducedReport(out_dir, run, figures)


# -- headline -------------------------------------------------------------------------------------

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
    from ingest.apps.reports.present import format_value

    # Amounts and counts share a currency's column, so each is written out here, for people.
    rows = [
        (name, label)
        for name, label in _HEADLINE_ROWS
        if name in _CORE_FIGURES or any(reconcile.cent(by_currency[c].get(name)) for c in currencies)
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
                "paypal_amount": _sum(of_kind["paypal_amount"]),
                "our_amount": _sum(of_kind["our_amount"]),
                "what to do": action,
            }
        )
    return pd.DataFrame(rows, columns=["kind", "items", "paypal_amount", "our_amount", "what to do"])


def _sum(values: Iterable[Any]) -> Decimal | None:
    amounts = [v for v in (reconcile.cent(value) for value in values) if v is not None]
    return sum(amounts, Decimal("0.00")) if amounts else None


# -- revenue and VAT ------------------------------------------------------------------------------


def _query(client: bigquery.Client, sql: str, period: reconcile.Period) -> pd.DataFrame:
    return warehouse.query_dataframe(client, sql, {"start": period.start, "end": period.end})


def revenue_by_country(
    client: bigquery.Client, tables: reconcile.Tables, period: reconcile.Period
) -> pd.DataFrame:
    """Per buyer country over the period: sales, money given back, revenue, net, VAT and tax code."""
    sql = f"""
    SELECT country_code, country_name, tax_code, vat_rate, currency,
      SUM(sales) AS sales, SUM(gross_sales) AS gross_sales, SUM(refunds) AS refunds,
      SUM(reversals) AS reversals, SUM(chargebacks) AS chargebacks,
      SUM(chargeback_reversals) AS chargeback_reversals, SUM(revenue) AS revenue,
      SUM(net_amount) AS net_amount, SUM(vat_amount) AS vat_amount
    FROM `{tables.model("revenue_by_country")}`
    WHERE day BETWEEN @start AND @end
    GROUP BY country_code, country_name, tax_code, vat_rate, currency
    ORDER BY currency, revenue DESC, country_code
    """
    frame = _query(client, sql, period)
    money = (
        "gross_sales",
        "refunds",
        "reversals",
        "chargebacks",
        "chargeback_reversals",
        "revenue",
        "net_amount",
        "vat_amount",
    )
    frame = reconcile.in_cents(frame, money)
    frame["vat_rate"] = [_percent(rate) for rate in frame["vat_rate"]]
    return frame


def _percent(rate: Any) -> str | None:
    """0.19 as ``19%``, 0.055 as ``5.5%``; None without a known rate."""
    if reconcile.cent(rate) is None:
        return None
    return f"{(Decimal(str(rate)) * 100).quantize(CENT).normalize():f}%"


def products_by_country(
    client: bigquery.Client, tables: reconcile.Tables, period: reconcile.Period
) -> pd.DataFrame:
    """Per buyer country and product: completed PayPal items that paired with a payment of ours
    (matched, late or with another amount), and their amount at PayPal."""
    sql = f"""
    SELECT payer_country_code AS country_code, product_name, currency,
      COUNT(*) AS items, SUM(paypal_amount) AS amount
    FROM `{tables.model("matches")}`
    WHERE day BETWEEN @start AND @end
      AND status IN ('matched', 'late', 'amount_mismatch') AND paypal_status IN ('S', 'V')
    GROUP BY country_code, product_name, currency
    ORDER BY country_code, amount DESC, product_name
    """
    return reconcile.in_cents(_query(client, sql, period), ("amount",))


# -- money taken back and the daily trend ------------------------------------------------------------


def taken_back(client: bigquery.Client, tables: reconcile.Tables, period: reconcile.Period) -> pd.DataFrame:
    """The period's refunds, reversals, chargebacks (with their fees and reversals) and dispute
    holds, each with the sale it is about (followed through PayPal's reference chain), its day and
    its country."""
    rows = reconcile.model_rows(client, tables, "adjustments", period)
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
    frame = reconcile.in_cents(rows[columns], ("amount", "fee"))
    for column in ("day", "original_day"):
        frame[column] = [None if value is None or value != value else str(value) for value in frame[column]]
    return frame.reset_index(drop=True)


def daily_trend(client: bigquery.Client, tables: reconcile.Tables, period: reconcile.Period) -> pd.DataFrame:
    """Per day and currency: PayPal's gross sales and the total of our payments, as the headline
    counts them (every day of the period, zero when nothing happened)."""
    sql = f"""
    WITH paypal AS (
      SELECT day, currency, SUM(gross_sales) AS paypal_gross
      FROM `{tables.model("daily_balances")}` WHERE day BETWEEN @start AND @end
      GROUP BY day, currency
    ),
    ours AS (
      SELECT DATE(payment_date) AS day, currency_code AS currency, SUM(total_cost) AS our_total
      FROM `{tables.sources["payment_transactions"]}`
      WHERE payment_date >= TIMESTAMP(@start) AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
        AND {reconcile.PAYMENT_HAPPENED}
      GROUP BY day, currency
    )
    SELECT day, currency, IFNULL(paypal_gross, 0) AS paypal_gross, IFNULL(our_total, 0) AS our_total
    FROM paypal FULL OUTER JOIN ours USING (day, currency)
    ORDER BY currency, day
    """
    frame = reconcile.in_cents(_query(client, sql, period), ("paypal_gross", "our_total"))
    frame["day"] = frame["day"].astype(str)
    return frame


# -- data quality ---------------------------------------------------------------------------------


def period_sources(
    client: bigquery.Client, tables: reconcile.Tables, period: reconcile.Period
) -> pd.DataFrame:
    """The files the period's PayPal records and payment rows come from: pipeline, URI, ETag,
    ledger key and how many of the period's rows each holds."""
    selects = []
    for pipeline, column in SOURCE_DATES.items():
        selects.append(
            f"SELECT '{pipeline}' AS pipeline, _source_uri AS source_uri, _source_etag AS source_etag,"
            f" COUNT(*) AS rows_in_period FROM `{tables.sources[pipeline]}`"
            f" WHERE {column} >= TIMESTAMP(@start) AND {column} < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))"
            " GROUP BY source_uri, source_etag"
        )
    sql = "\nUNION ALL\n".join(selects) + "\nORDER BY pipeline, source_uri"
    frame = _query(client, sql, period)
    # The ledger and the validation results know a file version by URI and ETag.
    frame["ledger_key"] = frame["source_uri"] + "#" + frame["source_etag"]
    return frame


LEDGER_COLUMNS = [
    "pipeline",
    "source_uri",
    "rows_in_period",
    "status",
    "rows_in",
    "rows_loaded",
    "rows_quarantined",
    "finished_at",
]


def ledger_quality(ledger: Ledger, sources: pd.DataFrame) -> pd.DataFrame:
    """Each source file's ledger entry: status and its rows in, loaded and quarantined (the whole
    file's, which may hold days outside the period)."""
    import pandas as pd

    from ingest.core.model import FileRef

    rows = []
    for source in sources.to_dict("records"):
        bucket, key = source["source_uri"].removeprefix("s3://").split("/", 1)
        entry = ledger.get(FileRef.of(bucket, key, source["source_etag"]))
        rows.append(
            {
                "pipeline": source["pipeline"],
                "source_uri": source["source_uri"],
                "rows_in_period": int(source["rows_in_period"]),
                "status": entry.status if entry else "(not in the ledger)",
                "rows_in": entry.rows_in if entry else None,
                "rows_loaded": entry.rows_loaded if entry else None,
                "rows_quarantined": entry.rows_quarantined if entry else None,
                "finished_at": entry.finished_at if entry else None,
            }
        )
    frame = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    for column in ("rows_in", "rows_loaded", "rows_quarantined"):
        frame[column] = frame[column].astype("Int64")
    return frame


def ledger_totals(files: pd.DataFrame) -> pd.DataFrame:
    """Per pipeline: files, the period's rows, and the files' rows in, loaded and quarantined."""
    totals = files.groupby("pipeline").agg(
        files=("source_uri", "nunique"),
        rows_in_period=("rows_in_period", "sum"),
        rows_in=("rows_in", "sum"),
        rows_loaded=("rows_loaded", "sum"),
        rows_quarantined=("rows_quarantined", "sum"),
        files_with_quarantined_rows=("rows_quarantined", lambda rows: int((rows.fillna(0) > 0).sum())),
        files_not_in_ledger=("status", lambda status: int((status == "(not in the ledger)").sum())),
    )
    return totals


FAILED_COLUMNS = ["pipeline", "source_uri", "error_type", "message", "failed_at", "attempts"]


def unreplayed_failures(ledger: Ledger, pipelines: Iterable[Pipeline]) -> pd.DataFrame:
    """Files of ``pipelines`` whose ingestion failed and that ``ingest replay`` has not ingested
    since, whenever they failed: rows of any day may be in them."""
    import pandas as pd

    from ingest.adapters.dynamodb_ledger import FILE_ITEM
    from ingest.core.model import Status

    # The table tells the pipeline apart from a namesake reading into another table.
    by_table = {p.table_id: p.name for p in pipelines}
    rows = [
        {
            "pipeline": by_table[entry.table],
            "source_uri": f"s3://{entry.bucket}/{entry.key}",
            "error_type": entry.error_type,
            "message": masked(entry.error_message),
            "failed_at": entry.finished_at,
            "attempts": entry.attempts,
        }
        # A replayed failure's FILE item holds the replay's outcome; FAILED ones are still failing.
        for entry in ledger.entries(status=Status.FAILED)
        if entry.sk == FILE_ITEM and entry.table in by_table
    ]
    return pd.DataFrame(rows, columns=FAILED_COLUMNS).sort_values(
        ["pipeline", "source_uri"], ignore_index=True
    )


VALIDATION_COLUMNS = [
    c.name for c in warehouse.VALIDATION_RESULTS_COLUMNS if c.name != "sample_rows"
]  # sample rows are row data: never read into a report


def validation_quality(client: bigquery.Client, ops_dataset: str, ledger_keys: Iterable[str]) -> pd.DataFrame:
    """The latest validation results of the files ``ledger_keys``, one row per expectation."""
    import pandas as pd
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    keys = sorted(set(ledger_keys))
    table = f"{client.project}.{ops_dataset}.{warehouse.VALIDATION_RESULTS_TABLE}"
    empty = pd.DataFrame(columns=VALIDATION_COLUMNS)
    if not keys:
        return empty
    try:
        client.get_table(table)
    except NotFound:
        return empty  # no file has been validated in this project yet
    sql = f"SELECT {', '.join(VALIDATION_COLUMNS)} FROM `{table}` WHERE ledger_key IN UNNEST(@keys)"
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ArrayQueryParameter("keys", "STRING", keys)])
    frame = pd.DataFrame(
        [dict(row.items()) for row in client.query(sql, job_config=config).result()],
        columns=VALIDATION_COLUMNS,
    )
    if frame.empty:
        return frame
    # A file validated more than once (a group load that failed, then one by one) counts once.
    latest = frame.groupby("ledger_key")["validated_at"].transform("max")
    return frame[frame["validated_at"] == latest].reset_index(drop=True)


def failed_expectations(results: pd.DataFrame) -> pd.DataFrame:
    """Per pipeline and expectation that failed or errored: files and rows it found unexpected."""
    import pandas as pd

    failed = results[~results["success"].astype(bool) | results["error"].notna()]
    if failed.empty:
        return pd.DataFrame(columns=["files", "unexpected_rows"])
    return (
        failed.fillna({"column_name": "", "unexpected_count": 0})
        .groupby(["pipeline", "expectation_id", "severity", "column_name"])
        .agg(files=("ledger_key", "nunique"), unexpected_rows=("unexpected_count", "sum"))
        .sort_values(["pipeline", "unexpected_rows"], ascending=[True, False])
    )


# -- alerting -------------------------------------------------------------------------------------

SUBJECT_LIMIT = 100  # SNS refuses longer subjects


class AlertTopicNotFound(LookupError):
    """The alerts topic named in the settings does not exist."""


def alert_subject(figures: dict[str, Any]) -> str:
    """``PayPal reconciliation 2021-07-01 - 2021-07-31: 2 reversals, 2 chargebacks``."""
    counts = figures.get("exceptions") or {}
    parts = [_plural(int(counts.get(kind, 0)), kind) for kind in ("reversal", "chargeback")]
    subject = f"PayPal reconciliation {figures['start']} - {figures['end']}: {', '.join(parts)}"
    return subject[:SUBJECT_LIMIT]


def alert_message(figures: dict[str, Any], report_path: Path | str) -> str:
    """The alert's text: counts and amounts of the reversals and chargebacks, and where the report is."""
    counts = figures.get("exceptions") or {}
    lines = [f"PayPal reconciliation {figures['start']} - {figures['end']}", ""]
    for kind, amount_key in (("reversal", "reversals"), ("chargeback", "chargebacks")):
        amounts = [
            f"{values[amount_key]} {currency}"
            for currency, values in (figures.get("by_currency") or {}).items()
            if values.get(amount_key) not in (None, "0.00")
        ]
        total = f" totalling {', '.join(amounts)}" if amounts else ""
        lines.append(f"{_plural(int(counts.get(kind, 0)), kind)}{total}")
    lines += [
        "",
        "PayPal took back payments made earlier. The report's section 'Reversals and chargebacks' "
        "lists each with its original payment and buyer country.",
        f"Exceptions in the period: {figures.get('exceptions_total', 0)} "
        f"({', '.join(f'{kind} {n}' for kind, n in counts.items() if n) or 'none'}).",
        "",
        f"Report: {report_path}",
    ]
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def topic_arn(sns: Any, topic: str) -> str:
    """The ARN of the alerts topic, given as an ARN or as a name.

    A name is looked up with ListTopics, never created: production runs with ``sns:Publish``
    only and is configured with the ARN.
    """
    if topic.startswith("arn:"):
        return topic
    for page in sns.get_paginator("list_topics").paginate():
        for found in page.get("Topics", []):
            if found["TopicArn"].rsplit(":", 1)[-1] == topic:
                return str(found["TopicArn"])
    raise AlertTopicNotFound(
        f"the alerts topic {topic!r} does not exist in this account and region: "
        "set INGEST_ALERTS_TOPIC to the topic's ARN, or create it (deploy/template.yaml)"
    )


def publish_alert(services: Services, figures: dict[str, Any], report_path: Path | str) -> str | None:
    """Publish one message about the period's reversals and chargebacks to the alerts topic.

    Returns the SNS message id, or None when the period has neither.
    """
    from ingest.adapters.clients import aws_client

    counts = figures.get("exceptions") or {}
    if int(counts.get("reversal", 0)) + int(counts.get("chargeback", 0)) == 0:
        return None
    sns = aws_client("sns")
    response = sns.publish(
        TopicArn=topic_arn(sns, services.settings.alerts_topic),
        Subject=alert_subject(figures),
        Message=alert_message(figures, report_path),
    )
    return str(response["MessageId"])
