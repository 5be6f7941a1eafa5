"""Pipeline configs: the shipped ones load and route keys; bad ones fail at start-up naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.core.config import Pipeline, load_pipelines, parse_pipeline, route
from ingest.core.errors import ConfigError, UnknownPipeline
from ingest.core.settings import PACKAGE_DIR, Settings

PIPELINES_DIR = PACKAGE_DIR / "pipelines"
SHIPPED_FILES = sorted(PIPELINES_DIR.glob("*.yaml"))
ORIGIN = "pipelines/orders.yaml"


@pytest.fixture(scope="module")
def shipped() -> tuple[Pipeline, ...]:
    return load_pipelines(PIPELINES_DIR)


def orders_config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "orders",
        "key_pattern": "^orders/",
        "table": "raw.orders",
        "business_key": ["order_id"],
        "columns": [
            {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
            {"name": "amount", "type": "NUMERIC", "mode": "REQUIRED"},
            {"name": "ordered_at", "type": "TIMESTAMP"},
        ],
    }
    config.update(changes)
    return config


def with_column(**spec: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["columns"].append(spec)

    return change


# ---------------------------------------------------------------- shipped pipelines


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[p.stem for p in SHIPPED_FILES])
def test_every_shipped_pipeline_file_parses(path: Path) -> None:
    pipeline = parse_pipeline(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))

    assert pipeline.name == path.stem
    assert pipeline.columns


def test_shipped_pipelines_load_together(shipped: tuple[Pipeline, ...]) -> None:
    assert [p.name for p in shipped] == [
        "country_tax_codes",
        "exchange_rates",
        "payment_transactions",
        "paypal_transactions",
        "vat_rates",
    ]


def test_business_keys_of_shipped_pipelines_are_required_columns(shipped: tuple[Pipeline, ...]) -> None:
    for pipeline in shipped:
        modes = {c.name: c.mode for c in pipeline.columns}
        assert all(modes[k] == "REQUIRED" for k in pipeline.business_key), pipeline.name


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("paypal/transactions/2021/07/01/page-0001.json", "paypal_transactions"),
        ("paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json", "paypal_transactions"),
        (
            "payments/transactions/2021/07/01/23/payments-stream-1-2021-07-01-23-55-02-5f1c2a9b",
            "payment_transactions",
        ),
        ("reference/vat_rates/vat_rates.tsv", "vat_rates"),
        ("reference/country_tax_codes/x.csv", "country_tax_codes"),
    ],
)
def test_route_picks_the_one_pipeline_for_a_typical_key(
    shipped: tuple[Pipeline, ...], key: str, expected: str
) -> None:
    assert route(key, shipped).name == expected
    assert sum(bool(p.key_pattern.search(key)) for p in shipped) == 1


@pytest.mark.parametrize(
    "key",
    ["marketing/campaigns/2021/07/01.csv", "archive/paypal/transactions/2021/07/01/page-0001.json", ""],
)
def test_route_raises_unknown_pipeline_for_a_key_no_pipeline_claims(
    shipped: tuple[Pipeline, ...], key: str
) -> None:
    with pytest.raises(UnknownPipeline, match="no pipeline matches"):
        route(key, shipped)


def test_route_refuses_a_key_two_pipelines_match_and_names_both() -> None:
    broad = parse_pipeline(orders_config(name="all_orders", key_pattern="^orders/"), "all.yaml")
    narrow = parse_pipeline(orders_config(name="eu_orders", key_pattern="^orders/eu/"), "eu.yaml")

    with pytest.raises(UnknownPipeline) as caught:
        route("orders/eu/2021/07/01.json", (broad, narrow))

    assert "all_orders" in str(caught.value) and "eu_orders" in str(caught.value)
    assert route("orders/us/2021/07/01.json", (broad, narrow)) is broad


# ---------------------------------------------------------------- what a valid config gives


def test_types_and_modes_are_case_insensitive_and_defaults_apply() -> None:
    pipeline = parse_pipeline(
        orders_config(
            columns=[
                {"name": "order_id", "type": "string", "mode": "required"},
                {"name": "amount", "type": "numeric"},
            ]
        ),
        ORIGIN,
    )

    assert [(c.name, c.type, c.mode) for c in pipeline.columns] == [
        ("order_id", "STRING", "REQUIRED"),
        ("amount", "NUMERIC", "NULLABLE"),
    ]
    assert (pipeline.dataset, pipeline.table, pipeline.format, pipeline.write_mode) == (
        "raw",
        "orders",
        "auto",
        "append",
    )


# ---------------------------------------------------------------- invalid configs


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config[key] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        del config[key]

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (with_column(name="quantity", type="INTEGER"), "quantity: type INTEGER"),
        (with_column(name="quantity", type="INT64", mode="REPEATED"), "quantity: mode"),
        (with_column(name="amount", type="NUMERIC"), "column names repeat"),
        (with_column(name="quantity"), "name and a type"),
        (with_column(type="INT64"), "name and a type"),
        (_set("business_key", ["order_id", "order_line"]), "business_key names unknown columns.*order_line"),
        (_set("table", "orders"), "table must be 'dataset.table'"),
        (_set("table", "raw."), "table must be 'dataset.table'"),
        (_set("table", "project.raw.orders"), "table must be 'dataset.table'"),
        (_set("table", "raw data.orders"), "table must be 'dataset.table'"),
        (_set("key_pattern", "^orders/(2021"), "key_pattern does not compile"),
        (_set("key_pattern", 2021), "key_pattern does not compile"),
        (with_column(name="_extra", type="JSON"), "reserved"),
        (with_column(name="_source_row", type="INT64"), "reserved"),
        (_set("record_column", "amount"), "reserved"),
        (_set("format", "parquet"), "format 'parquet'"),
        (_set("write_mode", "upsert"), "write_mode 'upsert'"),
        (_drop("business_key"), "missing keys.*business_key"),
    ],
    ids=[
        "bad-type",
        "bad-mode",
        "duplicate-column",
        "column-without-type",
        "column-without-name",
        "unknown-business-key",
        "table-without-dataset",
        "table-empty-name",
        "table-three-parts",
        "dataset-with-space",
        "bad-regex",
        "regex-not-text",
        "column-named-extra",
        "column-named-like-lineage",
        "record-column-reuses-a-column",
        "bad-format",
        "bad-write-mode",
        "missing-key",
    ],
)
def test_invalid_config_raises_config_error_naming_its_file(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    config = orders_config()
    change(config)

    with pytest.raises(ConfigError, match=message) as caught:
        parse_pipeline(config, ORIGIN)

    assert str(caught.value).startswith(f"{ORIGIN}: ")


def test_load_pipelines_names_the_file_with_the_mistake(tmp_path: Path) -> None:
    good = orders_config()
    bad = orders_config(name="refunds", key_pattern="^refunds/")
    bad["columns"][1]["type"] = "MONEY"
    (tmp_path / "orders.yaml").write_text(yaml.safe_dump(good))
    (tmp_path / "refunds.yaml").write_text(yaml.safe_dump(bad))

    with pytest.raises(ConfigError, match=r"refunds\.yaml.*MONEY"):
        load_pipelines(tmp_path)


def test_load_pipelines_refuses_two_files_with_the_same_pipeline_name(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(orders_config()))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(orders_config(key_pattern="^other/")))

    with pytest.raises(ConfigError, match="names repeat"):
        load_pipelines(tmp_path)


def test_load_pipelines_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pipeline YAML"):
        load_pipelines(tmp_path)


# ---------------------------------------------------------------- names that reach SQL

# Names a YAML file could hold that would change the SQL they are written into: a backtick closing
# the quoted table path, a semicolon ending the statement, a space or "--" (a comment) after an
# unquoted column name, a reserved word, a prefix BigQuery keeps for itself.
HOSTILE_COLUMNS = [
    "amount`; DROP TABLE raw.orders; --",
    "amount; DELETE FROM raw.orders WHERE TRUE",
    "order id",
    "amount--",
    "`amount`",
    "amount\n",
    "1st_amount",
    "",
    "select",
    "Partition",
    "_PARTITIONTIME",
    "_file_name",
    "a" * 301,
]


@pytest.mark.parametrize("name", HOSTILE_COLUMNS)
def test_a_column_name_bigquery_would_not_take_unquoted_is_refused_naming_it(name: str) -> None:
    config = orders_config()
    with_column(name=name, type="STRING")(config)

    with pytest.raises(ConfigError, match="column name") as caught:
        parse_pipeline(config, ORIGIN)

    assert str(caught.value).startswith(f"{ORIGIN}: ")
    assert repr(name)[:40] in str(caught.value)


@pytest.mark.parametrize("name", ["item_code; --", "item code", "rows"])
def test_a_record_field_name_is_held_to_the_same_rules(name: str) -> None:
    config = orders_config()
    with_column(name="items", type="RECORD", fields=[{"name": name, "type": "STRING"}])(config)

    with pytest.raises(ConfigError, match="column name"):
        parse_pipeline(config, ORIGIN)


@pytest.mark.parametrize(
    "table",
    [
        "raw.orders`; DROP TABLE raw.payments; --",
        "raw.orders; --",
        "raw.orders --",
        "raw.or ders",
        "raw.orders-2021",
        "raw`.orders",
        "r aw.orders",
        "raw;.orders",
        "raw.orders.x",
        "raw.",
        ".orders",
        "raw." + "o" * 1025,
    ],
)
def test_a_table_id_outside_bigquerys_dataset_and_table_rules_is_refused(table: str) -> None:
    with pytest.raises(ConfigError, match=r"table must be 'dataset\.table'") as caught:
        parse_pipeline(orders_config(table=table), ORIGIN)

    assert str(caught.value).startswith(f"{ORIGIN}: ")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"business_key": ["order_id; --"]}, "business_key names unknown columns"),
        ({"business_key": "order_id"}, "business_key must be a list of column names"),
        ({"business_key": [["order_id"]]}, "business_key must be a list of column names"),
        ({"write_mode": "merge", "business_key": []}, "write_mode merge needs a business_key"),
        ({"partition_by": "ordered_at`; --"}, "partition_by .* must name a TIMESTAMP or DATE column"),
        ({"partition_by": ["ordered_at"]}, "partition_by .* must name a TIMESTAMP or DATE column"),
        (
            {"write_mode": "merge", "latest_by": "ordered_at DESC; --"},
            "latest_by .* must name a TIMESTAMP, DATE or INT64 column",
        ),
        ({"cluster_by": ["order_id`"]}, "cluster_by .* must name a column"),
        ({"cluster_by": "order_id"}, "cluster_by must be a list of column names"),
        ({"cluster_by": ["order_id", "ORDER_ID"]}, "cluster_by names a column twice"),
        ({"business_key": ["order_id", "order_id"]}, "business_key names a column twice"),
        (
            {
                "business_key": ["order_id", "tags"],
                "columns": [*orders_config()["columns"], {"name": "tags", "type": "JSON"}],
            },
            r"business_key columns \['tags'\] are RECORD or JSON",
        ),
        (
            {
                "record_column": "_raw",
                "columns": [*orders_config()["columns"], {"name": "_RAW", "type": "JSON"}],
            },
            r"column names \['_RAW'\] are reserved",
        ),
        (
            {"columns": [*orders_config()["columns"], {"name": "_Source_URI", "type": "STRING"}]},
            r"column names \['_Source_URI'\] are reserved",
        ),
        ({"record_column": "_raw`; --"}, "record_column: column name"),
        ({"record_column": "select"}, "record_column: column name 'select' is a reserved keyword"),
        ({"key_pattern": ""}, "key_pattern is empty"),
        ({"suite": "../../etc/passwd"}, "suite .* must be a file name"),
        ({"suite": "orders/../../x"}, "suite .* must be a file name"),
    ],
    ids=[
        "business-key-hostile",
        "business-key-not-a-list",
        "business-key-nested-list",
        "merge-without-business-key",
        "partition-by-hostile",
        "partition-by-not-text",
        "latest-by-hostile",
        "cluster-by-hostile",
        "cluster-by-not-a-list",
        "cluster-by-twice-in-any-case",
        "business-key-twice",
        "business-key-json",
        "record-column-in-another-case",
        "lineage-column-in-another-case",
        "record-column-hostile",
        "record-column-keyword",
        "key-pattern-empty",
        "suite-path-up",
        "suite-path-inside",
    ],
)
def test_every_field_naming_sql_identifiers_is_checked_when_the_yaml_loads(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_pipeline(orders_config(**changes), ORIGIN)

    assert str(caught.value).startswith(f"{ORIGIN}: ")


def test_column_names_differing_only_in_case_are_one_column_to_bigquery() -> None:
    config = orders_config()
    with_column(name="AMOUNT", type="NUMERIC")(config)

    with pytest.raises(ConfigError, match=r"column names repeat .*\['AMOUNT', 'amount'\]"):
        parse_pipeline(config, ORIGIN)


def test_names_bigquery_takes_unquoted_still_load() -> None:
    config = orders_config(table="Raw_2021.Orders_EU", record_column="_raw", cluster_by=["order_id"])
    with_column(name="_private_note", type="STRING")(config)
    with_column(name="Amount2", type="NUMERIC")(config)
    with_column(name="selection", type="STRING")(config)  # a keyword inside a name is fine

    pipeline = parse_pipeline(config, ORIGIN)

    assert pipeline.table_id == "Raw_2021.Orders_EU"
    assert [c.name for c in pipeline.columns][-3:] == ["_private_note", "Amount2", "selection"]


def test_a_hostile_name_in_a_yaml_file_fails_loading_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "orders.yaml").write_text(yaml.safe_dump(orders_config(table="raw.orders`; --")))

    with pytest.raises(ConfigError, match=r"orders\.yaml: table must be 'dataset\.table'"):
        load_pipelines(tmp_path)


# ---------------------------------------------------------------- names from the environment


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("INGEST_OPS_DATASET", "ops`; DROP TABLE ops.validation_results; --"),
        ("INGEST_STAGING_DATASET", "staging area"),
        ("INGEST_RECON_DATASET", "recon--x"),
        ("INGEST_RECON_DATASET", "recon.finance"),
        ("INGEST_BQ_PROJECT", "my-project`.raw.orders; --"),
        ("INGEST_BQ_PROJECT", "My Project"),
        ("INGEST_BQ_PROJECT", "proj"),
    ],
)
def test_a_dataset_or_project_setting_bigquery_would_refuse_fails_naming_its_variable(
    variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} "):
        Settings.from_env({variable: value})


@pytest.mark.parametrize("project", ["local-project", "payments-prod-4711", "example.com:payments-lake"])
def test_project_ids_google_cloud_issues_are_accepted(project: str) -> None:
    assert Settings.from_env({"INGEST_BQ_PROJECT": project}).bq_project == project
