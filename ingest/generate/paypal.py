"""PayPal Transaction Search records as the extractor receives them, all in the account's USD.

Builders return plain dicts shaped like the API's ``transaction_details[]`` elements; balances
are left empty here and filled in by ``ingest.generate.month`` in initiation order.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from ingest.generate.reference import TOWNS, Player

PAYPAL_TIME = "%Y-%m-%dT%H:%M:%S+0000"  # Transaction Search's format
CURRENCY = "USD"  # the merchant account's currency: every amount is in it
CENT = Decimal("0.01")
FEE_RATE = Decimal("0.029")
FEE_FIXED = Decimal("0.30")
PAYMENT_CODES = ("T0006", "T0007")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_SPACE = 36**17
_ID_STEP = 1_000_000_007  # prime to 2 and 3, so n -> n * step + offset never repeats mod 36**17


def paypal_time(moment: datetime) -> str:
    """``2021-07-03T08:24:06+0000``, from isoformat: several times faster than formatting."""
    return moment.isoformat(timespec="seconds")[:19] + "+0000"


def money(value: Decimal | str) -> dict[str, str]:
    return {"currency_code": CURRENCY, "value": str(value)}


def payment_fee(gross: Decimal) -> Decimal:
    """PayPal's standard fee on a payment received, as the negative amount it books."""
    return -(gross * FEE_RATE + FEE_FIXED).quantize(CENT, ROUND_HALF_UP)


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
    item: dict,
    invoice: str,
    gross: Decimal,
) -> dict:
    """A payment received for one cart item; a pending one is dated but not yet updated."""
    where = player.paypal_country.iso_2_code
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": event_code,
        "transaction_initiation_date": paypal_time(started),
        "transaction_updated_date": paypal_time(started if pending else settled),
        "transaction_amount": money(gross),
        "fee_amount": money(payment_fee(gross)),
        "transaction_status": "P" if pending else "S",
        "ending_balance": None,
        "available_balance": None,
        "invoice_id": invoice,
        "custom_field": str(player.user_id),
        "protection_eligibility": "02",
    }
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
        "cart_info": {"item_details": [item]},
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def cart_item(
    item_id: int, product_name: str, product_id: int, quantity: int, unit: Decimal, invoice: str
) -> dict:
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


def _reference(original: dict, txn_id: str, code: str, moment: datetime, gross: Decimal) -> dict:
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
        "transaction_amount": money(gross),
    }


def refund_record(rng: random.Random, original: dict, txn_id: str, moment: datetime) -> dict:
    """T1107, a full refund: PayPal returns its percentage fee and keeps the fixed part."""
    source = original["transaction_info"]
    gross = Decimal(source["transaction_amount"]["value"])
    info = _reference(original, txn_id, "T1107", moment, -gross)
    info.update(
        fee_amount=money((gross * FEE_RATE).quantize(CENT, ROUND_HALF_UP)),
        transaction_status="S",
        ending_balance=None,
        available_balance=None,
        invoice_id=source["invoice_id"],
        custom_field=source["custom_field"],
        protection_eligibility=source["protection_eligibility"],
    )
    record = {"transaction_info": info, "payer_info": original["payer_info"]}
    if rng.random() < 0.5:  # PayPal sometimes repeats the cart on a refund, sometimes not
        record["cart_info"] = original["cart_info"]
    record.update(store_info={}, auction_info={}, incentive_info={})
    return record


def reversal_record(original: dict, txn_id: str, moment: datetime, dispute: int) -> dict:
    """T1106, a payment reversed after a dispute: like PayPal's, no fee, payer nor cart."""
    gross = Decimal(original["transaction_info"]["transaction_amount"]["value"])
    info = _reference(original, txn_id, "T1106", moment, -gross)
    del info["paypal_reference_id_type"]  # the sample PayPal reversal carries the id only
    info.update(
        transaction_status="S",
        transaction_subject=(
            f"{gross} USD; has been processed and claim is now closed. "
            f"Please refer Dispute ID {dispute}. Thank you."
        ),
        ending_balance=None,
        available_balance=None,
        protection_eligibility="02",
    )
    return {"transaction_info": info, "store_info": {}, "auction_info": {}, "incentive_info": {}}


def chargeback_record(original: dict, txn_id: str, moment: datetime) -> dict:
    """T1201, a card issuer's chargeback: the whole amount leaves the account."""
    gross = Decimal(original["transaction_info"]["transaction_amount"]["value"])
    info = _reference(original, txn_id, "T1201", moment, -gross)
    info.update(
        fee_amount=money("0.00"),
        transaction_status="S",
        ending_balance=None,
        available_balance=None,
        protection_eligibility="02",
    )
    return {"transaction_info": info, "store_info": {}, "auction_info": {}, "incentive_info": {}}


def withdrawal_record(account: str, txn_id: str, moment: datetime) -> dict:
    """T0400, a transfer to the studio's bank; the amount is set when the balance is known."""
    when = paypal_time(moment)
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": "T0400",
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": None,
        "fee_amount": money("0.00"),
        "transaction_status": "S",
        "transaction_subject": "Withdrawal to bank account",
        "ending_balance": None,
        "available_balance": None,
    }
    return {"transaction_info": info, "store_info": {}, "auction_info": {}, "incentive_info": {}}
