"""What the demo measured, compared with what the generator planted: pure functions over the
ledger's entries, the generator's manifest and the reports' figures."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Status
from ingest.ingestion.flow import FILES_PER_LOAD

# Why each file the generator makes fail does so, for the console and the summary: a failure a
# reader was not told to expect looks like a bug in the demo.
PLANTED_FAILURES = {
    "MalformedFile": "the generator planted a truncated page (its extractor died mid-write)",
    "UnknownPipeline": "the generator planted an export under a prefix no pipeline reads",
}


def planted_reason(error_type: str | None) -> str:
    """``expected: ...`` for a failure the generator planted with this error type."""
    reason = PLANTED_FAILURES.get(
        error_type or "", f"the generator planted a file that fails as {error_type}"
    )
    return f"expected: {reason}"


def planted_failures(manifest: dict[str, Any], bucket: str) -> dict[str, str]:
    """URI of every file the generator made to fail -> the error type it must fail with."""
    return {
        f"s3://{bucket}/{f['key']}": f["expect_failure"] for f in manifest["files"] if f["expect_failure"]
    }


def ledger_summary(entries: list[LedgerEntry], keys: set[str]) -> dict[str, Any]:
    files = [e for e in entries if e.sk == "FILE" and e.key in keys]
    loaded = [e for e in files if e.status == Status.LOADED]
    return {
        "files_seen": len(files),
        "files_loaded": len(loaded),
        "files_failed": sum(e.status == Status.FAILED for e in files),
        "files_in_progress": sum(e.status == Status.IN_PROGRESS for e in files),
        "duplicates_skipped": sum(e.status == Status.SKIPPED_DUPLICATE for e in entries if e.key in keys),
        "rows_in": sum(int(e.rows_in or 0) for e in loaded),
        "rows_loaded": sum(int(e.rows_loaded or 0) for e in loaded),
        "rows_quarantined": sum(int(e.rows_quarantined or 0) for e in loaded),
        "failures": dict(Counter(e.error_type for e in files if e.status == Status.FAILED)),
        "validation_failed": dict(sorted(_validation_counts(loaded, "failed").items())),
        "validation_warnings": dict(sorted(_validation_counts(loaded, "warnings").items())),
    }


def _validation_counts(entries: list[LedgerEntry], kind: str) -> Counter[str]:
    """Rows per expectation id over the files' ledger validation summaries."""
    counts: Counter[str] = Counter()
    for entry in entries:
        counts.update((entry.validation or {}).get(kind, {}))
    return counts


def planted_validation_defects(manifest: dict[str, Any], severity: str) -> dict[str, int]:
    """Rows the generator defaced for each expectation id, as a suite should count them."""
    checks = Counter(
        d["check"]
        for d in manifest.get("defects", [])
        if d["kind"] == "validation" and d["severity"] == severity
    )
    return dict(sorted(checks.items()))


def most_load_jobs(write_modes: dict[str, str], manifest: dict[str, Any]) -> int:
    """Load jobs a batch of the month may use: one per FILES_PER_LOAD files of a merge or append
    pipeline, one per file of a replace pipeline."""
    files = Counter(f["pipeline"] for f in manifest["files"] if f["pipeline"] and not f["expect_failure"])
    return sum(n if write_modes[name] == "replace" else -(-n // FILES_PER_LOAD) for name, n in files.items())


def balance_key(day: Any, currency: Any) -> str:
    """``2021-07-13 USD``: one daily statement of one currency."""
    return f"{str(day)[:10]} {currency}"


def cents(value: Any) -> str | None:
    """An amount as ``-12.30`` whatever type the client returned it as; None stays None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"


def planted_balance_differences(manifest: dict[str, Any]) -> dict[str, str | None]:
    """What each day's statement in each currency must be short of: the net of that currency's
    records of the day that did not load (quarantined rows, the failed page)."""
    return {balance_key(b["date"], b["currency"]): cents(b["not_loaded"]) for b in manifest["balances"]}


def exception_keys(found: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """What the report's exceptions and the generator's discrepancies both name, comparably."""
    keys = [
        (str(d["date"]), d["kind"], d["paypal_transaction_id"] or "", d["item_code"] or "") for d in found
    ]
    return sorted(keys)


def checks(
    summary: dict[str, Any],
    manifest: dict[str, Any],
    finance: dict[str, Any],
    operations: dict[str, Any],
    batch: dict[str, Any],
    *,
    failed_uris: set[str],
    report_files: int,
) -> dict[str, bool]:
    """Each thing the demo shows, true when what the stack did is what the generator planted."""
    totals = manifest["totals"]
    currencies = {b["currency"] for b in manifest["balances"]}  # USD, and EUR once converted
    return {
        "rows_in_equals_loaded_plus_quarantined": summary["rows_in"]
        == summary["rows_loaded"] + summary["rows_quarantined"],
        "events_after_the_batch_change_nothing": summary["events"]["files_loaded_added"] == 0
        and not summary["events"]["tables_changed"],
        "every_file_seen": summary["files_seen"] == totals["files"],
        "rows_match_generator": summary["rows_loaded"] == totals["rows_expected_loaded"]
        and summary["rows_quarantined"] == totals["rows_expected_quarantined"],
        "failures_match_generator": summary["files_failed"] == totals["files_expected_to_fail"],
        "validation_finds_exactly_the_planted_defects": summary["validation_failed"]
        == planted_validation_defects(manifest, "critical")
        and summary["validation_warnings"] == planted_validation_defects(manifest, "warning"),
        "one_row_per_business_key": summary["bigquery_rows"] == summary["expected"]["rows_per_table"],
        "few_load_jobs": summary["load_jobs"] <= summary["expected"]["at_most_load_jobs"],
        "batch_report_written": batch["report"] is not None
        and batch["files_processed"] == totals["files"]
        and {f["uri"] for f in batch["failed"]} == failed_uris,
        "report_written": finance["error"] is None and len(finance["files"]) == report_files,
        "exceptions_are_the_planted_discrepancies": exception_keys(finance["exceptions"])
        == exception_keys(manifest["discrepancies"]),
        "balance_differences_are_what_did_not_load": finance["balance_differences"]
        == planted_balance_differences(manifest),
        "figures_cover_every_currency": bool(currencies)
        and currencies <= set((finance["figures"] or {}).get("by_currency") or {}),
        "alert_sent_for_reversals_and_chargebacks": finance["alert_sent"]
        == any(d["kind"] in ("reversal", "chargeback") for d in manifest["discrepancies"]),
        "health_names_every_failed_file": operations["failed_files"] >= failed_uris,
        "monitoring_report_counts_the_failures": operations["report_error"] is None
        and operations["files_failed_for_good"] >= len(failed_uris),
    }
