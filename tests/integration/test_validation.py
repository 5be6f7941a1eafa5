"""Great Expectations before load: bad rows quarantined with reasons, bad files failed, results kept."""

from __future__ import annotations

import json

import pytest
from support.helpers import PAYER_EMAIL, paypal_transaction, write_orders_pipeline

from ingest.adapters.bigquery import queries
from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.core.model import FileRef, Status
from ingest.core.settings import Settings
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.services import Services

pytestmark = pytest.mark.integration


def put(bucket: str, key: str, body: bytes) -> FileRef:
    etag = aws_client("s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
    return FileRef.of(bucket, key, etag, len(body))


def test_rows_failing_the_paypal_suite_are_quarantined_with_their_check_and_the_rest_load(
    stack, prefix, scratch_bucket
):
    # GIVEN a PayPal page of four payments: one with status X, one with a positive fee
    records = [paypal_transaction(transaction_id=f"{prefix}-{n}") for n in range(4)]
    records[1]["transaction_info"]["transaction_status"] = "X"
    records[3]["transaction_info"]["fee_amount"]["value"] = "0.50"
    ref = put(scratch_bucket, f"paypal/transactions/{prefix}/page-0001.json", json.dumps(records).encode())
    services = Services.from_env(Settings())

    # WHEN it is ingested
    result = ingest_file(ref, services)

    # THEN two rows load and two are quarantined, each with the check it failed
    assert (result.status, result.rows_in, result.rows_loaded, result.rows_quarantined) == (
        Status.LOADED,
        4,
        2,
        2,
    )
    entry = next(e for e in services.ledger.entries() if e.pk == ref.identity and e.sk == "FILE")
    assert entry.validation["failed"] == {
        "paypal.status_known": 1,
        "paypal.fee_not_positive_on_completed_payments": 1,
    }
    body = aws_client("s3").get_object(Bucket=services.settings.error_bucket, Key=entry.quarantine_key)[
        "Body"
    ]
    quarantined = [json.loads(line) for line in body.read().splitlines()]
    assert [(q["row"], q["reason"].split(" (")[0]) for q in quarantined] == [
        (2, "validation: paypal.status_known"),
        (4, "validation: paypal.fee_not_positive_on_completed_payments"),
    ]
    # The quarantined row is the row as it would have loaded, with its source record in _raw.
    kept = json.loads(json.loads(quarantined[0]["raw"])["_raw"])
    assert kept["transaction_info"]["transaction_id"] == f"{prefix}-1"
    assert PAYER_EMAIL not in json.dumps(quarantined)

    # AND the warehouse has the good rows, and the suite's results are kept per file
    loaded = queries.query_dataframe(
        services.bigquery,
        "SELECT transaction_id FROM raw.paypal_transactions WHERE _source_uri = @uri ORDER BY 1",
        {"uri": ref.uri},
    )
    assert list(loaded["transaction_id"]) == [f"{prefix}-0", f"{prefix}-2"]
    results = queries.query_dataframe(
        services.bigquery,
        "SELECT expectation_id, success, unexpected_count, sample_rows FROM ops.validation_results "
        "WHERE ledger_key = @key AND NOT success ORDER BY expectation_id",
        {"key": ref.identity},
    )
    assert results.to_dict("records") == [
        {
            "expectation_id": "paypal.fee_not_positive_on_completed_payments",
            "success": False,
            "unexpected_count": 1,
            "sample_rows": "[4]",
        },
        {
            "expectation_id": "paypal.status_known",
            "success": False,
            "unexpected_count": 1,
            "sample_rows": "[2]",
        },
    ]


def test_a_failed_table_level_check_fails_the_file_and_keeps_its_bytes(
    make_services, pipelines_dir, prefix, scratch_bucket, tmp_path
):
    # GIVEN an orders pipeline whose suite allows at most two rows per file
    write_orders_pipeline(pipelines_dir, prefix)
    path = next(pipelines_dir.glob("*.yaml"))
    path.write_text(path.read_text() + "suite: small_files\n")
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    (expectations / "small_files.json").write_text(
        json.dumps(
            {
                "name": "small_files",
                "expectations": [
                    {
                        "type": "expect_table_row_count_to_be_between",
                        "kwargs": {"max_value": 2},
                        "meta": {"id": "orders.at_most_two"},
                    }
                ],
            }
        )
    )
    lines = [{"order_id": f"o-{n}", "amount": "1.00"} for n in range(3)]
    ref = put(scratch_bucket, f"{prefix}/orders.ndjson", "\n".join(map(json.dumps, lines)).encode())
    services = make_services(expectations_dir=expectations)

    # WHEN it is ingested
    result = ingest_file(ref, services)

    # THEN the file fails with the check's id, and its bytes are in the error bucket
    assert (result.status, result.error_type) == (Status.FAILED, "ValidationFailed")
    assert "orders.at_most_two failed" in result.message
    entry = next(e for e in services.ledger.entries() if e.pk == ref.identity and e.sk == "FILE")
    kept = aws_client("s3").get_object(Bucket=services.settings.error_bucket, Key=entry.error_key)
    assert kept["Body"].read() == "\n".join(map(json.dumps, lines)).encode()


def test_ingest_validate_reads_an_s3_object_and_loads_nothing(stack, prefix, scratch_bucket, capsys):
    payments = [
        {
            "transaction_id": n,
            "transaction_item_id": 500 + n,
            "total_cost": "4.99",
            "currency_code": "US$" if n == 2 else "USD",
            "payment_date": "2021-07-01T10:00:00Z",
            "transaction_status": "completed",
        }
        for n in (1, 2, 3)
    ]
    key = f"payments/transactions/{prefix}/stream"
    put(scratch_bucket, key, b"".join(json.dumps(p).encode() for p in payments))

    code = cli.main(["validate", f"s3://{scratch_bucket}/{key}", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (report["rows"], report["good"], report["bad"]) == (3, 2, 1)
    assert [c["id"] for c in report["failed_expectations"]] == ["payments.currency_iso"]
    ledger = Services.from_env(Settings()).ledger
    assert not [e for e in ledger.entries() if e.key == key]


def test_a_batch_groups_results_go_by_one_load_job_and_a_lambda_batchs_are_streamed(stack, prefix):
    # GIVEN the results of 101 files (a batch group) and of 100 (an SQS batch), two checks each:
    # file n has n % 7 rows failing the second check
    from ingest.adapters.bigquery.validation_results import BigQueryValidationResults
    from ingest.core.validate.results import Check, Validation

    def validation(n: int) -> Validation:
        checks = {
            "paypal.id_present": Check(
                "paypal.id_present", "not_null", "transaction_id", "error", True, True, 20
            ),
            "paypal.status_known": Check(
                "paypal.status_known",
                "in_set",
                "transaction_status",
                "error",
                n % 7 == 0,
                True,
                20,
                n % 7,
                tuple(range(1, n % 7 + 1)),
            ),
        }
        return Validation("paypal_transactions", rows=20, bad_rows=n % 7, checks=checks)

    services = Services.from_env(Settings())
    pipeline = next(p for p in services.pipelines if p.name == "paypal_transactions")
    sink = BigQueryValidationResults(services.bigquery, "ops")
    groups = {"batch": 101, "lambda": 100}
    jobs_before = {job.job_id for job in services.bigquery.list_jobs()}

    # WHEN each is recorded
    for name, files in groups.items():
        refs = [
            FileRef.of("lake", f"paypal/transactions/{prefix}/{name}/{n}.json", f"e{n}", 1)
            for n in range(files)
        ]
        sink.record(pipeline, [(ref, validation(n)) for n, ref in enumerate(refs)])

    # THEN every file has both rows, the failing counts as written
    for name, files in groups.items():
        rows = queries.query_dataframe(
            services.bigquery,
            "SELECT COUNT(*) AS n, SUM(unexpected_count) AS bad, COUNTIF(NOT success) AS failed "
            "FROM ops.validation_results WHERE STARTS_WITH(source_uri, @prefix)",
            {"prefix": f"s3://lake/paypal/transactions/{prefix}/{name}/"},
        ).to_dict("records")
        assert rows == [
            {
                "n": 2 * files,
                "bad": sum(n % 7 for n in range(files)),
                "failed": sum(1 for n in range(files) if n % 7),
            }
        ]
    # AND only the batch group's went by a load job
    new_jobs = {job.job_id for job in services.bigquery.list_jobs()} - jobs_before
    assert len([job for job in new_jobs if job.startswith("ingest_results_")]) == 1
