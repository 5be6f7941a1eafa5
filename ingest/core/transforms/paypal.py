"""Record transform of the paypal_transactions pipeline, row by row and for a whole file in Arrow.

The transform only adds derived fields; the YAML maps record paths to columns, so a reviewer
sees every column's source in one place. PayPal's domain facts (event codes, statuses) are in
``ingest.core.paypal``.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.core.arrow_arrays import empty_lists, field_of, offsets_of

# "Gem Pack (ID: #2202)" -> "Gem Pack": the storefront appends the product id to every name.
_PRODUCT_ID_SUFFIX = re.compile(r"\s*\(ID: #[^)]*\)\s*$")


def product_name(item_name: str | None) -> str | None:
    if item_name is None:
        return None
    return _PRODUCT_ID_SUFFIX.sub("", item_name)


def flatten_transaction(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One Transaction Search record as one row: the record plus its cart items with product names.

    Records without a cart (withdrawals, reversals) get an empty item list.
    """
    cart = record.get("cart_info")
    details = cart.get("item_details") if isinstance(cart, dict) else None
    if details is not None and not isinstance(details, list):
        raise ValueError(f"cart_info.item_details is a {type(details).__name__}, not a list")
    items = []
    for item in details or ():
        if not isinstance(item, dict):
            raise ValueError(f"cart_info.item_details holds a {type(item).__name__}, not an object")
        name = item.get("item_name")
        items.append({**item, "product_name": product_name(name) if isinstance(name, str) else name})
    return [{**record, "cart_items": items}]


def flatten_transactions_arrow(records: pa.StructArray) -> pa.StructArray | None:
    """``flatten_transaction`` on a whole file's records at once: each gains ``cart_items``.

    None (read the file row by row) where the row form would reject a record: item details
    that are not a list of objects, or an item name that is not text.
    """
    cart = field_of(records, "cart_info")
    details = field_of(cart, "item_details") if cart is not None else None
    if details is None or pa.types.is_null(details.type):
        items = empty_lists(len(records), pa.list_(pa.struct([])))
    elif not pa.types.is_list(details.type) or not pa.types.is_struct(details.type.value_type):
        return None
    else:
        elements = pc.list_flatten(details)
        names = field_of(elements, "item_name")
        if names is not None and not (pa.types.is_string(names.type) or pa.types.is_null(names.type)):
            return None
        products = _product_names(names) if names is not None else pa.nulls(len(elements), pa.string())
        kept = [f for f in elements.type if f.name != "product_name"]
        children = [field_of(elements, f.name) for f in kept] + [products]
        fields = [*kept, pa.field("product_name", pa.string())]
        items = pa.ListArray.from_arrays(
            offsets_of(details), pa.StructArray.from_arrays(children, fields=fields)
        )
    others = [f for f in records.type if f.name != "cart_items"]
    return pa.StructArray.from_arrays(
        [field_of(records, f.name) for f in others] + [items],
        fields=[*others, pa.field("cart_items", items.type)],
    )


def _product_names(names: pa.Array) -> pa.Array:
    """``product_name`` of each name, computed once per distinct name (a catalogue's few)."""
    names = names.cast(pa.string())
    distinct = pc.unique(names)
    products = pa.array([product_name(name) for name in distinct.to_pylist()], pa.string())
    return pc.take(products, pc.index_in(names, value_set=distinct))
