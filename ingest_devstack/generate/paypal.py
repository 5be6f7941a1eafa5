"""PayPal Transaction Search records as the extractor receives them.

Builders return plain dicts shaped like the API's ``transaction_details[]`` elements; balances
are left empty here and filled in by ``ingest_devstack.generate.balances`` in initiation order. The
account is in USD; it also holds EUR after a currency conversion (T0200/T0201), and a record's
amounts, fee and balances are all in that record's own currency.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ingest_devstack.generate.reference import TOWNS, Player

PAYPAL_TIME = "%Y-%m-%dT%H:%M:%S+0000"  # Transaction Search's format
CURRENCY = "USD"  # the merchant account's primary currency: every sale is in it
SECOND_CURRENCY = "EUR"  # held after a conversion, for the European bank account
CENT = Decimal("0.01")
FEE_RATE = Decimal("0.029")
FEE_FIXED = Decimal("0.30")
CHARGEBACK_FEE = Decimal("-20.00")  # what PayPal charges per chargeback (T0106)
PAYMENT_CODES = ("T0006", "T0007")
UNKNOWN_CODE = "T9901"  # a code no list of PayPal's names: it must still move the balance
SHIPPING = ("0.99", "1.49", "2.49", "3.99", "4.95")  # shipping_amount of a cart that ships
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_SPACE = 36**17
_ID_STEP = 1_000_000_007  # prime to 2 and 3, so n -> n * step + offset never repeats mod 36**17


def paypal_time(moment: datetime) -> str:
    """``2021-07-03T08:24:06+0000``, from isoformat: several times faster than formatting."""
    return moment.isoformat(timespec="seconds")[:19] + "+0000"


def money(value: Decimal | str, currency: str = CURRENCY) -> dict[str, str]:
    return {"currency_code": currency, "value": str(value)}


def payment_fee(gross: Decimal) -> Decimal:
    """PayPal's standard fee on a payment received, as the negative amount it books."""
    return -(gross * FEE_RATE + FEE_FIXED).quantize(CENT, ROUND_HALF_UP)


def refund_fee(refunded: Decimal) -> Decimal:
    """What PayPal gives back on a refund of ``refunded`` (positive): the percentage part of
    the fee, in proportion to the amount refunded; the fixed part is kept."""
    return (refunded * FEE_RATE).quantize(CENT, ROUND_HALF_UP)


