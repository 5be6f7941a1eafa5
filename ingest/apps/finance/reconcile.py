"""The PayPal revenue reconciliation: SQL models in ``ingest/sql/`` materialised per day in BigQuery.

``run`` recomputes the days of a period for every model and swaps them into the model's table
with one MERGE each (new rows in, the period's old rows out, atomically), so reconciling a day
again replaces that day and a month is exactly its days. Models read the raw tables named by
the pipelines ``paypal_transactions``, ``payment_transactions``, ``country_tax_codes`` and
``vat_rates``, and the models before them. The read functions (``exceptions``,
``accounting_export``, ...) query the materialised tables for any period.
"""

from __future__ import annotations

import datetime
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.adapters import bigquery_warehouse as warehouse
from ingest.core import paypal
from ingest.core.config import Column, ConfigError, Pipeline

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.ingestion.services import Services

SQL_DIR = Path(__file__).resolve().parent / "sql"
SOURCE_PIPELINES = ("paypal_transactions", "payment_transactions", "country_tax_codes", "vat_rates")
# What to load when a source table is missing, for the one-line error a user gets.
SOURCE_HINTS = {
    "paypal_transactions": "PayPal Transaction Search pages under paypal/transactions/",
    "payment_transactions": "the game's payment exports under payments/transactions/ or payments/exports/",
    "country_tax_codes": "the country tax code table under reference/country_tax_codes/",
    "vat_rates": "the VAT rate table under reference/vat_rates/",
}
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
VAT_BASES = ("transaction", "line")
# Our payment rows that count: a failed or cancelled payment never happened on the game's side,
# so it has nothing to match and adds nothing to our total. SQL files write it `${payment_happened}`.
PAYMENT_HAPPENED = "IFNULL(transaction_status, '') NOT IN ('failed', 'cancelled')"
# Column headers of the accounting system's import, in its order.
EXPORT_COLUMNS = {
    "account_reference": "Account Reference",
    "nominal_reference": "Nominal A/C Reference",
    "date": "Date",
    "reference": "Reference",
    "narrative": "Narrative",
    "vat_code": "VAT code",
    "net_amount": "Net Amount",
    "vat_amount": "VAT Amount",
}


