"""Issue 19, "our generator is not the oracle": every PayPal event code class of the issue's finance
semantics, in small pages built from PayPal's documented record shapes (tests/support/paypal_documented.py),
loaded through the real pipelines into the emulators and reconciled.

Every expected figure below is a literal worked out by hand, with its arithmetic in a comment;
nothing is computed by the project's code or by the generator. Fees follow the studio's PayPal
pricing: 2.9% + 0.30 USD (3.4% + 0.35 EUR) on a payment, rounded half up to the cent; a refund
gives back the percentage part. Each test loads one case into tables of its own.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.helpers import COUNTRIES_CSV, VAT_TSV, isolate_shipped_pipelines
from support.paypal_documented import (
    chargeback,
    chargeback_fee,
    chargeback_reversal,
    conversion,
    hold,
    item,
    payer,
    payment_row,
    refund,
    release,
    reversal,
    sale,
    transaction,
    withdrawal,
)

from ingest.adapters.clients import aws_client
from ingest.apps.finance import reconcile
from ingest.apps.finance.exceptions import exceptions as period_exceptions
from ingest.apps.finance.exports import accounting_export
from ingest.apps.finance.figures import figures as period_figures
from ingest.apps.finance.models import Tables, model_rows
from ingest.apps.finance.money import cent
from ingest.apps.finance.period import Period

pytestmark = pytest.mark.integration

D = Decimal

# -- the case loader ------------------------------------------------------------------------------

# 2021-07-19T00:00:00Z; 1 USD = 0.8412 EUR, the rate of the conversion case.
EXCHANGE_RATES = {"base": "USD", "timestamp": 1626652800, "rates": {"EUR": 0.8412, "GBP": 0.7268, "USD": 1.0}}


@dataclass(frozen=True)
class Case:
    services: Any
    tables: Tables
    period: Period

    @property
    def client(self) -> Any:
        return self.services.bigquery


@pytest.fixture
def load_case(stack, tmp_path: Path):
    """Writes PayPal pages (JSON arrays), payment rows and the reference tables under a prefix of
    the test's own, loads them in batch mode through copies of the shipped pipelines (suites,
    transform and merge included) and reconciles ``period``."""

    def load(
        pages: dict[str, list[dict[str, Any]]], payments: dict[str, list[dict[str, Any]]], period: Period
    ) -> Case:
        from ingest.core.settings import Settings
        from ingest.ingestion.runs import run_batch
        from ingest.ingestion.services import Services

        prefix = f"f{uuid.uuid4().hex[:10]}"
        pipelines_dir = tmp_path / prefix / "pipelines"
        isolate_shipped_pipelines(pipelines_dir, prefix)
        bucket = f"finance-{prefix}"
        s3 = aws_client("s3")
        s3.create_bucket(Bucket=bucket)
        files = {
            "reference/country_tax_codes/countries.csv": COUNTRIES_CSV.encode(),
            "reference/vat_rates/vat.tsv": VAT_TSV.encode(),
            "reference/exchange_rates/latest.json": json.dumps(EXCHANGE_RATES).encode(),
        }
        for day, records in pages.items():  # "2021/07/05" or "2021/07/05/page-2"
            name = day if day.count("/") == 3 else f"{day}/page-1"
            files[f"paypal/transactions/{name}.json"] = json.dumps(records, indent=1).encode()
        for day, rows in payments.items():
            files[f"payments/transactions/{day}/rows"] = "".join(json.dumps(r) for r in rows).encode()
        for key, body in files.items():
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)

        services = Services.from_env(
            Settings(pipelines_dir=pipelines_dir, recon_dataset=f"recon_{prefix}")  # type: ignore[arg-type]
        )
        batch = run_batch(services, bucket, prefix)
        assert not batch.failed, [(r.ref.key, r.message) for r in batch.failed]
        quarantined = {name: row["rows_quarantined"] for name, row in batch.by_pipeline().items()}
        # The suites must accept every record PayPal documents (fees, conversions, holds, unknown
        # codes included): a quarantined record would break the balance the suite guards.
        assert set(quarantined.values()) == {0}, quarantined
        tables = Tables.for_services(services)
        reconcile.run(services.bigquery, tables, period)
        return Case(services, tables, period)

    return load


# -- reading the models as plain values -----------------------------------------------------------

DAY_COLUMNS = {"day", "date", "paypal_day", "our_day", "original_day"}


def plain(name: str, value: Any) -> Any:
    """A cell as a plain value: days as ISO text, amounts as Decimals to the cent, gaps as None."""
    if value is None or (not isinstance(value, str | Decimal | datetime.date) and pd.isna(value)):
        return None
    if name in DAY_COLUMNS:
        return str(value)[:10]
    if name == "at":
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, Decimal | float):
        return cent(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def rows(case: Case, model: str, columns: str, period: Period | None = None) -> list[tuple]:
    """The model's rows for the period, only ``columns`` (space separated), in a stable order."""
    frame = model_rows(case.client, case.tables, model, period or case.period)
    names = columns.split()
    found = [tuple(plain(n, r[n]) for n in names) for r in frame.to_dict("records")]
    return sorted(found, key=repr)


def exception_rows(case: Case, period: Period | None = None) -> list[tuple]:
    frame = period_exceptions(case.client, case.tables, period or case.period)
    names = ("date", "kind", "paypal_transaction_id", "item_code")
    return sorted((tuple(plain(n, r[n]) for n in names) for r in frame.to_dict("records")), key=repr)


BALANCE_MOVEMENTS = (
    "gross_sales", "fees", "refunds", "reversals", "chargebacks", "chargeback_reversals",
    "chargeback_fees", "holds", "conversions", "withdrawals", "other", "unknown", "pending_gross",
)  # fmt: skip


def statements(case: Case, period: Period | None = None) -> list[dict[str, Any]]:
    """``daily_balances`` rows, one per day and currency, in that order."""
    frame = model_rows(case.client, case.tables, "daily_balances", period or case.period)
    names = ("day", "currency", "opening_balance", *BALANCE_MOVEMENTS, "activity", "closing_balance")
    found = [
        {n: plain(n, r[n]) for n in (*names, "difference", "balanced")} for r in frame.to_dict("records")
    ]
    return sorted(found, key=lambda r: (r["day"], r["currency"]))


