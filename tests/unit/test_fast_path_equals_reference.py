"""Issue 23's invariant: whatever reads a file, the table loaded is the reference's, row by row.

The reference is the row reader (``Reading.finish(None)``: reader -> transform -> ``RecordCoercer``)
with its own vectorised steps swapped for their per-value references: every value through its
converter (``arrow_casts.cast_whole_column`` declines), cart items element by element
(``test_record_columns.reference``). Against it run the production entry points as shipped, as
``ingestion.staging`` runs them: ``start_file`` + ``finish_alone`` per file, and a load group
(``may_read_together`` files through ``prepare_together.finish_together``, the others alone).

Fast paths today (every format plain or gzipped):

- NDJSON: ``arrow_ndjson.load_table`` for a file from ``ARROW_MIN_BYTES`` (1 MB) on, ``load_tables``
  for a group of small files from ``prepare_together.MIN_BYTES`` on; for pipelines without a
  transform or with an Arrow one (not exchange_rates). One compact object alone is NDJSON too.
- Every format (CSV, TSV, JSON array, NDJSON, concatenated objects compact or pretty, Parquet): the
  row coercer's Arrow casts (``typed_values``) and cart items field by field (``record_columns``);
  only NDJSON has a reader besides the row reader. All go through the entry points, so a fast
  path added later is compared here as it is.

The generated month's files run with Arrow's size thresholds at 0, so that Arrow judges every
NDJSON file and group (pages with planted defects or hostile values decline, the others are
taken); a file over 1 MB and groups over 512 KB run with the thresholds as shipped. The suite's
validation is left out: it filters the same table the same way.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from test_record_columns import reference as records_one_by_one

from ingest.core import arrow_ndjson, prepare, prepare_together
from ingest.core.coerce import arrow_casts, rows
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import EXTRA_COLUMN, Column, Lineage, Pipeline, load_pipelines
from ingest.core.settings import PACKAGE_DIR
from ingest.core.spill import SpillFormat
from ingest_devstack.generate import GeneratedMonth, generate_month
from ingest_devstack.generate.encode import compressed, encode_json
from ingest_devstack.generate.pages import page_records

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}
PAYPAL, PAYMENTS = PIPELINES["paypal_transactions"], PIPELINES["payment_transactions"]
KEY = b"test-key"
JSON_LAYOUTS = ("ndjson", "json_array", "json_concat", "json_concat_pretty")
INT64_MAX = 2**63 - 1
MAX_PAGES = 16  # files per pipeline and format: each costs a few ms whatever its size
_NOT_SPACE = re.compile(r"\S")
# Values Arrow must take as the reference does: text needing escapes or masking, a key with quotes.
ODD_TEXT = 'Zoë ✨ 美咲 "quoted" back\\slash\ttab \u2028 jane.roe@example.com +44 20 7946 0958'
ODD_KEY = 'promo "code" \\ é'


@functools.cache
def month() -> GeneratedMonth:
    """One generated month (about 340 PayPal records, 300 payments): 0.4 s, built once."""
    return generate_month(2021, 7, payments_per_day=10)


def plain(body: bytes) -> bytes:
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body


def objects(body: bytes) -> list[dict[str, Any]]:
    """The records of a generated JSON file, whatever its layout."""
    text = plain(body).decode()
    if text.lstrip().startswith("["):
        return list(json.loads(text))
    found, at, decoder = [], 0, json.JSONDecoder()
    while (next_value := _NOT_SPACE.search(text, at)) is not None:
        value, at = decoder.raw_decode(text, next_value.start())
        found.append(value)
    return found


def accepted_edges(pipeline: Pipeline, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with odd values Arrow reads itself (unicode, escapes, int64's max, "")."""
    record = json.loads(json.dumps(record))
    if pipeline is PAYPAL:
        record["transaction_info"].update(custom_field=ODD_TEXT, invoice_id="")
        record[ODD_KEY] = {"n": INT64_MAX, "s": ""}
        for item in record.get("cart_info", {}).get("item_details", []):
            item["item_name"] = ""
    else:
        record.update({ODD_KEY: ODD_TEXT, "merchant_invoice_code": "", "transaction_item_id": INT64_MAX})
    return record


