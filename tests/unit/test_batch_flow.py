"""Many files at once against in-memory fakes: shared load jobs, one bad file among good ones,
the daily quota, replace pipelines and batch runs over the lake."""

from __future__ import annotations

import io
import json
import time

import pyarrow.parquet as pq
import pytest
from support.helpers import ProcessDied, orders_ndjson, payment, write_orders_pipeline
from support.services import Fakes, fake_services

from ingest.core.errors import MalformedFile, TransientError
from ingest.core.model import FileRef, Status, now_iso
from ingest.core.settings import PACKAGE_DIR
from ingest.ingestion import flow
from ingest.ingestion.flow import ingest_files
from ingest.ingestion.runs import run_batch
from ingest.ingestion.staging import SMALL_FILE_BYTES

LAKE = "lake"
TABLE = "raw.orders_orders"


@pytest.fixture
def fakes(tmp_path) -> Fakes:
    write_orders_pipeline(tmp_path / "pipelines", "orders")
    return fake_services(tmp_path / "pipelines")


def files(fakes: Fakes, count: int, prefix: str = "orders") -> list[FileRef]:
    """``count`` files of distinct rows (their bytes differ, so none is a copy of another)."""
    return [
        fakes.lake.put(LAKE, f"{prefix}/part-{n}.ndjson", orders_ndjson(2).replace(b"o-", f"f{n}-".encode()))
        for n in range(count)
    ]


def test_files_of_one_pipeline_share_one_load_job(fakes):
    refs = files(fakes, 6)

    done = ingest_files(refs, fakes.services)

    assert [r.status for r in done.results] == [Status.LOADED] * 6
    assert fakes.warehouse.loads == [(TABLE, 6)]
    assert [(load.files, load.rows_loaded) for load in done.loads] == [(6, 12)]
    assert {r.load_job_id for r in done.results} == {done.loads[0].job_id}


def test_a_batch_with_an_unreadable_file_loads_the_others(fakes):
    refs = files(fakes, 4)
    broken = fakes.lake.put(LAKE, "orders/broken.ndjson", b'{"order_id": "x", \n')

    done = ingest_files([*refs, broken], fakes.services)

    by_uri = {r.ref.uri: r for r in done.results}
    assert by_uri[broken.uri].status == Status.FAILED
    assert by_uri[broken.uri].error_type == MalformedFile.__name__
    assert fakes.lake.kept(broken)[0] is not None
    assert [by_uri[r.uri].status for r in refs] == [Status.LOADED] * 4
    assert fakes.warehouse.loads == [(TABLE, 4)]


def test_a_load_rejected_for_one_files_rows_is_tried_again_file_by_file(fakes):
    # GIVEN a group whose load BigQuery rejects because of one file's rows
    refs = files(fakes, 3)
    fakes.warehouse.reject = lambda row: row["order_id"].startswith("f1-")

    done = ingest_files(refs, fakes.services)

    # THEN the others load one by one and only that file fails
    statuses = {r.ref.key: (r.status, r.error_type) for r in done.results}
    assert statuses == {
        "orders/part-0.ndjson": (Status.LOADED, None),
        "orders/part-1.ndjson": (Status.FAILED, "LoadFailed"),
        "orders/part-2.ndjson": (Status.LOADED, None),
    }
    assert fakes.warehouse.loads == [(TABLE, 1), (TABLE, 1)]


def test_past_the_quota_warning_files_are_batched_harder(fakes):
    refs = files(fakes, 12)
    fakes.warehouse.table_operations_per_day = 10
    fakes.ledger.seed_load_records(TABLE, now_iso()[:10], 8)

    done = ingest_files(refs, fakes.services, max_files_per_load=2)

    assert fakes.warehouse.loads == [(TABLE, 12)]
    assert done.warnings == [
        f"{TABLE} has had 8 of its 10 load jobs today: up to 20 files per load job in this run"
    ]


def test_under_the_quota_warning_groups_keep_their_size(fakes):
    refs = files(fakes, 5)

    done = ingest_files(refs, fakes.services, max_files_per_load=2)

    assert fakes.warehouse.loads == [(TABLE, 2), (TABLE, 2), (TABLE, 1)]
    assert done.warnings == []


