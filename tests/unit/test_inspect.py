"""`ingest inspect`: what a data engineer learns about a raw file, from files built per test."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import (
    PAYER_EMAIL,
    PAYER_NAMES,
    SHIPPING_STREET,
    orders_ndjson,
    paypal_transaction,
    write_orders_pipeline,
)

from ingest.apps.cli import main as cli
from ingest.apps.tools import inspect as inspection
from ingest.apps.tools import profiling
from ingest.apps.tools.masking import mask_record
from ingest.core import prepare, type_inference
from ingest.core.config import load_pipelines


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["inspect", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def columns(report: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {c["name"]: (c["type"], c["nulls"]) for c in report["columns"]}


@pytest.fixture(autouse=True)
def shipped_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INGEST_PIPELINES_DIR", raising=False)


@pytest.fixture
def orders_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pipeline folder with one ``orders_lake`` pipeline routing ``lake/...`` keys."""
    directory = tmp_path / "pipelines"
    write_orders_pipeline(directory, "lake")
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(directory))
    return directory


def test_json_report_holds_every_documented_key(tmp_path, capsys):
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(3))

    code, report = run(capsys, str(path))

    assert code == 0
    expected = {"format", "compression", "encoding", "delimiter", "rows", "columns", "errors", "sample"}
    assert expected <= report.keys()
    assert (report["format"], report["compression"], report["encoding"]) == ("ndjson", None, "utf-8")
    assert report["rows"] == 3
    assert report["bytes"] == path.stat().st_size
    assert report["pipeline"] is None and report["file_error"] is None


def test_csv_with_bom_crlf_and_empty_trailing_header_column_is_typed_per_column(tmp_path, capsys):
    lines = [
        "id,amount,paid_on,paid_at,refunded,code,note,",
        "1,19.99,2021-07-01,2021-07-01T10:00:00Z,true,007,first",
        "2,5,2021-07-02,2021-07-02 11:30:00+02:00,false,008,",
        "3,-0.50,2021-07-03,2021-07-03T12:00:00.000Z,true,009,third",
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join(lines).encode() + b"\r\n")

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["format"], report["encoding"], report["delimiter"]) == ("csv", "utf-8-sig", ",")
    assert report["header"] == ["id", "amount", "paid_on", "paid_at", "refunded", "code", "note"]
    assert report["rows"] == 3 and report["errors"] == []
    assert columns(report) == {
        "id": ("INT64", 0),
        "amount": ("NUMERIC", 0),
        "paid_on": ("DATE", 0),
        "paid_at": ("TIMESTAMP", 0),
        "refunded": ("BOOL", 0),
        "code": ("STRING", 0),  # leading zeros: a code, not a number
        "note": ("STRING", 1),
    }


def test_tab_separated_file_reports_its_delimiter(tmp_path, capsys):
    path = tmp_path / "vat"
    path.write_bytes(b"tax_code\tvat_rate\tcountry\r\nT1\t0.2\tUK\r\nT40\t0.19\tAT\r\n")

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["delimiter"], report["rows"]) == ("\t", 2)
    assert columns(report)["vat_rate"] == ("NUMERIC", 0)


def test_concatenated_pretty_json_is_flattened_to_dotted_paths(tmp_path, capsys):
    first = paypal_transaction("A1")
    second = paypal_transaction("B2", paypal_reference_id="A1")
    del second["cart_info"]
    path = tmp_path / "firehose"
    path.write_text(json.dumps(first, indent=4) + json.dumps(second, indent=4))

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["format"], report["rows"]) == ("json_concat", 2)
    found = columns(report)
    assert found["transaction_info.transaction_amount.value"] == ("NUMERIC", 0)
    assert found["transaction_info.transaction_initiation_date"] == ("TIMESTAMP", 0)
    assert found["transaction_info.protection_eligibility"] == ("STRING", 0)
    assert found["cart_info.item_details"] == ("RECORD", 1)  # an array of objects: see below
    assert found["cart_info.item_details.item_quantity"] == ("INT64", 1)
    assert found["transaction_info.paypal_reference_id"] == ("STRING", 1)
    assert found["store_info"] == ("RECORD", 2)  # always an empty object


