"""The orchestrator on one file, against in-memory fakes of its ports: exactly once through
redeliveries, crashes at each step, failures that may pass and failures that will not."""

from __future__ import annotations

import pytest
from support.helpers import orders_ndjson, write_orders_pipeline
from support.services import Fakes, fake_services

from ingest.core.errors import LoadFailed, TransientError
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.runs import replay_failed

LAKE = "lake"


class ProcessDied(BaseException):
    """The process dying mid-step: not an Exception, so nothing in the pipeline catches it."""


@pytest.fixture
def fakes(tmp_path) -> Fakes:
    write_orders_pipeline(tmp_path / "pipelines", "orders")
    return fake_services(tmp_path / "pipelines", lease_seconds=60, max_attempts=3)


TABLE = "raw.orders_orders"


def put(fakes: Fakes, key: str, body: bytes) -> FileRef:
    return fakes.lake.put(LAKE, key, body)


def test_a_file_loads_once_and_its_bad_rows_are_quarantined(fakes):
    ref = put(fakes, "orders/2021/07/01/a.ndjson", orders_ndjson(5, bad_rows=(2,)))

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.rows_in, result.rows_loaded, result.rows_quarantined) == (
        Status.LOADED,
        5,
        4,
        1,
    )
    assert len(fakes.warehouse.rows(TABLE, ref.uri)) == 4
    entry = fakes.ledger.get(ref)
    assert (entry.status, entry.attempts, entry.load_job_id) == (Status.LOADED, 1, result.load_job_id)
    quarantined = fakes.lake.read(fakes.lake.error_bucket, entry.quarantine_key)
    assert b"not-a-number" in quarantined


def test_a_redelivered_event_loads_nothing(fakes):
    ref = put(fakes, "orders/a.ndjson", orders_ndjson(3))
    ingest_file(ref, fakes.services)

    again = ingest_file(ref, fakes.services)

    assert again.status == Status.SKIPPED_DUPLICATE
    assert "already loaded" in again.message
    assert len(fakes.warehouse.rows(TABLE)) == 3
    assert [e.status for e in fakes.ledger.deliveries(ref)].count(Status.SKIPPED_DUPLICATE) == 1


def _die(*args, **kwargs):
    raise ProcessDied


@pytest.mark.parametrize(
    ("step", "owner", "method"),
    [
        ("after the claim, reading the file", "lake", "open"),
        ("after the read, submitting the load", "warehouse", "write_rows"),
        ("after the load, before LOADED is recorded", "ledger", "complete_many"),
    ],
)
def test_a_crash_at_any_step_then_a_redelivery_after_the_lease_loads_the_rows_once(
    fakes, monkeypatch, step, owner, method
):
    # GIVEN a worker that dies at this step
    ref = put(fakes, "orders/a.ndjson", orders_ndjson(4))
    with monkeypatch.context() as dying:
        dying.setattr(getattr(fakes, owner), method, _die)
        with pytest.raises(ProcessDied):
            ingest_file(ref, fakes.services)
    assert fakes.ledger.get(ref).status == Status.IN_PROGRESS

    # WHEN the event comes back while the lease holds, and again once it has run out
    early = ingest_file(ref, fakes.services)
    fakes.ledger.advance(61)
    late = ingest_file(ref, fakes.services)

    # THEN the first is a duplicate, the second loads, and the rows are in the table once
    assert early.status == Status.SKIPPED_DUPLICATE, step
    assert (late.status, late.rows_loaded) == (Status.LOADED, 4), step
    assert len(fakes.warehouse.rows(TABLE, ref.uri)) == 4, step
    assert fakes.ledger.get(ref).attempts == 2


def test_a_failed_owner_of_the_same_bytes_does_not_block_a_copy_but_a_loaded_one_does(fakes):
    body = orders_ndjson(3)
    first = put(fakes, "orders/first.ndjson", body)
    fakes.warehouse.fail_next.append(LoadFailed("rejected"))
    assert ingest_file(first, fakes.services).status == Status.FAILED

    copy = put(fakes, "orders/copy.ndjson", body)
    assert ingest_file(copy, fakes.services).status == Status.LOADED

    another = put(fakes, "orders/another-copy.ndjson", body)
    skipped = ingest_file(another, fakes.services)
    assert skipped.status == Status.SKIPPED_DUPLICATE
    assert skipped.message == f"same bytes as {copy.uri}"
    assert len(fakes.warehouse.rows(TABLE)) == 3


