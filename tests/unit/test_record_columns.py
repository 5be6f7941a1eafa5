"""The cart items coerced field by field give what the element-by-element reference gives.

``records_converter`` below, the row reader's converter before ``record_columns``, is the
reference: for every raw value below (clean carts, and every way an element or a field can be
wrong, alone and several in one row), the row's error is the reference's word for word, and a
good row's items are the reference's values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import pytest

from ingest.core.coerce.converters import CONVERTERS, failure, lookup
from ingest.core.coerce.record_columns import records_column
from ingest.core.config import Column, load_pipelines
from ingest.core.settings import Settings

CART_ITEMS = next(
    c
    for p in load_pipelines(Settings().pipelines_dir)
    if p.name == "paypal_transactions"
    for c in p.columns
    if c.name == "cart_items"
)
# A record column of one's own with a required field, a two-deep source and every scalar type.
LINES = Column(
    "lines",
    "RECORD",
    "REPEATED",
    fields=(
        Column("sku", "STRING", "REQUIRED"),
        Column("count", "INT64", source="qty"),
        Column("price", "NUMERIC", source="price.amount"),
        Column("weight", "FLOAT64"),
        Column("gift", "BOOL"),
        Column("at", "TIMESTAMP"),
        Column("on", "DATE"),
        Column("meta", "JSON"),
    ),
)


def item(**changes: object) -> dict[str, object]:
    """One element of PayPal's item_details, as the transform hands it over."""
    base: dict[str, object] = {
        "item_code": "gems-100",
        "item_name": "100 Gems (ID: #7)",
        "product_name": "100 Gems",
        "item_quantity": "1",
        "item_unit_price": {"currency_code": "EUR", "value": "4.99"},
        "item_amount": {"currency_code": "EUR", "value": "4.99"},
        "total_item_amount": {"currency_code": "EUR", "value": "4.99"},
        "invoice_number": "inv-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def line(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sku": "a",
        "qty": 2,
        "price": {"amount": "1.50"},
        "weight": 0.25,
        "gift": False,
        "at": "2021-07-01T10:00:00Z",
        "on": "2021-07-01",
        "meta": {"k": [1, 2]},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


CART_VALUES: list[object] = [
    [item()],
    [item(), item(item_code="gems-500", item_quantity="3")],
    [],
    None,
    "a text, not a list",
    5,
    1.5,
    float("inf"),
    float("nan"),
    True,
    {"item_code": "x"},
    ["not an object"],
    [item(), "second is text"],
    [item(item_quantity="abc"), "second is text"],
    [item(item_quantity="1.5")],
    [item(item_quantity=1.5)],
    [item(item_quantity=2.0)],
    [item(item_quantity=True)],
    [item(item_quantity=2**70)],
    [item(item_quantity="1,000")],
    [item(item_quantity="")],
    [item(item_quantity=...)],
    [item(item_unit_price={"value": "1,234.56"})],
    [item(item_unit_price={"value": "12.3456789012"})],
    [item(item_unit_price={"value": "12.1000000000"})],
    [item(item_unit_price={"value": "NaN"})],
    [item(item_unit_price={"value": 12})],
    [item(item_unit_price={"value": 0.1})],
    [item(item_unit_price={"value": 1e400})],
    [item(item_unit_price={"value": "1e40"})],
    [item(item_unit_price="4.99")],
    [item(item_unit_price=[{"value": "4.99"}])],
    [item(item_name=5)],
    [item(item_name={"nested": ["x"]})],
    [item(item_name=False)],
    [item(item_quantity="x", item_unit_price={"value": "y"})],
    [item(), item(item_amount={"value": "bad"}), item(item_quantity="bad")],
    [item(item_amount={"value": "bad"}), 7],
]
LINE_VALUES: list[object] = [
    [line()],
    [line(), line(sku="b", qty="7", weight=1)],
    [line(sku=...)],
    [line(sku="")],
    [line(), line(sku=None)],
    [line(qty="9223372036854775808")],
    [line(weight="1e5"), line(weight=float("inf"))],
    [line(gift="yes"), line(gift="maybe")],
    [line(at="Thu, 01 Jul 2021 10:00:00 +0000")],
    [line(at="2021-07-01 10:00")],
    [line(at="yesterday")],
    [line(on="01/07/2021")],
    [line(meta=float("nan"))],
    [line(meta="text")],
    [line(price={"amount": 3}), line(price={"amount": "3.5"})],
    [line(sku=..., qty="bad")],
    [line(qty="bad", sku=...)],
]


def records_converter(column: Column) -> Callable[[object], list[dict[str, object]]]:
    """The reference: a REPEATED RECORD value converted element by element, each field by its
    own rule, stopping at the first problem (the row reader's converter before record_columns)."""
    fields = [(f, f.source_path, CONVERTERS[f.type]) for f in column.fields]

    def convert(value: object) -> list[dict[str, object]]:
        if not isinstance(value, list):
            raise ValueError(f"is a {type(value).__name__}, not a list")
        elements = []
        for index, element in enumerate(value):
            if not isinstance(element, dict):
                raise ValueError(f"[{index}] is a {type(element).__name__}, not an object")
            converted: dict[str, object] = {}
            for field_, path, to_type in fields:
                raw = lookup(element, path)
                if raw is None or raw == "":
                    if field_.required:
                        raise ValueError(f"[{index}].{field_.name} is missing")
                    converted[field_.name] = None
                    continue
                try:
                    converted[field_.name] = to_type(raw)
                except (ValueError, TypeError, ArithmeticError) as err:
                    raise ValueError(f"[{index}].{field_.name} {failure(raw, err)}") from None
            elements.append(converted)
        return elements

    return convert


def reference(column: Column, raw: list[object]) -> tuple[list[object], list[str | None]]:
    """What the row reader gave before: each value through records_converter, in turn."""
    convert = records_converter(column)
    values: list[object] = []
    errors: list[str | None] = []
    for value in raw:
        try:
            if value is None:
                values.append([])
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"is not finite ({value!r})")
            else:
                values.append(convert(value))
            errors.append(None)
        except (ValueError, TypeError, ArithmeticError) as err:
            values.append([])
            errors.append(f"{column.name}: {err}")
    return values, errors