def test_a_replace_pipeline_loads_each_file_alone_in_order_so_the_last_one_stays(tmp_path):
    write_orders_pipeline(tmp_path / "pipelines", "rates", write_mode="replace")
    fakes = fake_services(tmp_path / "pipelines")
    refs = [fakes.lake.put(LAKE, f"rates/v{n}.ndjson", orders_ndjson(n + 1)) for n in range(3)]

    done = ingest_files(refs, fakes.services)

    assert [r.status for r in done.results] == [Status.LOADED] * 3
    assert [load.files for load in done.loads] == [1, 1, 1]
    assert {r["_source_uri"] for r in fakes.warehouse.rows("raw.orders_rates")} == {refs[-1].uri}


def test_a_file_named_twice_in_one_batch_loads_once(fakes):
    (ref,) = files(fakes, 1)

    done = ingest_files([ref, ref], fakes.services)

    assert sorted(r.status for r in done.results) == [Status.LOADED, Status.SKIPPED_DUPLICATE]
    assert len(fakes.warehouse.rows(TABLE)) == 2


def test_a_batch_run_loads_what_the_ledger_does_not_have_yet(fakes):
    first = files(fakes, 2)
    run_batch(fakes.services, LAKE, "orders/")
    later = fakes.lake.put(LAKE, "orders/later.ndjson", orders_ndjson(5))

    run = run_batch(fakes.services, LAKE, "orders/")

    assert (run.listed, run.already_done) == (3, 2)
    assert [(r.ref, r.status) for r in run.results] == [(later, Status.LOADED)]
    assert run.by_pipeline()["orders_orders"]["rows_loaded"] == 5
    assert {r["_source_uri"] for r in fakes.warehouse.rows(TABLE)} == {f.uri for f in [*first, later]}


def test_a_file_that_kills_its_worker_does_not_keep_its_group_from_loading(tmp_path, monkeypatch):
    # GIVEN four files claimed in one load group, one of which kills every worker that reads it
    # (out of memory or a segfault, played by an exception nothing in the pipeline catches)
    write_orders_pipeline(tmp_path / "pipelines", "orders")
    fakes = fake_services(tmp_path / "pipelines", max_attempts=2)
    first, killer, *rest = refs = files(fakes, 4)
    reads: list[str] = []
    real_open = fakes.lake.open

    def open_or_die(ref: FileRef):
        reads.append(ref.key)
        if ref == killer:
            raise ProcessDied
        return real_open(ref)

    monkeypatch.setattr(fakes.lake, "open", open_or_die)
    with pytest.raises(ProcessDied):
        ingest_files(refs, fakes.services)
    assert fakes.warehouse.loads == []

    # WHEN the same deliveries come again after the leases ran out, twice
    fakes.ledger.advance(fakes.services.settings.lease_seconds + 1)
    reads.clear()
    with pytest.raises(ProcessDied):
        ingest_files(refs, fakes.services)
    # each orphan was claimed and read alone, in order, until the killer struck again
    assert reads == [first.key, killer.key]
    fakes.ledger.advance(fakes.services.settings.lease_seconds + 1)
    reads.clear()
    done = ingest_files(refs, fakes.services)

    # THEN the innocent files loaded, the ones orphaned fewer times first, and the killer ended
    # FAILED as PoisonFile without being read again, its bytes kept
    assert reads == [rest[0].key, rest[1].key]
    by_uri = {r.ref.uri: r for r in done.results}
    assert [by_uri[r.uri].status for r in rest] == [Status.LOADED] * 2
    assert (by_uri[killer.uri].status, by_uri[killer.uri].error_type) == (Status.FAILED, "PoisonFile")
    assert fakes.lake.kept(killer)[0] is not None
    statuses = [fakes.ledger.get(r).status for r in refs]
    assert statuses == [Status.LOADED, Status.FAILED, Status.LOADED, Status.LOADED]
    # no innocent file came near its last attempt
    assert [fakes.ledger.get(r).attempts for r in (first, *rest)] == [2, 2, 2]
    assert [files for _, files in fakes.warehouse.loads] == [1, 1, 1]  # each orphan loaded alone


def payments_ndjson(first: int, count: int) -> bytes:
    """``count`` payment records the payments suite passes, ids from ``first``."""
    return "".join(json.dumps(payment(number)) + "\n" for number in range(first, first + count)).encode()


