"""Orders files that drift, by hand, in every lake format: the third record gains ``coupon``, the
fifth ``channel``, so the first row carrying each is known before the code runs; and services on
fakes for an orders pipeline with a ``schema_drift`` mode."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from support.helpers import write_orders_pipeline
from support.services import Fakes, fake_services

LAKE = "lake"
TABLE = "raw.orders_orders"
ROWS = 6


def records() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for number in range(1, ROWS + 1):
        record: dict[str, object] = {"order_id": f"o-{number}", "amount": f"{number}.50", "quantity": number}
        if number >= 3:
            record["coupon"] = f"SUMMER{number}"
        if number == 5:
            record["channel"] = "ios"
        out.append(record)
    return out


def ndjson() -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records())


def json_array() -> bytes:
    return json.dumps(records(), indent=2).encode()


def concatenated() -> bytes:
    return b"".join(json.dumps(r).encode() for r in records())  # {...}{...} as Firehose writes


def csv() -> bytes:
    header = "order_id,amount,quantity,coupon,channel"
    lines = [header] + [
        f"{r['order_id']},{r['amount']},{r['quantity']},{r.get('coupon', '')},{r.get('channel', '')}"
        for r in records()
    ]
    return ("\n".join(lines) + "\n").encode()


def parquet() -> bytes:
    sink = io.BytesIO()
    rows = records()
    names = ("order_id", "amount", "quantity", "coupon", "channel")
    # Every column in every row, null where a record lacks it: a Parquet file has one schema.
    pq.write_table(pa.table({name: [r.get(name) for r in rows] for name in names}), sink)
    return sink.getvalue()


FORMATS = {
    "ndjson": ndjson,
    "json-array": json_array,
    "concatenated-json": concatenated,
    "csv": csv,
    "parquet": parquet,
    "ndjson-gzip": lambda: gzip.compress(ndjson()),
}


def services(tmp_path: Path, mode: str | None) -> Fakes:
    """Fakes for the orders pipeline (table ``TABLE``), its ``schema_drift`` set to ``mode`` if given."""
    directory = tmp_path / "pipelines"
    write_orders_pipeline(directory, "orders")
    if mode is not None:
        path = directory / "orders_orders.yaml"
        path.write_text(path.read_text() + f"schema_drift: {mode}\n")
    return fake_services(directory)


# The least a pipeline's YAML holds, for checks of what ``parse_pipeline`` takes and refuses.
MINIMAL_CONFIG = {
    "name": "orders",
    "key_pattern": "^orders/",
    "table": "raw.orders",
    "business_key": ["order_id"],
    "columns": [{"name": "order_id", "type": "STRING", "mode": "REQUIRED"}],
}
