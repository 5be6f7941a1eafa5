"""Where PayPal's balance breaks, and why: the attribution the report gives each break.

``recon.balance_breaks`` locates a break at the record whose reported ending balance is not the
previous record's plus its own net. Whether records of ours are missing there is known outside
the warehouse: the ledger has the PayPal files that failed, and the error bucket keeps the
records that were quarantined, with their times and amounts. A break is put down to those when
they fall where it is, and otherwise to PayPal's own figure: a load that did not fail is never
blamed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ingest.apps.finance.money import cent

if TYPE_CHECKING:
    import pandas as pd


BREAK_COLUMNS = [
    "day",
    "currency",
    "paypal_transaction_id",
    "paypal_event_code",
    "previous_transaction_id",
    "balance_before",
    "net",
    "expected_balance",
    "reported_balance",
    "difference",
    "cause",
    "cause_label",
    "explanation",
]
BREAK_CAUSES = {"not_loaded": "Not loaded", "paypal": "PayPal's figure"}


def quarantined_paypal_records(s3: Any, error_bucket: str, files: pd.DataFrame) -> pd.DataFrame:
    """The PayPal records the period's files had quarantined, read back from the error bucket:
    id, time, currency and net where they can be read (a quarantined record is defective by
    definition, so any of them may be missing)."""
    import pandas as pd

    from ingest.adapters.s3_lake import quarantine_key
    from ingest.core.model import FileRef

    rows = []
    quarantining = files[
        (files["pipeline"] == "paypal_transactions") & (files["rows_quarantined"].fillna(0) > 0)
    ]
    for source in quarantining.to_dict("records"):
        bucket, key = source["source_uri"].removeprefix("s3://").split("/", 1)
        ref = FileRef.of(bucket, key, "")
        try:
            body = s3.get_object(Bucket=error_bucket, Key=quarantine_key(ref))["Body"].read()
        except Exception:  # a missing quarantine file leaves breaks unexplained, the report whole
            continue
        for line in body.splitlines():
            try:
                rejected = json.loads(line)
            except ValueError:
                continue
            record = _paypal_figures(rejected.get("raw") if isinstance(rejected, dict) else None)
            if record is not None:
                rows.append({"source_uri": source["source_uri"], **record})
    frame = pd.DataFrame(rows, columns=["source_uri", "transaction_id", "at", "currency", "net"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True, errors="coerce", format="mixed")
    return frame


def _paypal_figures(raw: Any) -> dict[str, Any] | None:
    """id, time, currency and net of a quarantined PayPal record (the source record, or the row as
    it would have loaded), from the JSON text the quarantine file keeps; None for a denied
    payment, which moved no money, or for text that is not a JSON object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict):
        return None
    info = raw.get("transaction_info")
    if isinstance(info, dict):
        amount, fee = info.get("transaction_amount"), info.get("fee_amount")
        values = {
            "transaction_id": info.get("transaction_id"),
            "at": info.get("transaction_initiation_date"),
            "status": info.get("transaction_status"),
            "currency": amount.get("currency_code") if isinstance(amount, dict) else None,
            "gross": amount.get("value") if isinstance(amount, dict) else None,
            "fee": fee.get("value") if isinstance(fee, dict) else None,
        }
    else:
        values = {
            "transaction_id": raw.get("transaction_id"),
            "at": raw.get("transaction_initiation_date"),
            "status": raw.get("transaction_status"),
            "currency": raw.get("gross_currency"),
            "gross": raw.get("gross_amount"),
            "fee": raw.get("fee_amount"),
        }
    if values.pop("status") == "D":
        return None
    gross, fee = _amount(values.pop("gross")), _amount(values.pop("fee"))
    values["net"] = None if gross is None else gross + (fee or Decimal(0))
    return {
        k: (str(v) if k in ("transaction_id", "at", "currency") and v is not None else v)
        for k, v in values.items()
    }


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def explain_breaks(breaks: pd.DataFrame, quarantined: pd.DataFrame, failed_files: int) -> pd.DataFrame:
    """Each balance break with its cause: ``not_loaded`` when records that did not load fall where
    it is (quarantined records between it and the record before, whose net is what is missing,
    or PayPal files that failed and were not replayed), else ``paypal``: PayPal's own figure,
    since every PayPal record of the period loaded. A load that did not fail is never blamed."""
    import pandas as pd

    causes, explanations = [], []
    # A record quarantined for its currency or its date may not say either: it could be anywhere.
    no_currency = quarantined[quarantined["currency"].isna() | (quarantined["currency"] == "")]
    for row in breaks.to_dict("records"):
        currency = pd.concat([no_currency, quarantined[quarantined["currency"] == row["currency"]]])
        here = currency[
            (currency["at"] >= pd.Timestamp(row["previous_at"])) & (currency["at"] <= pd.Timestamp(row["at"]))
        ]
        difference = cent(row["difference"]) or Decimal(0)
        exact = pd.Series([cent(n) == difference for n in currency["net"]], index=currency.index)
        untimed = currency[currency["at"].isna() & exact]
        missing = sum((n for n in here["net"] if n is not None), Decimal(0))
        ids = ", ".join(str(i) for i in here["transaction_id"].fillna("(no id)"))
        if not here.empty and cent(missing) == difference:
            causes.append("not_loaded")
            explanations.append(f"Records quarantined at load explain it: {ids} (net {missing:.2f}).")
        elif not here.empty and here["net"].isna().any():
            causes.append("not_loaded")
            explanations.append(
                f"Records quarantined at load fall here ({ids}), one with an amount that cannot be read."
            )
        elif here.empty and not untimed.empty:
            causes.append("not_loaded")
            (record,) = untimed["transaction_id"].fillna("(no id)").head(1)
            explanations.append(
                f"A record quarantined at load, {record}, whose time cannot be read, has exactly this net."
            )
        elif not here.empty:
            causes.append("not_loaded")
            # A quarantined record's values are the ones that failed a check (a negated gross, a
            # wrong currency): its net as received need not be what PayPal booked.
            explanations.append(
                f"Records quarantined at load fall here: {ids} (net as received {missing:.2f}, the values "
                "that failed the checks)."
            )
        elif failed_files:
            causes.append("not_loaded")
            explanations.append(
                f"{failed_files} PayPal file(s) failed to load and were not replayed (see Data quality): "
                "records in them are missing from the running balance."
            )
        else:
            causes.append("paypal")
            explanations.append(
                "PayPal's reported balance itself: every PayPal file of the period loaded and no record "
                "was quarantined, so no record is missing on our side. Ask PayPal about this balance."
            )
    explained = breaks.assign(
        cause=causes, cause_label=[BREAK_CAUSES[c] for c in causes], explanation=explanations
    )
    explained["day"] = explained["day"].astype(str)
    return explained.reindex(columns=BREAK_COLUMNS).reset_index(drop=True)
