"""What the generator hands out: lake files and the manifest that says what ingesting them,
validating them and reconciling them must find."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PAYMENTS_PIPELINE = "payment_transactions"
PAYPAL_PIPELINE = "paypal_transactions"
TOTAL_FIELDS = (
    "files",
    "files_expected_to_fail",
    "rows_in",
    "rows_expected_loaded",
    "rows_expected_quarantined",
)
DISCREPANCY_KINDS = (
    "missing_ours",
    "missing_paypal",
    "amount_mismatch",
    "late",
    "country_mismatch",
    "refund",
    "reversal",
    "chargeback",
    "chargeback_reversal",
    "chargeback_fee",
    "hold",
    "hold_release",
    "unknown_event_code",
)
# Adjustments: exceptions dated by the adjustment, named by its own id, linked to the sale.
ADJUSTMENT_KINDS = (
    "refund",
    "reversal",
    "chargeback",
    "chargeback_reversal",
    "chargeback_fee",
    "hold",
    "hold_release",
)


@dataclass(frozen=True)
class GeneratedFile:
    """One lake object and what ingestion should do with it (``rows`` is 0 if it fails whole).

    ``bad_rows`` counts the rows ingestion must quarantine: coercion failures and critical
    validation failures; rows that only trip a warning load and are not counted.
    """

    key: str
    body: bytes
    pipeline: str | None
    format: str
    compression: str | None
    rows: int
    bad_rows: int
    expect_failure: str | None

    def describe(self) -> dict[str, Any]:
        """Every field but the body, in declaration order."""
        return {k: v for k, v in vars(self).items() if k != "body"}


@dataclass(frozen=True)
class GeneratedMonth:
    """All files of one generated month, in the order they would land in the bucket."""

    year: int
    month: int
    seed: int
    files: tuple[GeneratedFile, ...]
    scale: int = 1
    defects: tuple[dict[str, Any], ...] = ()
    discrepancies: tuple[dict[str, Any], ...] = ()
    balances: tuple[dict[str, Any], ...] = ()
    expected_tables: dict[str, int] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """Each file, the row counts ingestion should report, and what validation and the
        reconciliation must find (see ``build_manifest``)."""
        return build_manifest(
            self.year,
            self.month,
            self.seed,
            self.scale,
            [file.describe() for file in self.files],
            defects=self.defects,
            discrepancies=self.discrepancies,
            balances=self.balances,
            expected_tables=self.expected_tables,
        )


def build_manifest(
    year: int,
    month: int,
    seed: int,
    scale: int,
    files: list[dict[str, Any]],
    *,
    defects: Iterable[dict[str, Any]],
    discrepancies: Iterable[dict[str, Any]],
    balances: Iterable[dict[str, Any]],
    expected_tables: dict[str, int],
) -> dict[str, Any]:
    """The manifest as JSON-ready data.

    - ``files``, ``totals``, ``pipelines``: per file and summed, what the ledger must record.
    - ``defects``: each planted bad row (key, pipeline, 1-based row, kind, check, severity).
    - ``discrepancies``: each exception a correct reconciliation of the loaded data reports.
    - ``balances``: per day and currency (every currency the account holds in the month, every
      day), PayPal's opening and closing ``ending_balance``, the gross of each class of record
      and the fees between them, ``activity`` (closing - opening), and ``not_loaded``, the net
      of that currency's records of the day that will not load.
    - ``expected_tables``: rows per table after load and dedup on the business key.
    """
    totals = dict.fromkeys(TOTAL_FIELDS, 0)
    per_pipeline: dict[str, dict[str, int]] = {}
    for file in files:
        buckets = [totals]
        if file["pipeline"] is not None:
            buckets.append(per_pipeline.setdefault(file["pipeline"], dict.fromkeys(totals, 0)))
        for bucket in buckets:
            bucket["files"] += 1
            bucket["rows_in"] += file["rows"]
            if file["expect_failure"]:
                bucket["files_expected_to_fail"] += 1
            else:
                bucket["rows_expected_loaded"] += file["rows"] - file["bad_rows"]
                bucket["rows_expected_quarantined"] += file["bad_rows"]
    return {
        "year": year,
        "month": month,
        "seed": seed,
        "scale": scale,
        "files": files,
        "totals": totals,
        "pipelines": dict(sorted(per_pipeline.items())),
        "defects": list(defects),
        "discrepancies": list(discrepancies),
        "balances": list(balances),
        "expected_tables": dict(sorted(expected_tables.items())),
    }