def test_json_types_merge_across_rows(tmp_path, capsys):
    records = [
        {"n": 1, "x": 1, "flag": True, "when": "2021-07-01", "tags": ["a"], "mixed": 1},
        {"n": 2, "x": 2.5, "flag": False, "when": "2021-07-01T10:00:00Z", "tags": None, "mixed": "b"},
        {"n": None, "x": "3.25", "flag": None, "when": None, "tags": [], "mixed": True},
    ]
    path = tmp_path / "records.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    _, report = run(capsys, str(path))

    assert columns(report) == {
        "n": ("INT64", 1),
        "x": ("FLOAT64", 0),
        "flag": ("BOOL", 1),
        "when": ("TIMESTAMP", 1),
        "tags": ("JSON", 1),
        "mixed": ("STRING", 0),
    }


def test_ndjson_bad_line_is_a_row_error_with_its_line_number(tmp_path, capsys):
    path = tmp_path / "orders.ndjson"
    lines = orders_ndjson(3).decode().splitlines()
    lines.insert(1, '{"order_id": "o-x", "amount": ')
    path.write_text("\n".join(lines) + "\n")

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["rows"], report["rows_with_errors"]) == (4, 1)
    (error,) = report["errors"]
    assert error["row"] == 2 and "not valid JSON" in error["error"]
    assert [s["row"] for s in report["sample"]] == [1, 3, 4]


def test_gzip_is_detected_by_its_magic_bytes(tmp_path, capsys):
    path = tmp_path / "orders-no-extension"
    path.write_bytes(gzip.compress(orders_ndjson(4)))

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["format"], report["compression"], report["rows"]) == ("ndjson", "gzip", 4)


def test_sample_masks_payer_emails_names_and_shipping(tmp_path, capsys):
    path = tmp_path / "paypal.json"
    path.write_text(json.dumps([paypal_transaction("A1"), paypal_transaction("B2")], indent=2))

    code, report = run(capsys, str(path), "--sample", "1")

    assert code == 0
    assert len(report["sample"]) == 1
    shown = json.dumps(report["sample"])
    for secret in (PAYER_EMAIL, *PAYER_NAMES, SHIPPING_STREET, "Jane Doe"):
        assert secret not in shown
    payer = report["sample"][0]["record"]["payer_info"]
    assert payer["email_address"] == "j***@example.com"
    assert payer["payer_name"] == {"given_name": "J***", "surname": "D***", "alternate_full_name": "J***"}
    assert report["sample"][0]["record"]["shipping_info"]["name"] == "J***"
    assert "payer_info.email_address" in columns(report)  # the field is profiled, its value never shown


def test_masking_covers_flat_email_columns_and_leaves_other_names_alone():
    record = {
        "payer_email": "p@example.com",
        "Contact_EMAIL": None,
        "name": "VAT 20%",
        "ip_address": "5.1.2.3",
    }

    assert mask_record(record) == {
        "payer_email": "p***@example.com",
        "Contact_EMAIL": None,
        "name": "VAT 20%",
        "ip_address": "5***",
    }


def test_human_output_masks_too_and_exits_zero(tmp_path, capsys):
    path = tmp_path / "paypal.json"
    path.write_text(json.dumps([paypal_transaction("A1")]))

    code = cli.main(["inspect", str(path)])

    out = capsys.readouterr().out
    assert code == 0
    assert "json_array" in out and "j***@example.com" in out
    assert PAYER_EMAIL not in out and SHIPPING_STREET not in out


