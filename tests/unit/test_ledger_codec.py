"""Ledger items to DynamoDB and back, and read back as typed entries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingest.adapters.dynamodb.codec import marshal, unmarshal, update_expression
from ingest.adapters.dynamodb.items import MESSAGE_LIMIT, failed_fields, loaded_fields
from ingest.core.ledger_entry import LedgerEntry, summarize
from ingest.core.model import FileRef, LoadOutcome, Status


def test_numbers_come_back_as_ints_and_floats_not_decimals() -> None:
    item = {"rows_in": 120, "ratio": Decimal("0.25"), "retryable": True, "validation": {"rows": 3}}

    back = unmarshal(marshal(item))

    assert back == {"rows_in": 120, "ratio": 0.25, "retryable": True, "validation": {"rows": 3}}
    assert (type(back["rows_in"]), type(back["ratio"])) == (int, float)
    assert type(back["validation"]["rows"]) is int


def test_an_update_aliases_every_field_so_reserved_words_are_safe() -> None:
    expression, names, values = update_expression({"status": "LOADED", "key": "a.json"}, remove=("table",))

    assert expression == "SET #status = :status, #key = :key REMOVE #table"
    assert names == {"#status": "status", "#key": "key", "#table": "table"}
    assert values == {":status": "LOADED", ":key": "a.json"}


def test_a_long_error_message_is_cut_to_what_an_item_keeps() -> None:
    fields = failed_fields("SchemaError", "x" * (MESSAGE_LIMIT + 10), False, {"error_key": None})

    assert len(fields["error_message"]) == MESSAGE_LIMIT
    assert "error_key" not in fields  # details left unset are not written as nulls


def test_a_loaded_file_reads_back_with_its_typed_fields() -> None:
    outcome = LoadOutcome("payments", "raw.payments", 10, 9, 1, "job-1", "ndjson", extra_fields=("coupon",))
    item = {"pk": "s3://lake/a.json#e1", "sk": "FILE", "attempts": 1, **loaded_fields(outcome)}

    entry = LedgerEntry.from_item(unmarshal(marshal(item)))

    assert entry.status is Status.LOADED
    assert (entry.rows_in, entry.rows_loaded, entry.rows_quarantined) == (10, 9, 1)
    assert entry.extra_fields == ["coupon"]
    assert entry.error_type is None  # a field the item does not have
    assert entry.item["load_job_id"] == "job-1"


def test_a_misspelt_field_is_an_error_not_none() -> None:
    entry = LedgerEntry.from_item({"pk": "p", "sk": "FILE", "status": "LOADED"})

    with pytest.raises(AttributeError):
        _ = entry.rows_lodaed  # type: ignore[attr-defined]


def test_a_listing_keeps_fields_the_entry_does_not_name() -> None:
    content = {"pk": "content#raw.payments#e1#10", "sk": "CONTENT", "file": "s3://lake/a.json#e1"}

    entry = LedgerEntry.from_item(content)

    assert entry.status is None
    assert entry.item == content


def test_the_summary_counts_statuses_and_totals_loaded_rows_only() -> None:
    entries = [
        LedgerEntry.from_item({"pk": "a", "sk": "FILE", "status": "LOADED", "rows_in": 5, "rows_loaded": 4}),
        LedgerEntry.from_item({"pk": "b", "sk": "FILE", "status": "LOADED", "rows_in": 2, "rows_loaded": 2}),
        LedgerEntry.from_item({"pk": "c", "sk": "FILE", "status": "FAILED", "rows_in": 7}),
    ]

    assert summarize(entries) == {
        "entries": 3,
        "by_status": {"FAILED": 1, "LOADED": 2},
        "rows_in": 7,
        "rows_loaded": 6,
        "rows_quarantined": 0,
    }


def test_a_file_item_names_its_file_version_and_an_unknown_size_stays_unknown() -> None:
    item = {"pk": "s3://lake/a.json#e1", "sk": "FILE", "bucket": "lake", "key": "a.json", "etag": "e1"}

    assert LedgerEntry.from_item({**item, "bytes": 10}).file_ref() == FileRef.of("lake", "a.json", "e1", 10)
    assert LedgerEntry.from_item({**item, "bytes": -1}).file_ref().size is None


def test_a_load_record_names_no_file() -> None:
    record = LedgerEntry.from_item({"pk": "loads#raw.payments#2026-01-01", "sk": "LOAD#job-1", "files": 2})

    with pytest.raises(ValueError, match="names no file"):
        record.file_ref()


def outcome_with_drift(names: tuple[str, ...]) -> LoadOutcome:
    return LoadOutcome("orders", "raw.orders", 1, 1, 0, "job-1", "csv", extra_fields=names)


def test_ten_thousand_long_drift_fields_still_fit_a_dynamodb_item() -> None:
    # 10,000 names of 300 characters: 3 MB as a list, far past DynamoDB's 400 KB item limit.
    names = tuple(f"{n:05d}_{'x' * 294}" for n in range(10_000))

    item = marshal({"pk": "s3://lake/k#e", "sk": "FILE", **loaded_fields(outcome_with_drift(names))})

    size = sum(len(name.encode()) + len(repr(value).encode()) for name, value in item.items())
    assert size < 100_000
    entry = LedgerEntry.from_item(unmarshal(item))
    assert entry.extra_fields_total == 10_000
    assert entry.extra_fields is not None and entry.extra_fields[0].startswith("00000_")
    assert len(entry.extra_fields) < 10_000


def test_a_few_drift_fields_are_listed_whole() -> None:
    fields = loaded_fields(outcome_with_drift(("promo_code", "referrer")))

    assert fields["extra_fields"] == ["promo_code", "referrer"]
    assert "extra_fields_total" not in fields
