"""Bytes as each producer writes them: the extractor's JSON pages, Firehose's concatenated
objects, the database's CSV and Parquet exports. Every encoder is reproducible byte for byte."""

from __future__ import annotations

import array
import csv
import gzip
import io
import itertools
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

EXPORT_TIME = "%Y-%m-%d %H:%M:%S"  # the database client's export format (naive means UTC)
GZIP_LEVEL = 6  # zlib's default: as small as 9 within a few percent, much faster


def encode_json(records: list[dict[str, Any]], layout: str, compress: bool) -> tuple[bytes, str | None]:
    """Serialise records as ``layout``: json_array (pretty), ndjson, json_concat (compact objects
    back to back) or json_concat_pretty (indented objects back to back, as Firehose concatenates
    what the producer put)."""
    if layout == "ndjson":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif layout == "json_array":
        text = json.dumps(records, indent=2, ensure_ascii=False)
    elif layout == "json_concat_pretty":
        text = "".join(json.dumps(record, indent=4) for record in records)
    else:
        text = "".join(json.dumps(record, separators=(",", ":")) for record in records)
    return compressed(text.encode(), compress)


def compressed(body: bytes, compress: bool) -> tuple[bytes, str | None]:
    if compress:  # mtime=0 keeps the gzip bytes reproducible
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), "gzip"
    return body, None


# The payment table's columns in the database's order, with the Arrow type of its Parquet export.
PAYMENT_COLUMNS = (
    ("transaction_id", "int64"),
    ("payment_merchant_id", "int64"),
    ("merchant_invoice_code", "string"),
    ("merchant_invoice_code_id", "int64"),
    ("user_id", "int64"),
    ("total_cost", "decimal"),
    ("currency_code", "string"),
    ("payer_email", "string"),
    ("country_code", "string"),
    ("payment_date", "timestamp"),
    ("transaction_status", "string"),
    ("ip_address", "string"),
    ("created_at", "timestamp"),
    ("transaction_item_id", "int64"),
    ("product_id", "int64"),
    ("item_count", "int64"),
)


def export_values(row: dict[str, Any], payment_date: datetime, created_at: datetime) -> dict[str, Any]:
    """A row as the database holds it: typed values, not the JSON stream's strings."""
    values = dict(row)
    values.update(total_cost=Decimal(row["total_cost"]), payment_date=payment_date, created_at=created_at)
    return values


def encode_csv_export(rows: list[dict[str, Any]]) -> bytes:
    """A database client's CSV export: header, every column (personal data too), no index."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(name for name, _ in PAYMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            row[name].strftime(EXPORT_TIME)
            if kind == "timestamp"
            else ("" if row[name] is None else row[name])
            for name, kind in PAYMENT_COLUMNS
        )
    return out.getvalue().encode()


def encode_parquet_export(rows: list[dict[str, Any]]) -> bytes:
    """The same export as Parquet with the table's types: int64 ids, decimal(10,2) money,
    microsecond UTC timestamps, strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [_arrow_column(pa, kind, [row[name] for row in rows]) for name, kind in PAYMENT_COLUMNS]
    table = pa.Table.from_arrays(columns, names=[name for name, _ in PAYMENT_COLUMNS])
    out = io.BytesIO()
    pq.write_table(table, out, compression="snappy")
    return out.getvalue()


def _arrow_column(pa: Any, kind: str, values: list[Any]) -> Any:
    """An Arrow array assembled from its buffers: converting Python objects with ``pa.array``
    would import pandas, which costs more than generating a whole month."""
    count = len(values)
    validity = bytearray((count + 7) // 8)
    for position, value in enumerate(values):
        if value is not None:
            validity[position // 8] |= 1 << (position % 8)
    nulls = None if all(value is not None for value in values) else pa.py_buffer(bytes(validity))
    if kind == "string":
        encoded = [b"" if value is None else value.encode() for value in values]
        offsets = array.array("i", [0, *itertools.accumulate(len(e) for e in encoded)])
        buffers = [nulls, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))]
        return pa.Array.from_buffers(pa.string(), count, buffers)
    if kind == "decimal":
        data = b"".join(int((v or Decimal(0)).scaleb(2)).to_bytes(16, "little", signed=True) for v in values)
        return pa.Array.from_buffers(pa.decimal128(10, 2), count, [nulls, pa.py_buffer(data)])
    if kind == "timestamp":
        micros = [0 if v is None else int(v.timestamp()) * 1_000_000 + v.microsecond for v in values]
        data = array.array("q", micros).tobytes()
        return pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), count, [nulls, pa.py_buffer(data)])
    data = array.array("q", [v or 0 for v in values]).tobytes()
    return pa.Array.from_buffers(pa.int64(), count, [nulls, pa.py_buffer(data)])