def test_pipeline_mode_counts_what_would_load_and_why_rows_are_quarantined(tmp_path, capsys, orders_dir):
    path = tmp_path / "orders"
    body = orders_ndjson(5, bad_rows=(2, 4)).decode().splitlines()
    body[4] = json.dumps({**json.loads(body[4]), "coupon": "SUMMER"})  # drift on row 5
    path.write_text("\n".join(body) + "\n")

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 0
    check = report["pipeline"]
    assert (check["name"], check["table"]) == ("orders_lake", "raw.orders_lake")
    assert (check["would_load"], check["would_quarantine"]) == (3, 2)
    assert [q["row"] for q in check["quarantined"]] == [2, 4]
    assert all(q["reason"].startswith("amount: 'not-a-number'") for q in check["quarantined"])
    assert check["extra_fields"] == ["coupon"]
    assert check["missing_columns"] == [] and check["file_error"] is None


def test_pipeline_mode_coerces_in_chunks_and_counts_every_row(tmp_path, monkeypatch, orders_dir):
    monkeypatch.setattr(prepare, "CHUNK_ROWS", 4)
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(23, bad_rows=(3, 9, 23)))

    report = inspection.inspect_file(path, pipeline="orders_lake", pipelines=load_pipelines(orders_dir))

    assert report.rows == 23
    assert (report.pipeline.would_load, report.pipeline.would_quarantine) == (20, 3)
    assert [q.row for q in report.pipeline.quarantined] == [3, 9, 23]


def test_csv_missing_a_required_column_would_fail_the_file(tmp_path, capsys, orders_dir):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,ordered_at\no-1,2021-07-01T10:00:00Z\n")

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 1
    check = report["pipeline"]
    assert check["missing_columns"] == ["amount"]
    assert check["unmatched_columns"] == ["quantity"]
    assert check["file_error"]["error_type"] == "MissingColumn"
    assert check["would_load"] == 0
    assert report["rows"] == 1 and report["file_error"] is None  # the file itself reads


def test_every_row_rejected_would_fail_the_file_with_no_valid_rows(tmp_path, capsys, orders_dir):
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(2, bad_rows=(1, 2)))

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 1
    assert report["pipeline"]["file_error"]["error_type"] == "NoValidRows"
    assert report["pipeline"]["would_quarantine"] == 2


def test_pipeline_auto_routes_a_local_copy_by_its_trailing_path(tmp_path, capsys, orders_dir):
    path = tmp_path / "copy" / "lake" / "2021" / "orders-1"
    path.parent.mkdir(parents=True)
    path.write_bytes(orders_ndjson(2))

    code, report = run(capsys, str(path), "--pipeline", "auto")

    assert code == 0
    assert report["pipeline"]["name"] == "orders_lake"


def test_pipeline_auto_without_a_matching_pipeline_still_profiles_the_file(tmp_path, capsys, orders_dir):
    path = tmp_path / "elsewhere"
    path.write_bytes(orders_ndjson(2))

    code, report = run(capsys, str(path), "--pipeline", "auto")

    assert code == 1
    assert report["rows"] == 2
    assert report["pipeline"]["file_error"]["error_type"] == "UnknownPipeline"


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"", "EmptyFile"),
        (b'[{"a": 1}, {"a": 2', "MalformedFile"),
        (b"\x1f\x8b\x08\x00broken", "UndecodableFile"),
        (b'{"a": 1}\n{"a": "\xff"}\n', "UndecodableFile"),
    ],
)
def test_file_level_error_is_reported_with_its_type_and_exits_one(tmp_path, capsys, body, error_type):
    path = tmp_path / "bad"
    path.write_bytes(body)

    code, report = run(capsys, str(path))

    assert code == 1
    assert report["file_error"]["error_type"] == error_type
    assert report["file_error"]["message"]


def test_unreadable_file_under_a_pipeline_would_fail_with_the_read_error(tmp_path, capsys, orders_dir):
    path = tmp_path / "empty"
    path.write_bytes(b"  \n")

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 1
    assert report["format"] is None
    assert report["pipeline"]["name"] == "orders_lake"
    assert report["pipeline"]["file_error"]["error_type"] == "EmptyFile"
    assert report["pipeline"]["missing_columns"] == []