def statement(
    day: str,
    currency: str,
    opening: str,
    activity: str,
    closing: str,
    difference: str = "0.00",
    **movements: str,
) -> dict[str, Any]:
    """An expected ``daily_balances`` row: the movements named, every other one 0.00."""
    unknown = set(movements) - set(BALANCE_MOVEMENTS)
    assert not unknown, unknown
    return {
        "day": day,
        "currency": currency,
        "opening_balance": D(opening),
        **{name: D(movements.get(name, "0.00")) for name in BALANCE_MOVEMENTS},
        "activity": D(activity),
        "closing_balance": D(closing),
        "difference": D(difference),
        "balanced": difference == "0.00",
    }


def subset(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: mapping.get(key, "<absent>") for key in keys}


# -- sales: completed, pending then completed, denied, reversed -----------------------------------

COMPLETED = "4GS17290AB1035512"
PENDING = "7KM22841PC6689033"
DENIED = "2DN90317XK5548210"
REVERSED = "9RV44016LM2207158"
REVERSAL_OF_V = "3TB55120QW9904416"


def test_sale_statuses_move_the_balance_and_match_as_paypal_defines_them(load_case):
    # GIVEN a USD account at 200.00 on 5 July: a completed sale; a sale pending on the first page
    # and completed on the next day's page (same record, later update, same ending balance); a
    # denied sale, which leaves the balance where it was; and a completed sale that the next
    # day's page shows reversed (V), with its T1106 reversal, the only record dated 6 July.
    pages = {
        "2021/07/05": [
            # 200.00 + 20.00 - 0.88 (2.9% of 20.00 = 0.58, + 0.30) = 219.12
            sale(COMPLETED, "2021-07-05T09:00:00+0000", "20.00", "-0.88", "219.12",
                 buyer=payer("GBPLAYER0001", "GB"), items=[item("5101", "Crystal Pack", "20.00")]),
            # 219.12 + 15.00 - 0.74 (0.435 + 0.30 = 0.735 -> 0.74) = 233.38
            sale(PENDING, "2021-07-05T10:00:00+0000", "15.00", "-0.74", "233.38", status="P", code="T0007",
                 buyer=payer("USPLAYER0002", "US"), items=[item("5102", "Gold Chest", "15.00")]),
            # denied: moves nothing, its ending balance is the one before it
            sale(DENIED, "2021-07-05T11:00:00+0000", "30.00", None, "233.38", status="D",
                 buyer=payer("DEPLAYER0003", "DE"), items=[item("5103", "Royal Pass", "30.00")]),
            # 233.38 + 25.00 - 1.03 (0.725 + 0.30 = 1.025 -> 1.03) = 257.35
            sale(REVERSED, "2021-07-05T12:00:00+0000", "25.00", "-1.03", "257.35",
                 buyer=payer("GBPLAYER0004", "GB"), items=[item("5104", "Dragon Saddle", "25.00")]),
        ],
        "2021/07/06": [
            # the completed version of the pending sale repeats its ending balance
            sale(PENDING, "2021-07-05T10:00:00+0000", "15.00", "-0.74", "233.38", code="T0007",
                 updated="2021-07-06T08:00:00+0000",
                 buyer=payer("USPLAYER0002", "US"), items=[item("5102", "Gold Chest", "15.00")]),
            # the completed sale comes back reversed (V), with the balance it had when completed
            sale(REVERSED, "2021-07-05T12:00:00+0000", "25.00", "-1.03", "257.35", status="V",
                 updated="2021-07-06T15:00:00+0000",
                 buyer=payer("GBPLAYER0004", "GB"), items=[item("5104", "Dragon Saddle", "25.00")]),
            # 257.35 - 25.00 = 232.35
            reversal(REVERSAL_OF_V, "2021-07-06T15:00:00+0000", "-25.00", "232.35", sale_id=REVERSED),
        ],
    }  # fmt: skip
    payments = {
        "2021/07/05": [
            payment_row(101, 5101, "20.00", "2021-07-05T09:00:04.000Z", country="GB"),
            payment_row(102, 5102, "15.00", "2021-07-05T10:00:04.000Z", country="US"),
            # the game saw the denied payment fail: it never happened on our side either
            payment_row(103, 5103, "30.00", "2021-07-05T11:00:04.000Z", country="DE", status="failed"),
            payment_row(104, 5104, "25.00", "2021-07-05T12:00:04.000Z", country="GB"),
        ]
    }
    case = load_case(pages, payments, Period.parse("2021-07-05", "2021-07-06"))

    # THEN PayPal's statement: the denied sale moved nothing, the pending one counted once
    assert statements(case) == [
        statement(
            "2021-07-05", "USD", "200.00",
            activity="57.35",  # 60.00 - 2.65
            closing="257.35",  # the reversed sale's balance as it was when completed
            gross_sales="60.00",  # 20.00 + 15.00 + 25.00 (V is a sale; D is not)
            fees="-2.65",  # -0.88 - 0.74 - 1.03
        ),
        statement("2021-07-06", "USD", "257.35", activity="-25.00", closing="232.35", reversals="-25.00"),
    ]  # fmt: skip
    assert rows(case, "balance_breaks", "paypal_transaction_id") == []

    # AND the completed, the once-pending and the reversed sale pair with our rows; the denied one
    # is not a sale at all (no match row, no exception), and our failed row did not happen
    assert rows(
        case, "matches",
        "day status paypal_transaction_id paypal_status item_code paypal_amount payment_transaction_id "
        "our_amount mismatch_component",
    ) == sorted([
        ("2021-07-05", "matched", COMPLETED, "S", "5101", D("20.00"), 101, D("20.00"), None),
        ("2021-07-05", "matched", PENDING, "S", "5102", D("15.00"), 102, D("15.00"), None),
        ("2021-07-05", "matched", REVERSED, "V", "5104", D("25.00"), 104, D("25.00"), None),
    ], key=repr)  # fmt: skip

    # AND the reversal is linked to the sale it takes back
    assert rows(
        case, "adjustments",
        "day kind paypal_transaction_id paypal_event_code currency amount fee original_transaction_id "
        "country_code item_code linked",
    ) == [
        ("2021-07-06", "reversal", REVERSAL_OF_V, "T1106", "USD", D("-25.00"), D("0.00"), REVERSED, "GB",
         "5104", True),
    ]  # fmt: skip
    assert exception_rows(case) == [("2021-07-06", "reversal", REVERSAL_OF_V, "5104")]

    # AND VAT: the reversed sale was revenue on the 5th and is taken back on the 6th, in GB;
    # the denied German sale is no revenue (no DE line)
    assert rows(
        case, "revenue_by_country",
        "day country_code sales gross_sales reversals revenue net_amount vat_amount",
    ) == sorted([
        # 20.00 / 1.2 = 16.666 -> 16.67 and 25.00 / 1.2 = 20.833 -> 20.83: 37.50; VAT 3.33 + 4.17
        ("2021-07-05", "GB", 2, D("45.00"), D("0.00"), D("45.00"), D("37.50"), D("7.50")),
        ("2021-07-05", "US", 1, D("15.00"), D("0.00"), D("15.00"), D("15.00"), D("0.00")),
        # -25.00 / 1.2 = -20.833 -> -20.83; VAT -25.00 + 20.83 = -4.17
        ("2021-07-06", "GB", 0, D("0.00"), D("-25.00"), D("-25.00"), D("-20.83"), D("-4.17")),
    ], key=repr)  # fmt: skip

    # AND a day with only the reversal: every figure is a number, none is None
    only_reversal = period_figures(case.client, case.tables, Period.parse("2021-07-06"))
    assert subset(
        only_reversal, "currency", "matched_count", "matched_amount", "our_count", "our_total",
        "paypal_gross", "reversals", "opening_balance", "closing_balance", "balance_check",
    ) == {
        "currency": "USD",
        "matched_count": 0,
        "matched_amount": "0.00",
        "our_count": 0,
        "our_total": "0.00",
        "paypal_gross": "0.00",
        "reversals": "-25.00",
        "opening_balance": "257.35",
        "closing_balance": "232.35",  # 257.35 - 25.00
        "balance_check": True,
    }  # fmt: skip
    assert only_reversal["exceptions"]["reversal"] == 1
    both_days = period_figures(case.client, case.tables, case.period)
    assert subset(
        both_days, "matched_count", "matched_amount", "our_count", "our_total", "paypal_gross", "paypal_fees"
    ) == {
        "matched_count": 3,
        "matched_amount": "60.00",  # 20.00 + 15.00 + 25.00
        "our_count": 3,  # 101, 102, 104; 103 failed
        "our_total": "60.00",
        "paypal_gross": "60.00",
        "paypal_fees": "-2.65",
    }


