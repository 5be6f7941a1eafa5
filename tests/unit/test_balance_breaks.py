"""Where a balance break comes from: records quarantined at load, PayPal files that failed, or
PayPal's own figure, and never a load that did not fail."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from ingest.apps.finance import balance_breaks


def breaks(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    """(day, previous record's time, this record's time, record id, difference) in USD."""
    return pd.DataFrame(
        [
            {
                "day": day,
                "currency": "USD",
                "previous_at": pd.Timestamp(previous, tz="UTC"),
                "at": pd.Timestamp(at, tz="UTC"),
                "paypal_transaction_id": record,
                "paypal_event_code": "T0006",
                "previous_transaction_id": "PREV",
                "balance_before": Decimal("100.00"),
                "net": Decimal("5.00"),
                "expected_balance": Decimal("105.00"),
                "reported_balance": Decimal("105.00") + Decimal(difference),
                "difference": Decimal(difference),
            }
            for day, previous, at, record, difference in rows
        ]
    )


class QuarantineBucket:
    """The error bucket's quarantine files, as S3's get_object returns them."""

    def __init__(self, files: dict[str, list[dict]]) -> None:
        self.files = {
            key: "".join(json.dumps(line) + "\n" for line in lines).encode() for key, lines in files.items()
        }

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 - boto3's names
        class Body:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def read(self) -> bytes:
                return self.data

        if Key not in self.files:
            raise KeyError(Key)
        return {"Body": Body(self.files[Key])}


FILES = pd.DataFrame(
    [
        {"pipeline": "paypal_transactions", "source_uri": "s3://lake/paypal/p1.json", "rows_quarantined": 2},
        {"pipeline": "paypal_transactions", "source_uri": "s3://lake/paypal/p2.json", "rows_quarantined": 0},
        {"pipeline": "payment_transactions", "source_uri": "s3://lake/payments/x", "rows_quarantined": 1},
    ]
)
SOURCE_RECORD = {
    "transaction_info": {
        "transaction_id": "Q1",
        "transaction_initiation_date": "2021-07-04T10:00:30+0000",
        "transaction_amount": {"currency_code": "USD", "value": "7.00"},
        "fee_amount": {"currency_code": "USD", "value": "-0.50"},
        "transaction_status": "X",  # why it was quarantined
    }
}
# What the validation step keeps: the row as it would have loaded, as JSON text.
VALIDATED_ROW = {
    "transaction_id": "Q2",
    "transaction_event_code": "T0006",
    "transaction_initiation_date": "2021-07-05 09:00:00+00:00",
    "gross_amount": "3.00",
    "gross_currency": "usd",
    "fee_amount": "-0.40",
}
BUCKET = QuarantineBucket(
    {
        "quarantine/lake/paypal/p1.json.rows.ndjson": [
            {"row": 3, "reason": "transaction_status", "raw": json.dumps(SOURCE_RECORD)},
            {"row": 7, "reason": "validation paypal.currency_iso", "raw": json.dumps(VALIDATED_ROW)},
        ],
        "quarantine/lake/payments/x.rows.ndjson": [{"row": 1, "reason": "x", "raw": "{}"}],
    }
)


def test_quarantined_records_are_read_back_from_either_shape_and_only_for_paypal_files():
    found = balance_breaks.quarantined_paypal_records(BUCKET, "errors", FILES)

    assert found[["transaction_id", "currency", "net"]].values.tolist() == [
        ["Q1", "USD", Decimal("6.50")],  # 7.00 - 0.50
        ["Q2", "usd", Decimal("2.60")],  # 3.00 - 0.40
    ]
    assert list(found["at"]) == [
        pd.Timestamp("2021-07-04T10:00:30", tz="UTC"),
        pd.Timestamp("2021-07-05T09:00:00", tz="UTC"),
    ]


def test_a_break_is_put_on_the_quarantined_record_whose_net_it_is():
    quarantined = balance_breaks.quarantined_paypal_records(BUCKET, "errors", FILES)
    found = breaks(("2021-07-04", "2021-07-04T10:00:00", "2021-07-04T10:01:00", "R1", "6.50"))

    (row,) = balance_breaks.explain_breaks(found, quarantined, failed_files=0).to_dict("records")

    assert row["cause"] == "not_loaded"
    assert "Q1" in row["explanation"] and "6.50" in row["explanation"]


def test_a_break_where_nothing_failed_is_paypals_own_figure_never_a_load():
    quarantined = balance_breaks.quarantined_paypal_records(BUCKET, "errors", FILES)
    # Q1 is quarantined, but at 10:00:30, not between these two records.
    found = breaks(("2021-07-06", "2021-07-06T10:00:00", "2021-07-06T11:00:00", "R2", "-10.00"))

    (row,) = balance_breaks.explain_breaks(found, quarantined, failed_files=0).to_dict("records")

    assert (row["cause"], row["cause_label"]) == ("paypal", "PayPal's figure")
    assert "no record is missing" in row["explanation"]


def test_failed_files_are_named_as_the_possible_cause_when_no_quarantined_record_fits():
    nothing = balance_breaks.quarantined_paypal_records(BUCKET, "errors", FILES.iloc[1:])
    found = breaks(("2021-07-13", "2021-07-13T10:00:00", "2021-07-13T11:00:00", "R3", "215.41"))

    (row,) = balance_breaks.explain_breaks(found, nothing, failed_files=1).to_dict("records")

    assert row["cause"] == "not_loaded"
    assert "1 PayPal file(s) failed" in row["explanation"]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", json.dumps({"transaction_info": "text"})])
def test_an_unreadable_quarantined_line_is_skipped_not_fatal(raw):
    bucket = QuarantineBucket({"quarantine/lake/paypal/p1.json.rows.ndjson": [{"row": 1, "raw": raw}]})

    found = balance_breaks.quarantined_paypal_records(bucket, "errors", FILES)

    assert found["net"].isna().all()
