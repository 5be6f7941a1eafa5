"""Pipeline configs: the shipped ones load and route keys; bad ones fail at start-up naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.core.config import ConfigError, Pipeline, load_pipelines, parse_pipeline, route
from ingest.core.errors import UnknownPipeline
from ingest.core.settings import PACKAGE_DIR

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