# -- refunds, chargebacks, holds, withdrawal, an unknown code -------------------------------------

SALE_GB = "1AA30581HJ7720014"
SALE_DE = "1AB66203NP1149925"
SALE_US = "1AC10947TR3386436"
SALE_GB2 = "1AD84412WE5503847"
FULL_REFUND = "2RF11730KA0094410"
HOLD = "2HD56891LB7731521"
PAYOUT = "2WD30027MC4418632"
PARTIAL_REFUND = "3RF70416NA2250743"
CHARGEBACK = "3CB19024PD8867154"
CHARGEBACK_FEE = "3CF45538QE1172265"
CHARGEBACK_BACK = "3CR88103RF6639376"
RELEASE = "3RL20975SG4401487"
UNKNOWN = "3UK63392TH2285598"


def test_refunds_chargebacks_and_holds_move_the_balance_and_link_to_the_original_sale(load_case):
    # GIVEN a USD account at 500.00 on 8 July: four sales; a full refund of the first (PayPal gives
    # back its 2.9% fee, keeps the 0.30), a hold on the third while a dispute is investigated, and a
    # withdrawal to the bank. On 9 July: a partial refund of the second; a chargeback of the fourth
    # with PayPal's 20.00 chargeback fee and then the chargeback's reversal (both referring to the
    # chargeback, not to the sale); the hold's release (referring to the hold); and a record of a
    # code PayPal has not documented to us (T9901).
    pages = {
        "2021/07/08": [
            # 500.00 + 40.00 - 1.46 (1.16 + 0.30) = 538.54
            sale(SALE_GB, "2021-07-08T08:00:00+0000", "40.00", "-1.46", "538.54",
                 buyer=payer("GBPLAYER0011", "GB"), items=[item("6201", "Dragon Egg", "40.00")]),
            # 538.54 + 30.00 - 1.17 (0.87 + 0.30) = 567.37
            sale(SALE_DE, "2021-07-08T09:00:00+0000", "30.00", "-1.17", "567.37",
                 buyer=payer("DEPLAYER0012", "DE"), items=[item("6202", "Rune Set", "30.00")]),
            # 567.37 + 50.00 - 1.75 (1.45 + 0.30) = 615.62
            sale(SALE_US, "2021-07-08T10:00:00+0000", "50.00", "-1.75", "615.62",
                 buyer=payer("USPLAYER0013", "US"), items=[item("6203", "Guild Hall", "50.00")]),
            # 615.62 + 12.00 - 0.65 (0.348 + 0.30 = 0.648 -> 0.65) = 626.97
            sale(SALE_GB2, "2021-07-08T11:00:00+0000", "12.00", "-0.65", "626.97",
                 buyer=payer("GBPLAYER0014", "GB"), items=[item("6204", "Pet Griffin", "12.00")]),
            # 626.97 - 40.00 + 1.16 (2.9% of 40.00 back) = 588.13
            refund(FULL_REFUND, "2021-07-08T14:00:00+0000", "-40.00", "1.16", "588.13", sale_id=SALE_GB,
                   buyer=payer("GBPLAYER0011", "GB")),
            # 588.13 - 50.00 = 538.13
            hold(HOLD, "2021-07-08T16:00:00+0000", "-50.00", "538.13", sale_id=SALE_US),
            # 538.13 - 300.00 = 238.13
            withdrawal(PAYOUT, "2021-07-08T18:00:00+0000", "-300.00", "238.13", fee="0.00"),
        ],
        "2021/07/09": [
            # 238.13 - 10.00 + 0.29 (2.9% of 10.00) = 228.42
            refund(PARTIAL_REFUND, "2021-07-09T08:00:00+0000", "-10.00", "0.29", "228.42", sale_id=SALE_DE,
                   buyer=payer("DEPLAYER0012", "DE")),
            # 228.42 - 12.00 = 216.42
            chargeback(CHARGEBACK, "2021-07-09T09:00:00+0000", "-12.00", "216.42", sale_id=SALE_GB2),
            # 216.42 - 20.00 = 196.42
            chargeback_fee(CHARGEBACK_FEE, "2021-07-09T09:05:00+0000", "-20.00", "196.42",
                           chargeback_id=CHARGEBACK),
            # 196.42 + 12.00 = 208.42
            chargeback_reversal(CHARGEBACK_BACK, "2021-07-09T12:00:00+0000", "12.00", "208.42",
                                chargeback_id=CHARGEBACK),
            # 208.42 + 50.00 = 258.42
            release(RELEASE, "2021-07-09T13:00:00+0000", "50.00", "258.42", hold_id=HOLD),
            # 258.42 - 3.50 = 254.92
            transaction(UNKNOWN, "T9901", "2021-07-09T15:00:00+0000", "-3.50", "254.92"),
        ],
    }  # fmt: skip
    payments = {
        "2021/07/08": [
            payment_row(201, 6201, "40.00", "2021-07-08T08:00:04.000Z", country="GB"),
            payment_row(202, 6202, "30.00", "2021-07-08T09:00:04.000Z", country="DE"),
            payment_row(203, 6203, "50.00", "2021-07-08T10:00:04.000Z", country="US"),
            payment_row(204, 6204, "12.00", "2021-07-08T11:00:04.000Z", country="GB"),
        ]
    }
    case = load_case(pages, payments, Period.parse("2021-07-08", "2021-07-09"))

    # THEN each class has its column, the hold and its release net to zero over the two days,
    # the unknown code is in the balance, and both days balance
    assert statements(case) == [
        statement(
            "2021-07-08", "USD", "500.00",
            activity="-261.87",  # 132.00 - 3.87 - 40.00 - 50.00 - 300.00
            closing="238.13",
            gross_sales="132.00",  # 40.00 + 30.00 + 50.00 + 12.00
            fees="-3.87",  # -1.46 - 1.17 - 1.75 - 0.65 + 1.16
            refunds="-40.00",
            holds="-50.00",
            withdrawals="-300.00",
        ),
        statement(
            "2021-07-09", "USD", "238.13",
            activity="16.79",  # -10.00 + 0.29 - 12.00 - 20.00 + 12.00 + 50.00 - 3.50
            closing="254.92",
            fees="0.29",  # the partial refund's fee return
            refunds="-10.00",
            chargebacks="-12.00",
            chargeback_fees="-20.00",
            chargeback_reversals="12.00",
            holds="50.00",  # with the 8th's -50.00: net zero
            unknown="-3.50",
        ),
    ]  # fmt: skip
    assert rows(case, "balance_breaks", "paypal_transaction_id") == []

    # AND each adjustment is linked to its original sale, through the chargeback or the hold where
    # it refers to one (country for VAT, the sale's item)
    kinds = {
        "refund",
        "reversal",
        "chargeback",
        "chargeback_fee",
        "chargeback_reversal",
        "hold",
        "hold_release",
    }
    adjustments = rows(
        case, "adjustments",
        "day kind paypal_transaction_id paypal_event_code amount fee original_transaction_id country_code "
        "item_code linked",
    )  # fmt: skip
    assert [a for a in adjustments if a[1] in kinds] == sorted([
        ("2021-07-08", "refund", FULL_REFUND, "T1107", D("-40.00"), D("1.16"), SALE_GB, "GB", "6201", True),
        ("2021-07-08", "hold", HOLD, "T1110", D("-50.00"), D("0.00"), SALE_US, "US", "6203", True),
        ("2021-07-09", "refund", PARTIAL_REFUND, "T1107", D("-10.00"), D("0.29"), SALE_DE, "DE", "6202",
         True),
        ("2021-07-09", "chargeback", CHARGEBACK, "T1201", D("-12.00"), D("0.00"), SALE_GB2, "GB", "6204",
         True),
        # T0106 -> T1201 -> T0006
        ("2021-07-09", "chargeback_fee", CHARGEBACK_FEE, "T0106", D("-20.00"), D("0.00"), SALE_GB2, "GB",
         "6204", True),
        # T1202 -> T1201 -> T0006
        ("2021-07-09", "chargeback_reversal", CHARGEBACK_BACK, "T1202", D("12.00"), D("0.00"), SALE_GB2, "GB",
         "6204", True),
        # T1111 -> T1110 -> T0006
        ("2021-07-09", "hold_release", RELEASE, "T1111", D("50.00"), D("0.00"), SALE_US, "US", "6203", True),
    ], key=repr)  # fmt: skip

    # AND the sales themselves still pair with ours
    assert rows(case, "matches", "status item_code payment_transaction_id") == [
        ("matched", "6201", 201),
        ("matched", "6202", 202),
        ("matched", "6203", 203),
        ("matched", "6204", 204),
    ]

    # AND finance sees each adjustment (with the original sale's item) and the unknown code
    # (the record's own id, no item); the withdrawal is no exception
    assert exception_rows(case) == sorted([
        ("2021-07-08", "hold", HOLD, "6203"),
        ("2021-07-08", "refund", FULL_REFUND, "6201"),
        ("2021-07-09", "chargeback", CHARGEBACK, "6204"),
        ("2021-07-09", "chargeback_fee", CHARGEBACK_FEE, "6204"),
        ("2021-07-09", "chargeback_reversal", CHARGEBACK_BACK, "6204"),
        ("2021-07-09", "hold_release", RELEASE, "6203"),
        ("2021-07-09", "refund", PARTIAL_REFUND, "6202"),
        ("2021-07-09", "unknown_event_code", UNKNOWN, None),
    ], key=repr)  # fmt: skip
    counted = period_figures(case.client, case.tables, case.period)["exceptions"]
    assert subset(
        counted, "refund", "reversal", "chargeback", "chargeback_fee", "chargeback_reversal", "hold",
        "hold_release", "unknown_event_code",
    ) == {
        "refund": 2, "reversal": 0, "chargeback": 1, "chargeback_fee": 1, "chargeback_reversal": 1,
        "hold": 1, "hold_release": 1, "unknown_event_code": 1,
    }  # fmt: skip


