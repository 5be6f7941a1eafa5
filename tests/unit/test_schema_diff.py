"""``ingest schema diff``'s figures from ``(source_uri, _extra)`` rows built by hand."""

from __future__ import annotations

from ingest.apps.tools.schema_diff import undeclared_fields, yaml_lines

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
