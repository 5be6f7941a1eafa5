"""PayPal Transaction Search facts and the record transform of the paypal_transactions pipeline.

Event codes are PayPal's (Transaction Search, "transaction event codes"); the groups below are the
ones finance reconciles. The transform only adds derived fields; the YAML maps record paths to
columns, so a reviewer sees every column's source in one place.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

PAYMENT_CODES = frozenset({"T0006", "T0007"})  # PayPal Checkout and website payments: sales
REFUND_CODES = frozenset({"T1107"})  # refunds; fee_amount > 0 is the part of the fee given back
REVERSAL_CODES = frozenset({"T1106"})  # PayPal takes a payment back (dispute, risk decision)
CHARGEBACK_CODES = frozenset({"T1201", "T1205", "T1207"})  # the buyer's bank takes it back
CHARGEBACK_REVERSAL_CODES = frozenset({"T1202"})  # a chargeback undone: money back to us
CHARGEBACK_FEE_CODES = frozenset({"T0106"})  # the fee for a chargeback, booked as its own record
HOLD_CODES = frozenset({"T1110"})  # money held while a dispute is investigated
HOLD_RELEASE_CODES = frozenset({"T1111"})  # the hold cancelled: the money is back
CONVERSION_CODES = frozenset({"T0200", "T0201"})  # one record per currency, debit and credit
WITHDRAWAL_CODES = frozenset({"T0400", "T0401", "T0403"})
# Codes this account may see besides the ones above: other payment types, holds on payouts,
# fee reversals and so on. They move the balance as "other"; any code outside KNOWN_EVENT_CODES
# moves it as "unknown" and is reported, never dropped (the suite only warns about it).
OTHER_KNOWN_CODES = frozenset(
    {
        "T0000", "T0001", "T0002", "T0003", "T0004", "T0005", "T0008", "T0009", "T0010",
        "T0011", "T0012", "T0013", "T0300", "T0700", "T1105", "T1108",
        "T1501", "T1502", "T1503", "T2101", "T2102", "T2103",
    }
)  # fmt: skip
# What each class of record is called in the reconciliation (adjustments.kind, daily_balances'
# columns); a sale is not an adjustment. ``ingest/sql`` reads these through ``sql_in``.
ADJUSTMENT_CODES = {
    "refund": REFUND_CODES,
    "reversal": REVERSAL_CODES,
    "chargeback": CHARGEBACK_CODES,
    "chargeback_reversal": CHARGEBACK_REVERSAL_CODES,
    "chargeback_fee": CHARGEBACK_FEE_CODES,
    "hold": HOLD_CODES,
    "hold_release": HOLD_RELEASE_CODES,
}
KNOWN_EVENT_CODES = (
    PAYMENT_CODES
    | CONVERSION_CODES
    | WITHDRAWAL_CODES
    | OTHER_KNOWN_CODES
    | frozenset().union(*ADJUSTMENT_CODES.values())
)
STATUSES = {"S": "success", "P": "pending", "D": "denied", "V": "reversed"}
# A denied payment never moved money; every other status did (a reversed one was completed first,
# and the reversal record takes it back).
MOVED_MONEY_STATUSES = ("S", "P", "V")


def sql_in(codes: frozenset[str]) -> str:
    """``('T1107', 'T1106')``: a code set as a Standard SQL list (codes are [A-Z0-9] only)."""
    return "(" + ", ".join(f"'{code}'" for code in sorted(codes)) + ")"


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
    from ingest.core.arrow_ndjson import empty_lists, field_of, offsets_of

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
        products = pa.array(
            [product_name(name) for name in names.to_pylist()]
            if names is not None
            else [None] * len(elements),
            pa.string(),
        )
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