def payments_files(fakes: Fakes, count: int) -> list[FileRef]:
    return [
        fakes.lake.put(LAKE, f"payments/exports/2021/07/part-{n}.ndjson", payments_ndjson(10 * n, 3))
        for n in range(count)
    ]


def test_a_groups_suite_results_are_written_before_its_load(tmp_path):
    """They are written in the background while the next group is read, but the load waits."""
    fakes = fake_services(PACKAGE_DIR / "pipelines", pseudonym_key="test-key")
    events: list[str] = []
    record, write_rows = fakes.validations.record, fakes.warehouse.write_rows

    def slow_record(pipeline, files):
        time.sleep(0.2)
        record(pipeline, files)
        events.append(f"recorded {len(files)}")

    def noted_write_rows(*args):
        events.append("loaded")
        return write_rows(*args)

    fakes.validations.record = slow_record
    fakes.warehouse.write_rows = noted_write_rows

    done = ingest_files(payments_files(fakes, 5), fakes.services, max_files_per_load=2)

    assert [r.status for r in done.results] == [Status.LOADED] * 5
    assert events == ["recorded 2", "loaded", "recorded 2", "loaded", "recorded 1", "loaded"]
    assert len(fakes.validations.recorded) == 5


def test_files_whose_suite_results_cannot_be_written_fail_with_the_reason_and_load_nothing(tmp_path):
    fakes = fake_services(PACKAGE_DIR / "pipelines", pseudonym_key="test-key")

    def unreachable(pipeline, files):
        raise TransientError("recording validation results: the results table is unreachable")

    fakes.validations.record = unreachable
    refs = payments_files(fakes, 3)

    done = ingest_files(refs, fakes.services)

    assert [(r.status, r.error_type) for r in done.results] == [(Status.FAILED, "TransientError")] * 3
    assert all("results table is unreachable" in r.message for r in done.results)
    assert fakes.warehouse.loads == []


def test_a_group_of_large_files_loads_every_row_of_each_in_row_groups_of_10000(fakes, monkeypatch):
    # GIVEN three files of 50,000 orders, each too large to read beside another (spilled, then
    # combined into the group's load file on a thread of its own)
    orders = orders_ndjson(50_000)
    bodies = [orders.replace(b"o-", f"b{n}-".encode()) for n in range(3)]
    refs = [fakes.lake.put(LAKE, f"orders/big-{n}.ndjson", body) for n, body in enumerate(bodies)]
    assert all((ref.size or 0) > SMALL_FILE_BYTES for ref in refs)
    written: list[bytes] = []
    real = flow.load_file_of

    def keeping(members, temporary):
        load_file = real(members, temporary)
        load_file.seek(0)
        written.append(load_file.read())  # the load closes the file with the group's temporaries
        return load_file

    monkeypatch.setattr(flow, "load_file_of", keeping)

    # WHEN they are ingested
    done = ingest_files(refs, fakes.services)

    # THEN one load job takes every row of each file, in order, in row groups of 10,000
    assert [r.status for r in done.results] == [Status.LOADED] * 3
    assert fakes.warehouse.loads == [(TABLE, 3)]
    (load_file,) = written
    metadata = pq.ParquetFile(io.BytesIO(load_file)).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [10_000] * 15
    order_ids = pq.read_table(io.BytesIO(load_file), columns=["order_id"]).column(0).to_pylist()
    assert order_ids == [f"b{n}-{k}" for n in range(3) for k in range(1, 50_001)]
    assert len(fakes.warehouse.rows(TABLE)) == 150_000


def test_a_load_file_that_could_not_be_written_ahead_is_written_by_the_load(fakes, monkeypatch):
    # GIVEN a disk that is full when the group's load file is first written
    refs = files(fakes, 4)
    attempts: list[int] = []

    def disk_full(members, temporary):
        attempts.append(len(members))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(flow, "load_file_of", disk_full)

    # WHEN the files are ingested
    done = ingest_files(refs, fakes.services)

    # THEN the load writes the file itself and every row loads
    assert attempts == [4]
    assert [r.status for r in done.results] == [Status.LOADED] * 4
    assert fakes.warehouse.loads == [(TABLE, 4)]
    assert len(fakes.warehouse.rows(TABLE)) == 8
