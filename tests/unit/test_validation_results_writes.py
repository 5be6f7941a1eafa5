"""How the suite's results reach their table: a batch group's by one load job, unless BigQuery
will not take one (the table's daily load jobs spent), then streamed like an SQS batch's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.api_core import exceptions

from ingest.adapters.bigquery.validation_results import (
    STREAMED_FILES_AT_MOST,
    FileValidation,
    insert_validation_results,
)
from ingest.core.errors import LoadFailed
from ingest.core.validate.results import Check, Validation


class FakeJob:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.error_result: dict[str, str] | None = None

    def result(self) -> FakeJob:
        return self


class RecordingClient:
    """Keeps what each write was given; ``refuse_loads`` makes every load job fail to start."""

    project = "p"

    def __init__(self, refuse_loads: Exception | None = None) -> None:
        self.refuse_loads = refuse_loads
        self.loaded: list[tuple[str, list[dict[str, Any]]]] = []
        self.streamed: list[list[dict[str, Any]]] = []

    def load_table_from_file(self, body: Any, destination: str, *, job_id: str, **_: Any) -> FakeJob:
        if self.refuse_loads is not None:
            raise self.refuse_loads
        self.loaded.append((job_id, [json.loads(line) for line in body.read().splitlines()]))
        return FakeJob(job_id)

    def insert_rows_json(self, destination: str, rows: list[dict[str, Any]], row_ids: list[str]) -> list[Any]:
        self.streamed.append(rows)
        return []


def files(count: int) -> list[FileValidation]:
    check = Check("paypal.status_known", "in_set", "transaction_status", "error", False, True, 20, 2, (3, 9))
    validation = Validation("paypal_transactions", rows=20, bad_rows=2, checks={check.id: check})
    return [
        FileValidation(f"s3://lake/k/{n}#e", f"s3://lake/k/{n}", "paypal_transactions", validation)
        for n in range(count)
    ]


def test_a_batch_groups_rows_go_by_one_load_job_and_an_sqs_batchs_are_streamed():
    client = RecordingClient()

    insert_validation_results(client, "ops", files(STREAMED_FILES_AT_MOST + 1))  # type: ignore[arg-type]
    insert_validation_results(client, "ops", files(STREAMED_FILES_AT_MOST))  # type: ignore[arg-type]

    ((job_id, loaded),) = client.loaded
    assert job_id.startswith("ingest_results_")
    assert len(loaded) == 101
    assert loaded[0]["sample_rows"] == "[3, 9]" and loaded[0]["unexpected_count"] == 2
    assert [len(rows) for rows in client.streamed] == [100]


def test_results_are_streamed_when_bigquery_takes_no_more_load_jobs_today():
    spent = exceptions.Forbidden(
        "Quota exceeded: Your table exceeded quota for imports or query appends per table",
        errors=[{"reason": "quotaExceeded"}],
    )
    client = RecordingClient(refuse_loads=spent)

    insert_validation_results(client, "ops", files(250))  # type: ignore[arg-type]

    assert client.loaded == []
    assert [len(rows) for rows in client.streamed] == [250]


def test_a_load_job_refused_for_a_reason_a_retry_cannot_cure_fails_the_write():
    client = RecordingClient(
        refuse_loads=exceptions.BadRequest("schema mismatch", errors=[{"reason": "invalid"}])
    )

    with pytest.raises(LoadFailed, match="recording validation results"):
        insert_validation_results(client, "ops", files(250))  # type: ignore[arg-type]
    assert client.streamed == []


def test_a_lone_surrogate_in_a_result_is_written_escaped_as_streaming_writes_it():
    # A check's error can quote text from the lake; "\udc80" has no UTF-8 form
    check = Check(
        "paypal.status_known", "in_set", "transaction_status", "error", False, True, 1, 1, (1,), "bad \udc80"
    )
    validation = Validation("paypal_transactions", rows=1, bad_rows=1, checks={check.id: check})
    client = RecordingClient()

    insert_validation_results(
        client,  # type: ignore[arg-type]
        "ops",
        [
            FileValidation(f"s3://lake/k/{n}#e", f"s3://lake/k/{n}", "paypal_transactions", validation)
            for n in range(101)
        ],
    )

    ((_, loaded),) = client.loaded
    assert [row["error"] for row in loaded] == ["bad \udc80"] * 101