def test_file_whose_every_row_is_unreadable_exits_one(tmp_path, capsys):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2\n3,4\n")

    code, report = run(capsys, str(path))

    assert code == 1
    assert report["rows_with_errors"] == 2
    assert report["file_error"]["error_type"] == "NoValidRows"


def test_errors_listed_are_bounded_but_all_are_counted(tmp_path, capsys):
    path = tmp_path / "noisy.ndjson"
    lines = ['{"ok": 1}'] + ["not json"] * (profiling.MAX_LISTED + 20)
    path.write_text("\n".join(lines) + "\n")

    code, report = run(capsys, str(path), "--sample", "0")

    assert code == 0
    assert report["rows_with_errors"] == profiling.MAX_LISTED + 20
    assert len(report["errors"]) == profiling.MAX_LISTED
    assert report["errors"][-1]["row"] == profiling.MAX_LISTED + 1
    assert report["sample"] == []
    assert any("first 100 of 120" in w for w in report["warnings"])


@pytest.mark.parametrize(
    "argv",
    [
        ["inspect", "/no/such/file"],
        ["inspect", "s3://bucket-only"],
        ["inspect", __file__, "--pipeline", "no_such_pipeline"],
    ],
)
def test_a_wrong_request_exits_two(argv, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err


def test_negative_sample_is_refused_by_the_parser(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["inspect", str(tmp_path), "--sample", "-1"])
    assert exit_info.value.code == 2


def test_s3_object_is_read_with_its_size_and_etag(monkeypatch, capsys, tmp_path):
    from moto import mock_aws

    write_orders_pipeline(tmp_path, "lake")
    pipelines = load_pipelines(tmp_path)

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
        s3.create_bucket(Bucket="lake")
        body = gzip.compress(orders_ndjson(3))
        etag = s3.put_object(Bucket="lake", Key="a b/orders", Body=body)["ETag"].strip('"')

        code, report = run(capsys, "s3://lake/a b/orders")
        missing = cli.main(["inspect", "s3://lake/nothing-here"])
        s3.put_object(Bucket="lake", Key="lake/orders", Body=gzip.compress(orders_ndjson(4, bad_rows=(3,))))
        checked = inspection.inspect_file(
            "s3://lake/lake/orders", pipeline="auto", s3=s3, pipelines=pipelines
        )

    assert code == 0
    assert (report["source"], report["bytes"], report["etag"]) == ("s3://lake/a b/orders", len(body), etag)
    assert (report["compression"], report["rows"]) == ("gzip", 3)
    assert missing == 2
    # An S3 body cannot seek back: profiled, then read again from a copy through the pipeline.
    assert (checked.rows, checked.pipeline.name) == (4, "orders_lake")
    assert (checked.pipeline.would_load, checked.pipeline.would_quarantine) == (3, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", "INT64"),
        ("-7", "INT64"),
        ("01", "STRING"),
        ("19.99", "NUMERIC"),
        ("0.000019999139", "FLOAT64"),  # more than NUMERIC's 9 decimal places
        ("1.5e3", "FLOAT64"),
        ("99999999999999999999", "NUMERIC"),
        ("TRUE", "BOOL"),
        ("2021-07-01", "DATE"),
        ("2021-08-013", "STRING"),
        ("2021-07-03T08:24:06+0000", "TIMESTAMP"),
        ("2021-07-03 22:05:31.000Z", "TIMESTAMP"),
        ("5.41.61.12", "STRING"),
    ],
)
def test_text_is_typed_by_its_content(text, expected):
    assert type_inference.text_type(text) == expected


