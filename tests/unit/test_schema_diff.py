"""``ingest schema diff``'s figures from ``(source_uri, _extra)`` rows built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ingest.apps.tools.schema_diff import (
    declare_in_yaml,
    declared_since,
    undeclared_fields,
    unread_paths,
    yaml_lines,
)
from ingest.core.config import parse_pipeline

A, B, C = (f"s3://lake/orders/{name}.ndjson" for name in "abc")


def test_each_field_gets_its_rows_files_first_and_last_file_type_and_masked_sample():
    rows = [
        (A, {"coupon": "SUMMER3"}),
        (A, {"coupon": "SUMMER4", "discount": "1.50"}),
        (B, '{"discount": 2, "buyer_email": "jane.doe@example.com"}'),  # text, as a JSON column may come
        (C, {"discount": None, "coupon": None}),
        (C, None),
    ]

    fields = {f.name: f for f in undeclared_fields(rows)}

    coupon = fields["coupon"]
    assert (coupon.rows, coupon.files, coupon.first_file, coupon.last_file) == (3, 2, A, C)
    assert coupon.type == "STRING" and coupon.sample == '"S***"'
    discount = fields["discount"]
    assert (discount.rows, discount.files, discount.type) == (3, 3, "NUMERIC")  # "1.50" and 2
    email = fields["buyer_email"]
    assert email.sample is not None and "jane.doe" not in email.sample and "@example.com" in email.sample
    assert [f.name for f in undeclared_fields(rows)] == ["coupon", "discount", "buyer_email"]


def test_yaml_comments_a_name_that_differs_only_in_case_from_a_column_or_an_entry_above():
    rows = [(A, {"Platform": "x", "platform": "y", "Amount": "1"})]

    lines = yaml_lines(undeclared_fields(rows), columns=["order_id", "amount"])

    assert "  # Amount: differs only in case from column amount (BigQuery's names ignore case)" in lines
    declared = [line for line in lines if line.lstrip().startswith("-")]
    assert len(declared) == 1 and "latform" in declared[0]  # one spelling declared, the other commented
    assert sum("differs only in case" in line for line in lines) == 2


def test_a_list_element_field_named_with_a_newline_stays_inside_its_comment():
    name = "items.gift\n  - {name: evil, type: STRING}"
    rows = [(A, {"items": [{"sku": "a"}], name: 1})]

    lines = yaml_lines(undeclared_fields(rows), ["items"])

    assert all("\n" not in line for line in lines)
    parsed = yaml.safe_load("columns:\n" + "\n".join(lines))["columns"]
    assert [c["name"] for c in parsed] == ["items"]  # the list itself; nothing injected


def test_a_field_seen_only_as_null_is_a_string():
    (only,) = undeclared_fields([(A, {"note": None})])

    assert (only.type, only.sample) == ("STRING", None)


def test_yaml_declares_valid_names_and_comments_the_rest():
    rows = [(A, {"coupon": "X", "gift wrap": True, "items": [{"sku": "a"}], "meta": {"k": 1}})]

    lines = yaml_lines(undeclared_fields(rows))

    assert "  - {name: coupon, type: STRING}" in lines
    assert "  - {name: items, type: JSON}" in lines
    assert "  - {name: meta, type: JSON}" in lines
    assert any(line.startswith("  # not declarable: column name 'gift wrap'") for line in lines)


SHIPPED = Path(__file__).resolve().parents[2] / "ingest" / "pipelines" / "payment_transactions.yaml"
NEW = [
    "  - {name: coupon, type: STRING}",
    "  # not declarable: a comment stays out",
    "  - {name: gift, type: BOOL}",
]


def test_apply_appends_to_the_shipped_yaml_keeping_its_comments_and_loading():
    before = SHIPPED.read_text(encoding="utf-8")

    after = declare_in_yaml(before, NEW)

    pipeline = parse_pipeline(yaml.safe_load(after), "payment_transactions.yaml")
    old = parse_pipeline(yaml.safe_load(before), "payment_transactions.yaml")
    assert [c.name for c in pipeline.columns] == [*(c.name for c in old.columns), "coupon", "gift"]
    assert [line for line in before.splitlines() if line.startswith("#")] == [
        line for line in after.splitlines() if line.startswith("#")
    ]
    assert "not declarable" not in after


def test_apply_adds_to_a_columns_list_followed_by_other_keys_at_its_indentation():
    head = "name: x\ncolumns:\n    - {name: a, type: STRING}\n\n    # last\n    - {name: b, type: INT64}\n"
    text = head + "\n# then\nsuite: s\n"

    after = declare_in_yaml(text, ["  - {name: c, type: BOOL}"])

    assert after == head + "    - {name: c, type: BOOL}\n\n# then\nsuite: s\n"


def test_apply_refuses_a_flow_style_columns_list():
    with pytest.raises(ValueError, match="block-style"):
        declare_in_yaml("name: x\ncolumns: [{name: a, type: STRING}]\n", NEW)


def test_fields_a_column_reads_now_are_named_for_backfill_not_declared_again():
    pipeline = parse_pipeline(
        {
            "name": "orders",
            "key_pattern": "^orders/",
            "table": "raw.orders",
            "business_key": ["order_id"],
            "columns": [
                {"name": "order_id", "type": "STRING"},
                {"name": "coupon_code", "type": "STRING", "source": "coupon"},
            ],
        },
        "orders.yaml",
    )
    seen = undeclared_fields([(A, {"coupon": "S1", "gift": True})])

    assert declared_since(seen, pipeline) == {"coupon": "coupon_code"}


def test_a_kept_record_s_paths_no_column_reads_are_offered_with_their_source():
    pipeline = parse_pipeline(
        {
            "name": "paypal",
            "key_pattern": "^paypal/",
            "table": "raw.paypal",
            "business_key": ["transaction_id"],
            "record_column": "_raw",
            "columns": [
                {"name": "transaction_id", "type": "STRING", "source": "transaction_info.transaction_id"},
                {
                    "name": "cart_items",
                    "type": "RECORD",
                    "source": "cart_info.item_details",
                    "fields": [{"name": "item_code", "type": "STRING"}],
                },
            ],
        },
        "paypal.yaml",
    )
    record = {
        "transaction_info": {
            "transaction_id": "T1",
            "protection_eligibility": "01",
            "instrument_type": "card",
        },
        "cart_info": {"item_details": [{"item_code": "A", "tax_amounts": "x"}]},
    }

    paths, lists = unread_paths([(A, record), (B, json.dumps(record))], pipeline)
    fields = undeclared_fields(paths)

    assert {f.name: (f.rows, f.files) for f in fields} == {
        "transaction_info.protection_eligibility": (2, 2),
        "transaction_info.instrument_type": (2, 2),
        "cart_info.item_details.tax_amounts": (2, 2),
    }
    lines = yaml_lines(fields, lists)
    source = "source: transaction_info.protection_eligibility"
    assert f"  - {{name: transaction_info_protection_eligibility, type: STRING, {source}}}" in lines
    assert not any("tax_amounts" in line and line.lstrip().startswith("-") for line in lines)


def test_the_shipped_paypal_pipeline_s_cart_made_by_its_transform_counts_as_read():
    from support.helpers import paypal_transaction

    from ingest.core.config import load_pipelines
    from ingest.core.settings import Settings

    paypal = next(p for p in load_pipelines(Settings().pipelines_dir) if p.name == "paypal_transactions")
    record = paypal_transaction()
    record["transaction_info"]["transaction_note"] = "a field PayPal added"
    record.setdefault("cart_info", {"item_details": [{"item_code": "1", "item_quantity": "1"}]})

    paths, _ = unread_paths([(A, record)], paypal)
    names = {f.name for f in undeclared_fields(paths)}

    assert "transaction_info.transaction_note" in names
    assert not {"cart_info.item_details", "cart_info.item_details.item_code"} & names
    assert "transaction_info.transaction_id" not in names


def test_the_table_shows_hostile_field_names_bounded_on_one_line_and_not_as_markup(monkeypatch):
    from rich.console import Console

    from ingest.apps.cli.commands import schema
    from ingest.core import drift

    console = Console(record=True, width=400, color_system=None)
    monkeypatch.setattr(schema, "console", console)
    rows = [(A, {"z" * 400: 1, "a\n  - {name: evil, type: STRING}": "x", "[red]markup[/red]": "v"})]

    schema._print_fields(undeclared_fields(rows), "drift")

    shown = console.export_text()
    assert "z" * drift.NAME_CHARS not in shown and "z" * (drift.NAME_CHARS - 1) + "…" in shown
    assert "a\\n  - {name: evil, type: STRING}" in shown
    assert "[red]markup[/red]" in shown
