"""schema_drift on a pipeline: undeclared fields kept in ``_extra`` (keep_extra, the default) or
failing the file with SchemaDrift (fail), in every lake format, against in-memory fakes.

The files are built by hand (``support.drift_files``): orders whose third record gains a
``coupon`` field and whose fifth gains ``channel``, so the first row carrying each is known before
the code runs.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from support.drift_files import FORMATS, LAKE, MINIMAL_CONFIG, ROWS, TABLE, ndjson, services

from ingest.core import drift
from ingest.core.config import parse_pipeline
from ingest.core.errors import ConfigError
from ingest.core.model import Status
from ingest.ingestion.flow import ingest_file


@pytest.mark.parametrize("kind", FORMATS)
def test_fail_mode_fails_the_file_naming_each_field_and_the_first_row_carrying_it(tmp_path, kind):
    fakes = services(tmp_path, "fail")
    body = FORMATS[kind]()
    ref = fakes.lake.put(LAKE, f"orders/2026/12/07/{kind}", body)

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "SchemaDrift", False)
    if kind in {"csv", "parquet"}:
        # A tabular file's header or schema gives every row each column, empty or null.
        assert "'channel' (first in row 1)" in result.message
        assert "'coupon' (first in row 1)" in result.message
    else:
        declared = "2 field(s) pipeline orders_orders does not declare: 'coupon' (first in row 3), "
        assert declared in result.message
        assert "'channel' (first in row 5)" in result.message
    assert fakes.warehouse.rows(TABLE) == []
    kept, sidecar = fakes.lake.kept(ref)
    assert kept == body
    assert sidecar["error_type"] == "SchemaDrift"
    assert fakes.ledger.get(ref).status == Status.FAILED


@pytest.mark.parametrize("mode", [None, "keep_extra"])
def test_keep_extra_loads_every_row_with_the_new_fields_in_extra(tmp_path, mode):
    fakes = services(tmp_path, mode)
    ref = fakes.lake.put(LAKE, "orders/2026/12/07/page.ndjson", ndjson())

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.rows_loaded) == (Status.LOADED, ROWS)
    extras = [row["_extra"] for row in sorted(fakes.warehouse.rows(TABLE), key=lambda r: r["_source_row"])]
    assert [json.loads(e) if e else None for e in extras] == [
        None,
        None,
        {"coupon": "SUMMER3"},
        {"coupon": "SUMMER4"},
        {"coupon": "SUMMER5", "channel": "ios"},
        {"coupon": "SUMMER6"},
    ]
    assert fakes.ledger.get(ref).extra_fields == ["channel", "coupon"]


def test_fail_mode_finds_the_first_carrier_in_a_large_file_read_by_arrow(tmp_path):
    fakes = services(tmp_path, "fail")
    lines = [json.dumps({"order_id": f"o-{n}", "amount": "1.00", "quantity": n}) for n in range(1, 20_001)]
    lines[17_345] = json.dumps({"order_id": "o-17346", "amount": "1.00", "quantity": 1, "gift": True})
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) > 1 << 20  # the size Arrow reads whole
    ref = fakes.lake.put(LAKE, "orders/big.ndjson", body)

    result = ingest_file(ref, fakes.services)

    assert result.error_type == "SchemaDrift"
    assert "pipeline orders_orders does not declare: 'gift' (first in row 17346);" in result.message


def test_the_message_bounds_hostile_field_names():
    names = {"x" * 500} | {f"f{n:02d}" for n in range(14)}
    first = {name: 10 + index for index, name in enumerate(sorted(names))}

    message = str(drift.drift_error("orders", names, first))

    assert "15 field(s)" in message and "and 5 more" in message
    assert "x" * drift.NAME_CHARS not in message
    assert len(message) < 1_000


def test_first_rows_reads_across_batches_and_skips_rows_without_extras():
    batches = [
        pa.record_batch({"_extra": [None, None], "_source_row": [1, 2]}),
        pa.record_batch({"_extra": ['{"a": 1}', None], "_source_row": [3, 4]}),
        pa.record_batch({"_extra": ['{"a": 2, "b": 3}'], "_source_row": [5]}),
    ]

    assert drift.first_rows(batches, {"a", "b"}) == {"a": 3, "b": 5}


def test_schema_drift_defaults_to_keep_extra_and_takes_fail():
    assert parse_pipeline(MINIMAL_CONFIG, "orders.yaml").schema_drift == "keep_extra"
    assert parse_pipeline({**MINIMAL_CONFIG, "schema_drift": "fail"}, "orders.yaml").schema_drift == "fail"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (
            {"schema_drift": "evolve"},
            "schema_drift 'evolve' not one of ['keep_extra', 'add_columns', 'fail']",
        ),
        ({"schema_drift": "fail", "record_column": "_raw"}, "needs a pipeline without record_column"),
    ],
)
def test_schema_drift_settings_that_cannot_work_are_refused_when_the_yaml_loads(extra, says):
    with pytest.raises(ConfigError, match=r"orders\.yaml: ") as refused:
        parse_pipeline({**MINIMAL_CONFIG, **extra}, "orders.yaml")

    assert says in str(refused.value)