def test_a_retryable_error_is_retried_up_to_max_attempts_then_the_file_is_kept(fakes):
    ref = put(fakes, "orders/a.ndjson", orders_ndjson(2))
    fakes.warehouse.fail_next.extend(TransientError("backendError") for _ in range(3))

    results = [ingest_file(ref, fakes.services) for _ in range(3)]
    exhausted = ingest_file(ref, fakes.services)

    assert [r.retryable for r in results] == [True, True, False]
    assert all(r.error_type == "TransientError" for r in results)
    kept, sidecar = fakes.lake.kept(ref)
    assert kept == orders_ndjson(2)
    assert sidecar["attempt"] == 3
    assert exhausted.status == Status.SKIPPED_DUPLICATE
    assert "retries exhausted" in exhausted.message


def test_a_missing_pseudonym_secret_fails_the_file_at_once_and_keeps_it(tmp_path, monkeypatch):
    # GIVEN a pipeline that pseudonymises a column, and a pseudonym secret that does not exist
    from botocore.exceptions import ClientError

    from ingest.adapters import clients

    class SecretsManagerWithoutTheSecret:
        def get_secret_value(self, **request):
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue")

    monkeypatch.setattr(clients, "aws_client", lambda service: SecretsManagerWithoutTheSecret())
    pipelines = tmp_path / "pipelines"
    write_orders_pipeline(pipelines, "orders")
    (yaml_file,) = pipelines.glob("*.yaml")
    yaml_file.write_text(yaml_file.read_text() + "  - {name: customer, type: STRING, pseudonymise: true}\n")
    fakes = fake_services(pipelines, pseudonym_key="", max_attempts=5)
    ref = put(fakes, "orders/a.ndjson", orders_ndjson(2))

    # WHEN it is delivered, and delivered again
    result = ingest_file(ref, fakes.services)
    again = ingest_file(ref, fakes.services)

    # THEN it fails for good on the first attempt, with its bytes kept, and is not retried
    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "ConfigError", False)
    assert fakes.ledger.get(ref).retryable is False
    assert fakes.lake.kept(ref)[0] == orders_ndjson(2)
    assert again.status == Status.SKIPPED_DUPLICATE
    assert fakes.warehouse.rows(TABLE) == []


def test_replay_loads_a_failed_file_from_the_error_bucket_once_the_lake_lost_it(fakes):
    ref = put(fakes, "orders/a.ndjson", orders_ndjson(3))
    fakes.warehouse.fail_next.append(LoadFailed("table schema was wrong"))
    assert ingest_file(ref, fakes.services).status == Status.FAILED
    fakes.lake.delete(ref)

    ((replayed_ref, result),) = replay_failed(fakes.services)

    assert replayed_ref == ref
    assert (result.status, result.rows_loaded) == (Status.LOADED, 3)
    assert {r["_source_uri"] for r in fakes.warehouse.rows(TABLE)} == {ref.uri}
    assert Status.REPLAYED in {e.status for e in fakes.ledger.deliveries(ref)}


def test_a_folder_marker_is_ignored_and_a_key_no_pipeline_takes_fails_for_good(fakes):
    marker = put(fakes, "orders/2021/", b"")
    stray = put(fakes, "elsewhere/notes.txt", b"hello")

    ignored = ingest_file(marker, fakes.services)
    unroutable = ingest_file(stray, fakes.services)

    assert ignored.status == Status.IGNORED
    assert (unroutable.status, unroutable.error_type, unroutable.retryable) == (
        Status.FAILED,
        "UnknownPipeline",
        False,
    )
    assert fakes.lake.kept(stray)[0] == b"hello"
    assert ingest_file(stray, fakes.services).status == Status.SKIPPED_DUPLICATE


def test_a_key_ending_in_a_slash_that_holds_data_is_loaded_not_ignored(fakes):
    ref = put(fakes, "orders/2021/07/", orders_ndjson(3))

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.rows_loaded) == (Status.LOADED, 3)
    assert {r["_source_uri"] for r in fakes.warehouse.rows(TABLE)} == {ref.uri}