@pytest.mark.parametrize(
    ("seen", "new", "merged"),
    [
        (None, "DATE", "DATE"),
        ("INT64", "NUMERIC", "NUMERIC"),
        ("NUMERIC", "FLOAT64", "FLOAT64"),
        ("DATE", "TIMESTAMP", "TIMESTAMP"),
        ("JSON", "STRING", "JSON"),
        ("BOOL", "INT64", "STRING"),
    ],
)
def test_types_merge_to_one_that_holds_both(seen, new, merged):
    assert type_inference.merge_types(seen, new) == merged


# Hostile shapes (issue 21, item 12): inspect reports them, it never crashes on them.


def nested(depth: int, leaf: Any = 1, key: str | None = "a") -> Any:
    """``depth`` levels of objects (arrays when ``key`` is None) around ``leaf``, built in a loop:
    deeper than Python's recursion limit, as no JSON text could reach a reader today."""
    value = leaf
    for _ in range(depth):
        value = {key: value} if key is not None else [value]
    return value


def test_a_line_nested_900_deep_is_a_bad_row_or_shown_cut_never_a_crash(tmp_path, capsys):
    path = tmp_path / "deep.ndjson"
    deep_line = '{"a":' * 900 + "1" + "}" * 900
    path.write_text("\n".join([json.dumps({"order_id": "o-1"}), deep_line, json.dumps({"order_id": "o-3"})]))

    code, report = run(capsys, str(path))

    assert code == 0  # as for any other bad row
    assert report["rows"] == 3 and report["file_error"] is None
    # The reader may refuse the line (a row error), or hand it over to be profiled and shown cut.
    as_bad_row = [error["row"] for error in report["errors"]] == [2]
    shown_cut = any("levels of nesting (first: row 2)" in warning for warning in report["warnings"])
    assert as_bad_row or shown_cut, report
    assert cli.main(["inspect", str(path)]) == 0
    assert "row 3" in capsys.readouterr().out


def test_records_deeper_than_the_stack_are_profiled_and_shown_cut_at_max_depth(tmp_path, capsys, monkeypatch):
    # Whatever the reader lets through (its nesting limit is a setting), inspect's own walks of a
    # record (profile, mask, report) stop at MAX_DEPTH.
    from ingest.apps.tools.masking import MAX_DEPTH, TOO_DEEP, nested_deeper_than
    from ingest.core.formats.detect import Detected
    from ingest.core.formats.parsed_row import ParsedRow

    deep = {
        "order_id": "o-2",
        "x": nested(5_000),
        "y": nested(5_000, leaf={"payer_email": PAYER_EMAIL}, key=None),
        "payer_name": nested(5_000, leaf=PAYER_NAMES[0]),
    }
    rows = [ParsedRow(1, {"order_id": "o-1"}), ParsedRow(2, deep), ParsedRow(3, {"order_id": "o-3"})]
    detected = Detected(format="ndjson", compression=None, encoding="utf-8")
    monkeypatch.setattr(
        inspection, "read_rows", lambda stream, pinned_format="auto", **_: (detected, iter(rows))
    )
    path = tmp_path / "deep.ndjson"
    path.write_text("{}\n")

    code, report = run(capsys, str(path))

    assert code == 0
    assert (report["rows"], report["rows_with_errors"]) == (3, 0)
    assert report["warnings"] == [
        f"1 record(s) cut at {MAX_DEPTH} levels of nesting (first: row 2): deeper objects are "
        "profiled as one JSON value and not shown"
    ]
    # The object at level MAX_DEPTH + 1 is one JSON value, under the path down to it.
    assert columns(report)["x" + ".a" * (MAX_DEPTH - 1)] == ("JSON", 2)
    shown = report["sample"][1]["record"]
    assert not nested_deeper_than(shown, MAX_DEPTH)
    level, value = 2, shown["x"]  # the record is level 1
    while isinstance(value, dict):
        level, value = level + 1, value["a"]
    assert (level, value) == (MAX_DEPTH + 1, TOO_DEEP)
    assert TOO_DEEP in json.dumps(shown["y"]) and TOO_DEEP in json.dumps(shown["payer_name"])
    assert PAYER_EMAIL not in json.dumps(report) and PAYER_NAMES[0] not in json.dumps(shown)
    assert cli.main(["inspect", str(path)]) == 0
    assert TOO_DEEP in capsys.readouterr().out
    # Outside the sample too, a record whose profile was cut is counted.
    assert run(capsys, str(path), "--sample", "0")[1]["warnings"] == report["warnings"]


