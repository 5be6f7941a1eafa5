"""The reconciliation models on the emulator: a hand-computed case, the generated month's planted
discrepancies and balances, and daily closes that add up to the month."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from support.helpers import COUNTRIES_CSV, VAT_TSV, isolate_shipped_pipelines

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.apps.finance import reconcile
from ingest.apps.finance.exceptions import exceptions as period_exceptions
from ingest.apps.finance.exports import accounting_export
from ingest.apps.finance.figures import figures as period_figures
from ingest.apps.finance.models import MODELS, Tables, model_rows
from ingest.apps.finance.money import cent
from ingest.apps.finance.period import Period
from ingest.ingestion.runs import run_batch

# A NUMERIC cell (Decimal, or None/NaN) as cents; the emulator returns nine places.
money = cent


def cell(value: Any) -> Any:
    if value is None or (not isinstance(value, str | Decimal) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


# -- a small case, computed by hand --------------------------------------------------------------


def paypal_record(
    txn: str,
    code: str,
    at: str,
    gross: str,
    fee: str,
    ending: str,
    country: str | None = None,
    item: str | None = None,
    reference: str | None = None,
    status: str = "S",
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "transaction_id": txn,
        "transaction_event_code": code,
        "transaction_initiation_date": at,
        "transaction_updated_date": at,
        "transaction_amount": {"currency_code": "USD", "value": gross},
        "fee_amount": {"currency_code": "USD", "value": fee},
        "transaction_status": status,
        "ending_balance": {"currency_code": "USD", "value": ending},
        "available_balance": {"currency_code": "USD", "value": ending},
    }
    if reference:
        info.update(paypal_reference_id=reference, paypal_reference_id_type="TXN")
    record: dict[str, Any] = {"transaction_info": info}
    if country:
        record["payer_info"] = {"account_id": f"ACC{txn}", "country_code": country}
    if item:
        name = f"Gem Pack (ID: #{item})"
        amount = {"currency_code": "USD", "value": gross}
        record["cart_info"] = {
            "item_details": [
                {"item_code": item, "item_name": name, "item_quantity": "1", "item_amount": amount}
            ]
        }
    return record


# PayPal's records over two days, opening at 100.00. Each ending balance is the one before plus
# gross plus fee. K is still pending: it moves the balance but is not a sale. I and J share the
# day's last second and are written in the file in the opposite order to PayPal's: the balances
# say J came first, so the day closes on I's 22.85, not J's 13.45.
PAYPAL_RECORDS = [
    paypal_record("A", "T0006", "2021-08-02T10:00:00+0000", "12.00", "-0.65", "111.35", "GB", "9001"),
    paypal_record("B", "T0006", "2021-08-02T11:00:00+0000", "11.90", "-0.65", "122.60", "DE", "9002"),
    paypal_record("C", "T0007", "2021-08-02T12:00:00+0000", "5.00", "-0.45", "127.15", "US", "9003"),
    paypal_record("D", "T0006", "2021-08-02T13:00:00+0000", "6.00", "-0.47", "132.68", "GB", "9004"),
    paypal_record("E", "T0006", "2021-08-02T14:00:00+0000", "2.38", "-0.37", "134.69", "DE", "9005"),
    paypal_record("F", "T0400", "2021-08-02T18:00:00+0000", "-100.00", "0.00", "34.69"),
    paypal_record("G", "T1107", "2021-08-03T09:00:00+0000", "-12.00", "0.35", "23.04", reference="A"),
    paypal_record("H", "T1201", "2021-08-03T10:00:00+0000", "-11.90", "0.00", "11.14", reference="B"),
    paypal_record(
        "K", "T0006", "2021-08-03T10:30:00+0000", "2.00", "-0.36", "12.78", "US", "9010", status="P"
    ),
    paypal_record("I", "T0006", "2021-08-03T11:00:00+0000", "9.99", "-0.59", "22.85", "GB", "9006"),
    paypal_record("J", "T0006", "2021-08-03T11:00:00+0000", "1.00", "-0.33", "13.45", "US", "9008"),
]


def payment_row(txn: int, item: int, total: str, paid: str, country: str) -> dict[str, Any]:
    return {
        "transaction_id": txn,
        "transaction_item_id": item,
        "total_cost": total,
        "currency_code": "USD",
        "country_code": country,
        "payment_date": paid,
        "created_at": paid,
        "transaction_status": "completed",
        "payer_email": f"player{txn}@example.com",
    }


# Ours: C (9003) is missing, D (9004) says 6.50, E (9005) is dated a day late, 9007 is not at
# PayPal, and 11 repeats J's item 9008, which pairs with 8 first.
PAYMENT_ROWS = [
    payment_row(1, 9001, "12.00", "2021-08-02T10:00:05.000Z", "GB"),
    payment_row(2, 9002, "11.90", "2021-08-02T11:00:05.000Z", "DE"),
    payment_row(4, 9004, "6.50", "2021-08-02T13:00:05.000Z", "GB"),
    payment_row(5, 9005, "2.38", "2021-08-03T14:00:05.000Z", "DE"),
    payment_row(6, 9006, "9.99", "2021-08-03T11:00:05.000Z", "GB"),
    payment_row(7, 9007, "4.00", "2021-08-03T15:00:00.000Z", "US"),
    payment_row(8, 9008, "1.00", "2021-08-03T11:00:05.000Z", "US"),
    payment_row(10, 9010, "2.00", "2021-08-03T10:30:05.000Z", "US"),
    payment_row(11, 9008, "1.00", "2021-08-03T16:00:00.000Z", "US"),
]


@pytest.fixture(scope="module")
def hand_case(stack, tmp_path_factory) -> tuple[Any, Tables]:
    import uuid

    from ingest.core.settings import Settings
    from ingest.ingestion.services import Services

    prefix = f"h{uuid.uuid4().hex[:10]}"
    pipelines_dir = tmp_path_factory.mktemp("hand") / "pipelines"
    isolate_shipped_pipelines(pipelines_dir, prefix)
    bucket = f"hand-{prefix}"
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    files = {
        "reference/country_tax_codes/countries.csv": COUNTRIES_CSV.encode(),
        "reference/vat_rates/vat.tsv": VAT_TSV.encode(),
        "paypal/transactions/2021/08/03/page-1.json": json.dumps(PAYPAL_RECORDS).encode(),
        "payments/transactions/2021/08/03/rows": "".join(json.dumps(r) for r in PAYMENT_ROWS).encode(),
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
    services = Services.from_env(
        Settings(pipelines_dir=pipelines_dir, recon_dataset=f"recon_{prefix}")  # type: ignore[arg-type]
    )
    run = run_batch(services, bucket, prefix)
    assert not run.failed, [(r.ref.key, r.message) for r in run.failed]
    tables = Tables.for_services(services)
    reconcile.run(services.bigquery, tables, Period.parse("2021-08-02", "2021-08-03"))
    return services, tables


def test_hand_computed_case_matches_items_links_returns_and_closes_the_books(hand_case):
    services, tables = hand_case
    client, period = services.bigquery, Period.parse("2021-08-02", "2021-08-03")

    found = period_exceptions(client, tables, period)
    rows = [
        (
            str(r["date"]),
            r["kind"],
            cell(r["paypal_transaction_id"]),
            cell(r["item_code"]),
            cell(r["payment_transaction_id"]),
            money(r["paypal_amount"]),
            money(r["our_amount"]),
            cell(r["days_late"]),
            cell(r["original_transaction_id"]),
            cell(r["country_code"]),
        )
        for r in found.to_dict("records")
    ]
    assert rows == [
        ("2021-08-02", "amount_mismatch", "D", "9004", 4, Decimal("6.00"), Decimal("6.50"), None, None, "GB"),
        ("2021-08-02", "late", "E", "9005", 5, Decimal("2.38"), Decimal("2.38"), 1, None, "DE"),
        ("2021-08-02", "missing_ours", "C", "9003", None, Decimal("5.00"), None, None, None, "US"),
        ("2021-08-03", "chargeback", "H", "9002", 2, Decimal("-11.90"), None, None, "B", "DE"),
        ("2021-08-03", "duplicate", "J", "9008", 11, Decimal("1.00"), Decimal("1.00"), None, None, "US"),
        # No PayPal record: the VAT country is ours.
        ("2021-08-03", "missing_paypal", None, "9007", 7, None, Decimal("4.00"), None, None, "US"),
        ("2021-08-03", "pending", "K", "9010", 10, Decimal("2.00"), Decimal("2.00"), None, None, "US"),
        ("2021-08-03", "refund", "G", "9001", 1, Decimal("-12.00"), None, None, "A", "GB"),
    ]
    assert all(found["reason"].str.len() > 20)

    balances = model_rows(client, tables, "daily_balances", period)
    statement = [
        {name: money(r[name]) for name in ("opening_balance", "gross_sales", "fees", "refunds",
                                            "chargebacks", "withdrawals", "activity", "closing_balance")}
        | {"balanced": bool(r["balanced"])}
        for r in balances.to_dict("records")
    ]  # fmt: skip
    assert statement == [
        {
            "opening_balance": Decimal("100.00"),  # before A: 111.35 - (12.00 - 0.65)
            "gross_sales": Decimal("37.28"),  # 12.00 + 11.90 + 5.00 + 6.00 + 2.38
            "fees": Decimal("-2.59"),
            "refunds": Decimal("0.00"),
            "chargebacks": Decimal("0.00"),
            "withdrawals": Decimal("-100.00"),
            "activity": Decimal("-65.31"),
            "closing_balance": Decimal("34.69"),
            "balanced": True,
        },
        {
            "opening_balance": Decimal("34.69"),
            "gross_sales": Decimal("12.99"),  # 9.99 + 1.00 + 2.00 pending
            "fees": Decimal("-0.93"),  # +0.35 back on the refund, -0.59, -0.33, -0.36
            "refunds": Decimal("-12.00"),
            "chargebacks": Decimal("-11.90"),
            "withdrawals": Decimal("0.00"),
            "activity": Decimal("-11.84"),
            "closing_balance": Decimal("22.85"),  # I's balance: J came first in the same second
            "balanced": True,
        },
    ]

    export = accounting_export(client, tables, period)
    assert list(export.columns) == [
        "Account Reference", "Nominal A/C Reference", "Date", "Reference", "Narrative", "VAT code",
        "Net Amount", "VAT Amount",
    ]  # fmt: skip
    assert set(export["Account Reference"]) == {"PAYPAL"}
    assert set(export["Nominal A/C Reference"]) == {"4000"}
    assert set(export["Reference"]) == {"2021-08-02 - 2021-08-03"}
    lines = export[["Date", "Narrative", "VAT code", "Net Amount", "VAT Amount"]].values.tolist()
    assert lines == [
        # Day 1, VAT included in prices: DE 14.28 / 1.19 = 12.00; GB 18.00 / 1.2 = 15.00.
        ["02/08/2021", "GERMANY - 2021-08-02", "T44", Decimal("12.00"), Decimal("2.28")],
        ["02/08/2021", "UNITED KINGDOM - 2021-08-02", "T1", Decimal("15.00"), Decimal("3.00")],
        ["02/08/2021", "UNITED STATES - 2021-08-02", "T0", Decimal("5.00"), Decimal("0.00")],
        # Day 2: the chargeback of B in Germany; in the UK, VAT per transaction: I's 9.99 / 1.2 =
        # 8.325 rounds away from zero to 8.33 (VAT 1.66), the refund of A's 12.00 is -10.00 (VAT
        # -2.00): -1.67 and -0.34. (One rounding of the line, -2.01 / 1.2, would give -1.68.)
        ["03/08/2021", "GERMANY - 2021-08-03", "T44", Decimal("-10.00"), Decimal("-1.90")],
        ["03/08/2021", "UNITED KINGDOM - 2021-08-03", "T1", Decimal("-1.67"), Decimal("-0.34")],
        ["03/08/2021", "UNITED STATES - 2021-08-03", "T0", Decimal("1.00"), Decimal("0.00")],
    ]

    figures = period_figures(client, tables, period)
    assert {k: figures[k] for k in (
        "currency", "paypal_gross", "paypal_fees", "paypal_net", "our_total", "matched_count",
        "matched_amount", "opening_balance", "closing_balance", "balance_check", "net_revenue", "vat",
    )} == {
        "currency": "USD",
        "paypal_gross": "50.27",  # the balance's view: K's pending 2.00 included
        "paypal_fees": "-3.52",
        "paypal_net": "46.75",
        "our_total": "50.77",  # our nine rows
        "matched_count": 5,  # A, B, I, J, and E (late)
        "matched_amount": "37.27",
        "opening_balance": "100.00",
        "closing_balance": "22.85",
        "balance_check": True,
        "net_revenue": "21.33",  # 12.00 + 15.00 + 5.00 - 10.00 - 1.67 + 1.00
        "vat": "3.04",  # 2.28 + 3.00 - 1.90 - 0.34
    }  # fmt: skip
    assert figures["exceptions"] == {
        "missing_ours": 1, "missing_paypal": 1, "amount_mismatch": 1, "late": 1, "pending": 1,
        "duplicate": 1, "country_mismatch": 0, "refund": 1, "reversal": 0, "chargeback": 1,
        "chargeback_reversal": 0, "chargeback_fee": 0, "hold": 0, "hold_release": 0, "no_tax_code": 0,
        "unknown_event_code": 0,
    }  # fmt: skip


def test_reconciling_a_day_again_replaces_it_and_leaves_the_other_days(hand_case):
    services, tables = hand_case
    client = services.bigquery
    period = Period.parse("2021-08-02", "2021-08-03")
    before = {m.name: model_rows(client, tables, m.name, period) for m in MODELS}

    again = reconcile.run(client, tables, Period.parse("2021-08-03"))

    after = {m.name: model_rows(client, tables, m.name, period) for m in MODELS}
    for name, frame in before.items():
        pd.testing.assert_frame_equal(_sorted(after[name]), _sorted(frame), obj=name)
    # The day's rows went out and came back: nothing was added beside them.
    for model in again.models:
        assert (
            model.inserted
            == model.deleted
            == int((before[model.model]["day"].astype(str) == "2021-08-03").sum())
        )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)


# -- the generated month -------------------------------------------------------------------------


def _exception_key(row: dict[str, Any]) -> tuple:
    """The fields the generator's manifest and the report's exceptions both have."""
    payment = cell(row["payment_transaction_id"])
    late = cell(row["days_late"])
    return (
        str(row["date"])[:10],
        row["kind"],
        cell(row["paypal_transaction_id"]),
        cell(row["item_code"]),
        None if payment is None else int(payment),
        money(cell(row["paypal_amount"])),
        money(cell(row["our_amount"])),
        None if late is None else int(late),
        cell(row["original_transaction_id"]),
    )


def test_generated_month_exceptions_are_exactly_the_planted_discrepancies(loaded_july):
    services = loaded_july.services
    tables = Tables.for_services(services)
    july = Period.parse("2021-07")

    reconcile.run(services.bigquery, tables, july)
    found = period_exceptions(services.bigquery, tables, july)

    expected = [_exception_key(d) for d in loaded_july.manifest["discrepancies"]]
    # Missing payments, mismatched amounts, late rows, refunds, reversals and chargebacks the
    # generator injected, and the consequences of the rows and the page that could not load.
    assert len(expected) > 60
    assert sorted(map(_exception_key, found.to_dict("records")), key=repr) == sorted(expected, key=repr)


def test_daily_closes_add_up_to_their_period_and_every_day_balances_or_shows_what_did_not_load(loaded_july):
    services = loaded_july.services
    client, tables = services.bigquery, Tables.for_services(services)
    july = Period.parse("2021-07")
    # Four daily closes, not the month's 31: each close is seconds of emulator queries, and what
    # is checked (a day's lines are the longer period's lines of that day) is the same.
    first_days = Period(july.start, july.start + datetime.timedelta(days=3))

    # WHEN finance closes each day on its own, as the daily run does (the first from the command
    # line), then the four days as one period
    daily_exports = []
    for day in first_days.days:
        period = Period(day, day)
        if day == first_days.start:
            assert cli_reconcile(services, period)["models"][0]["model"] == "matches"
        else:
            reconcile.run(client, tables, period)
        daily_exports.append(accounting_export(client, tables, period))
    reconcile.run(client, tables, first_days)
    together = accounting_export(client, tables, first_days)

    # THEN the period's export is its days' lines to the cent, line by line and in total
    lines = ["Date", "Narrative", "VAT code", "Net Amount", "VAT Amount"]
    days = pd.concat(daily_exports, ignore_index=True)
    assert days[lines].values.tolist() == together[lines].values.tolist()
    assert set(days["Reference"]) == {f"{d} - {d}" for d in first_days.days}
    assert set(together["Reference"]) == {"2021-07-01 - 2021-07-04"}
    per_country: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for frame, sign in [(days, 1), (together, -1)]:
        for narrative, net, vat in frame[["Narrative", "Net Amount", "VAT Amount"]].values:
            country = narrative.rsplit(" - ", 1)[0]
            per_country[country][0] += sign * net
            per_country[country][1] += sign * vat
    assert len(per_country) > 5
    assert all(totals == [0, 0] for totals in per_country.values())

    reconcile.run(client, tables, july)
    monthly = accounting_export(client, tables, july)
    # AND every day's statement is PayPal's: opening + activity = closing wherever every record
    # loaded; where some did not (the cut page, quarantined rows), the difference is exactly
    # their net and the day is flagged
    balances = sorted(
        model_rows(client, tables, "daily_balances", july).to_dict("records"),
        key=lambda b: (str(b["day"]), b["currency"]),
    )
    statements = sorted(loaded_july.manifest["balances"], key=lambda s: (s["date"], s["currency"]))
    assert [(str(b["day"]), b["currency"]) for b in balances] == [
        (s["date"], s["currency"]) for s in statements
    ]
    unbalanced = 0
    for ours, truth in zip(balances, statements, strict=True):
        opening, closing = money(ours["opening_balance"]), money(ours["closing_balance"])
        activity, difference = money(ours["activity"]), money(ours["difference"])
        where = (truth["date"], truth["currency"])
        assert (opening, closing) == (Decimal(truth["opening"]), Decimal(truth["closing"])), where
        assert opening + activity + difference == closing
        assert difference == Decimal(truth["not_loaded"]), where
        assert bool(ours["balanced"]) is (difference == 0)
        if difference == 0:
            for name in (
                "fees", "refunds", "reversals", "chargebacks", "chargeback_reversals", "chargeback_fees",
                "holds", "conversions", "withdrawals", "unknown",
            ):  # fmt: skip
                assert money(ours[name]) == Decimal(truth[name]), (*where, name)
            assert money(ours["gross_sales"]) == Decimal(truth["sales"]), where
        else:
            unbalanced += 1
    assert unbalanced >= 2  # the cut page's day and the days of quarantined PayPal rows

    # AND the export books what PayPal's statement shows as sales less what was given back
    # (and plus the chargebacks PayPal gave back to us)
    taken = sum(
        money(b[name])
        for b in balances
        for name in ("gross_sales", "refunds", "reversals", "chargebacks", "chargeback_reversals")
    )
    assert sum(monthly["Net Amount"]) + sum(monthly["VAT Amount"]) == taken


def cli_reconcile(services: Any, period: Period) -> dict[str, Any]:
    """`ingest reconcile --json` for the period, with the month's isolated settings in the environment."""
    settings = services.settings
    env = {
        "INGEST_PIPELINES_DIR": str(settings.pipelines_dir),
        "INGEST_RECON_DATASET": settings.recon_dataset,
    }
    argv = ["reconcile", "--start", period.start.isoformat(), "--end", period.end.isoformat(), "--json"]
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        for name, value in env.items():
            patch.setenv(name, value)
        assert cli.main(argv) == 0
    return json.loads(out.getvalue())
