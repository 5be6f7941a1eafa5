"""schema_drift: add_columns, against in-memory fakes: new fields become NULLABLE columns typed
from their values, the change is noted (warehouse's schema changes, ledger), a value that no
longer fits is quarantined, and names or values that cannot be columns stay in ``_extra``.

The files are hand-built orders (the pipeline declares order_id, amount, ordered_at, quantity);
every expected column, type and value is written here before the code runs.
"""

from __future__ import annotations

import gzip
import json

import pytest
from support.drift_files import FORMATS, LAKE, MINIMAL_CONFIG, ROWS, TABLE, services
from support.services import Fakes

from ingest.core.config import Column, parse_pipeline
from ingest.core.drift_columns import MAX_COLUMNS_AT_ONCE
from ingest.core.errors import ConfigError, TransientError
from ingest.core.model import Status
from ingest.ingestion.flow import ingest_file, ingest_files


def by_row(fakes: Fakes) -> list[dict[str, object]]:
    return sorted(fakes.warehouse.rows(TABLE), key=lambda r: (str(r["_source_uri"]), r["_source_row"]))


def put_ndjson(fakes: Fakes, key: str, records: list[dict[str, object]]):
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return fakes.lake.put(LAKE, key, body)


@pytest.mark.parametrize("kind", FORMATS)
def test_new_fields_become_columns_holding_their_values_in_every_format(tmp_path, kind):
    # Records 3..6 carry coupon SUMMER<n>; record 5 also channel "ios" (test_schema_drift.records).
    fakes = services(tmp_path, "add_columns")
    ref = fakes.lake.put(LAKE, f"orders/2026/12/07/{kind}", FORMATS[kind]())

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.rows_loaded, result.rows_quarantined) == (Status.LOADED, ROWS, 0)
    rows = by_row(fakes)
    assert [r["coupon"] for r in rows] == [None, None, "SUMMER3", "SUMMER4", "SUMMER5", "SUMMER6"]
    assert [r["channel"] for r in rows] == [None, None, None, None, "ios", None]
    assert [r["_extra"] for r in rows] == [None] * ROWS  # moved, not copied
    assert fakes.warehouse.added_columns[TABLE] == [
        Column("channel", "STRING", free_text=True),
        Column("coupon", "STRING", free_text=True),
    ]
    noted = {
        (table, c.column.name, c.column.type, c.first_file) for table, c in fakes.warehouse.schema_changes
    }
    assert noted == {(TABLE, "channel", "STRING", ref.uri), (TABLE, "coupon", "STRING", ref.uri)}
    ledger = fakes.ledger.items[(f"schema#{TABLE}", "COLUMN#coupon")]
    assert (ledger["column_type"], ledger["first_file"], ledger["pipeline"]) == (
        "STRING",
        ref.uri,
        "orders_orders",
    )


def test_each_column_takes_the_type_its_values_show(tmp_path):
    fakes = services(tmp_path, "add_columns")
    ref = put_ndjson(
        fakes,
        "orders/typed.ndjson",
        [
            {"order_id": "o-1", "amount": "1.50", "points": 7, "gift": True, "shipped_on": "2026-12-01",
             "discount": 0.25, "note": "first order", "refund": "3.10"},
            {"order_id": "o-2", "amount": "2.50", "points": 12, "gift": False, "shipped_on": "2026-12-02",
             "discount": 1.5, "note": None, "refund": "0.05"},
        ],
    )  # fmt: skip

    assert ingest_file(ref, fakes.services).status == Status.LOADED

    types = {c.name: c.type for c in fakes.warehouse.added_columns[TABLE]}
    assert types == {
        "points": "INT64",
        "gift": "BOOL",
        "shipped_on": "DATE",
        "discount": "FLOAT64",
        "note": "STRING",
        "refund": "NUMERIC",  # decimal text, as ingest inspect types it
    }
    first, second = by_row(fakes)
    assert (first["points"], first["gift"], str(first["shipped_on"]), first["discount"]) == (
        7, True, "2026-12-01", 0.25,
    )  # fmt: skip
    assert (str(second["refund"]), second["note"]) == ("0.050000000", None)


def test_a_value_that_no_longer_fits_its_added_column_is_quarantined_not_widened(tmp_path):
    fakes = services(tmp_path, "add_columns")
    first = put_ndjson(fakes, "orders/1.ndjson", [{"order_id": "o-1", "amount": "1", "points": 7}])
    assert ingest_file(first, fakes.services).status == Status.LOADED

    later = put_ndjson(
        fakes,
        "orders/2.ndjson",
        [
            {"order_id": "o-2", "amount": "1", "points": 9},
            {"order_id": "o-3", "amount": "1", "points": "lots"},
        ],
    )
    result = ingest_file(later, fakes.services)

    assert (result.status, result.rows_loaded, result.rows_quarantined) == (Status.LOADED, 1, 1)
    assert fakes.warehouse.added_columns[TABLE] == [Column("points", "INT64")]
    assert len(fakes.warehouse.schema_changes) == 1  # noted once, when added
    quarantined = fakes.lake.quarantined(later)
    assert [row["row"] for row in quarantined] == [2]
    assert "points" in quarantined[0]["reason"]
    assert fakes.ledger.get(later).quarantine_reasons == {"points": 1}  # what the drift report counts