# -- carts: shipping, quantities, several items; countries ----------------------------------------

K_SHIPPED = "5SH10294AA0011207"
K_SHORT = "5SH28837AB0022318"
K_CART = "5CT47720AC0033429"
K_QUANTITY = "5QT66513AD0044530"
K_PRICE = "5PR85406AE0055641"
K_COUNTRY = "5GB04399AF0066752"
K_NO_COUNTRY = "5GB23282AG0077863"


def test_cart_gross_is_allocated_to_items_and_differences_name_their_component(load_case):
    # GIVEN a USD account at 100.00 on 14 July and seven sales:
    # - a one-item cart with 2.00 shipping, ours the 20.00 PayPal collected;
    # - the same shape, ours 18.00: the item without the shipping;
    # - a two-item cart (3 x 4.99 and 1 x 9.99) with 2.50 shipping, gross 27.46;
    # - 2 x 5.00 at PayPal, ours 1 item for 5.00; a 6.00 item ours at 6.50;
    # - two British buyers (PayPal) whom our database has in Germany and nowhere.
    pages = {
        "2021/07/14": [
            # 100.00 + 20.00 - 0.88 = 119.12
            sale(K_SHIPPED, "2021-07-14T09:00:00+0000", "20.00", "-0.88", "119.12", shipping="2.00",
                 buyer=payer("GBPLAYER0021", "GB"), items=[item("7301", "Starter Bundle", "18.00")]),
            # 119.12 + 20.00 - 0.88 = 138.24
            sale(K_SHORT, "2021-07-14T10:00:00+0000", "20.00", "-0.88", "138.24", shipping="2.00",
                 buyer=payer("GBPLAYER0022", "GB"), items=[item("7302", "Starter Bundle", "18.00")]),
            # 14.97 + 9.99 + 2.50 = 27.46; fee 0.79634 + 0.30 -> 1.10; 138.24 + 26.36 = 164.60
            sale(K_CART, "2021-07-14T11:00:00+0000", "27.46", "-1.10", "164.60", shipping="2.50",
                 buyer=payer("USPLAYER0023", "US"),
                 items=[item("7303", "Mana Potion", "14.97", quantity=3, unit_price="4.99"),
                        item("7304", "Hero Skin", "9.99")]),
            # 2 x 5.00; fee 0.29 + 0.30 = 0.59; 164.60 + 9.41 = 174.01
            sale(K_QUANTITY, "2021-07-14T12:00:00+0000", "10.00", "-0.59", "174.01",
                 buyer=payer("USPLAYER0024", "US"),
                 items=[item("7305", "Energy Refill", "10.00", quantity=2, unit_price="5.00")]),
            # fee 0.174 + 0.30 -> 0.47; 174.01 + 5.53 = 179.54
            sale(K_PRICE, "2021-07-14T13:00:00+0000", "6.00", "-0.47", "179.54",
                 buyer=payer("USPLAYER0025", "US"), items=[item("7306", "Lucky Charm", "6.00")]),
            # fee 0.261 + 0.30 -> 0.56; 179.54 + 8.44 = 187.98
            sale(K_COUNTRY, "2021-07-14T14:00:00+0000", "9.00", "-0.56", "187.98",
                 buyer=payer("GBPLAYER0026", "GB"), items=[item("7307", "Battle Banner", "9.00")]),
            # fee 0.232 + 0.30 -> 0.53; 187.98 + 7.47 = 195.45
            sale(K_NO_COUNTRY, "2021-07-14T15:00:00+0000", "8.00", "-0.53", "195.45",
                 buyer=payer("GBPLAYER0027", "GB"), items=[item("7308", "Scroll Case", "8.00")]),
        ]
    }  # fmt: skip
    payments = {
        "2021/07/14": [
            payment_row(301, 7301, "20.00", "2021-07-14T09:00:04.000Z", country="GB"),
            payment_row(302, 7302, "18.00", "2021-07-14T10:00:04.000Z", country="GB"),
            payment_row(303, 7303, "16.47", "2021-07-14T11:00:04.000Z", country="US", item_count=3),
            payment_row(304, 7304, "10.99", "2021-07-14T11:00:05.000Z", country="US"),
            payment_row(305, 7305, "5.00", "2021-07-14T12:00:04.000Z", country="US", item_count=1),
            payment_row(306, 7306, "6.50", "2021-07-14T13:00:04.000Z", country="US"),
            payment_row(307, 7307, "9.00", "2021-07-14T14:00:04.000Z", country="DE"),
            payment_row(308, 7308, "8.00", "2021-07-14T15:00:04.000Z", country=None),
        ]
    }
    case = load_case(pages, payments, Period.parse("2021-07-14"))

    # THEN each item is compared with its share of what PayPal collected
    assert rows(
        case, "matches",
        "item_code status paypal_transaction_id paypal_amount paypal_item_amount paypal_quantity "
        "payment_transaction_id our_amount our_quantity mismatch_component payer_country_code "
        "vat_country_code",
    ) == [
        ("7301", "matched", K_SHIPPED, D("20.00"), D("18.00"), 1, 301, D("20.00"), 1, None, "GB", "GB"),
        ("7302", "amount_mismatch", K_SHORT, D("20.00"), D("18.00"), 1, 302, D("18.00"), 1, "shipping", "GB",
         "GB"),
        # items by item_code: 7303 gets ROUND(27.46 * 14.97 / 24.96, 2) = ROUND(16.4694..) = 16.47,
        # the last, 7304, the rest: 27.46 - 16.47 = 10.99
        ("7303", "matched", K_CART, D("16.47"), D("14.97"), 3, 303, D("16.47"), 3, None, "US", "US"),
        ("7304", "matched", K_CART, D("10.99"), D("9.99"), 1, 304, D("10.99"), 1, None, "US", "US"),
        ("7305", "amount_mismatch", K_QUANTITY, D("10.00"), D("10.00"), 2, 305, D("5.00"), 1, "quantity",
         "US", "US"),
        ("7306", "amount_mismatch", K_PRICE, D("6.00"), D("6.00"), 1, 306, D("6.50"), 1, "price", "US", "US"),
        # VAT goes on PayPal's country whatever ours says
        ("7307", "matched", K_COUNTRY, D("9.00"), D("9.00"), 1, 307, D("9.00"), 1, None, "GB", "GB"),
        ("7308", "matched", K_NO_COUNTRY, D("8.00"), D("8.00"), 1, 308, D("8.00"), 1, None, "GB", "GB"),
    ]  # fmt: skip

    # AND the differences and the country disagreements are exceptions
    assert exception_rows(case) == sorted([
        ("2021-07-14", "amount_mismatch", K_SHORT, "7302"),
        ("2021-07-14", "amount_mismatch", K_QUANTITY, "7305"),
        ("2021-07-14", "amount_mismatch", K_PRICE, "7306"),
        ("2021-07-14", "country_mismatch", K_COUNTRY, "7307"),  # PayPal GB, ours DE
        ("2021-07-14", "country_mismatch", K_NO_COUNTRY, "7308"),  # PayPal GB, ours empty
    ], key=repr)  # fmt: skip

    # AND VAT is booked on PayPal's country, per transaction: no German line
    revenue = "country_code sales gross_sales revenue net_amount vat_amount"
    assert rows(case, "revenue_by_country", revenue) == [
        # 20.00, 20.00, 9.00, 8.00 / 1.2 = 16.67, 16.67, 7.50, 6.67: 47.51 (one line: 57.00 / 1.2 = 47.50);
        # VAT 3.33 + 3.33 + 1.50 + 1.33 = 9.49
        ("GB", 4, D("57.00"), D("57.00"), D("47.51"), D("9.49")),
        ("US", 3, D("43.46"), D("43.46"), D("43.46"), D("0.00")),  # 27.46 + 10.00 + 6.00, no VAT
    ]  # fmt: skip

    assert statements(case) == [
        statement(
            "2021-07-14", "USD", "100.00",
            activity="95.45",  # 100.46 - 5.01
            closing="195.45",
            gross_sales="100.46",  # 20.00 + 20.00 + 27.46 + 10.00 + 6.00 + 9.00 + 8.00
            fees="-5.01",  # -0.88 - 0.88 - 1.10 - 0.59 - 0.47 - 0.56 - 0.53
        )
    ]  # fmt: skip
    figures = period_figures(case.client, case.tables, case.period)
    assert subset(
        figures,
        "matched_count",
        "matched_amount",
        "our_count",
        "our_total",
        "paypal_gross",
        "net_revenue",
        "vat",
    ) == {
        "matched_count": 5,  # 7301, 7303, 7304, 7307, 7308
        "matched_amount": "64.46",  # 20.00 + 16.47 + 10.99 + 9.00 + 8.00
        "our_count": 8,
        "our_total": "93.96",  # 20.00 + 18.00 + 16.47 + 10.99 + 5.00 + 6.50 + 9.00 + 8.00
        "paypal_gross": "100.46",
        "net_revenue": "90.97",  # 47.51 + 43.46
        "vat": "9.49",
    }
    assert figures["exceptions"]["country_mismatch"] == 2


