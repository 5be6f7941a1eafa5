"""Spilled rows (``ingest.core.spill``) read back as they were written, in either form."""

from __future__ import annotations

import io
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.core import spill
from ingest.core.spill import SpillFormat, SpillWriter

ROWS = pa.table(
    {
        "id": pa.array(range(25), pa.int64()),
        "name": pa.array([f"row {i}" if i % 7 else None for i in range(25)], pa.string()),
        "amount": pa.array([i * 1.5 for i in range(25)], pa.float64()),
    }
)
FORMS: list[SpillFormat] = ["parquet", "arrow"]


@pytest.mark.parametrize("form", FORMS)
def test_rows_written_in_parts_read_back_whole_in_batches_of_at_most_the_size_asked(
    form: SpillFormat,
) -> None:
    with tempfile.TemporaryFile() as file:
        writer = SpillWriter(file, ROWS.schema, form)
        writer.write(ROWS.slice(0, 10))
        writer.write(ROWS.slice(10, 15).to_batches()[0])
        writer.close()

        read = list(spill.batches(file, form, batch_size=4))

        assert all(batch.num_rows <= 4 for batch in read)
        assert pa.Table.from_batches(read).equals(ROWS)
        assert spill.schema(file, form) == ROWS.schema


@pytest.mark.parametrize("form", FORMS)
def test_only_the_columns_asked_in_their_order(form: SpillFormat) -> None:
    with tempfile.TemporaryFile() as file:
        spill.write(file, ROWS, form, row_group_size=10)

        read = pa.Table.from_batches(list(spill.batches(file, form, 100, columns=["name", "id"])))

        assert read.column_names == ["name", "id"]
        assert read.column("name").to_pylist() == ROWS.column("name").to_pylist()
        assert read.column("id").to_pylist() == list(range(25))


@pytest.mark.parametrize("form", FORMS)
def test_nothing_written_has_no_schema(form: SpillFormat) -> None:
    assert spill.schema(io.BytesIO(), form) is None


def test_a_parquet_spill_is_a_load_file_an_arrow_one_is_not() -> None:
    """The Parquet form is what a load job takes as it is; the Arrow form is read back into one."""
    with tempfile.TemporaryFile() as parquet, tempfile.TemporaryFile() as arrow:
        spill.write(parquet, ROWS, "parquet", row_group_size=10)
        spill.write(arrow, ROWS, "arrow", row_group_size=10)
        parquet.seek(0)
        arrow.seek(0)

        assert pq.read_table(parquet).equals(ROWS)
        with pytest.raises(pa.ArrowInvalid):
            pq.read_table(arrow)


@pytest.mark.parametrize("form", FORMS)
def test_a_spilled_file_keeps_only_the_rows_its_suite_passes_in_either_form(
    form: SpillFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file too large for memory is spilled; the suite's bad rows are quarantined, the others
    read back for the load, whichever form the spill takes."""
    import contextlib
    import json
    from datetime import UTC, datetime

    from support.helpers import paypal_transaction

    from ingest.core import prepare
    from ingest.core.coerce.rows import RecordCoercer
    from ingest.core.config import load_pipelines
    from ingest.core.settings import EXPECTATIONS_DIR, PACKAGE_DIR
    from ingest.core.validate.suite import load_suite

    monkeypatch.setattr(prepare, "IN_MEMORY_BYTES", 0)  # every file spilled
    pipeline = next(p for p in load_pipelines(PACKAGE_DIR / "pipelines") if p.name == "paypal_transactions")
    records = [paypal_transaction(transaction_id=f"T{i}") for i in range(30)]
    records[4] = paypal_transaction(transaction_id="BAD", transaction_status="X")
    body = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    lineage = {
        "_source_uri": "s3://lake/k",
        "_source_etag": "e",
        "_ingested_at": datetime(2026, 12, 7, tzinfo=UTC),
    }

    with contextlib.ExitStack() as temporary:
        reading = prepare.start_file(
            body,
            pipeline,
            lambda _: RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=b"k"),
            lineage,
            temporary,
            spill_format=form,
        )
        reading.finish_alone(temporary)
        prepare.validate_files(
            [reading.prepared], load_suite(EXPECTATIONS_DIR / "paypal_transactions.json"), temporary
        )
        prepared = reading.prepared

        assert prepared.table is None and prepared.spilled is not None
        assert prepared.is_load_file == (form == "parquet")
        loaded = pa.Table.from_batches(list(prepared.batches(7)))
        assert loaded.column("transaction_id").to_pylist() == [
            r["transaction_info"]["transaction_id"] for r in records if r is not records[4]
        ]
        assert (prepared.tally.rows_loaded, prepared.tally.rows_quarantined) == (29, 1)
        prepared.rejected.seek(0)
        assert [json.loads(line)["row"] for line in prepared.rejected] == [5]