def test_masking_walks_arrays_of_arrays():
    record = {"batches": [[{"payer_email": PAYER_EMAIL, "n": 1}], [[{"ip_address": "5.1.2.3"}]]]}

    assert mask_record(record) == {
        "batches": [[{"payer_email": "j***@example.com", "n": 1}], [[{"ip_address": "5***"}]]]
    }


def far_future_orders(path: Path) -> Path:
    """Three orders as Parquet; the second one's timestamp, 300,000,000,000,000,000 µs after
    the epoch (year ~11,507), is one Arrow holds and Python's datetime cannot."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered_at = pa.array(
        [1_625_133_600_000_000, 300_000_000_000_000_000, 1_625_137_200_000_000], pa.timestamp("us", tz="UTC")
    )
    table = pa.table(
        {"order_id": ["o-1", "o-2", "o-3"], "amount": ["1.99", "2.99", "3.99"], "ordered_at": ordered_at}
    )
    pq.write_table(table, path)
    return path


def test_a_parquet_timestamp_past_year_9999_is_a_bad_row_and_its_column_a_timestamp(tmp_path, capsys):
    path = far_future_orders(tmp_path / "orders.parquet")

    code, report = run(capsys, str(path))

    assert code == 0  # as for any other bad row
    assert (report["format"], report["rows"], report["file_error"]) == ("parquet", 3, None)
    ((row, error),) = [(e["row"], e["error"]) for e in report["errors"]]
    assert row == 2 and "out of range" in error
    assert columns(report)["ordered_at"] == ("TIMESTAMP", 0)  # Parquet's own type, not JSON
    assert [s["row"] for s in report["sample"]] == [1, 3]
    assert cli.main(["inspect", str(path)]) == 0
    assert "Traceback" not in capsys.readouterr().out


def test_a_parquet_timestamp_past_year_9999_would_be_quarantined_under_a_pipeline(
    tmp_path, capsys, orders_dir
):
    path = far_future_orders(tmp_path / "orders.parquet")

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 0
    check = report["pipeline"]
    assert (check["would_load"], check["would_quarantine"], check["file_error"]) == (2, 1, None)
    assert [q["row"] for q in check["quarantined"]] == [2]


@pytest.mark.parametrize(
    ("raised", "error_type"),
    [
        (RecursionError("maximum recursion depth exceeded"), "MalformedFile"),
        (TypeError("time"), "InternalError"),
    ],
)
def test_an_error_of_ingestions_own_steps_is_reported_as_a_load_would_record_it(
    tmp_path, capsys, orders_dir, monkeypatch, raised, error_type
):
    from ingest.apps.tools import dry_run

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr(dry_run, "dry_run", failing)
    path = tmp_path / "orders.ndjson"
    path.write_bytes(orders_ndjson(2))

    code, report = run(capsys, str(path), "--pipeline", "orders_lake")

    assert code == 1
    assert report["pipeline"]["file_error"]["error_type"] == error_type
    assert type(raised).__name__ in report["pipeline"]["file_error"]["message"]


# Issue 24: pipeline columns after the transform, PayPal cart items, country codes, empty objects.
# Records are built here from the documented shapes: openexchangerates' latest.json, and PayPal
# Transaction Search's transaction_details[] (transaction_info, payer_info, shipping_info, cart_info).


def exchange_rates(rates: dict[str, Any]) -> dict[str, Any]:
    """An openexchangerates ``latest.json`` object: base, epoch timestamp, rates per currency."""
    return {"disclaimer": "Usage subject to terms", "timestamp": 1625097600, "base": "USD", "rates": rates}


def transaction_search_record(
    transaction_id: str, payer_country: str, shipping_country: str
) -> dict[str, Any]:
    """One ``transaction_details[]`` element of PayPal's Transaction Search, a one-item cart sale."""
    money = {"currency_code": "GBP", "value": "4.99"}
    return {
        "transaction_info": {
            "paypal_account_id": "6STWC2LSUYYYE",
            "transaction_id": transaction_id,
            "transaction_event_code": "T0006",
            "transaction_initiation_date": "2021-07-01T10:02:41+0000",
            "transaction_updated_date": "2021-07-01T10:02:44+0000",
            "transaction_amount": money,
            "fee_amount": {"currency_code": "GBP", "value": "-0.45"},
            "transaction_status": "S",
        },
        "payer_info": {
            "account_id": "QJVSWV3N2XRB6",
            "email_address": "ada.lovelace@example.org",
            "payer_name": {"given_name": "Ada", "surname": "Lovelace"},
            "country_code": payer_country,
        },
        "shipping_info": {
            "name": "Ada Lovelace",
            "address": {"line1": "12 St James's Square", "city": "London", "country_code": shipping_country},
        },
        "cart_info": {
            "item_details": [
                {
                    "item_code": "gems-500",
                    "item_name": "Sack of Gems (ID: #2203)",
                    "item_quantity": "2",
                    "item_unit_price": money,
                    "item_amount": {"currency_code": "GBP", "value": "9.98"},
                }
            ]
        },
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def test_exchange_rates_are_checked_after_the_transform_and_would_load(tmp_path, capsys):
    # GIVEN an openexchangerates object: base, timestamp, rates; no field is named as a column.
    path = tmp_path / "exchange_rates_USD"
    path.write_text(json.dumps(exchange_rates({"EUR": 0.843, "GBP": 0.7236, "USD": 1})))

    code, report = run(capsys, str(path), "--pipeline", "exchange_rates")

    # THEN the columns are found in the rows the transform makes: one per currency.
    check = report["pipeline"]
    assert code == 0
    assert (check["would_load"], check["would_quarantine"]) == (3, 0)
    assert (check["missing_columns"], check["unmatched_columns"], check["file_error"]) == ([], [], None)
    assert check["derived_columns"] == {
        "base_currency": "base",
        "currency_code": "rates (each key)",
        "rate": "rates (each value)",
        "rates_at": "timestamp",
    }
    assert cli.main(["inspect", str(path), "--pipeline", "exchange_rates"]) == 0
    assert "missing required" not in capsys.readouterr().out


def test_exchange_rates_without_a_rate_would_not_load_and_exit_one(tmp_path, capsys):
    path = tmp_path / "exchange_rates_USD"
    path.write_text(json.dumps(exchange_rates({"EUR": None, "GBP": None})))

    code, report = run(capsys, str(path), "--pipeline", "exchange_rates")

    # One verdict: nothing loads, the required column is named, the file fails, exit 1.
    check = report["pipeline"]
    assert code == 1
    assert (check["would_load"], check["would_quarantine"]) == (0, 2)
    assert check["missing_columns"] == ["rate"]
    assert check["file_error"]["error_type"] == "NoValidRows"


def test_a_file_the_transform_refuses_fails_with_its_reason_not_missing_columns(tmp_path, capsys):
    path = tmp_path / "exchange_rates_USD"
    path.write_text(json.dumps({"base": "USD", "timestamp": 1625097600}))  # no rates object

    code, report = run(capsys, str(path), "--pipeline", "exchange_rates")

    check = report["pipeline"]
    assert code == 1
    assert check["would_load"] == 0 and check["missing_columns"] == []
    assert "no 'rates' object" in check["file_error"]["message"]


def test_cart_info_item_details_are_the_cart_items(tmp_path, capsys):
    records = [transaction_search_record("8MC585209K746392H", "GB", "GB")]
    records.append(transaction_search_record("5TY05013RG002845M", "DE", "DE"))
    del records[1]["cart_info"]  # a record without a cart: withdrawals have none
    path = tmp_path / "page-0001.json"
    path.write_text(json.dumps(records))

    code, report = run(capsys, str(path), "--pipeline", "paypal_transactions")

    assert code == 0
    by_name = {c["name"]: c for c in report["columns"]}
    assert (by_name["cart_info.item_details"]["type"], by_name["cart_info.item_details"]["mode"]) == (
        "RECORD",
        "REPEATED",
    )
    assert columns(report)["cart_info.item_details.item_quantity"] == ("INT64", 1)
    assert columns(report)["cart_info.item_details.item_unit_price.value"] == ("NUMERIC", 1)
    check = report["pipeline"]
    assert check["derived_columns"] == {"cart_items": "cart_info.item_details"}
    assert "cart_items" not in check["unmatched_columns"] + check["missing_columns"]
    assert cli.main(["inspect", str(path), "--pipeline", "paypal_transactions"]) == 0
    human = capsys.readouterr().out
    assert (
        "REPEATED RECORD" in human
        and "cart_items: made by the transform from cart_info.item_details" in human
    )


def test_country_codes_are_shown_unmasked_and_uk_is_flagged_as_gb(tmp_path, capsys):
    records = [
        transaction_search_record("8MC585209K746392H", "GB", "GB"),
        transaction_search_record("9XK10183MT371054P", "UK", "UK"),
        transaction_search_record("3VB44281NL229831C", "UK", "GB"),
    ]
    path = tmp_path / "page-0002.json"
    path.write_text(json.dumps(records))

    code, report = run(capsys, str(path), "--sample", "2")

    assert code == 0  # UK passes the format check and loads: a warning, not a failure
    first, second = (row["record"] for row in report["sample"])
    assert first["payer_info"]["country_code"] == "GB"
    assert second["shipping_info"]["address"]["country_code"] == "UK"
    assert second["shipping_info"]["address"]["line1"] == "1***"  # the rest of the address stays masked
    assert second["payer_info"]["email_address"] == "a***@example.org"
    assert report["country_codes"] == [
        {
            "field": "payer_info.country_code",
            "value": "UK",
            "problem": "ISO 3166-1 says GB",
            "rows": 2,
            "first_row": 2,
        },
        {
            "field": "shipping_info.address.country_code",
            "value": "UK",
            "problem": "ISO 3166-1 says GB",
            "rows": 1,
            "first_row": 2,
        },
    ]
    assert (
        "payer_info.country_code: 'UK' in 2 row(s) (first: row 2): ISO 3166-1 says GB" in report["warnings"]
    )


def test_empty_objects_are_records_with_no_value(tmp_path, capsys):
    records = [transaction_search_record("8MC585209K746392H", "GB", "GB") for _ in range(2)]
    records[1]["auction_info"] = {"auction_site": "eBay", "auction_buyer_id": "buyer-1"}
    path = tmp_path / "page-0003.json"
    path.write_text(json.dumps(records))

    _, report = run(capsys, str(path))

    found = columns(report)
    assert found["store_info"] == ("RECORD", 2)  # {} in both rows: a record, and no value
    assert found["auction_info"] == ("RECORD", 2)  # {} in one row, fields in the other
    assert found["auction_info.auction_site"] == ("STRING", 1)


def test_a_misspelt_pipeline_is_exit_2_with_the_closest_name(tmp_path, capsys, orders_dir):
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(1))

    code = cli.main(["inspect", str(path), "--pipeline", "order_lake"])

    assert code == 2
    assert "no pipeline named 'order_lake'; did you mean 'orders_lake'?" in capsys.readouterr().err
