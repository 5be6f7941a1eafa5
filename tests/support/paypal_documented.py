"""PayPal Transaction Search records as PayPal documents them, and the game's payment rows.

Each builder returns one element of a Transaction Search ``transaction_details[]`` list (or, for a
currency conversion, the two elements PayPal writes for it), shaped as the Transaction Search API
reference describes it: ``transaction_info`` with money objects ``{currency_code, value}`` whose
values are strings, ``payer_info``, ``cart_info.item_details[]``. Nothing here comes from our
generator or from a sample file: the generator is not the oracle.

The builders never compute a balance, a fee or a share: the test author writes every amount,
including each record's ``ending_balance``, by hand, so a test holds the code to arithmetic done
outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MERCHANT_ACCOUNT = "7QWD3NRBK5ZAY"
"""Our PayPal merchant account id (the receiver of every payment below)."""

SALE_CODES = ("T0006", "T0007")
STATUSES = ("S", "P", "D", "V")


def money(value: str, currency: str = "USD") -> dict[str, str]:
    """A PayPal money object: the amount as a string with its cents, never a number."""
    if not isinstance(value, str):
        raise TypeError(f"PayPal writes amounts as strings, got {value!r}")
    return {"currency_code": currency, "value": value}


def payer(
    account_id: str,
    country: str | None,
    *,
    email: str | None = None,
    given_name: str = "Alex",
    surname: str = "Player",
) -> dict[str, Any]:
    """``payer_info``: the buyer's account, address-book name and country (None: PayPal gives none)."""
    info: dict[str, Any] = {
        "account_id": account_id,
        "email_address": email or f"buyer.{account_id.lower()}@example.net",
        "address_status": "Y",
        "payer_status": "Y",
        "payer_name": {"given_name": given_name, "surname": surname},
    }
    if country is not None:
        info["country_code"] = country
    return info