def normalised(value: object) -> object:
    """Decimal('4.990000000') and Decimal('4.99') are one NUMERIC value."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("column", "raw"),
    [(CART_ITEMS, CART_VALUES), (LINES, LINE_VALUES)],
    ids=["paypal-cart-items", "every-type"],
)
def test_each_row_gets_the_references_first_error_and_a_good_row_its_values(
    column: Column, raw: list[object]
) -> None:
    expected_values, expected_errors = reference(column, raw)

    errors: list[str | None] = [None] * len(raw)
    array = records_column(column, raw, errors)

    assert errors == expected_errors
    got = array.to_pylist()
    for index, error in enumerate(expected_errors):
        if error is None:
            assert normalised(got[index]) == normalised(expected_values[index]), raw[index]
    assert any(e is None for e in errors) and any(e is not None for e in errors)


@pytest.mark.parametrize("value", CART_VALUES, ids=range(len(CART_VALUES)))
def test_each_value_alone_gives_what_it_gives_among_others(value: object) -> None:
    """A chunk of one row: the Arrow cast path and the value-by-value path meet each value alone."""
    expected_values, expected_errors = reference(CART_ITEMS, [value])

    errors: list[str | None] = [None]
    got = records_column(CART_ITEMS, [value], errors).to_pylist()

    assert errors == expected_errors
    if expected_errors == [None]:
        assert normalised(got) == normalised(expected_values)


def test_an_earlier_error_of_another_column_is_kept() -> None:
    errors: list[str | None] = ["transaction_id: required value is missing", None]

    records_column(CART_ITEMS, [[item(item_quantity="bad")], [item(item_quantity="bad")]], errors)

    assert errors == [
        "transaction_id: required value is missing",
        "cart_items: [0].quantity 'bad' is not valid: invalid literal for int() with base 10: 'bad'",
    ]
