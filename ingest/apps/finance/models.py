"""The reconciliation's SQL models, the tables they read and write, and how their SQL is rendered.

Every statement is a ``.sql`` file under ``sql/``: the models (one per file, materialised per day
by ``reconcile.run``), ``sql/fragments/`` (CTEs two models share) and ``sql/report/`` (what the
report reads). ``render`` fills in their ``${...}`` placeholders with ``string.Template``: table
ids, checked here to be BigQuery identifiers and written inside backticks by the files, and
expressions built from ``ingest.core.paypal``. Values (days, codes, the nominal) never go into
the text: they are query parameters (``@start``, ``@end``, ...).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.adapters.bigquery.queries import query_dataframe
from ingest.apps.finance.money import in_cents
from ingest.core import paypal
from ingest.core.bigquery_names import table_id_problem
from ingest.core.config import Column, Pipeline
from ingest.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

    from ingest.apps.finance.period import Period
    from ingest.ingestion.services import Services

SQL_DIR = Path(__file__).resolve().parent / "sql"
SOURCE_PIPELINES = ("paypal_transactions", "payment_transactions", "country_tax_codes", "vat_rates")
# Our payment rows that count: a failed or cancelled payment never happened on the game's side,
# so it has nothing to match and adds nothing to our total. SQL files write it `${payment_happened}`.
PAYMENT_HAPPENED = "IFNULL(transaction_status, '') NOT IN ('failed', 'cancelled')"


# How a day's balance moved besides sales and their fees: one column of daily_balances per class
# of PayPal record, in the order the statement shows them. figures.json and the report read the
# same names.
MOVEMENT_CLASSES = (
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
)


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
            + "".join(f"{name} NUMERIC, " for name in MOVEMENT_CLASSES)
            + "activity NUMERIC, closing_balance NUMERIC, "
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
class Tables:
    """Fully qualified table ids the SQL is rendered with.

    Pipeline tables are checked where they enter (the pipeline YAML); the project and the
    reconciliation dataset come from the settings and are checked here, before any reaches SQL.
    """

    sources: dict[str, str]
    recon_dataset: str
    project: str

    def __post_init__(self) -> None:
        for table_id in [*self.sources.values(), *(self.model(m.name) for m in MODELS)]:
            # The core's rules for BigQuery names: nothing that could close the backticks the
            # SQL files put around an id, and no dot but those that part it.
            if problem := table_id_problem(table_id):
                raise ConfigError(f"not a BigQuery table id (project.dataset.table): {problem}")

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


def render(name: str, tables: Tables, **table_ids: str) -> str:
    """The SQL file ``name`` (``matches``, ``report/figures``) with its ``${table}`` and
    ``${fragment}`` placeholders filled in; ``table_ids`` name further tables (one of ``tables``).

    Fragments (``sql/fragments/*.sql``) are CTEs two models share, rendered the same way.
    """
    known = set(tables.mapping().values())
    unknown = sorted(set(table_ids.values()) - known)
    if unknown:
        raise ValueError(f"not a table of the reconciliation: {', '.join(unknown)}")
    values = {
        **tables.mapping(),
        **table_ids,
        "payment_happened": PAYMENT_HAPPENED,
        "event_class": event_class_sql(),
        "adjustment_kinds": "(" + ", ".join(f"'{kind}'" for kind in paypal.ADJUSTMENT_CODES) + ")",
    }
    for fragment in sorted((SQL_DIR / "fragments").glob("*.sql")):
        values[fragment.stem] = string.Template(fragment.read_text(encoding="utf-8")).substitute(values)
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def read(client: bigquery.Client, sql: str, period: Period, **params: Any) -> pd.DataFrame:
    """Run ``sql`` for the period (``@start``, ``@end``) and any other parameters."""
    return query_dataframe(client, sql, {"start": period.start, "end": period.end, **params})


def model_rows(client: bigquery.Client, tables: Tables, model: str, period: Period) -> pd.DataFrame:
    """The rows of one materialised model for the period, in day order."""
    found = next((m for m in MODELS if m.name == model), None)
    if found is None:
        raise ValueError(f"no such model: {model}")
    frame = read(client, render("report/model_rows", tables, model=tables.model(model)), period)
    return in_cents(frame, [c.name for c in found.columns if c.type == "NUMERIC" and c.name != "vat_rate"])