@pytest.mark.parametrize(
    "limit", [RecursionError("maximum recursion depth exceeded"), OverflowError("out of range")]
)
def test_a_file_beyond_pythons_limits_fails_for_good_with_its_bytes_kept(fakes, monkeypatch, limit):
    import ingest.ingestion.staging as staging

    def beyond_the_limit(*args, **kwargs):
        raise limit

    monkeypatch.setattr(staging, "start_file", beyond_the_limit)
    ref = put(fakes, "orders/deep.ndjson", orders_ndjson(2))

    result = ingest_file(ref, fakes.services)

    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "MalformedFile", False)
    assert fakes.lake.kept(ref)[0] == orders_ndjson(2)


def test_a_file_that_kills_every_worker_ends_failed_as_poison_with_its_bytes_kept(fakes, monkeypatch):
    # GIVEN a file whose every reading kills the worker (max_attempts is 3 here)
    ref = put(fakes, "orders/killer.ndjson", orders_ndjson(2))
    with monkeypatch.context() as dying:
        dying.setattr(fakes.lake, "open", _die)
        for _ in range(3):
            with pytest.raises(ProcessDied):
                ingest_file(ref, fakes.services)
            fakes.ledger.advance(61)

        # WHEN the event comes back once more: the file is not read again (it would kill this
        # worker too), so the dying lake is still in place
        result = ingest_file(ref, fakes.services)

    # THEN it ends FAILED for good, as poison, its bytes in the error bucket, after 3 attempts
    assert (result.status, result.error_type, result.retryable) == (Status.FAILED, "PoisonFile", False)
    assert fakes.lake.kept(ref)[0] == orders_ndjson(2)
    assert fakes.ledger.get(ref).status == Status.FAILED
    assert ingest_file(ref, fakes.services).status == Status.SKIPPED_DUPLICATE


def test_a_copy_skipped_while_its_owner_loaded_is_loaded_once_the_owner_fails_for_good(fakes, monkeypatch):
    # GIVEN file a, whose worker died while loading it, and file b holding the same bytes
    body = orders_ndjson(3)
    a, b = put(fakes, "orders/a.ndjson", body), put(fakes, "orders/b.ndjson", body)
    with monkeypatch.context() as dying:
        dying.setattr(fakes.lake, "open", _die)
        with pytest.raises(ProcessDied):
            ingest_file(a, fakes.services)
    skipped = ingest_file(b, fakes.services)
    assert skipped.status == Status.SKIPPED_DUPLICATE

    # WHEN a's object is deleted before its redelivery, so a fails for good
    fakes.lake.delete(a)
    fakes.ledger.advance(61)
    assert ingest_file(a, fakes.services).error_type == "ObjectGone"

    # THEN b is failed and retryable (replay lists it), and its next delivery loads its rows once
    reopened = fakes.ledger.get(b)
    assert (reopened.status, reopened.error_type, reopened.retryable) == (
        Status.FAILED,
        "DuplicateOwnerFailed",
        True,
    )
    assert b.identity in {ref.identity for ref, _ in replay_failed(fakes.services, dry_run=True)}
    assert ingest_file(b, fakes.services).status == Status.LOADED
    assert len(fakes.warehouse.rows(TABLE)) == 3
    assert {r["_source_uri"] for r in fakes.warehouse.rows(TABLE)} == {b.uri}


def test_a_copy_of_bytes_already_loaded_stays_skipped_when_nothing_fails(fakes):
    body = orders_ndjson(3)
    a, b = put(fakes, "orders/a.ndjson", body), put(fakes, "orders/b.ndjson", body)

    results = [ingest_file(a, fakes.services), ingest_file(b, fakes.services)]

    assert [r.status for r in results] == [Status.LOADED, Status.SKIPPED_DUPLICATE]
    assert fakes.ledger.get(b).duplicate_of == a.identity


def test_a_failed_files_message_masks_the_contact_details_it_quotes(fakes):
    """A shifted export puts an email in the amount column of every row: the file fails, and the
    reason it gives (the first row's, quoting the value) is shown without the email."""
    import json

    from ingest.core.coerce.privacy import EMAIL_MARKER

    email = "jane.doe@example.com"
    rows = [
        {"order_id": f"o-{n}", "amount": email, "ordered_at": "2021-07-01T10:00:00Z", "quantity": 1}
        for n in (1, 2)
    ]
    ref = put(fakes, "orders/shifted.ndjson", "\n".join(json.dumps(r) for r in rows).encode())

    result = ingest_file(ref, fakes.services)

    entry = fakes.ledger.get(ref)
    assert result.status == Status.FAILED and result.error_type == "NoValidRows"
    for shown in (entry.error_message, result.message):
        assert email not in shown and EMAIL_MARKER in shown