# -- a currency conversion and a break in PayPal's own balance ------------------------------------

X_USD_SALE = "6US12093BA1100174"
X_FROM_USD = "6CV30186BB2211285"
X_TO_EUR = "6CV48279BC3322396"
X_EUR_SALE = "6EU66362BD4433407"
X_EUR_BREAK = "7EU84455BE5544518"
X_USD_SALE2 = "7US02548BF6655629"
X_EUR_AFTER = "7EU20631BG7766730"


def test_a_conversion_balances_each_currency_and_a_break_is_located_at_paypals_record(load_case):
    # GIVEN on 19 July a USD account at 300.00 and no EUR yet: a USD sale, 100.00 USD converted to
    # 84.12 EUR (two T0200 records, one per currency), then a EUR sale. On 20 July a EUR sale whose
    # reported ending balance is 10.00 lower than the balance before it plus its net (PayPal's own
    # figure: every record loaded), a EUR sale continuing from the reported balance, a USD sale.
    pages = {
        "2021/07/19": [
            # 300.00 + 50.00 - 1.75 (1.45 + 0.30) = 348.25
            sale(X_USD_SALE, "2021-07-19T09:00:00+0000", "50.00", "-1.75", "348.25",
                 buyer=payer("USPLAYER0031", "US"), items=[item("8401", "Castle Walls", "50.00")]),
            # USD 348.25 - 100.00 = 248.25; EUR 0.00 + 84.12 = 84.12
            *conversion(X_FROM_USD, X_TO_EUR, "2021-07-19T12:00:00+0000",
                        source_gross="-100.00", source_ending="248.25",
                        target_gross="84.12", target_ending="84.12"),
            # 84.12 + 10.00 - 0.69 (3.4% = 0.34, + 0.35) = 93.43
            sale(X_EUR_SALE, "2021-07-19T15:00:00+0000", "10.00", "-0.69", "93.43", currency="EUR",
                 buyer=payer("DEPLAYER0032", "DE"), items=[item("8402", "Moat", "10.00", currency="EUR")]),
        ],
        "2021/07/20": [
            # expected 93.43 + 20.00 - 1.03 (0.68 + 0.35) = 112.40; PayPal reports 102.40
            sale(X_EUR_BREAK, "2021-07-20T10:00:00+0000", "20.00", "-1.03", "102.40", currency="EUR",
                 buyer=payer("DEPLAYER0033", "DE"),
                 items=[item("8403", "Drawbridge", "20.00", currency="EUR")]),
            # 252.80 = 248.25 + 5.00 - 0.45 (0.145 + 0.30 -> 0.45)
            sale(X_USD_SALE2, "2021-07-20T11:00:00+0000", "5.00", "-0.45", "252.80", code="T0007",
                 buyer=payer("USPLAYER0034", "US"), items=[item("8404", "Torch", "5.00")]),
            # 102.40 + 5.00 - 0.52 (0.17 + 0.35) = 106.88
            sale(X_EUR_AFTER, "2021-07-20T14:00:00+0000", "5.00", "-0.52", "106.88", currency="EUR",
                 buyer=payer("DEPLAYER0035", "DE"), items=[item("8405", "Banner", "5.00", currency="EUR")]),
        ],
    }  # fmt: skip
    payments = {
        "2021/07/19": [
            payment_row(401, 8401, "50.00", "2021-07-19T09:00:04.000Z", country="US"),
            payment_row(402, 8402, "10.00", "2021-07-19T15:00:04.000Z", country="DE", currency="EUR"),
        ],
        "2021/07/20": [
            payment_row(403, 8403, "20.00", "2021-07-20T10:00:04.000Z", country="DE", currency="EUR"),
            payment_row(404, 8404, "5.00", "2021-07-20T11:00:04.000Z", country="US"),
            payment_row(405, 8405, "5.00", "2021-07-20T14:00:04.000Z", country="DE", currency="EUR"),
        ],
    }
    case = load_case(pages, payments, Period.parse("2021-07-19", "2021-07-20"))

    # THEN each currency has its statement; the 19th balances in both, the 20th breaks in EUR only
    assert statements(case) == [
        statement(
            "2021-07-19", "EUR", "0.00",  # before the conversion: 84.12 - 84.12
            activity="93.43",  # 84.12 + 10.00 - 0.69
            closing="93.43",
            gross_sales="10.00", fees="-0.69", conversions="84.12",
        ),
        statement(
            "2021-07-19", "USD", "300.00",
            activity="-51.75",  # 50.00 - 1.75 - 100.00
            closing="248.25",
            gross_sales="50.00", fees="-1.75", conversions="-100.00",
        ),
        statement(
            "2021-07-20", "EUR", "93.43",
            activity="23.45",  # 20.00 + 5.00 - 1.03 - 0.52
            closing="106.88",
            difference="-10.00",  # 106.88 - (93.43 + 23.45)
            gross_sales="25.00", fees="-1.55",
        ),
        statement(
            "2021-07-20", "USD", "248.25", activity="4.55", closing="252.80", gross_sales="5.00", fees="-0.45"
        ),
    ]  # fmt: skip

    # AND the break is located at the record whose reported balance departs from the running one
    assert rows(
        case, "balance_breaks",
        "day currency at paypal_transaction_id paypal_event_code previous_transaction_id balance_before net "
        "expected_balance reported_balance difference",
    ) == [
        ("2021-07-20", "EUR", "2021-07-20T10:00:00", X_EUR_BREAK, "T0006", X_EUR_SALE, D("93.43"), D("18.97"),
         D("112.40"), D("102.40"), D("-10.00")),
    ]  # fmt: skip

    # AND every sale pairs in its own currency; a conversion is no exception
    assert rows(case, "matches", "item_code status currency paypal_amount our_amount") == [
        ("8401", "matched", "USD", D("50.00"), D("50.00")),
        ("8402", "matched", "EUR", D("10.00"), D("10.00")),
        ("8403", "matched", "EUR", D("20.00"), D("20.00")),
        ("8404", "matched", "USD", D("5.00"), D("5.00")),
        ("8405", "matched", "EUR", D("5.00"), D("5.00")),
    ]
    assert exception_rows(case) == []

    # AND the headline covers both currencies: balanced on the 19th ...
    first = period_figures(case.client, case.tables, Period.parse("2021-07-19"))
    assert sorted(first["by_currency"]) == ["EUR", "USD"]
    assert subset(first, "balance_check", "days_not_balanced") == {
        "balance_check": True,
        "days_not_balanced": 0,
    }
    keys = ("opening_balance", "closing_balance", "balance_check", "matched_count", "our_count", "our_total")
    assert {c: subset(v, *keys) for c, v in first["by_currency"].items()} == {
        "EUR": {"opening_balance": "0.00", "closing_balance": "93.43", "balance_check": True,
                "matched_count": 1, "our_count": 1, "our_total": "10.00"},
        "USD": {"opening_balance": "300.00", "closing_balance": "248.25", "balance_check": True,
                "matched_count": 1, "our_count": 1, "our_total": "50.00"},
    }  # fmt: skip
    # ... and not balanced over both days, although USD, with the most matches, is
    both = period_figures(case.client, case.tables, case.period)
    assert subset(both, "balance_check", "days_not_balanced") == {
        "balance_check": False,
        "days_not_balanced": 1,
    }
    keys = ("closing_balance", "balance_check", "balance_difference", "days_not_balanced")
    assert {c: subset(v, *keys) for c, v in both["by_currency"].items()} == {
        "EUR": {"closing_balance": "106.88", "balance_check": False, "balance_difference": "-10.00",
                "days_not_balanced": 1},
        "USD": {"closing_balance": "252.80", "balance_check": True, "balance_difference": "0.00",
                "days_not_balanced": 0},
    }  # fmt: skip