def allocate(gross: Decimal, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """A cart's gross shared among its items (``item_code`` -> ``item_amount``): in proportion
    to the amounts, items ordered by item_code, each but the last rounded to the cent, the last
    taking the remainder, so the shares sum to the gross exactly."""
    codes = sorted(amounts)
    total = sum(amounts.values(), Decimal(0))
    shares, given = {}, Decimal(0)
    for item in codes[:-1]:
        shares[item] = (gross * amounts[item] / total).quantize(CENT, ROUND_HALF_UP)
        given += shares[item]
    shares[codes[-1]] = gross - given
    return shares


def near_a_half_cent(gross: Decimal, amounts: dict[str, Decimal]) -> bool:
    """Whether an item's exact share lies so close to half a cent that rounding modes (or a
    division rounded to nine places first) could disagree on it."""
    total = sum(amounts.values(), Decimal(0))
    for item in sorted(amounts)[:-1]:
        cents = gross * amounts[item] / total * 100
        if abs(abs(cents - cents.to_integral_value()) - Decimal("0.5")) < Decimal("1e-6"):
            return True
    return False


def transaction_id(number: int, offset: int) -> str:
    """A 17-character id like PayPal's, distinct for every ``number`` (a bijection, no set)."""
    value = (number * _ID_STEP + offset) % _ID_SPACE
    digits = []
    for _ in range(17):
        value, digit = divmod(value, 36)
        digits.append(_ID_ALPHABET[digit])
    return "".join(reversed(digits))


def payment_record(
    rng: random.Random,
    *,
    account: str,
    txn_id: str,
    event_code: str,
    started: datetime,
    settled: datetime,
    pending: bool,
    player: Player,
    item: dict[str, Any] | None = None,
    invoice: str,
    gross: Decimal,
    items: list[dict[str, Any]] | None = None,
    shipping: Decimal | None = None,
    denied: bool = False,
    payer_country: str | None = None,
) -> dict[str, Any]:
    """A payment received for a cart (``item``, or several ``items``), its gross the items'
    amounts plus ``shipping`` (``transaction_info.shipping_amount``). A pending one is dated but
    not yet updated; a denied one (status D) carries no fee and never moves the balance."""
    where = payer_country or player.paypal_country.iso_2_code
    status = "D" if denied else "P" if pending else "S"
    info: dict[str, Any] = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": event_code,
        "transaction_initiation_date": paypal_time(started),
        "transaction_updated_date": paypal_time(started if pending else settled),
        "transaction_amount": money(gross),
        "fee_amount": money("0.00" if denied else payment_fee(gross)),
    }
    if shipping:
        info["shipping_amount"] = money(shipping)
    info.update(
        transaction_status=status,
        ending_balance=None,
        available_balance=None,
        invoice_id=invoice,
        custom_field=str(player.user_id),
        protection_eligibility="02",
    )
    payer = {
        "account_id": player.account_id,
        "email_address": f"pp{player.user_id}@example.org",
        "address_status": "Y",
        "payer_status": "Y",
        "payer_name": {
            "given_name": player.given_name,
            "surname": player.surname,
            "alternate_full_name": f"{player.given_name} {player.surname}",
        },
        "country_code": where,
    }
    address = {
        "line1": f"{rng.randint(1, 240)} High Street",
        "city": rng.choice(TOWNS),
        "country_code": where,
        "postal_code": str(rng.randint(1000, 99999)),
    }
    return {
        "transaction_info": info,
        "payer_info": payer,
        "shipping_info": {"name": f"{player.surname}, {player.given_name}", "address": address},
        "cart_info": {"item_details": items if items is not None else [item]},
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def cart_item(
    item_id: int, product_name: str, product_id: int, quantity: int, unit: Decimal, invoice: str
) -> dict[str, Any]:
    total = unit * quantity
    return {
        "item_code": str(item_id),
        "item_name": f"{product_name} (ID: #{product_id})",
        "item_quantity": str(quantity),
        "item_unit_price": money(unit),
        "item_amount": money(total),
        "total_item_amount": money(total),
        "invoice_number": invoice,
    }


def _reference(
    original: dict[str, Any], txn_id: str, code: str, moment: datetime, gross: Decimal
) -> dict[str, Any]:
    source = original["transaction_info"]
    when = paypal_time(moment)
    return {
        "paypal_account_id": source["paypal_account_id"],
        "transaction_id": txn_id,
        "paypal_reference_id": source["transaction_id"],
        "paypal_reference_id_type": "TXN",
        "transaction_event_code": code,
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": money(gross, source["transaction_amount"]["currency_code"]),
    }


def _bare(info: dict[str, Any]) -> dict[str, Any]:
    """A record with no payer, cart nor shipping, as PayPal lists account-side events."""
    return {"transaction_info": info, "store_info": {}, "auction_info": {}, "incentive_info": {}}


def refund_record(
    rng: random.Random,
    original: dict[str, Any],
    txn_id: str,
    moment: datetime,
    amount: Decimal | None = None,
    item: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """T1107, a refund of ``amount`` (all of the payment when None): PayPal returns the
    percentage fee on what is refunded and keeps the fixed part. A partial refund of one
    ``item`` of a cart lists that item alone."""
    source = original["transaction_info"]
    gross = Decimal(source["transaction_amount"]["value"])
    refunded = gross if amount is None else amount
    info = _reference(original, txn_id, "T1107", moment, -refunded)
    info.update(
        fee_amount=money(refund_fee(refunded)),
        transaction_status="S",
        ending_balance=None,
        available_balance=None,
        invoice_id=source["invoice_id"],
        custom_field=source["custom_field"],
        protection_eligibility=source["protection_eligibility"],
    )
    record = {"transaction_info": info, "payer_info": original["payer_info"]}
    if item is not None:
        record["cart_info"] = {"item_details": [item]}
    elif rng.random() < 0.5:  # PayPal sometimes repeats the cart on a refund, sometimes not
        record["cart_info"] = original["cart_info"]
    record.update(store_info={}, auction_info={}, incentive_info={})
    return record


def _taken_back(
    referenced: dict[str, Any], txn_id: str, code: str, moment: datetime, **fields: object
) -> dict[str, Any]:
    """A completed account-side record moving the referenced record's whole amount the other
    way (a reversal, a chargeback and its reversal, a hold and its release), balances left empty."""
    amount = Decimal(referenced["transaction_info"]["transaction_amount"]["value"])
    info = _reference(referenced, txn_id, code, moment, -amount)
    info.update(transaction_status="S", ending_balance=None, available_balance=None, **fields)
    return info


def reversal_record(original: dict[str, Any], txn_id: str, moment: datetime, dispute: int) -> dict[str, Any]:
    """T1106, a payment reversed after a dispute: like PayPal's, no fee, payer nor cart."""
    gross = original["transaction_info"]["transaction_amount"]["value"]
    info = _taken_back(
        original,
        txn_id,
        "T1106",
        moment,
        transaction_subject=(
            f"{gross} USD; has been processed and claim is now closed. "
            f"Please refer Dispute ID {dispute}. Thank you."
        ),
        protection_eligibility="02",
    )
    del info["paypal_reference_id_type"]  # the sample PayPal reversal carries the id only
    return _bare(info)


def chargeback_record(original: dict[str, Any], txn_id: str, moment: datetime) -> dict[str, Any]:
    """T1201, a card issuer's chargeback: the whole amount leaves the account."""
    info = _taken_back(
        original, txn_id, "T1201", moment, fee_amount=money("0.00"), protection_eligibility="02"
    )
    return _bare(info)


def chargeback_fee_record(chargeback: dict[str, Any], txn_id: str, moment: datetime) -> dict[str, Any]:
    """T0106, PayPal's fee for handling a chargeback: the fee is the record's gross (negative,
    no ``fee_amount``), and it references the chargeback."""
    info = _reference(chargeback, txn_id, "T0106", moment, CHARGEBACK_FEE)
    info.update(
        transaction_status="S",
        transaction_subject="Chargeback fee",
        ending_balance=None,
        available_balance=None,
    )
    return _bare(info)


def chargeback_reversal_record(chargeback: dict[str, Any], txn_id: str, moment: datetime) -> dict[str, Any]:
    """T1202, a chargeback reversed in the studio's favour: the amount comes back (positive),
    referencing the chargeback; the chargeback fee stays charged."""
    info = _taken_back(
        chargeback, txn_id, "T1202", moment, fee_amount=money("0.00"), protection_eligibility="02"
    )
    return _bare(info)


def hold_record(original: dict[str, Any], txn_id: str, moment: datetime) -> dict[str, Any]:
    """T1110, the disputed payment's amount held while PayPal investigates (negative, no fee)."""
    info = _taken_back(
        original, txn_id, "T1110", moment, transaction_subject="Hold for dispute investigation"
    )
    return _bare(info)


def release_record(hold: dict[str, Any], txn_id: str, moment: datetime) -> dict[str, Any]:
    """T1111, the hold cancelled: the same amount back (positive), referencing the hold."""
    info = _taken_back(
        hold, txn_id, "T1111", moment, transaction_subject="Cancellation of hold for dispute resolution"
    )
    return _bare(info)


def conversion_record(
    account: str, txn_id: str, code: str, moment: datetime, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One side of a currency conversion (T0200/T0201): the source side leaves its currency
    (negative), the target side, which references it, arrives in the other (positive). No fee:
    PayPal's margin is in its rate. The amount is set when the balance is known."""
    when = paypal_time(moment)
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": code,
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": None,
        "transaction_status": "S",
        "transaction_subject": "Currency conversion",
        "ending_balance": None,
        "available_balance": None,
    }
    if source is not None:
        info["paypal_reference_id"] = source["transaction_info"]["transaction_id"]
        info["paypal_reference_id_type"] = "TXN"
    return _bare(info)


def withdrawal_record(
    account: str, txn_id: str, moment: datetime, currency: str = CURRENCY
) -> dict[str, Any]:
    """T0400, a transfer to the studio's bank; the amount is set when the balance is known."""
    when = paypal_time(moment)
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": "T0400",
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": None,
        "fee_amount": money("0.00", currency),
        "transaction_status": "S",
        "transaction_subject": "Withdrawal to bank account",
        "ending_balance": None,
        "available_balance": None,
    }
    return _bare(info)


def unknown_record(account: str, txn_id: str, moment: datetime, gross: Decimal) -> dict[str, Any]:
    """A record under an event code nobody listed (``UNKNOWN_CODE``): a small credit, no fee."""
    when = paypal_time(moment)
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": UNKNOWN_CODE,
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": money(gross),
        "transaction_status": "S",
        "transaction_subject": "Account adjustment",
        "ending_balance": None,
        "available_balance": None,
    }
    return _bare(info)
