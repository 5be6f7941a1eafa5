"""The PayPal revenue reconciliation: the SQL models of ``models.py`` materialised per day in BigQuery.

``run`` recomputes the days of a period for every model and swaps them into the model's table
with one MERGE each (new rows in, the period's old rows out, atomically), so reconciling a day
again replaces that day and a month is exactly its days. Models read the raw tables named by
the pipelines ``paypal_transactions``, ``payment_transactions``, ``country_tax_codes`` and
``vat_rates``, and the models before them. The read functions (``exceptions.exceptions``,
``exports.accounting_export``, ``figures.figures``, ...) query the materialised tables for any period.
"""

from __future__ import annotations

import string
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest.adapters.bigquery.tables import ensure_dataset, schema_field
from ingest.apps.finance.models import MODELS, SQL_DIR, Model, Tables, render
from ingest.apps.finance.period import DEFAULT_OPTIONS, Options, Period
from ingest.core.config import Column

if TYPE_CHECKING:
    from google.cloud import bigquery

# What to load when a source table is missing, for the one-line error a user gets.
SOURCE_HINTS = {
    "paypal_transactions": "PayPal Transaction Search pages under paypal/transactions/",
    "payment_transactions": "the game's payment exports under payments/transactions/ or payments/exports/",
    "country_tax_codes": "the country tax code table under reference/country_tax_codes/",
    "vat_rates": "the VAT rate table under reference/vat_rates/",
}


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
    options: Options = DEFAULT_OPTIONS,
) -> ReconcileRun:
    """Recompute every model for the days of ``period`` and replace those days in its table."""
    check_sources(client, tables)
    ensure_dataset(client, tables.recon_dataset)
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
    held before (``sql/statements/replace_days.sql``)."""
    names = [c.name for c in model.columns]
    template = (SQL_DIR / "statements" / "replace_days.sql").read_text(encoding="utf-8")
    return string.Template(template).substitute(
        target=tables.model(model.name),
        model_sql=render(model.name, tables),
        columns=", ".join(names),
        source_columns=", ".join(f"source.{n}" for n in names),
    )


def _ensure_model_table(client: bigquery.Client, tables: Tables, model: Model) -> None:
    from google.cloud import bigquery

    table = bigquery.Table(tables.model(model.name), schema=[schema_field(c) for c in model.columns])
    table.time_partitioning = bigquery.TimePartitioning(field="day")
    if model.cluster_by:
        table.clustering_fields = list(model.cluster_by)
    existing = client.create_table(table, exists_ok=True)
    # A table made by an earlier version lacks the columns added since: add them (NULLABLE, as
    # BigQuery allows), so the days already reconciled stay and the new ones fill every column.
    have = {field.name for field in existing.schema}
    added = [schema_field(Column(c.name, c.type)) for c in model.columns if c.name not in have]
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