# -- VAT per transaction --------------------------------------------------------------------------

V_GB1 = "8VG10475CA1011843"
V_GB2 = "8VG28568CB2122954"
V_GB3 = "8VG46651CC3233065"
V_DE1 = "8VD64744CD4344176"
V_DE2 = "8VD82837CE5455287"
V_REFUND1 = "9VR00920CF6566398"
V_REFUND2 = "9VR19013CG7677409"


def test_vat_is_rounded_per_transaction_and_days_sum_to_the_period(load_case):
    # GIVEN a USD account at 50.00; on 22 July three British sales (20%) and two German ones (19%)
    # whose VAT rounded sale by sale differs by a cent from one rounding of the day's line; on
    # 23 July two partial refunds of 1.10 of two British sales.
    pages = {
        "2021/07/22": [
            # 50.00 + 10.10 - 0.59 (0.2929 + 0.30 -> 0.59) = 59.51
            sale(V_GB1, "2021-07-22T09:00:00+0000", "10.10", "-0.59", "59.51",
                 buyer=payer("GBPLAYER0041", "GB"), items=[item("9501", "Gem Sack", "10.10")]),
            # 59.51 + 5.30 - 0.45 (0.1537 + 0.30 -> 0.45) = 64.36
            sale(V_GB2, "2021-07-22T10:00:00+0000", "5.30", "-0.45", "64.36",
                 buyer=payer("GBPLAYER0042", "GB"), items=[item("9502", "Gem Pouch", "5.30")]),
            # 64.36 + 1.10 - 0.33 (0.0319 + 0.30 -> 0.33) = 65.13
            sale(V_GB3, "2021-07-22T11:00:00+0000", "1.10", "-0.33", "65.13",
                 buyer=payer("GBPLAYER0043", "GB"), items=[item("9503", "Gem", "1.10")]),
            # 65.13 + 4.99 - 0.44 (0.14471 + 0.30 -> 0.44) = 69.68
            sale(V_DE1, "2021-07-22T12:00:00+0000", "4.99", "-0.44", "69.68",
                 buyer=payer("DEPLAYER0044", "DE"), items=[item("9504", "Key Ring", "4.99")]),
            # 69.68 + 2.99 - 0.39 (0.08671 + 0.30 -> 0.39) = 72.28
            sale(V_DE2, "2021-07-22T13:00:00+0000", "2.99", "-0.39", "72.28",
                 buyer=payer("DEPLAYER0045", "DE"), items=[item("9505", "Lantern", "2.99")]),
        ],
        "2021/07/23": [
            # 72.28 - 1.10 + 0.03 (2.9% of 1.10 = 0.0319) = 71.21
            refund(V_REFUND1, "2021-07-23T09:00:00+0000", "-1.10", "0.03", "71.21", sale_id=V_GB1,
                   buyer=payer("GBPLAYER0041", "GB")),
            # 71.21 - 1.07 = 70.14
            refund(V_REFUND2, "2021-07-23T10:00:00+0000", "-1.10", "0.03", "70.14", sale_id=V_GB2,
                   buyer=payer("GBPLAYER0042", "GB")),
        ],
    }  # fmt: skip
    payments = {
        "2021/07/22": [
            payment_row(501, 9501, "10.10", "2021-07-22T09:00:04.000Z", country="GB"),
            payment_row(502, 9502, "5.30", "2021-07-22T10:00:04.000Z", country="GB"),
            payment_row(503, 9503, "1.10", "2021-07-22T11:00:04.000Z", country="GB"),
            payment_row(504, 9504, "4.99", "2021-07-22T12:00:04.000Z", country="DE"),
            payment_row(505, 9505, "2.99", "2021-07-22T13:00:04.000Z", country="DE"),
        ]
    }
    case = load_case(pages, payments, Period.parse("2021-07-22", "2021-07-23"))

    # THEN each sale's and each refund's net is rounded on its own and the lines are their sums
    assert rows(
        case, "revenue_by_country", "day country_code sales gross_sales refunds revenue net_amount vat_amount"
    ) == sorted([
        # 4.99 / 1.19 = 4.1933 -> 4.19 (VAT 0.80); 2.99 / 1.19 = 2.5126 -> 2.51 (VAT 0.48):
        # 6.70 and 1.28, where one line would give 7.98 / 1.19 = 6.7059 -> 6.71 and 1.27
        ("2021-07-22", "DE", 2, D("7.98"), D("0.00"), D("7.98"), D("6.70"), D("1.28")),
        # 10.10 / 1.2 = 8.4167 -> 8.42 (1.68); 5.30 / 1.2 = 4.4167 -> 4.42 (0.88);
        # 1.10 / 1.2 = 0.9167 -> 0.92 (0.18): 13.76 and 2.74; one line: 16.50 / 1.2 = 13.75 and 2.75
        ("2021-07-22", "GB", 3, D("16.50"), D("0.00"), D("16.50"), D("13.76"), D("2.74")),
        # -1.10 / 1.2 = -0.9167 -> -0.92 (VAT -0.18), twice: -1.84 and -0.36;
        # one line: -2.20 / 1.2 = -1.8333 -> -1.83 and -0.37
        ("2021-07-23", "GB", 0, D("0.00"), D("-2.20"), D("-2.20"), D("-1.84"), D("-0.36")),
    ], key=repr)  # fmt: skip

    # AND the accounting export carries those lines, and each day's export is its lines
    lines = ["Date", "VAT code", "Net Amount", "VAT Amount"]
    expected = [
        ["22/07/2021", "T44", D("6.70"), D("1.28")],
        ["22/07/2021", "T1", D("13.76"), D("2.74")],
        ["23/07/2021", "T1", D("-1.84"), D("-0.36")],
    ]
    assert accounting_export(case.client, case.tables, case.period)[lines].values.tolist() == expected
    by_day = [
        accounting_export(case.client, case.tables, Period.parse(day))[lines].values.tolist()
        for day in ("2021-07-22", "2021-07-23")
    ]
    assert by_day == [expected[:2], expected[2:]]

    figures = period_figures(case.client, case.tables, case.period)
    assert subset(figures, "paypal_gross", "paypal_fees", "refunds", "net_revenue", "vat") == {
        "paypal_gross": "24.48",  # 10.10 + 5.30 + 1.10 + 4.99 + 2.99
        "paypal_fees": "-2.14",  # -0.59 - 0.45 - 0.33 - 0.44 - 0.39 + 0.03 + 0.03
        "refunds": "-2.20",
        "net_revenue": "18.62",  # 13.76 + 6.70 - 1.84
        "vat": "3.66",  # 2.74 + 1.28 - 0.36
    }

    assert statements(case) == [
        statement(
            "2021-07-22", "USD", "50.00",
            activity="22.28",  # 24.48 - 2.20
            closing="72.28",
            gross_sales="24.48",
            fees="-2.20",  # -0.59 - 0.45 - 0.33 - 0.44 - 0.39
        ),
        statement(
            "2021-07-23", "USD", "72.28",
            activity="-2.14",  # -2.20 + 0.06
            closing="70.14",
            refunds="-2.20",
            fees="0.06",
        ),
    ]  # fmt: skip
    assert rows(case, "balance_breaks", "paypal_transaction_id") == []
