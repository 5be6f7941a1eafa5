"""``ingest schema backfill``'s UPDATE, and a table gaining the columns its pipeline declares later."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.cloud import bigquery

from ingest.adapters.bigquery import tables
from ingest.adapters.bigquery.backfill_column import BackfillRefused, backfill_statement
from ingest.core.config import parse_pipeline
from ingest.core.errors import ConfigError

BASE = {
    "name": "orders",
    "key_pattern": "^orders/",
    "table": "raw.orders",
    "business_key": ["order_id"],
    "columns": [
        {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "coupon_code", "type": "STRING", "source": "promo.coupon"},
        {"name": "paid_at", "type": "TIMESTAMP"},
        {"name": "items", "type": "JSON"},
        {"name": "email_hash", "type": "STRING", "source": "email", "pseudonymise": True},
    ],
}


def pipeline(**changes):
    return parse_pipeline({**BASE, **changes}, "orders.yaml")


def test_the_update_reads_the_source_path_casts_to_the_type_and_touches_only_rows_without_it():
    sql = backfill_statement(pipeline(), "coupon_code", "proj")

    assert "UPDATE `proj.raw.orders`" in sql
    assert "SET `coupon_code` = SAFE_CAST(JSON_VALUE(`_extra`, '$.promo.coupon') AS STRING)" in sql
    assert "WHERE `coupon_code` IS NULL" in sql
    assert "JSON_REMOVE(`_extra`, '$.promo.coupon')" in sql
    assert "--" not in sql  # the file's comment is not sent


@pytest.mark.parametrize(
    ("column", "changes", "says"),
    [
        ("nope", {}, "declares no column 'nope'"),
        ("items", {}, "only scalar columns"),
        ("email_hash", {}, "pseudonymised or masked"),
        ("paid_at", {"record_column": "_raw"}, "keeps every field in _raw"),
    ],
)
def test_columns_that_extra_never_held_are_refused(column, changes, says):
    with pytest.raises(BackfillRefused, match=says):
        backfill_statement(pipeline(**changes), column, "proj")


class Client:
    def __init__(self):
        self.updated = None

    def update_table(self, table, fields):
        self.updated = ([f.name for f in table.schema], fields)


def loaded_table(*names: str) -> SimpleNamespace:
    return SimpleNamespace(schema=[bigquery.SchemaField(n, "STRING") for n in names])


def test_a_table_gains_the_nullable_columns_declared_since_its_rows_were_loaded():
    client = Client()
    have = [c.name for c in pipeline().bigquery_columns() if c.name not in {"paid_at", "items"}]

    added = tables.add_declared_columns(client, loaded_table(*have), pipeline())

    assert added == ["paid_at", "items"]
    assert client.updated == ([*have, "paid_at", "items"], ["schema"])


def test_a_table_with_every_column_is_not_updated():
    client = Client()

    assert (
        tables.add_declared_columns(
            client, loaded_table(*(c.name for c in pipeline().bigquery_columns())), pipeline()
        )
        == []
    )
    assert client.updated is None


def test_a_required_column_declared_later_is_a_configuration_error_before_any_load():
    client = Client()
    have = [c.name for c in pipeline().bigquery_columns() if c.name != "order_id"]

    with pytest.raises(ConfigError, match=r"REQUIRED column.*order_id.*declare them NULLABLE"):
        tables.add_declared_columns(client, loaded_table(*have), pipeline())
    assert client.updated is None