def test_the_drift_report_counts_quarantined_rows_per_column_across_files():
    from ingest.apps.tools.schema_diff import quarantined_by_column
    from ingest.core.ledger_entry import LedgerEntry

    pipeline = parse_pipeline(
        {**MINIMAL_CONFIG, "columns": [*MINIMAL_CONFIG["columns"], {"name": "amount", "type": "NUMERIC"}]},
        "o.yaml",
    )
    entries = [
        LedgerEntry(
            "s3://lake/a#1", "FILE", pipeline="orders", quarantine_reasons={"amount": 3, "unreadable": 1}
        ),
        LedgerEntry(
            "s3://lake/b#2", "FILE", pipeline="orders", quarantine_reasons={"amount": 2, "order_id": 1}
        ),
        LedgerEntry(
            "s3://lake/c#3", "FILE", pipeline="orders", quarantine_reasons={"validation orders.x": 5}
        ),
        LedgerEntry("s3://lake/d#4", "FILE", pipeline="other", quarantine_reasons={"amount": 9}),
        LedgerEntry("s3://lake/e#5", "FILE", pipeline="orders"),
    ]

    counted = [q.to_dict() for q in quarantined_by_column(entries, pipeline)]

    assert counted == [
        {"column": "amount", "rows": 5, "files": 2},  # 3 + 2; another pipeline's 9 not counted
        {"column": "order_id", "rows": 1, "files": 1},
    ]  # reasons that are no column (unreadable rows, suite checks) are not type changes


def test_a_large_file_read_whole_by_arrow_fills_the_columns_it_adds(tmp_path):
    fakes = services(tmp_path, "add_columns")
    lines = [json.dumps({"order_id": f"o-{n}", "amount": "1.00", "quantity": n}) for n in range(1, 20_001)]
    lines[17_345] = json.dumps({"order_id": "o-17346", "amount": "1.00", "gift_note": "call +1 415 555 0100"})
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) > 1 << 20  # the size Arrow reads whole
    ref = fakes.lake.put(LAKE, "orders/big.ndjson", body)

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.rows_loaded) == (Status.LOADED, 20_000)
    notes = {r["order_id"]: r["gift_note"] for r in fakes.warehouse.rows(TABLE) if r["gift_note"] is not None}
    assert notes == {"o-17346": "call [phone]"}
    assert fakes.warehouse.added_columns[TABLE] == [Column("gift_note", "STRING", free_text=True)]


def test_a_later_file_reads_an_added_column_as_a_declared_one(tmp_path):
    fakes = services(tmp_path, "add_columns")
    put = [put_ndjson(fakes, f"orders/{n}.ndjson", [{"order_id": f"o-{n}", "amount": "1", "gift": n == 2}])
           for n in (1, 2)]  # fmt: skip

    for ref in put:
        assert ingest_file(ref, fakes.services).status == Status.LOADED

    assert [r["gift"] for r in by_row(fakes)] == [False, True]
    assert [(t, c.column.name) for t, c in fakes.warehouse.schema_changes] == [(TABLE, "gift")]


def test_a_group_is_read_again_so_files_without_the_field_load_beside_those_with_it(tmp_path):
    fakes = services(tmp_path, "add_columns")
    plain = put_ndjson(fakes, "orders/a.ndjson", [{"order_id": "o-1", "amount": "1"}])
    drifting = fakes.lake.put(
        LAKE, "orders/b.ndjson.gz", gzip.compress(b'{"order_id": "o-2", "amount": "2", "coupon": "XMAS"}\n')
    )

    ran = ingest_files([plain, drifting], fakes.services)

    assert [r.status for r in ran.results] == [Status.LOADED, Status.LOADED]
    assert [r["coupon"] for r in by_row(fakes)] == [None, "XMAS"]
    assert fakes.warehouse.loads == [(TABLE, 2)]  # still one load job


def test_names_and_values_that_cannot_be_columns_stay_in_extra(tmp_path):
    fakes = services(tmp_path, "add_columns")
    record = {
        "order_id": "o-1",
        "amount": "1",
        "bad-name": 1,  # BigQuery's unquoted names hold no dash
        "select": 2,  # a reserved keyword
        "_sneaky": 3,  # our columns' prefix
        "Amount": "4",  # differs from the declared amount only in case
        "meta": {"device": "iPhone"},  # objects stay in _extra, their text masked
        "tags": ["a", "b"],
        "ok": "yes",
    }
    ref = put_ndjson(fakes, "orders/hostile.ndjson", [record])

    assert ingest_file(ref, fakes.services).status == Status.LOADED

    assert [c.name for c in fakes.warehouse.added_columns[TABLE]] == ["ok"]
    (row,) = by_row(fakes)
    assert row["ok"] == "yes"
    kept = {
        "bad-name": 1,
        "select": 2,
        "_sneaky": 3,
        "Amount": "4",
        "meta": {"device": "iPhone"},
        "tags": ["a", "b"],
    }
    assert json.loads(row["_extra"]) == kept


