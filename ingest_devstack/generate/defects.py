"""Rows planted to be quarantined (or only warned about), and how each one is defaced.

Coercion defects break the pipeline's column types or a REQUIRED value; validation defects are
well-typed rows that a Great Expectations suite (``expectations/*.json``) rejects, named by the
expectation's id. Each is planted on a row no other injected fact depends on.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate.paypal import PAYPAL_TIME, money

Defect = namedtuple("Defect", "kind check severity")

# The game DB's rows: (defect, column, planted value); every one is critical.
ROW_DEFECTS = (
    (Defect("coercion", "total_cost", "critical"), "total_cost", "twelve"),
    (Defect("coercion", "payment_date", "critical"), "payment_date", "yesterday"),
    (Defect("coercion", "transaction_id", "critical"), "transaction_id", None),
    (Defect("coercion", "item_count", "critical"), "item_count", "two"),
    (Defect("validation", "payments.status_known", "critical"), "transaction_status", "bogus"),
    (Defect("validation", "payments.total_cost_bounded", "critical"), "total_cost", "-5.00"),
    (Defect("validation", "payments.currency_iso", "critical"), "currency_code", "US$"),
)
# PayPal payments (completed, T0006/T0007); the coercion checks are the pipeline's column names.
PAYPAL_DEFECTS = (
    Defect("coercion", "transaction_id", "critical"),
    Defect("coercion", "transaction_initiation_date", "critical"),
    Defect("coercion", "gross_amount", "critical"),
    Defect("validation", "paypal.status_known", "critical"),
    Defect("validation", "paypal.currency_iso", "critical"),
    Defect("validation", "paypal.fee_not_positive_on_completed_payments", "critical"),
    Defect("validation", "paypal.sale_gross_not_negative", "critical"),
    Defect("validation", "paypal.updated_not_before_initiated", "warning"),
)
# Planted on a refund (T1107), not on a payment.
REFUND_DEFECT = Defect("validation", "paypal.reference_on_reversals", "critical")
# Not a defacement: the record under an event code PayPal's lists do not name. The suite warns
# and loads it, so that the balance keeps it and the reconciliation reports it.
UNKNOWN_CODE_DEFECT = Defect("validation", "paypal.event_code_known", "warning")


def deface_row(row: dict[str, Any], column: str, value: object) -> None:
    row[column] = value


def deface_paypal(record: dict[str, Any], check: str) -> None:
    """Change a built PayPal record so that exactly ``check`` fails on it."""
    info = record["transaction_info"]
    amount = info.get("transaction_amount") or {}
    if check == "transaction_id":
        del info["transaction_id"]
    elif check == "transaction_initiation_date":
        info["transaction_initiation_date"] = "not-a-date"
    elif check == "gross_amount":
        info["transaction_amount"] = {**amount, "value": "N/A"}
    elif check == "paypal.status_known":
        info["transaction_status"] = "X"
    elif check == "paypal.currency_iso":
        info["transaction_amount"] = {**amount, "currency_code": "usd"}
    elif check == "paypal.fee_not_positive_on_completed_payments":
        info["transaction_event_code"] = "T0006"
        info["fee_amount"] = money(abs(Decimal(info["fee_amount"]["value"])))
    elif check == "paypal.sale_gross_not_negative":
        info["transaction_event_code"] = "T0006"
        info["transaction_amount"] = money(-Decimal(amount["value"]))
    elif check == "paypal.updated_not_before_initiated":
        started = datetime.strptime(info["transaction_initiation_date"], PAYPAL_TIME)
        info["transaction_updated_date"] = (started - timedelta(hours=1)).strftime(PAYPAL_TIME)
    elif check == UNKNOWN_CODE_DEFECT.check:
        pass  # built under an unknown code, its amounts PayPal's own
    elif check == REFUND_DEFECT.check:
        info.pop("paypal_reference_id", None)
        info.pop("paypal_reference_id_type", None)
    else:
        raise ValueError(f"no such PayPal defect: {check}")


def defect_entry(key: str, pipeline: str, row: int, defect: Defect) -> dict[str, Any]:
    return {
        "key": key,
        "pipeline": pipeline,
        "row": row,
        "kind": defect.kind,
        "check": defect.check,
        "severity": defect.severity,
    }