def declined_edges(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with values only the row reader judges: a null and an integer past 64 bits."""
    return {**record, "big": 2**70, "none": None}


def month_pages(pipeline: Pipeline) -> list[list[dict[str, Any]]]:
    """The pipeline's records as the month's JSON files cut them (the first ones and those with
    planted defects); odd values in a file without a defect (Arrow may read it) and the last."""
    defective = {d["key"] for d in month().defects}
    files = [f for f in month().files if f.pipeline == pipeline.name and f.format in JSON_LAYOUTS]
    files = [f for n, f in enumerate(files) if (n < MAX_PAGES or f.key in defective) and not f.expect_failure]
    pages = [objects(f.body) for f in files]
    clean = next(n for n, f in enumerate(files) if f.key not in defective)
    pages[clean][0] = accepted_edges(pipeline, pages[clean][0])
    pages[-1][0] = declined_edges(pages[-1][0])
    return pages


def month_files(layout: str, gz: bool) -> list[tuple[Pipeline, list[bytes]]]:
    """Each pipeline's generated files in ``layout``: JSON records re-encoded, tables as written."""
    if layout in {"csv", "tsv", "parquet"}:
        tables: dict[str, list[bytes]] = {}
        for f in month().files:
            if f.format == layout and f.pipeline is not None:
                tables.setdefault(f.pipeline, []).append(compressed(f.body, gz)[0])
        return [(PIPELINES[name], bodies) for name, bodies in tables.items()]
    rates = next(f for f in month().files if f.pipeline == "exchange_rates")
    found = [(p, [encode_json(page, layout, gz)[0] for page in month_pages(p)]) for p in (PAYPAL, PAYMENTS)]
    return [*found, (PIPELINES["exchange_rates"], [encode_json(objects(rates.body), layout, gz)[0]])]


def clean_payments(count: int) -> list[dict[str, Any]]:
    """``count`` payments from the month's deliveries, without the rows planted not to coerce."""
    bad = {(d["key"], d["row"]) for d in month().defects if d["kind"] == "coercion"}
    records = [
        record
        for f in month().files
        if f.pipeline == PAYMENTS.name and f.format in JSON_LAYOUTS
        for row, record in enumerate(objects(f.body), start=1)
        if (f.key, row) not in bad
    ]
    return [{**records[n % len(records)], "transaction_id": 10**10 + n} for n in range(count)]


def ndjson(records: list[dict[str, Any]], gz: bool, escaped: bool = False) -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=escaped) + "\n" for r in records)
    return compressed(text.encode(), gz)[0]


def sized_files(pipeline: Pipeline, count: int, parts: int, gz: bool) -> list[bytes]:
    """``count`` clean records (a few odd values) in ``parts`` NDJSON files, one with \\u escapes."""
    records = page_records("issue-23", 1, count) if pipeline is PAYPAL else clean_payments(count)
    records[7] = accepted_edges(pipeline, records[7])
    step = count // parts
    return [ndjson(records[n : n + step], gz, escaped=n == step) for n in range(0, count, step)]


# ---------------------------------------------------------------- running the readers

Finish = Callable[[list[prepare.Reading], contextlib.ExitStack], list[Exception | None]]


@dataclass
class Outcome:
    """What a file's reading gave: the error that failed it, or its load table and tally."""

    error: str | None = None
    schema: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    tally: dict[str, Any] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def lineage(number: int) -> Lineage:
    """One per file, the same for every reader: the lineage columns must then compare equal."""
    return {
        "_source_uri": f"s3://lake/file-{number}",
        "_source_etag": f"etag-{number}",
        "_ingested_at": datetime(2026, 1, 1, 0, 0, number % 60, tzinfo=UTC),
    }