def test_a_field_seen_only_null_waits_for_a_value_and_two_spellings_make_one_column(tmp_path):
    fakes = services(tmp_path, "add_columns")
    first = put_ndjson(
        fakes,
        "orders/1.ndjson",
        [
            {"order_id": "o-1", "amount": "1", "promo": None, "Tag": "a", "tag": "b"},
            {"order_id": "o-9", "amount": "1", "tag": "c"},
        ],
    )

    assert ingest_file(first, fakes.services).status == Status.LOADED

    # promo has no value to be typed by yet; "Tag" is "tag" to BigQuery, and fewer rows carry it
    assert fakes.warehouse.added_columns[TABLE] == [Column("tag", "STRING", free_text=True)]
    rows = by_row(fakes)
    assert [r["tag"] for r in rows] == ["b", "c"]
    assert json.loads(rows[0]["_extra"]) == {"promo": None, "Tag": "a"}

    later = put_ndjson(fakes, "orders/2.ndjson", [{"order_id": "o-2", "amount": "1", "promo": 15}])
    assert ingest_file(later, fakes.services).status == Status.LOADED

    assert [c.name for c in fakes.warehouse.added_columns[TABLE]] == ["tag", "promo"]
    assert fakes.warehouse.added_columns[TABLE][1].type == "INT64"


def test_keys_that_look_like_data_add_no_column(tmp_path):
    fakes = services(tmp_path, "add_columns")
    record = {"order_id": "o-1", "amount": "1"} | {f"sku_{n}": n for n in range(MAX_COLUMNS_AT_ONCE + 1)}
    ref = put_ndjson(fakes, "orders/wide.ndjson", [record])

    assert ingest_file(ref, fakes.services).status == Status.LOADED

    assert fakes.warehouse.added_columns.get(TABLE, []) == []
    assert len(json.loads(by_row(fakes)[0]["_extra"])) == MAX_COLUMNS_AT_ONCE + 1


def test_contact_details_in_an_added_text_column_are_masked_as_in_extra(tmp_path):
    fakes = services(tmp_path, "add_columns")
    ref = put_ndjson(
        fakes,
        "orders/note.ndjson",
        [{"order_id": "o-1", "amount": "1", "gift_note": "from jane.doe@example.com"}],
    )

    assert ingest_file(ref, fakes.services).status == Status.LOADED

    (row,) = by_row(fakes)
    assert row["gift_note"] == "from [email]"


def test_a_failure_to_add_the_columns_fails_the_files_for_a_retry_which_loads_them(tmp_path):
    fakes = services(tmp_path, "add_columns")
    ref = put_ndjson(fakes, "orders/x.ndjson", [{"order_id": "o-1", "amount": "1", "coupon": "A"}])
    fakes.warehouse.fail_next.append(TransientError("BigQuery: 503 backend error"))

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "TransientError", True)
    assert fakes.warehouse.rows(TABLE) == []

    retried = ingest_file(ref, fakes.services)  # the redelivery

    assert retried.status == Status.LOADED
    assert [r["coupon"] for r in by_row(fakes)] == ["A"]


def test_add_columns_is_taken_by_merge_and_append_pipelines():
    for mode in ("merge", "append"):
        parsed = parse_pipeline(
            {**MINIMAL_CONFIG, "write_mode": mode, "schema_drift": "add_columns"}, "orders.yaml"
        )
        assert parsed.schema_drift == "add_columns"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"record_column": "_raw"}, "schema_drift: add_columns needs a pipeline without record_column"),
        ({"write_mode": "replace"}, "add_columns is for merge and append pipelines"),
    ],
)
def test_add_columns_where_it_cannot_work_is_refused_when_the_yaml_loads(extra, says):
    with pytest.raises(ConfigError, match=says):
        parse_pipeline({**MINIMAL_CONFIG, "schema_drift": "add_columns", **extra}, "orders.yaml")


def test_inspect_says_which_columns_a_file_would_add_before_any_load(tmp_path):
    from ingest.apps.tools.inspect import inspect_file
    from ingest.core.config import load_pipelines

    fakes = services(tmp_path, "add_columns")
    path = tmp_path / "orders.ndjson"
    path.write_text(json.dumps({"order_id": "o-1", "amount": "1", "points": 3, "bad-name": 1}) + "\n")

    report = inspect_file(path, pipeline="orders_orders", pipelines=load_pipelines(tmp_path / "pipelines"))

    assert report.pipeline is not None
    assert report.pipeline.added_columns == ["points INT64"]
    assert report.pipeline.extra_fields == ["bad-name", "points"]
    assert fakes.warehouse.added_columns == {}  # nothing was loaded or changed
