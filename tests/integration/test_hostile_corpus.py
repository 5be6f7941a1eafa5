"""Hostile input: every kind of broken, odd or merely unusual file ends in a stated ledger state.

Each case builds its bytes here, puts them in a scratch bucket (no notifications) and runs
``ingest_file`` once. A FAILED file must be recoverable byte for byte from the error bucket with
a sidecar saying why; a LOADED file must account for every row (``rows_in = rows_loaded +
rows_quarantined``), its rejected rows kept one JSON line each with a reason, and its good rows
in BigQuery exactly once.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import pytest
from support.helpers import (
    ProcessDied,
    ndjson_lines,
    order,
    orders_csv,
    orders_ndjson,
    write_orders_pipeline,
    write_pinned_orders_pipeline,
)

from ingest.adapters.bigquery import queries
from ingest.adapters.dynamodb.items import MESSAGE_LIMIT
from ingest.core.limits import Limits
from ingest.core.model import FileRef, Status
from ingest.core.settings import Settings
from ingest.ingestion.flow import ingest_file, ingest_files
from ingest.ingestion.runs import replay_failed
from ingest.ingestion.services import Services

pytestmark = pytest.mark.integration

CSV_HEADER = "order_id,amount,ordered_at,quantity"
AT = "2021-07-01T10:00:00Z"


# ---------------------------------------------------------------------------------------------
# Builders of hostile bytes
# ---------------------------------------------------------------------------------------------


def truncated_gzip() -> bytes:
    whole = gzip.compress(orders_ndjson(200), mtime=0)
    return whole[: len(whole) // 2]


def invalid_utf8_in_ndjson() -> bytes:
    good = ndjson_lines(order(1), order(2))
    broken = b'{"order_id": "o-3\xc3\x28\xff", "amount": "3.99"}\n'  # bad after \xc3; \xff never UTF-8
    return good + broken + ndjson_lines(order(4))


def utf16_excel_export() -> bytes:
    """Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated, CRLF line endings."""
    text = orders_csv(
        f"Zoë-1\t12.50\t{AT}\t3",
        f"注文-2\t7.25\t{AT}\t1",
        header=CSV_HEADER.replace(",", "\t"),
        newline="\r\n",
    )
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def binary_garbage() -> bytes:
    data = random.Random(20210701).randbytes(64 * 1024)
    # The seed is fixed; these hold for it, and make this garbage rather than a known format.
    assert b"\x00" in data[:4096]
    assert not data.startswith((b"\x1f\x8b", b"BZh", b"\x28\xb5\x2f\xfd", b"PAR1", b"\xef\xbb\xbf"))
    assert not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return data


def json_array_with_trailing_comma() -> bytes:
    return ("[" + ",".join(json.dumps(order(n)) for n in range(1, 4)) + ",]").encode()


def truncated_json_array() -> bytes:
    text = json.dumps([order(n) for n in range(1, 11)], indent=2)
    return text[: len(text) // 2].encode()


def ndjson_with_bad_line_5() -> bytes:
    lines: list[str | dict[str, Any]] = [order(n) for n in range(1, 11)]
    lines[4] = '{"order_id": "o-5", "amount": "5.99", '  # cut off mid-record
    return ndjson_lines(*lines)


def deeply_nested_line(depth: int = 100_000) -> bytes:
    return ndjson_lines(order(1), order(2), '{"a":' * depth + "1" + "}" * depth, order(4))


def ragged_csv() -> bytes:
    return orders_csv(
        f"o-1,1.50,{AT},1",
        f"o-2,2.50,{AT},2,surplus",
        f"o-3,3.50,{AT},3",
        f"o-4,4.50,{AT}",
        f"o-5,5.50,{AT},5",
    ).encode()


def crlf_csv_with_quoted_newline() -> bytes:
    return orders_csv(
        f'"o-1\nsecond line",1.50,{AT},1',
        f"o-2,2.50,{AT},2",
        newline="\r\n",
    ).encode()


def parquet_orders(rows: int = 25) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "order_id": pa.array([f"o-{n}" for n in range(1, rows + 1)], pa.string()),
            "amount": pa.array([Decimal(f"{n}.99") for n in range(1, rows + 1)], pa.decimal128(10, 2)),
            "ordered_at": pa.array(
                [datetime(2021, 7, 1, 10, n % 60, tzinfo=UTC) for n in range(rows)], pa.timestamp("us", "UTC")
            ),
            "quantity": pa.array([n % 5 for n in range(rows)], pa.int64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def parquet_with_a_timestamp_past_9999() -> bytes:
    """Three orders; the second one's timestamp is in year 11,507, which Arrow stores and Python's
    datetime cannot hold."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    at = int(datetime(2021, 7, 1, 10, tzinfo=UTC).timestamp() * 1_000_000)
    table = pa.table(
        {
            "order_id": pa.array(["o-1", "o-2", "o-3"], pa.string()),
            "amount": pa.array([Decimal("1.50"), Decimal("2.50"), Decimal("3.50")], pa.decimal128(10, 2)),
            "ordered_at": pa.array([at, 300_000_000_000_000_000, at], pa.timestamp("us", "UTC")),
            "quantity": pa.array([1, 2, 3], pa.int64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def parquet_with_time_and_duration_columns() -> bytes:
    """Three orders with two columns the pipeline does not declare, bound for ``_extra``: a
    time of day (Arrow time64) and a duration, which JSON has no type for."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "order_id": pa.array(["o-1", "o-2", "o-3"], pa.string()),
            "amount": pa.array([Decimal("1.50"), Decimal("2.50"), Decimal("3.50")], pa.decimal128(10, 2)),
            "pickup_time": pa.array(
                [time_of_day(9, 30), time_of_day(12, 0, 0, 250_000), None], pa.time64("us")
            ),
            "prep": pa.array(
                [timedelta(minutes=5), timedelta(days=1, microseconds=7), None], pa.duration("us")
            ),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def zstd_ndjson() -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(orders_ndjson(20))


def single_line_json_array(min_bytes: int = 50 * 1024 * 1024) -> tuple[bytes, int]:
    """One compact JSON array on one line, no newline: at least ``min_bytes``; returns (bytes, rows)."""
    template = b'{"order_id":"o-%08d","amount":"%d.99","quantity":%d}'
    record_bytes = len(template % (0, 0, 0)) + 1  # the comma
    rows = math.ceil(min_bytes / record_bytes)
    body = b"[" + b",".join(template % (n, n % 10, n % 5) for n in range(rows)) + b"]"
    assert b"\n" not in body and len(body) >= min_bytes
    return body, rows


# Sizes past the reader's default limits (ingest.core.limits), written out here rather than
# read from the code under test.
MIB = 1 << 20
PAST_RECORD_LIMIT = 40 * MIB  # the default record limit is 32 MiB


def gz(data: bytes) -> bytes:
    """Gzip, so a file of tens of MB inflates from a small object (cheap to put and to keep)."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def json_array_element_nested(depth: int) -> bytes:
    """Three orders in a JSON array; the second one holds a value nested ``depth`` arrays deep."""
    deep = {**order(2), "extra": "@DEEP@"}
    text = json.dumps([order(1), deep, order(3)]).replace('"@DEEP@"', "[" * depth + "]" * depth)
    return text.encode()


def concatenated_objects_one_nested(depth: int) -> bytes:
    return (json.dumps(order(1)) + '{"a":' * depth + "1" + "}" * depth + json.dumps(order(3))).encode()


def ndjson_over_a_megabyte_with_a_line_nested(depth: int) -> bytes:
    """Over 1 MiB, so the whole-file Arrow reader would take it; its third line nests ``depth``
    deep (Arrow's JSON reader crashed the process at 100,000)."""
    body = orders_ndjson(15_000).split(b"\n")
    body[2] = b'{"a":' * depth + b"1" + b"}" * depth
    data = b"\n".join(body)
    assert len(data) > MIB
    return data


def unterminated_string(kind: str) -> bytes:
    """A record whose string never ends: 40 MB of text with no closing quote (or newline)."""
    tail = b"x" * PAST_RECORD_LIMIT
    if kind == "json_array":
        return gz(b"[" + json.dumps(order(1)).encode() + b',{"order_id": "' + tail)
    if kind == "json_concat":
        return gz(json.dumps(order(1)).encode() + b'{"order_id": "' + tail)
    if kind == "ndjson":
        return gz(json.dumps(order(1)).encode() + b"\n" + b'{"order_id": "o-2", "note": "' + tail)
    return gz(orders_csv(f"o-1,1.50,{AT},1").encode() + b"o-2,2.50," + tail)


def valid_ndjson_line_of_40_mb() -> bytes:
    return gz(ndjson_lines(order(1), order(2, note="x" * PAST_RECORD_LIMIT), order(3)))


def gzip_inflating_to_100_mb() -> bytes:
    """Two orders, then 100 MB of blank lines, in a gzip of about 100 KB."""
    return gz(orders_ndjson(2) + (b" " * 999 + b"\n") * 100_000)


def gzip_of_three_million_tiny_bad_lines() -> bytes:
    """One order, then 3 million lines that are JSON but not objects, in about 6 KB."""
    data = gz(json.dumps(order(1)).encode() + b"\n" + b"1\n" * 3_000_000)
    assert len(data) < 100 * 1024
    return data


def ndjson_with_a_bad_row_in_every_third(rows: int = 3_000) -> bytes:
    """Rows 1, 4, 7, ... have a bad amount: 1,000 of 3,000, a third."""
    return orders_ndjson(rows, bad_rows=tuple(range(1, rows + 1, 3)))


def csv_with_a_nul_byte_past_4_kb() -> bytes:
    rows = [f"o-{n},{n}.50,{AT},{n % 5}" for n in range(1, 200)]
    rows[150] = f"o-151,1.50,{AT},\x001"
    data = orders_csv(*rows).encode()
    assert data.index(b"\x00") > 4096
    return data


def latin1_csv_with_an_ascii_header() -> bytes:
    """Windows-1252/Latin-1 text: the header is ASCII, row 2 (line 3) holds an accented name."""
    return orders_csv(f"o-1,1.50,{AT},1", f"Zoë-2,2.50,{AT},2", f"o-3,3.50,{AT},3").encode("latin-1")


def parquet_with_one_row_of_40_mb() -> bytes:
    """One row whose string decodes to 40 MB, in a Parquet object of about 40 KB (zstd)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"order_id": ["o-1"], "amount": ["1.50"], "note": ["x" * PAST_RECORD_LIMIT]})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    assert sink.tell() < MIB
    return sink.getvalue()


# ---------------------------------------------------------------------------------------------
# The table of cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    status: Status
    error: str | None = None
    counts: tuple[int, int, int] | None = None
    """(rows_in, rows_loaded, rows_quarantined) of a LOADED file."""
    quarantined: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Row number of each quarantined row -> patterns its reason must match (case-insensitive)."""
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """order_id -> columns of that row in BigQuery."""
    message: str | None = None
    """A pattern the failure message must match."""
    name: str = "part-0000"
    settings: dict[str, Any] = field(default_factory=dict)
    """Settings this case runs with, beside the defaults."""


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


CASES = [
    # -- nothing in it ----------------------------------------------------------------------
    Case("zero-byte-object", lambda: b"", Status.FAILED, "EmptyFile"),
    Case("whitespace-only", lambda: b" \n\t\r\n  \n", Status.FAILED, "EmptyFile"),
    Case("utf8-bom-only", lambda: codecs.BOM_UTF8, Status.FAILED, "EmptyFile"),
    Case("gzip-of-empty-file", lambda: gzip.compress(b"", mtime=0), Status.FAILED, "EmptyFile"),
    Case("csv-header-only", lambda: orders_csv(newline="\r\n").encode(), Status.FAILED, "EmptyFile"),
    # -- not text, or broken compression ------------------------------------------------------
    Case("truncated-gzip", truncated_gzip, Status.FAILED, "UndecodableFile"),
    Case("invalid-utf8-inside-ndjson", invalid_utf8_in_ndjson, Status.FAILED, "UndecodableFile"),
    Case("binary-garbage-with-nul", binary_garbage, Status.FAILED, "UndecodableFile"),
    # -- broken structure ----------------------------------------------------------------------
    Case("json-array-trailing-comma", json_array_with_trailing_comma, Status.FAILED, "MalformedFile"),
    Case("json-array-truncated", truncated_json_array, Status.FAILED, "MalformedFile"),
    Case(
        "csv-duplicate-header-names",
        lambda: orders_csv("o-1,1.50,2.50,1", header="order_id,amount,amount,quantity").encode(),
        Status.FAILED,
        "MalformedFile",
    ),
    Case(
        "csv-missing-required-column",
        lambda: orders_csv(f"o-1,{AT},1", header="order_id,ordered_at,quantity").encode(),
        Status.FAILED,
        "MissingColumn",
        message=r"\bamount\b",
    ),
    Case(
        "every-row-bad",
        lambda: orders_ndjson(5, bad_rows=(1, 2, 3, 4, 5)),
        Status.FAILED,
        "NoValidRows",
    ),
    # -- bad rows among good ones: the good rows load ------------------------------------------
    Case(
        "ndjson-one-bad-line-of-ten",
        ndjson_with_bad_line_5,
        Status.LOADED,
        counts=(10, 9, 1),
        quarantined={5: (r"json",)},
    ),
    Case(
        "ndjson-array-line-among-objects",
        lambda: ndjson_lines(order(1), order(2), "[1,2]", order(4)),
        Status.LOADED,
        counts=(4, 3, 1),
        quarantined={3: (r"not an object",)},
    ),
    Case(
        "ndjson-nan-and-infinity",
        lambda: ndjson_lines(
            order(1),
            '{"order_id": "o-2", "amount": NaN, "quantity": 2}',
            order(3),
            '{"order_id": "o-4", "amount": "4.99", "extra_field": Infinity}',
            order(5),
        ),
        Status.LOADED,
        counts=(5, 3, 2),
        quarantined={2: (r"\bamount\b", r"nan"), 4: (r"inf",)},
    ),
    Case(
        "ndjson-line-nested-100000-deep",
        deeply_nested_line,
        Status.LOADED,
        counts=(4, 3, 1),
        quarantined={3: (r"nest|deep|recursion",)},
    ),
    Case(
        "csv-ragged-rows",
        ragged_csv,
        Status.LOADED,
        counts=(5, 3, 2),
        quarantined={2: (r"\b5\b", r"\b4\b", r"field"), 4: (r"\b3\b", r"\b4\b", r"field")},
    ),
    Case(
        "csv-thousands-separator",
        lambda: orders_csv(
            f'o-1,"1,234.56",{AT},1',
            f'o-2,"1.234,56",{AT},2',
            f"o-3,12.00,{AT},3",
        ).encode(),
        Status.LOADED,
        counts=(3, 2, 1),
        quarantined={2: (r"amount",)},
        values={"o-1": {"amount": Decimal("1234.56")}, "o-3": {"amount": Decimal("12.00")}},
    ),
    Case(
        # Python's parsers read all three; no producer writes numbers this way (issue 21, item 12).
        "csv-numbers-not-in-plain-digits",
        lambda: orders_csv(
            f"o-1,1_000.50,{AT},1",
            f"o-2,2.50,{AT},\u0661\u0662",
            f"o-3,\uff13.50,{AT},3",
            f"o-4,4.50,{AT},4",
        ).encode(),
        Status.LOADED,
        counts=(4, 1, 3),
        quarantined={
            1: (r"amount", r"plain digits"),
            2: (r"quantity", r"plain digits"),
            3: (r"amount", r"plain digits"),
        },
        values={"o-4": {"amount": Decimal("4.50"), "quantity": 4}},
    ),
    Case(
        # A value Python cannot hold is the row's fault, not a retryable InternalError (item 4).
        "parquet-timestamp-past-year-9999",
        parquet_with_a_timestamp_past_9999,
        Status.LOADED,
        counts=(3, 2, 1),
        quarantined={2: (r"cannot hold",)},
        values={"o-3": {"amount": Decimal("3.50")}},
    ),
    Case(
        # 10,000 drift columns of 300 characters: the LOADED ledger write used to pass DynamoDB's
        # 400 KB item limit and fail after the load (issue 21, item 5).
        "csv-ten-thousand-long-drift-columns",
        lambda: orders_csv(
            f"o-1,1.50,{AT},1," + ",".join("v" for _ in range(10_000)),
            header=CSV_HEADER + "," + ",".join(f"c{n:05d}_{'x' * 293}" for n in range(10_000)),
        ).encode(),
        Status.LOADED,
        counts=(1, 1, 0),
    ),
    Case(
        # Only a zero-byte key ending in '/' is a folder marker; this one holds rows (item 3).
        "key-ending-in-slash-holding-data",
        lambda: orders_ndjson(4),
        Status.LOADED,
        counts=(4, 4, 0),
        name="part-0000/",
    ),
    Case(
        # Valid ISO-8601 that Arrow parses, outside what BigQuery holds once in UTC (item 4): year 1
        # at +14:00 is in year 0, the last second of 9999 at -14:00 is in year 10000.
        "timestamps-outside-bigquerys-range-in-utc",
        lambda: ndjson_lines(
            order(1),
            order(2, ordered_at="0001-01-01T05:00:00+14:00"),
            order(3, ordered_at="9999-12-31T23:59:59-14:00"),
            order(4, ordered_at="0001-01-01T00:00:00Z"),
        ),
        Status.LOADED,
        counts=(4, 2, 2),
        quarantined={
            2: (r"ordered_at", r"outside BigQuery's range"),
            3: (r"ordered_at", r"outside BigQuery's range"),
        },
        values={"o-4": {"ordered_at": ts("0001-01-01T00:00:00+00:00")}},
    ),
    Case(
        "timestamp-spellings",
        lambda: ndjson_lines(
            order(1, ordered_at="2021-07-01T10:02:41+0000"),
            order(2, ordered_at="2021-07-01 10:02:41"),
            order(3, ordered_at="2021-07-01T10:02:41.123Z"),
            order(4, ordered_at="2021-07-01"),
            order(5, ordered_at="Thu, 01 Jul 2021 10:02:41 +0000"),
            order(6, ordered_at="07/01/2021"),
        ),
        Status.LOADED,
        counts=(6, 5, 1),
        quarantined={6: (r"ordered_at",)},
        values={
            "o-1": {"ordered_at": ts("2021-07-01T10:02:41+00:00")},
            "o-2": {"ordered_at": ts("2021-07-01T10:02:41+00:00")},
            "o-3": {"ordered_at": ts("2021-07-01T10:02:41.123+00:00")},
            "o-4": {"ordered_at": ts("2021-07-01T00:00:00+00:00")},
            "o-5": {"ordered_at": ts("2021-07-01T10:02:41+00:00")},
        },
    ),
    # -- bounded by construction (issue 21, items 6-8): memory stays flat, the file ends -------
    Case(
        "json-array-element-nested-100000-deep",
        lambda: json_array_element_nested(100_000),
        Status.FAILED,
        "MalformedFile",
        message=r"element 2 is nested too deeply",
    ),
    Case(
        "json-array-element-nested-40-deep",
        lambda: json_array_element_nested(40),
        Status.LOADED,
        counts=(3, 2, 1),
        quarantined={2: (r"deeper than 32 levels", r"INGEST_MAX_NESTING")},
    ),
    Case(
        "concatenated-object-nested-100000-deep",
        lambda: concatenated_objects_one_nested(100_000),
        Status.FAILED,
        "MalformedFile",
        message=r"record 2 is nested too deeply",
    ),
    Case(
        "ndjson-over-1-mib-with-a-line-nested-100000-deep",
        lambda: ndjson_over_a_megabyte_with_a_line_nested(100_000),
        Status.LOADED,
        counts=(15_000, 14_999, 1),
        quarantined={3: (r"deeper than 32 levels",)},
    ),
    Case(
        "json-array-unterminated-string-of-40-mb",
        lambda: unterminated_string("json_array"),
        Status.FAILED,
        "LimitExceeded",
        message=r"element 2 is longer than 33,554,432 characters \(INGEST_MAX_RECORD_BYTES\)",
    ),
    Case(
        "concatenated-objects-unterminated-string-of-40-mb",
        lambda: unterminated_string("json_concat"),
        Status.FAILED,
        "LimitExceeded",
        message=r"record 2 is longer than",
    ),
    Case(
        "ndjson-line-of-40-mb-without-newline",
        lambda: unterminated_string("ndjson"),
        Status.FAILED,
        "LimitExceeded",
        message=r"line 2 is longer than",
    ),
    Case(
        "csv-line-of-40-mb-without-newline",
        lambda: unterminated_string("csv"),
        Status.FAILED,
        "LimitExceeded",
        message=r"CSV record is longer than",
    ),
    Case(
        "ndjson-valid-line-of-40-mb",
        valid_ndjson_line_of_40_mb,
        Status.FAILED,
        "LimitExceeded",
        message=r"line 2 is longer than",
    ),
    Case(
        "parquet-row-of-40-mb-in-a-40-kb-object",
        parquet_with_one_row_of_40_mb,
        Status.FAILED,
        "LimitExceeded",
        message=r"INGEST_MAX_RECORD_BYTES",
    ),
    Case(
        "gzip-inflating-past-the-inflated-limit",
        gzip_inflating_to_100_mb,
        Status.FAILED,
        "LimitExceeded",
        message=r"inflates to more than 67,108,864 bytes \(INGEST_MAX_INFLATED_BYTES\)",
        settings={"limits": Limits(max_inflated_bytes=64 * MIB)},
    ),
    Case(
        "gzip-of-3-million-tiny-bad-lines",
        gzip_of_three_million_tiny_bad_lines,
        Status.FAILED,
        "LimitExceeded",
        message=r"rows read were rejected, more than 50% \(INGEST_MAX_BAD_ROW_SHARE\)",
    ),
    Case(
        # 1,000 bad rows, but a third of the file: a good file with bad rows, not a wrong file.
        "ndjson-a-third-of-3000-rows-bad",
        ndjson_with_a_bad_row_in_every_third,
        Status.LOADED,
        counts=(3_000, 2_000, 1_000),
        quarantined={n: (r"amount",) for n in range(1, 3_001, 3)},
    ),
    Case(
        "csv-nul-byte-past-the-first-4-kb",
        csv_with_a_nul_byte_past_4_kb,
        Status.FAILED,
        "UndecodableFile",
        message=r"NUL byte at byte",
    ),
    Case(
        "latin1-csv-with-an-ascii-header",
        latin1_csv_with_an_ascii_header,
        Status.FAILED,
        "UndecodableFile",
        message=r"^(?!.*header).*on line 3 \(byte \d+, 0xeb\).*Latin-1",
    ),
    # -- unusual but valid: everything loads ---------------------------------------------------
    Case(
        "utf16-le-bom-excel-export",
        utf16_excel_export,
        Status.LOADED,
        counts=(2, 2, 0),
        values={"Zoë-1": {"amount": Decimal("12.50"), "quantity": 3}, "注文-2": {"amount": Decimal("7.25")}},
    ),
    Case(
        "csv-crlf-with-quoted-newline",
        crlf_csv_with_quoted_newline,
        Status.LOADED,
        counts=(2, 2, 0),
        values={"o-1\nsecond line": {"amount": Decimal("1.50")}, "o-2": {"amount": Decimal("2.50")}},
    ),
    Case(
        "csv-semicolon-delimited",
        lambda: orders_csv(
            f"o-1;1.50;{AT};1", f"o-2;2.50;{AT};2", f"o-3;3.50;{AT};3", header=CSV_HEADER.replace(",", ";")
        ).encode(),
        Status.LOADED,
        counts=(3, 3, 0),
        values={"o-2": {"amount": Decimal("2.50"), "quantity": 2}},
    ),
    Case(
        "parquet-without-extension",
        parquet_orders,
        Status.LOADED,
        counts=(25, 25, 0),
        values={"o-3": {"amount": Decimal("3.99"), "ordered_at": ts("2021-07-01T10:02:00+00:00")}},
    ),
    Case(
        # A time of day and a duration have no JSON type: kept in _extra as ISO 8601 text. They
        # used to raise TypeError, a retryable InternalError for the whole file (item 4's class).
        "parquet-time-and-duration-bound-for-extra",
        parquet_with_time_and_duration_columns,
        Status.LOADED,
        counts=(3, 3, 0),
        values={
            "o-2": {"_extra": {"pickup_time": "12:00:00.250000", "prep": "P1DT0.000007S"}},
            "o-1": {"_extra": {"pickup_time": "09:30:00", "prep": "P0DT300.000000S"}},
        },
    ),
    Case("zstd-ndjson-without-extension", zstd_ndjson, Status.LOADED, counts=(20, 20, 0)),
    Case(
        "bz2-ndjson",
        lambda: bz2.compress(orders_ndjson(20)),
        Status.LOADED,
        counts=(20, 20, 0),
        name="orders.ndjson.bz2",
    ),
]


# ---------------------------------------------------------------------------------------------
# Fixtures and checks
# ---------------------------------------------------------------------------------------------


@dataclass
class Lake:
    """One test's pipeline, bucket and services, with the checks every case shares."""

    services: Services
    bucket: str
    prefix: str
    table_id: str

    @property
    def error_bucket(self) -> str:
        return self.services.settings.error_bucket

    def put(self, key: str, body: bytes) -> FileRef:
        response = self.services.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return FileRef.of(self.bucket, key, response["ETag"], len(body))

    def error_object(self, key: str) -> bytes | None:
        s3 = self.services.s3
        try:
            return s3.get_object(Bucket=self.error_bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    def rows_in_bigquery(self, ref: FileRef) -> int:
        from google.api_core.exceptions import NotFound

        client = self.services.bigquery
        try:
            client.get_table(f"{client.project}.{self.table_id}")
        except NotFound:
            return 0
        return queries.count_rows(client, self.table_id, "_source_uri = @uri", uri=ref.uri)

    def loaded_values(self, ref: FileRef) -> dict[str, dict[str, Any]]:
        frame = queries.query_dataframe(
            self.services.bigquery,
            f"SELECT order_id, amount, ordered_at, quantity, _extra "
            f"FROM `{self.services.bigquery.project}.{self.table_id}` WHERE _source_uri = @uri",
            {"uri": ref.uri},
        )
        return {row["order_id"]: row for row in frame.to_dict("records")}

    def assert_failed_and_kept(self, ref: FileRef, body: bytes, error_type: str, bytes_kept: bool = True):
        """FAILED with ``error_type``; the exact bytes and a sidecar at failed/<bucket>/<key>."""
        entry = self.services.ledger.get(ref)
        assert (entry.status, entry.error_type) == (Status.FAILED, error_type), entry.error_message
        failed = f"failed/{ref.bucket}/{ref.key}"
        sidecar_bytes = self.error_object(failed + ".error.json")
        assert sidecar_bytes is not None, f"no sidecar at {failed}.error.json"
        sidecar = json.loads(sidecar_bytes)
        assert sidecar["error_type"] == error_type
        assert sidecar["message"] and sidecar["message"][:MESSAGE_LIMIT] == entry.error_message
        assert sidecar["bytes_kept"] is bytes_kept, sidecar
        if bytes_kept:
            assert self.error_object(failed) == body
        else:
            # Nothing at all: never some other version's bytes filed as the one that failed.
            assert self.error_object(failed) is None, "the error bucket holds bytes that did not fail"
        assert self.rows_in_bigquery(ref) == 0
        return entry, sidecar

    def assert_loaded(self, ref: FileRef, counts: tuple[int, int, int]) -> tuple[Any, list[dict[str, Any]]]:
        """LOADED with exactly ``counts``; returns the entry and the quarantined rows, in order."""
        entry = self.services.ledger.get(ref)
        assert (entry.status, entry.error_type) == (Status.LOADED, None), entry.error_message
        rows_in, rows_loaded, rows_quarantined = counts
        assert (entry.rows_in, entry.rows_loaded, entry.rows_quarantined) == counts
        assert rows_in == rows_loaded + rows_quarantined
        assert self.rows_in_bigquery(ref) == rows_loaded
        assert self.error_object(f"failed/{ref.bucket}/{ref.key}") is None
        kept = self.error_object(f"quarantine/{ref.bucket}/{ref.key}.rows.ndjson")
        if not rows_quarantined:
            assert kept is None
            return entry, []
        assert kept is not None
        lines = [json.loads(line) for line in kept.decode("utf-8").splitlines()]
        assert len(lines) == rows_quarantined
        for line in lines:
            assert isinstance(line["row"], int)
            assert isinstance(line["reason"], str) and line["reason"]
        return entry, lines


@pytest.fixture
def lake(make_services, pipelines_dir, prefix, scratch_bucket) -> Lake:
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    return Lake(services=make_services(), bucket=scratch_bucket, prefix=prefix, table_id=table_id)


def assert_same_value(actual: Any, expected: Any) -> None:
    if isinstance(expected, Decimal):
        assert Decimal(str(actual)) == expected
    elif isinstance(expected, datetime):
        # pandas holds 1677-2262; outside that the frame keeps the datetime itself
        assert (actual if isinstance(actual, datetime) else actual.to_pydatetime()) == expected
    elif isinstance(expected, dict) and isinstance(actual, str):
        assert json.loads(actual) == expected  # a JSON column may come back as its text
    else:
        assert actual == expected


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_file_ends_in_its_specified_state_with_nothing_lost(lake: Lake, case: Case, make_services):
    if case.settings:
        lake = replace(lake, services=make_services(**case.settings))
    body = case.build()
    ref = lake.put(f"{lake.prefix}/2021/07/01/{case.name}", body)

    result = ingest_file(ref, lake.services)

    assert (result.status, result.error_type) == (case.status, case.error), result.message
    if case.status == Status.FAILED:
        entry, _ = lake.assert_failed_and_kept(ref, body, case.error or "")
        if case.message:
            assert re.search(case.message, entry.error_message), entry.error_message
        return
    assert case.counts is not None
    _, lines = lake.assert_loaded(ref, case.counts)
    assert [line["row"] for line in lines] == sorted(case.quarantined)
    for line in lines:
        for pattern in case.quarantined[line["row"]]:
            assert re.search(pattern, line["reason"], re.IGNORECASE), line["reason"]
    if case.values:
        loaded = lake.loaded_values(ref)
        for order_id, columns in case.values.items():
            assert order_id in loaded, sorted(loaded)
            for column, expected in columns.items():
                assert_same_value(loaded[order_id][column], expected)


def test_a_50_mb_json_array_on_a_single_line_loads_every_row(lake: Lake):
    body, rows = single_line_json_array()
    ref = lake.put(f"{lake.prefix}/2021/07/01/one-line-page", body)

    result = ingest_file(ref, lake.services)

    assert (result.status, result.error_type) == (Status.LOADED, None), result.message
    lake.assert_loaded(ref, (rows, rows, 0))


def test_unknown_field_is_kept_in_extra_and_named_in_the_ledger(lake: Lake):
    ref = lake.put(
        f"{lake.prefix}/2021/07/01/drift",
        ndjson_lines(order(1), order(2, promo_code="SUMMER21"), order(3)),
    )

    ingest_file(ref, lake.services)

    entry, _ = lake.assert_loaded(ref, (3, 3, 0))
    assert "promo_code" in entry.extra_fields
    extra = lake.loaded_values(ref)["o-2"]["_extra"]
    assert (json.loads(extra) if isinstance(extra, str) else extra) == {"promo_code": "SUMMER21"}


def test_ten_thousand_drift_columns_are_counted_in_the_ledger_and_kept_whole_in_the_error_bucket(
    lake: Lake,
):
    # GIVEN a CSV with 10,000 drift columns of 300 characters (3 MB of names: far past the 400 KB
    # a DynamoDB item may hold)
    names = [f"c{n:05d}_{'x' * 293}" for n in range(10_000)]
    body = orders_csv(
        f"o-1,1.50,{AT},1," + ",".join("v" for _ in names), header=CSV_HEADER + "," + ",".join(names)
    )
    ref = lake.put(f"{lake.prefix}/2021/07/01/wide.csv", body.encode())

    ingest_file(ref, lake.services)

    # THEN the ledger names the first 100 (each cut to 256 characters) and counts them all, and
    # the whole list is kept in the error bucket
    entry, _ = lake.assert_loaded(ref, (1, 1, 0))
    assert (entry.extra_fields, entry.extra_fields_total) == ([n[:256] for n in names[:100]], 10_000)
    kept = lake.error_object(entry.extra_fields_key)
    assert kept is not None, entry.extra_fields_key
    document = json.loads(kept)
    assert document["extra_fields"] == names
    assert (document["bucket"], document["key"], document["ledger_key"]) == (
        ref.bucket,
        ref.key,
        ref.identity,
    )


def test_key_with_dot_dot_segments_is_kept_under_exactly_that_key(lake: Lake):
    # S3 keys are opaque strings: botocore does not normalise "..", and moto stores and copies
    # such a key verbatim (checked against the local stack), so the exact key must round-trip.
    key = f"{lake.prefix}/../../etc/orders"
    body = b'[{"order_id": "o-1", "amount": "1.99"}, {"order_id": "o-2", "amou'
    ref = lake.put(key, body)

    result = ingest_file(ref, lake.services)

    assert (result.status, result.error_type) == (Status.FAILED, "MalformedFile"), result.message
    entry, sidecar = lake.assert_failed_and_kept(ref, body, "MalformedFile")
    assert entry.key == key
    listed = lake.services.s3.list_objects_v2(Bucket=lake.error_bucket, Prefix=f"failed/{lake.bucket}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"failed/{lake.bucket}/{key}",
        f"failed/{lake.bucket}/{key}.error.json",
    ]
    assert sidecar["source"] == f"s3://{lake.bucket}/{key}"


def test_folder_marker_is_ignored_without_error_or_load(lake: Lake):
    ref = lake.put(f"{lake.prefix}/2021/07/", b"")

    result = ingest_file(ref, lake.services)

    assert (result.status, result.error_type) == (Status.IGNORED, None)
    entry = lake.services.ledger.get(ref)
    assert (entry.status, entry.error_type) == (Status.IGNORED, None)
    for area in ("failed", "quarantine"):
        listed = lake.services.s3.list_objects_v2(Bucket=lake.error_bucket, Prefix=f"{area}/{lake.bucket}/")
        assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    assert lake.rows_in_bigquery(ref) == 0


def test_object_deleted_before_it_is_read_fails_as_gone(lake: Lake):
    body = orders_ndjson(3)
    ref = lake.put(f"{lake.prefix}/2021/07/01/deleted", body)
    lake.services.s3.delete_object(Bucket=ref.bucket, Key=ref.key)

    result = ingest_file(ref, lake.services)

    assert (result.status, result.error_type) == (Status.FAILED, "ObjectGone"), result.message
    lake.assert_failed_and_kept(ref, body, "ObjectGone", bytes_kept=False)


def test_object_overwritten_after_its_event_fails_as_changed(lake: Lake):
    key = f"{lake.prefix}/2021/07/01/overwritten"
    announced = lake.put(key, orders_ndjson(3))
    lake.put(key, orders_ndjson(4))

    result = ingest_file(announced, lake.services)

    assert (result.status, result.error_type) == (Status.FAILED, "ObjectChanged"), result.message
    lake.assert_failed_and_kept(announced, b"", "ObjectChanged", bytes_kept=False)


def test_same_bytes_under_two_keys_load_once(lake: Lake):
    body = orders_ndjson(7)
    first = lake.put(f"{lake.prefix}/2021/07/01/orders", body)
    second = lake.put(f"{lake.prefix}/2021/07/01/orders-copy", body)

    results = [ingest_file(first, lake.services), ingest_file(second, lake.services)]

    assert [(r.status, r.error_type) for r in results] == [
        (Status.LOADED, None),
        (Status.SKIPPED_DUPLICATE, None),
    ]
    assert first.key in results[1].message
    lake.assert_loaded(first, (7, 7, 0))
    entry = lake.services.ledger.get(second)
    assert (entry.status, entry.error_type) == (Status.SKIPPED_DUPLICATE, None)
    assert lake.rows_in_bigquery(second) == 0
    total = queries.count_rows(lake.services.bigquery, lake.table_id)
    assert total == 7


def test_same_bytes_bound_for_another_table_are_not_a_duplicate_there(
    stack, tmp_path, prefix, scratch_bucket
):
    # GIVEN two configurations sharing one ledger (say a staging copy of production) whose
    # pipeline of the same name loads the same keys into two different tables
    configured = []
    for dataset in ("raw", "raw_copy"):
        table = write_orders_pipeline(tmp_path / dataset, prefix, dataset=dataset)
        configured.append((Services.from_env(Settings(pipelines_dir=tmp_path / dataset)), table))
    body = orders_ndjson(4)
    s3 = configured[0][0].s3
    refs = []
    for day in ("01", "02"):
        key = f"{prefix}/2021/07/{day}/orders"
        s3.put_object(Bucket=scratch_bucket, Key=key, Body=body)
        head = s3.head_object(Bucket=scratch_bucket, Key=key)
        refs.append(FileRef.of(scratch_bucket, key, head["ETag"], head["ContentLength"]))

    # WHEN the same bytes reach each configuration under its own key
    results = [ingest_file(ref, services) for ref, (services, _) in zip(refs, configured, strict=True)]

    # THEN each table gets them: bytes loaded into one table are not yet in the other
    assert [r.status for r in results] == [Status.LOADED, Status.LOADED]
    assert [queries.count_rows(services.bigquery, table) for services, table in configured] == [4, 4]


def test_ndjson_under_a_csv_pinned_pipeline_fails_instead_of_loading_garbage(
    make_services, pipelines_dir, prefix, scratch_bucket
):
    table_id = write_pinned_orders_pipeline(pipelines_dir, prefix, "csv")
    lake = Lake(services=make_services(), bucket=scratch_bucket, prefix=prefix, table_id=table_id)
    body = orders_ndjson(5)
    ref = lake.put(f"{prefix}/2021/07/01/orders.csv", body)

    result = ingest_file(ref, lake.services)

    assert result.status == Status.FAILED, result
    assert result.error_type in {"MissingColumn", "MalformedFile"}
    entry, sidecar = lake.assert_failed_and_kept(ref, body, result.error_type)
    # Readable: one line of printable text a person can act on, not a dump of the file.
    assert entry.error_message.isprintable() and 10 < len(entry.error_message) < 500
    assert sidecar["message"] == entry.error_message


def test_a_file_that_kills_every_worker_ends_failed_as_poison_with_its_bytes_kept(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch
):
    # GIVEN two attempts and a one-second lease, and a file whose reading kills the worker
    # (out of memory or a segfault, played by an exception nothing in the pipeline catches)
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services(lease_seconds=1, max_attempts=2)
    lake = Lake(services=services, bucket=scratch_bucket, prefix=prefix, table_id=table_id)
    body = orders_ndjson(3)
    ref = lake.put(f"{prefix}/2021/07/01/killer.ndjson", body)

    def die(*args: Any, **kwargs: Any) -> None:
        raise ProcessDied

    with monkeypatch.context() as dying:
        dying.setattr(services.lake, "open", die)
        for _ in range(2):
            with pytest.raises(ProcessDied):
                ingest_file(ref, services)
            time.sleep(2.1)  # the claim's lease runs out

        # WHEN its event comes once more (the file would kill this worker too if it were read)
        result = ingest_file(ref, services)

    # THEN it is FAILED for good after its two attempts, its bytes kept, never past the limit
    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "PoisonFile", False)
    entry, _ = lake.assert_failed_and_kept(ref, body, "PoisonFile")
    assert entry.attempts == 3 and not entry.retryable


def test_a_file_that_kills_its_worker_does_not_keep_its_load_group_from_loading(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch
):
    # GIVEN three files claimed as one load group, the second of which kills every worker that
    # reads it, two attempts a file and a one-second lease
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services(lease_seconds=1, max_attempts=2)
    lake = Lake(services=services, bucket=scratch_bucket, prefix=prefix, table_id=table_id)
    bodies = [orders_ndjson(n + 1) for n in range(3)]  # 1, 2 and 3 rows: distinct bytes
    first, killer, last = refs = [
        lake.put(f"{prefix}/2021/07/01/part-{n}.ndjson", body) for n, body in enumerate(bodies)
    ]
    real_open = services.lake.open

    def open_or_die(ref: FileRef) -> Any:
        if ref.key == killer.key:
            raise ProcessDied
        return real_open(ref)

    monkeypatch.setattr(services.lake, "open", open_or_die)
    with pytest.raises(ProcessDied):
        ingest_files(refs, services)
    assert [lake.rows_in_bigquery(ref) for ref in refs] == [0, 0, 0]  # the whole group died

    # WHEN the same deliveries come again after each lease ran out, as often as it takes
    outcomes = None
    for _ in range(3):
        time.sleep(2.1)
        try:
            outcomes = ingest_files(refs, services)
            break
        except ProcessDied:
            continue

    # THEN the other two loaded and the killer ended FAILED as PoisonFile, its bytes kept; the
    # innocent files were claimed at most twice, so they never came near their last attempt
    assert outcomes is not None, "the killer held the others back"
    assert [lake.rows_in_bigquery(ref) for ref in (first, last)] == [1, 3]
    lake.assert_failed_and_kept(killer, bodies[1], "PoisonFile")
    assert [services.ledger.get(ref).attempts for ref in (first, last)] == [2, 2]


def test_a_copy_skipped_while_its_owner_loaded_is_loaded_once_the_owner_fails_for_good(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch
):
    # GIVEN file a, whose worker died while loading it, and file b holding the same bytes
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    services = make_services(lease_seconds=1)
    lake = Lake(services=services, bucket=scratch_bucket, prefix=prefix, table_id=table_id)
    body = orders_ndjson(3)
    a = lake.put(f"{prefix}/2021/07/01/a.ndjson", body)
    b = lake.put(f"{prefix}/2021/07/01/b.ndjson", body)

    def die(*args: Any, **kwargs: Any) -> None:
        raise ProcessDied

    with monkeypatch.context() as dying:
        dying.setattr(services.lake, "open", die)
        with pytest.raises(ProcessDied):
            ingest_file(a, services)
    assert ingest_file(b, services).status == Status.SKIPPED_DUPLICATE

    # WHEN a's object is deleted before its redelivery, so a fails for good
    services.s3.delete_object(Bucket=scratch_bucket, Key=a.key)
    time.sleep(2.1)  # a's lease runs out
    assert ingest_file(a, services).error_type == "ObjectGone"

    # THEN replay finds b, and b's rows load, once
    entry = services.ledger.get(b)
    assert (entry.status, entry.error_type, entry.retryable) == (Status.FAILED, "DuplicateOwnerFailed", True)
    replayed = replay_failed(services, key_contains=prefix)
    assert {ref.identity: r.status for ref, r in replayed if r is not None}[b.identity] == Status.LOADED
    assert lake.rows_in_bigquery(b) == 3
    assert queries.count_rows(services.bigquery, table_id) == 3