@dataclass(frozen=True)
class Options:
    """What finance may tune; the defaults are the studio's."""

    late_window_days: int = 3
    """How many days apart PayPal's booking and our payment row may be and still pair (late)."""
    sale_codes: tuple[str, ...] = ("T0006", "T0007")
    """PayPal event codes of payments received: their completed records are the sales."""
    reference_lookback_days: int = 365
    """How far before the period the payment a refund, reversal or chargeback takes back is sought."""
    balance_lookback_days: int = 35
    """How far back the last balance before the period is sought."""
    nominal: str = "4000"
    """Nominal account the export books sales to."""
    vat_basis: str = "transaction"
    """How VAT is rounded: ``transaction`` (each sale and each refund on its own, as its invoice;
    days and months are exact sums of them) or ``line`` (once per day and country line)."""
    account_currency: str = "USD"
    """The PayPal account's primary currency: the headline's; every other currency has its own figures."""

    def __post_init__(self) -> None:
        for name in ("late_window_days", "reference_lookback_days", "balance_lookback_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not self.sale_codes:
            raise ValueError("sale_codes must name at least one PayPal event code")
        if self.vat_basis not in VAT_BASES:
            raise ValueError(f"vat_basis must be one of {', '.join(VAT_BASES)}, got {self.vat_basis!r}")


@dataclass(frozen=True)
class Model:
    """One SQL model: the file computing its rows for @start..@end, and its table's columns."""

    name: str
    columns: tuple[Column, ...]
    cluster_by: tuple[str, ...] = ()

    @property
    def sql_file(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"


def _columns(spec: str) -> tuple[Column, ...]:
    """``"day DATE!, status STRING"`` -> columns; ``!`` marks REQUIRED."""
    columns = []
    for part in spec.split(","):
        name, type_ = part.split()
        required = type_.endswith("!")
        columns.append(Column(name, type_.rstrip("!"), "REQUIRED" if required else "NULLABLE"))
    return tuple(columns)


# In the order they run: revenue_by_country reads matches and adjustments.
MODELS = (
    Model(
        "matches",
        _columns(
            "day DATE!, status STRING!, paypal_transaction_id STRING, paypal_event_code STRING, "
            "paypal_status STRING, paypal_day DATE, item_code STRING, product_name STRING, "
            "currency STRING, paypal_amount NUMERIC, paypal_item_amount NUMERIC, paypal_quantity INT64, "
            "payer_country_code STRING, payer_email_hash STRING, payment_transaction_id INT64, "
            "our_day DATE, our_amount NUMERIC, our_quantity INT64, our_country_code STRING, "
            "days_late INT64, mismatch_component STRING, vat_country_code STRING"
        ),
        cluster_by=("status",),
    ),
    Model(
        "adjustments",
        _columns(
            "day DATE!, kind STRING!, paypal_transaction_id STRING!, paypal_event_code STRING!, "
            "currency STRING, amount NUMERIC, fee NUMERIC, reference_id STRING, "
            "original_transaction_id STRING, original_day DATE, linked BOOL!, country_code STRING, "
            "item_code STRING, payment_transaction_id INT64"
        ),
        cluster_by=("kind",),
    ),
    Model(
        "daily_balances",
        _columns(
            "day DATE!, currency STRING!, opening_balance NUMERIC, gross_sales NUMERIC, fees NUMERIC, "
            "refunds NUMERIC, reversals NUMERIC, chargebacks NUMERIC, chargeback_reversals NUMERIC, "
            "chargeback_fees NUMERIC, holds NUMERIC, conversions NUMERIC, withdrawals NUMERIC, "
            "other NUMERIC, unknown NUMERIC, activity NUMERIC, closing_balance NUMERIC, "
            "difference NUMERIC, balanced BOOL, pending_gross NUMERIC, records INT64"
        ),
        cluster_by=("currency",),
    ),
    Model(
        "balance_breaks",
        _columns(
            "day DATE!, currency STRING!, at TIMESTAMP!, paypal_transaction_id STRING!, "
            "paypal_event_code STRING, previous_transaction_id STRING, previous_at TIMESTAMP, "
            "balance_before NUMERIC, "
            "net NUMERIC, expected_balance NUMERIC, reported_balance NUMERIC, difference NUMERIC"
        ),
        cluster_by=("currency",),
    ),
    Model(
        "revenue_by_country",
        _columns(
            "day DATE!, country_code STRING, country_name STRING, tax_code STRING, vat_rate NUMERIC, "
            "vat_name STRING, currency STRING, sales INT64, gross_sales NUMERIC, refunds NUMERIC, "
            "reversals NUMERIC, chargebacks NUMERIC, chargeback_reversals NUMERIC, revenue NUMERIC, "
            "net_amount NUMERIC, vat_amount NUMERIC"
        ),
        cluster_by=("country_code",),
    ),
)


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def parse(cls, start: str, end: str | None = None) -> Period:
        """``2021-07-03`` (a day), ``2021-07`` (a month), or a start and an end day."""
        first, last = _bounds(start)
        if end is not None:
            last = _bounds(end)[1]
        return cls(first, last)

    @property
    def days(self) -> list[datetime.date]:
        return [self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def __str__(self) -> str:
        return f"{self.start.isoformat()} - {self.end.isoformat()}"


def _bounds(text: str) -> tuple[datetime.date, datetime.date]:
    try:
        if len(text) == 7:  # YYYY-MM
            first = datetime.date.fromisoformat(f"{text}-01")
            following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            return first, following - datetime.timedelta(days=1)
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a day YYYY-MM-DD or a month YYYY-MM, got {text!r}") from None
    return day, day


@dataclass(frozen=True)
class Tables:
    """Fully qualified table ids the SQL is rendered with."""

    sources: dict[str, str]
    recon_dataset: str
    project: str

    @classmethod
    def of(cls, pipelines: tuple[Pipeline, ...], recon_dataset: str, project: str) -> Tables:
        by_name = {p.name: p for p in pipelines}
        missing = [name for name in SOURCE_PIPELINES if name not in by_name]
        if missing:
            raise ConfigError(
                f"reconciliation needs the pipelines {', '.join(missing)}, which are not configured"
            )
        return cls(
            {name: f"{project}.{by_name[name].table_id}" for name in SOURCE_PIPELINES}, recon_dataset, project
        )

    @classmethod
    def for_services(cls, services: Services) -> Tables:
        return cls.of(services.pipelines, services.settings.recon_dataset, services.bigquery.project)

    def model(self, name: str) -> str:
        return f"{self.project}.{self.recon_dataset}.{name}"

    def mapping(self) -> dict[str, str]:
        return {**self.sources, **{m.name: self.model(m.name) for m in MODELS}}


def event_class_sql(column: str = "transaction_event_code") -> str:
    """A Standard SQL expression naming the class of a PayPal record by its event code
    (``sale``, an adjustment kind, ``conversion``, ``withdrawal``, ``other`` or ``unknown``),
    built from ``ingest.core.paypal`` so the suite, the SQL and the report agree. Sales are the
    ``@sale_codes`` parameter (Options.sale_codes)."""
    classes = [
        *paypal.ADJUSTMENT_CODES.items(),
        ("conversion", paypal.CONVERSION_CODES),
        ("withdrawal", paypal.WITHDRAWAL_CODES),
    ]
    whens = [f"WHEN {column} IN UNNEST(@sale_codes) THEN 'sale'"]
    whens += [f"WHEN {column} IN {paypal.sql_in(codes)} THEN '{name}'" for name, codes in classes]
    whens.append(f"WHEN {column} IN {paypal.sql_in(paypal.KNOWN_EVENT_CODES)} THEN 'other'")
    return "CASE " + " ".join(whens) + " ELSE 'unknown' END"


def render(name: str, tables: Tables) -> str:
    """The SQL file ``name`` with its ``${table}`` and ``${fragment}`` placeholders filled in.

    Fragments (``sql/fragments/*.sql``) are CTEs two models share, rendered the same way.
    """
    values = {
        **tables.mapping(),
        "payment_happened": PAYMENT_HAPPENED,
        "event_class": event_class_sql(),
        "adjustment_kinds": "(" + ", ".join(f"'{kind}'" for kind in paypal.ADJUSTMENT_CODES) + ")",
    }
    for fragment in sorted((SQL_DIR / "fragments").glob("*.sql")):
        values[fragment.stem] = string.Template(fragment.read_text(encoding="utf-8")).substitute(values)
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


class MissingSourceTable(LookupError):
    """A table the reconciliation reads was never loaded."""


def check_sources(client: bigquery.Client, tables: Tables) -> None:
    """Raise ``MissingSourceTable`` naming the first source table that does not exist and how
    to load it: one line, instead of BigQuery's 404 from inside a model."""
    from google.api_core.exceptions import NotFound

    for pipeline, table in tables.sources.items():
        try:
            client.get_table(table)
        except NotFound:
            raise MissingSourceTable(
                f"{table} does not exist: load {SOURCE_HINTS[pipeline]} first "
                f"(upload them to the lake and run `ingest run`), then reconcile again"
            ) from None


@dataclass(frozen=True)
class ModelRun:
    model: str
    inserted: int | None
    deleted: int | None
    seconds: float


@dataclass(frozen=True)
class ReconcileRun:
    period: Period
    models: list[ModelRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "models": [vars(m) for m in self.models],
        }


def run(
    client: bigquery.Client,
    tables: Tables,
    period: Period,
    options: Options = Options(),
) -> ReconcileRun:
    """Recompute every model for the days of ``period`` and replace those days in its table."""
    check_sources(client, tables)
    warehouse.ensure_dataset(client, tables.recon_dataset)
    result = ReconcileRun(period)
    for model in MODELS:
        began = time.monotonic()
        _ensure_model_table(client, tables, model)
        job = client.query(
            replace_days_statement(model, tables),
            job_config=_job_config(period, options),
        )
        job.result()
        stats = getattr(job, "dml_stats", None)
        result.models.append(
            ModelRun(
                model.name,
                getattr(stats, "inserted_row_count", None),
                getattr(stats, "deleted_row_count", None),
                round(time.monotonic() - began, 3),
            )
        )
    return result


def replace_days_statement(model: Model, tables: Tables) -> str:
    """One MERGE that inserts the model's rows for @start..@end and deletes the rows those days
    held before: atomic, so a reader sees the old days or the new, never neither or both."""
    names = [c.name for c in model.columns]
    return (
        f"MERGE `{tables.model(model.name)}` AS target\n"
        f"USING (\n{render(model.name, tables)}\n) AS source\n"
        "ON FALSE\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)})\n"
        f"  VALUES ({', '.join(f'source.{n}' for n in names)})\n"
        "WHEN NOT MATCHED BY SOURCE AND target.day BETWEEN @start AND @end THEN DELETE"
    )


def _ensure_model_table(client: bigquery.Client, tables: Tables, model: Model) -> None:
    from google.cloud import bigquery

    table = bigquery.Table(
        tables.model(model.name), schema=[warehouse.schema_field(c) for c in model.columns]
    )
    table.time_partitioning = bigquery.TimePartitioning(field="day")
    if model.cluster_by:
        table.clustering_fields = list(model.cluster_by)
    existing = client.create_table(table, exists_ok=True)
    # A table made by an earlier version lacks the columns added since: add them (NULLABLE, as
    # BigQuery allows), so the days already reconciled stay and the new ones fill every column.
    have = {field.name for field in existing.schema}
    added = [warehouse.schema_field(Column(c.name, c.type)) for c in model.columns if c.name not in have]
    if added:
        existing.schema = [*existing.schema, *added]
        client.update_table(existing, ["schema"])


def _job_config(period: Period, options: Options) -> bigquery.QueryJobConfig:
    """The parameters of every model; each uses those it needs, and BigQuery ignores the rest."""
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("start", "DATE", period.start),
            bigquery.ScalarQueryParameter("end", "DATE", period.end),
            bigquery.ScalarQueryParameter("late_window_days", "INT64", options.late_window_days),
            bigquery.ScalarQueryParameter(
                "reference_lookback_days", "INT64", options.reference_lookback_days
            ),
            bigquery.ScalarQueryParameter("balance_lookback_days", "INT64", options.balance_lookback_days),
            bigquery.ArrayQueryParameter("sale_codes", "STRING", list(options.sale_codes)),
            bigquery.ScalarQueryParameter("vat_basis", "STRING", options.vat_basis),
        ]
    )


# -- reading the materialised models --------------------------------------------------------------


def _read(client: bigquery.Client, sql: str, period: Period, **params: Any) -> pd.DataFrame:
    return warehouse.query_dataframe(client, sql, {"start": period.start, "end": period.end, **params})


def model_rows(client: bigquery.Client, tables: Tables, model: str, period: Period) -> pd.DataFrame:
    """The rows of one materialised model for the period, in day order."""
    if model not in {m.name for m in MODELS}:
        raise ValueError(f"no such model: {model}")
    sql = f"SELECT * FROM `{tables.model(model)}` WHERE day BETWEEN @start AND @end ORDER BY day"
    frame = _read(client, sql, period)
    columns = next(m.columns for m in MODELS if m.name == model)
    return in_cents(frame, [c.name for c in columns if c.type == "NUMERIC" and c.name != "vat_rate"])


def exceptions(
    client: bigquery.Client, tables: Tables, period: Period, options: Options = Options()
) -> pd.DataFrame:
    """Every item finance has to act on, with its reason, by day then kind."""
    frame = _read(client, render("exceptions", tables), period, sale_codes=list(options.sale_codes))
    frame = frame.sort_values(["date", "kind", "item_code", "paypal_transaction_id"], na_position="first")
    frame = in_cents(frame, ["paypal_amount", "our_amount"])
    for column in ("payment_transaction_id", "days_late"):
        frame[column] = frame[column].astype("Int64")
    return frame.reset_index(drop=True)


def accounting_export(
    client: bigquery.Client, tables: Tables, period: Period, options: Options = Options()
) -> pd.DataFrame:
    """The accounting import for the period: its headers, DD/MM/YYYY dates, amounts as cents."""
    frame = _read(client, render("accounting_export", tables), period, nominal=options.nominal)
    export = frame[list(EXPORT_COLUMNS)].rename(columns=EXPORT_COLUMNS)
    return in_cents(export, ["Net Amount", "VAT Amount"]).reset_index(drop=True)


def in_cents(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy with the money ``columns`` (those present) as Decimals to the cent; gaps stay None.

    The emulator returns NUMERIC with nine places and pandas may hand back floats; finance reads
    cents, and CSVs keep them exact.
    """
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = [cent(value) for value in frame[column]]
    return frame


def cent(value: Any) -> Decimal | None:
    """An amount as a Decimal to the cent, None for a gap (None, NaN, NA)."""
    import pandas as pd

    if value is None or (not isinstance(value, str | Decimal) and pd.isna(value)):
        return None
    # Adding zero turns a negative zero ("-0.00") into 0.00.
    return Decimal(str(value)).quantize(Decimal("0.01")) + 0


# The headline's figures per currency, in the order finance reads them. Every one is a number in
# figures.json, 0 or "0.00" when nothing of its kind happened, never null.
FIGURE_AMOUNTS = (
    "paypal_gross",
    "paypal_fees",
    "paypal_net",
    "our_total",
    "matched_amount",
    "paypal_items_amount",
    "refunds",
    "reversals",
    "chargebacks",
    "chargeback_reversals",
    "chargeback_fees",
    "holds",
    "conversions",
    "withdrawals",
    "other",
    "unknown",
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
    options: Options = Options(),
) -> dict[str, Any]:
    """The headline numbers of the period, per currency, JSON-ready (amounts as strings).

    The top level holds the account currency's figures (``Options.account_currency``), except the
    balance headline, which covers every currency: ``balance_check`` is true only when every
    currency balanced on every day, ``days_not_balanced`` counts the days on which any did not,
    and ``currencies_not_balanced`` names them. ``found``: the period's ``exceptions`` when the
    caller already has them (counted, not read again).
    """
    sql = f"""
    WITH paypal AS (
      SELECT currency,
        SUM(gross_sales) AS paypal_gross, SUM(fees) AS paypal_fees,
        SUM(gross_sales + fees) AS paypal_net,
        SUM(refunds) AS refunds, SUM(reversals) AS reversals, SUM(chargebacks) AS chargebacks,
        SUM(chargeback_reversals) AS chargeback_reversals, SUM(chargeback_fees) AS chargeback_fees,
        SUM(holds) AS holds, SUM(conversions) AS conversions, SUM(withdrawals) AS withdrawals,
        SUM(other) AS other, SUM(unknown) AS unknown,
        ARRAY_AGG(opening_balance IGNORE NULLS ORDER BY day LIMIT 1)[SAFE_OFFSET(0)] AS opening_balance,
        ARRAY_AGG(closing_balance IGNORE NULLS ORDER BY day DESC LIMIT 1)[SAFE_OFFSET(0)] AS closing_balance,
        LOGICAL_AND(IFNULL(balanced, TRUE)) AS balance_check,
        SUM(difference) AS balance_difference,
        COUNTIF(NOT balanced) AS days_not_balanced
      FROM `{tables.model("daily_balances")}` WHERE day BETWEEN @start AND @end GROUP BY currency
    ),
    matching AS (
      SELECT currency,
        COUNTIF(status IN ('matched', 'late')) AS matched_count,
        SUM(IF(status IN ('matched', 'late'), paypal_amount, 0)) AS matched_amount,
        SUM(IF(paypal_status IN ('S', 'V'), paypal_amount, 0)) AS paypal_items_amount
      FROM `{tables.model("matches")}` WHERE day BETWEEN @start AND @end GROUP BY currency
    ),
    ours AS (
      SELECT currency_code AS currency, COUNT(*) AS our_count, SUM(total_cost) AS our_total
      FROM `{tables.sources["payment_transactions"]}`
      WHERE payment_date >= TIMESTAMP(@start) AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
        AND {PAYMENT_HAPPENED}
      GROUP BY currency
    ),
    revenue AS (
      SELECT currency, SUM(revenue) AS revenue, SUM(net_amount) AS net_revenue, SUM(vat_amount) AS vat
      FROM `{tables.model("revenue_by_country")}` WHERE day BETWEEN @start AND @end GROUP BY currency
    )
    SELECT * FROM paypal
    FULL OUTER JOIN matching USING (currency)
    FULL OUTER JOIN ours USING (currency)
    FULL OUTER JOIN revenue USING (currency)
    WHERE currency IS NOT NULL
    ORDER BY currency
    """
    frame = _read(client, sql, period)
    unbalanced_days = _read(
        client,
        f"SELECT DISTINCT day FROM `{tables.model('daily_balances')}` "
        "WHERE day BETWEEN @start AND @end AND NOT balanced",
        period,
    )
    if found is None:
        found = exceptions(client, tables, period, options)
    counts = found["kind"].value_counts()
    by_currency = {}
    for row in frame.to_dict("records"):
        currency = row.pop("currency")
        by_currency[currency] = _complete({name: _json_value(value) for name, value in row.items()})
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