def item(
    code: str,
    product: str,
    amount: str,
    *,
    quantity: int = 1,
    unit_price: str | None = None,
    total: str | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """One ``cart_info.item_details[]`` element.

    ``amount`` is PayPal's ``item_amount`` (unit price x quantity, before the order's shipping,
    tax or discounts); ``total`` its ``total_item_amount`` (defaults to ``amount``: no item tax).
    The name carries the storefront's suffix, "Name (ID: #code)". Quantities are strings, as
    PayPal writes them.
    """
    if unit_price is None:
        if quantity != 1:
            raise ValueError("give the unit price of an item bought more than once")
        unit_price = amount
    return {
        "item_code": code,
        "item_name": f"{product} (ID: #{code})",
        "item_quantity": str(quantity),
        "item_unit_price": money(unit_price, currency),
        "item_amount": money(amount, currency),
        "total_item_amount": money(total or amount, currency),
    }


def transaction(
    transaction_id: str,
    code: str,
    at: str,
    gross: str,
    ending: str,
    *,
    fee: str | None = None,
    currency: str = "USD",
    status: str = "S",
    updated: str | None = None,
    available: str | None = None,
    reference: str | None = None,
    buyer: dict[str, Any] | None = None,
    items: Sequence[dict[str, Any]] = (),
    shipping: str | None = None,
    shipping_discount: str | None = None,
    insurance: str | None = None,
    sales_tax: str | None = None,
    discount: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """A record of any event code (the arbitrary-code record; the builders below use it).

    ``at`` is ``transaction_initiation_date`` ("2021-07-03T08:24:06+0000"), ``updated`` the
    ``transaction_updated_date`` (defaults to ``at``). ``ending`` is PayPal's ``ending_balance``
    after the record, ``available`` its ``available_balance`` (defaults to ``ending``). A fee of
    None leaves ``fee_amount`` out, as PayPal does on records it charges nothing for.
    ``reference`` is the ``paypal_reference_id`` of the record this one refers to (type TXN).
    """
    if status not in STATUSES:
        raise ValueError(f"PayPal's statuses are {STATUSES}, got {status!r}")
    info: dict[str, Any] = {}
    if buyer is not None:
        info["paypal_account_id"] = buyer["account_id"]
    info["transaction_id"] = transaction_id
    if reference is not None:
        info["paypal_reference_id"] = reference
        info["paypal_reference_id_type"] = "TXN"
    info["transaction_event_code"] = code
    info["transaction_initiation_date"] = at
    info["transaction_updated_date"] = updated or at
    info["transaction_amount"] = money(gross, currency)
    if fee is not None:
        info["fee_amount"] = money(fee, currency)
    for field, value in (
        ("shipping_amount", shipping),
        ("shipping_discount_amount", shipping_discount),
        ("insurance_amount", insurance),
        ("sales_tax_amount", sales_tax),
        ("discount_amount", discount),
    ):
        if value is not None:
            info[field] = money(value, currency)
    info["transaction_status"] = status
    if subject is not None:
        info["transaction_subject"] = subject
    info["ending_balance"] = money(ending, currency)
    info["available_balance"] = money(available or ending, currency)
    info["protection_eligibility"] = "02"

    record: dict[str, Any] = {"transaction_info": info}
    if buyer is not None:
        record["payer_info"] = buyer
    if items:
        record["cart_info"] = {"item_details": list(items)}
    return record


def sale(
    transaction_id: str,
    at: str,
    gross: str,
    fee: str | None,
    ending: str,
    *,
    buyer: dict[str, Any],
    items: Sequence[dict[str, Any]] = (),
    status: str = "S",
    code: str = "T0006",
    updated: str | None = None,
    currency: str = "USD",
    shipping: str | None = None,
    shipping_discount: str | None = None,
    insurance: str | None = None,
    sales_tax: str | None = None,
    discount: str | None = None,
) -> dict[str, Any]:
    """A payment received (T0006 Express Checkout, T0007 website payment), fee negative.

    Status S completed, P pending, D denied (give the balance before it: it moved nothing),
    V reversed (give its completed balance: a T1106 record takes the money back).
    ``gross`` is what PayPal collected: the items plus shipping, insurance and tax, less discounts.
    """
    if code not in SALE_CODES:
        raise ValueError(f"sales are {SALE_CODES}, got {code!r}")
    return transaction(
        transaction_id,
        code,
        at,
        gross,
        ending,
        fee=fee,
        currency=currency,
        status=status,
        updated=updated,
        buyer=buyer,
        items=items,
        shipping=shipping,
        shipping_discount=shipping_discount,
        insurance=insurance,
        sales_tax=sales_tax,
        discount=discount,
        subject=", ".join(i["item_name"] for i in items) or None,
    )


def refund(
    transaction_id: str,
    at: str,
    gross: str,
    fee_returned: str | None,
    ending: str,
    *,
    sale_id: str,
    buyer: dict[str, Any] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """T1107, full or partial: ``gross`` negative, ``fee_returned`` POSITIVE (the fee PayPal gives back)."""
    if not gross.startswith("-"):
        raise ValueError(f"a refund's gross is negative, got {gross}")
    if fee_returned is not None and fee_returned.startswith("-"):
        raise ValueError(f"a refund's fee_amount is the fee given back, positive; got {fee_returned}")
    return transaction(
        transaction_id, "T1107", at, gross, ending, fee=fee_returned, currency=currency,
        reference=sale_id, buyer=buyer,
    )  # fmt: skip


def reversal(transaction_id: str, at: str, gross: str, ending: str, *, sale_id: str, currency: str = "USD"):
    """T1106: PayPal takes a payment back. No fee, no payer, no cart."""
    return transaction(transaction_id, "T1106", at, gross, ending, currency=currency, reference=sale_id)


def chargeback(
    transaction_id: str,
    at: str,
    gross: str,
    ending: str,
    *,
    sale_id: str,
    code: str = "T1201",
    currency: str = "USD",
) -> dict[str, Any]:
    """T1201 (or T1205, T1207): the buyer's bank took the payment back; gross negative."""
    return transaction(transaction_id, code, at, gross, ending, currency=currency, reference=sale_id)


def chargeback_fee(
    transaction_id: str, at: str, gross: str, ending: str, *, chargeback_id: str, currency: str = "USD"
) -> dict[str, Any]:
    """T0106: the chargeback's fee is the record's (negative) gross; no fee_amount."""
    return transaction(transaction_id, "T0106", at, gross, ending, currency=currency, reference=chargeback_id)


def chargeback_reversal(
    transaction_id: str, at: str, gross: str, ending: str, *, chargeback_id: str, currency: str = "USD"
) -> dict[str, Any]:
    """T1202: the chargeback is cancelled, the money comes back to us; gross positive."""
    return transaction(transaction_id, "T1202", at, gross, ending, currency=currency, reference=chargeback_id)


def hold(
    transaction_id: str, at: str, gross: str, ending: str, *, sale_id: str, currency: str = "USD"
) -> dict[str, Any]:
    """T1110: money held while PayPal investigates a dispute on the sale; gross negative."""
    return transaction(transaction_id, "T1110", at, gross, ending, currency=currency, reference=sale_id)


def release(
    transaction_id: str, at: str, gross: str, ending: str, *, hold_id: str, currency: str = "USD"
) -> dict[str, Any]:
    """T1111: the hold is cancelled and the money released; gross positive, references the hold."""
    return transaction(transaction_id, "T1111", at, gross, ending, currency=currency, reference=hold_id)


def conversion(
    source_id: str,
    target_id: str,
    at: str,
    *,
    source_gross: str,
    source_ending: str,
    target_gross: str,
    target_ending: str,
    source_currency: str = "USD",
    target_currency: str = "EUR",
    code: str = "T0200",
) -> list[dict[str, Any]]:
    """A currency conversion: two T0200 records, each with its own id and in its own currency.

    The source record debits ``source_currency`` (negative gross), the target record credits
    ``target_currency`` and references the source. Each ending balance is its own currency's.
    """
    return [
        transaction(source_id, code, at, source_gross, source_ending, currency=source_currency),
        transaction(
            target_id, code, at, target_gross, target_ending, currency=target_currency, reference=source_id
        ),
    ]


def withdrawal(
    transaction_id: str,
    at: str,
    gross: str,
    ending: str,
    *,
    fee: str | None = None,
    code: str = "T0400",
    currency: str = "USD",
) -> dict[str, Any]:
    """T0400 (T0401, T0403): money out to our bank account; gross negative."""
    return transaction(transaction_id, code, at, gross, ending, fee=fee, currency=currency)


# -- the game's payment database --------------------------------------------------------------------


def payment_row(
    transaction_id: int,
    item_id: int,
    total_cost: str,
    paid: str,
    *,
    country: str | None,
    currency: str = "USD",
    status: str = "completed",
    item_count: int = 1,
    user_id: int | None = None,
    product_id: int | None = None,
) -> dict[str, Any]:
    """One row of the game's payment table as Firehose streams it.

    ``paid`` is ``payment_date`` in the database's form, "2021-07-03T22:05:31.000Z";
    ``item_id`` is the ``transaction_item_id`` PayPal's cart shows as ``item_code``;
    ``country`` None writes an empty country, as the game does when it does not know it.
    """
    user = user_id if user_id is not None else 10_000 + transaction_id
    return {
        "transaction_id": transaction_id,
        "transaction_item_id": item_id,
        "user_id": user,
        "payment_merchant_id": 7,
        "merchant_invoice_code": "GEMS",
        "merchant_invoice_code_id": 13_500_000_000 + transaction_id,
        "product_id": product_id if product_id is not None else item_id % 1000,
        "item_count": item_count,
        "total_cost": total_cost,
        "currency_code": currency,
        "country_code": country or "",
        "payment_date": paid,
        "transaction_status": status,
        "created_at": paid,
        "payer_email": f"player{user}@example.com",
    }