def outcome(reading: prepare.Reading, error: Exception | None) -> Outcome:
    """The file's load table (in memory, or read back from its spill), the kept JSON
    as JSON values: key order and spacing are not part of a JSON column's value."""
    if error is not None:
        return Outcome(error=f"{type(error).__name__}: {error}")
    prepared, tally = reading.prepared, reading.prepared.tally
    json_columns = {EXTRA_COLUMN, reading.pipeline.record_column}
    schema = prepared.schema
    table = pa.Table.from_batches(list(prepared.batches(1 << 20)), schema) if schema else pa.table({})
    prepared.rejected.seek(0)
    return Outcome(
        schema=[f"{f.name} {f.type} {'NULLABLE' if f.nullable else 'REQUIRED'}" for f in table.schema],
        rows=[
            {k: json.loads(v) if k in json_columns and v is not None else v for k, v in row.items()}
            for row in table.to_pylist()
        ],
        tally={
            "rows_in": tally.rows_in,
            "rows_loaded": tally.rows_loaded,
            "rows_quarantined": tally.rows_quarantined,
            "extra_fields": sorted(tally.extra_fields),
            "reasons": dict(tally.reasons),
        },
        rejected=[json.loads(line) for line in prepared.rejected.read().splitlines()],
    )


def read(pipeline: Pipeline, bodies: list[bytes], finish: Finish) -> list[Outcome]:
    """Each file opened by ``start_file`` as staging opens it, its rows read by ``finish``: a
    load group's files spill as Arrow IPC (they are combined for their load), a lone file as
    Parquet."""
    spill_format: SpillFormat = "arrow" if finish is as_staged and len(bodies) > 1 else "parquet"
    outcomes: dict[int, Outcome] = {}
    readings: dict[int, prepare.Reading] = {}
    with contextlib.ExitStack() as temporary:
        for number, body in enumerate(bodies):
            try:
                readings[number] = prepare.start_file(
                    io.BytesIO(body),
                    pipeline,
                    lambda d: RecordCoercer(pipeline, empty_is_null=d.format == "csv", pseudonym_key=KEY),
                    lineage(number),
                    temporary,
                    spill_format=spill_format,
                )
            except Exception as err:  # the file's failure is part of its outcome
                outcomes[number] = Outcome(error=f"{type(err).__name__}: {err}")
        errors = finish(list(readings.values()), temporary)
        for (number, reading), error in zip(readings.items(), errors, strict=True):
            outcomes[number] = outcome(reading, error)
    return [outcomes[number] for number in range(len(bodies))]


def alone(
    readings: list[prepare.Reading], temporary: contextlib.ExitStack, arrow: bool = True
) -> list[Exception | None]:
    """Each file by ``finish_alone`` (by Arrow if it is NDJSON large enough), or row by row."""
    errors: list[Exception | None] = []
    for reading in readings:
        try:
            if arrow:
                reading.finish_alone(temporary)
            else:
                reading.finish(None, temporary)
        except Exception as err:  # charged to the file alone, as staging does
            errors.append(err)
        else:
            errors.append(None)
    return errors


def as_staged(readings: list[prepare.Reading], temporary: contextlib.ExitStack) -> list[Exception | None]:
    """As staging reads a load group: the files Arrow may read together by ``finish_together``."""
    waiting = [r for r in readings if len(readings) > 1 and prepare_together.may_read_together(r)]
    errors = dict(zip(map(id, waiting), prepare_together.finish_together(waiting, temporary), strict=True))
    rest = [r for r in readings if id(r) not in errors]
    errors.update(zip(map(id, rest), alone(rest, temporary), strict=True))
    return [errors[id(r)] for r in readings]


def records_elementwise(column: Column, raw: list[object], errors: list[str | None]) -> pa.Array:
    """``record_columns.records_column`` as the element-by-element reference computes it."""
    values, found = records_one_by_one(column, raw)
    for index, error in enumerate(found):
        errors[index] = errors[index] or error
    return pa.array(values, arrow_casts.arrow_type(column))


def reference(monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline, bodies: list[bytes]) -> list[Outcome]:
    """Row by row, each value by its converter, each cart item element by element."""
    with monkeypatch.context() as patch:
        patch.setattr(arrow_casts, "cast_whole_column", lambda bq_type, raw: None)
        patch.setattr(rows, "records_column", records_elementwise)
        return read(pipeline, bodies, functools.partial(alone, arrow=False))


@contextlib.contextmanager
def arrow_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of files of each Arrow read that vouched for its rows."""
    vouched: list[int] = []
    real = arrow_ndjson.load_tables

    def spy(contents: list[bytes], *args: Any) -> Any:
        tables = real(contents, *args)
        vouched.extend([len(contents)] if tables is not None else [])
        return tables

    with monkeypatch.context() as patch:
        patch.setattr(arrow_ndjson, "load_tables", spy)
        yield vouched


def assert_same(got: list[Outcome], expected: list[Outcome], what: str) -> None:
    """Per file: the same error, tally, quarantine, columns and rows in order, value by value."""
    assert len(got) == len(expected)
    for number, (one, other) in enumerate(zip(got, expected, strict=True)):
        where = f"{what}, file {number}"
        assert one.error == other.error, where
        assert one.tally == other.tally, where
        assert one.rejected == other.rejected, where
        assert one.schema == other.schema, where
        assert len(one.rows) == len(other.rows), where
        for position, (row, want) in enumerate(zip(one.rows, other.rows, strict=True)):
            if row != want:
                column = next(c for c in want if row[c] != want[c])
                pytest.fail(
                    f"{where}: row {position} (_source_row {want['_source_row']}), column {column}: "
                    f"{row[column]!r} where the reference loads {want[column]!r}"
                )


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("layout", ["csv", "tsv", "parquet", *JSON_LAYOUTS])
def test_each_format_of_the_generated_month_loads_the_references_table(
    monkeypatch: pytest.MonkeyPatch, layout: str, gz: bool
) -> None:
    files = month_files(layout, gz)
    assert files
    for pipeline, bodies in files:
        expected = reference(monkeypatch, pipeline, bodies)
        assert sum(o.tally.get("rows_loaded", 0) for o in expected), pipeline.name
        with monkeypatch.context() as patch, arrow_reads(monkeypatch) as vouched:
            patch.setattr(prepare, "ARROW_MIN_BYTES", 0)  # Arrow judges every NDJSON file...
            patch.setattr(prepare_together, "MIN_BYTES", 0)  # ...and every group
            assert_same(read(pipeline, bodies, alone), expected, f"{pipeline.name} {layout}, alone")
            assert_same(read(pipeline, bodies, as_staged), expected, f"{pipeline.name} {layout}, group")
        if layout == "ndjson" and pipeline in (PAYPAL, PAYMENTS):
            assert vouched, "Arrow read none of the clean pages"  # the hostile ones declined


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    ("pipeline", "count", "parts"),
    [(PAYPAL, 720, 1), (PAYMENTS, 2400, 1), (PAYPAL, 500, 5), (PAYMENTS, 1500, 3)],
    ids=["paypal-1MB", "payments-1MB", "paypal-group", "payments-group"],
)
def test_ndjson_of_the_sizes_arrow_reads_as_shipped_loads_the_references_table(
    monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline, count: int, parts: int, gz: bool
) -> None:
    """One file over 1 MB, or a group of files of at most 256 KB making more than 512 KB."""
    bodies = sized_files(pipeline, count, parts, gz)
    sizes = [len(plain(body)) for body in bodies]
    if parts == 1:
        assert sizes[0] >= prepare.ARROW_MIN_BYTES
    else:
        assert max(sizes) <= prepare_together.MAX_FILE_BYTES and sum(sizes) >= prepare_together.MIN_BYTES
    expected = reference(monkeypatch, pipeline, bodies)

    with arrow_reads(monkeypatch) as vouched:
        got = read(pipeline, bodies, as_staged)

    assert vouched == [len(bodies)]  # one Arrow read took every file
    assert_same(got, expected, f"{pipeline.name} in {parts} file(s)")
