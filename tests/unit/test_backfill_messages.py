"""``ingest backfill`` without a cloud: inventory manifests as AWS documents them, the messages the
handler must read back, SendMessageBatch ten at a time with its partial failures, and the
situations that end in one line and exit code 2."""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from support.lake import FakeLake
from support.ledger import FakeLedger

from ingest.apps import lambda_handler
from ingest.apps.cli.main import main
from ingest.apps.ops import backfill, inventory
from ingest.apps.ops.backfill import BackfillError, message_body, run_backfill, send_batch
from ingest.apps.ops.inventory import ManifestError, parse_manifest
from ingest.core.model import FileRef, LoadOutcome, Status

LAKE = "payments-lake"
INVENTORY = "payments-inventory"
MANIFEST_KEY = "inv/payments-lake/daily/2021-08-01T01-00Z/manifest.json"
MANIFEST_URI = f"s3://{INVENTORY}/{MANIFEST_KEY}"
# The CSV manifest of the S3 User Guide's example, with our buckets and two data files.
FILE_SCHEMA = (
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
    "IsMultipartUploaded, ReplicationStatus, EncryptionStatus"
)


def manifest_document(
    file_format: str = "CSV", schema: str = FILE_SCHEMA, keys: tuple[str, ...] = ()
) -> dict:
    return {
        "sourceBucket": LAKE,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY}",
        "version": "2016-11-30",
        "creationTimestamp": "1627779600000",
        "fileFormat": file_format,
        "fileSchema": schema,
        "files": [
            {"key": key, "size": 123, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}
            for key in keys or ("inv/payments-lake/daily/data/part-1.csv.gz",)
        ],
    }


def csv_line(*values: str) -> str:
    return ",".join(f'"{v}"' for v in values) + "\n"


# Keys as the inventory writes them: URL-encoded (space as +, a literal + as %2B).
PART_1 = (
    csv_line(LAKE, "paypal/transactions/2021/07/01/page+1+%C3%A9t%C3%A9.json", "v1", "true", "false",
             "2048", "2021-07-01T10:00:00.000Z", "0123456789abcdef0123456789abcdef", "STANDARD",
             "false", "", "SSE-S3")
    # An old version and a delete marker: neither is a file the handler could read.
    + csv_line(LAKE, "paypal/transactions/2021/07/01/page-2.json", "v0", "false", "false",
               "10", "2021-06-30T10:00:00.000Z", "11111111111111111111111111111111", "STANDARD",
               "false", "", "SSE-S3")
    + csv_line(LAKE, "paypal/transactions/2021/07/01/gone.json", "v9", "true", "true",
               "", "2021-07-01T11:00:00.000Z", "", "", "", "", "")
)  # fmt: skip
PART_2 = csv_line(
    LAKE, "payments/exports/2021/07/02/a%2Bb%25.csv", "v3", "true", "false", "77",
    "2021-07-02T00:05:12.482Z", "fedcba9876543210fedcba9876543210-2", "STANDARD", "true", "", "SSE-S3",
)  # fmt: skip
EXPECTED = [
    FileRef.of(
        LAKE, "paypal/transactions/2021/07/01/page 1 été.json", "0123456789abcdef0123456789abcdef", 2048
    ),
    FileRef.of(LAKE, "payments/exports/2021/07/02/a+b%.csv", "fedcba9876543210fedcba9876543210-2", 77),
]


class FakeS3:
    """get_object and download_fileobj on objects held in memory."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects

    def _body(self, bucket: str, key: str) -> bytes:
        if (bucket, key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return self.objects[(bucket, key)]

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"Body": io.BytesIO(self._body(Bucket, Key))}

    def download_fileobj(self, bucket: str, key: str, target: Any) -> None:
        target.write(self._body(bucket, key))


def inventory_s3(document: dict, data: dict[str, bytes]) -> FakeS3:
    objects = {(INVENTORY, MANIFEST_KEY): json.dumps(document).encode()}
    objects.update({(INVENTORY, key): body for key, body in data.items()})
    return FakeS3(objects)


def read_all(s3: FakeS3) -> tuple[list[FileRef], inventory.Counts]:
    counts = inventory.Counts()
    refs = list(inventory.inventory_refs(s3, inventory.read_manifest(s3, MANIFEST_URI), counts))
    return refs, counts


# ---------------------------------------------------------------- the manifest and its data files


def test_a_csv_inventory_yields_the_current_versions_with_decoded_keys() -> None:
    keys = ("inv/payments-lake/daily/data/part-1.csv.gz", "inv/payments-lake/daily/data/part-2.csv.gz")
    s3 = inventory_s3(
        manifest_document(keys=keys),
        {keys[0]: gzip.compress(PART_1.encode()), keys[1]: gzip.compress(PART_2.encode())},
    )

    refs, counts = read_all(s3)

    assert refs == EXPECTED
    assert [r.event_time for r in refs] == ["2021-07-01T10:00:00.000+00:00", "2021-07-02T00:05:12.482+00:00"]
    assert counts.noncurrent == 2


def test_the_manifest_names_the_destination_bucket_by_arn_and_the_columns_in_order() -> None:
    manifest = parse_manifest(manifest_document(), MANIFEST_URI)

    assert manifest.destination_bucket == INVENTORY
    assert manifest.source_bucket == LAKE
    assert manifest.columns[:3] == ("Bucket", "Key", "VersionId")
    assert manifest.files == ("inv/payments-lake/daily/data/part-1.csv.gz",)


def test_a_parquet_inventory_keeps_its_keys_as_they_are() -> None:
    table = pa.table(
        {
            "bucket": [LAKE, LAKE],
            "key": ["paypal/transactions/2021/07/01/page 1 été.json", "payments/exports/2021/07/02/a+b%.csv"],
            "size": pa.array([2048, 77], pa.int64()),
            "last_modified_date": pa.array(
                [datetime(2021, 7, 1, 10, tzinfo=UTC), datetime(2021, 7, 2, 0, 5, 12, 482000, tzinfo=UTC)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "e_tag": ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210-2"],
            "storage_class": ["STANDARD", "STANDARD"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    key = "inv/payments-lake/daily/data/part-1.parquet"
    document = manifest_document("Parquet", "message s3.inventory { required binary bucket (UTF8); }", (key,))

    refs, _ = read_all(inventory_s3(document, {key: sink.getvalue()}))

    assert refs == EXPECTED
    assert refs[1].event_time == "2021-07-02T00:05:12.482+00:00"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (manifest_document("ORC"), "ORC inventories are not supported"),
        (manifest_document(schema="Bucket, Key, Size, LastModifiedDate"), "the inventory lacks ETag"),
        (
            {"sourceBucket": LAKE, "files": []},
            "not an S3 Inventory manifest: no destinationBucket, fileFormat",
        ),
        (["not", "an", "object"], "not an S3 Inventory manifest"),
        ({**manifest_document(), "files": [{"size": 1}]}, "'files' must be a list"),
    ],
)
def test_a_manifest_we_cannot_use_is_refused_in_one_line(document: Any, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as raised:
        parse_manifest(document, MANIFEST_URI)

    assert "\n" not in str(raised.value)


def test_a_row_that_does_not_match_the_schema_names_its_file_and_row() -> None:
    key = "inv/payments-lake/daily/data/part-1.csv.gz"
    s3 = inventory_s3(
        manifest_document(), {key: gzip.compress(PART_1.encode() + b'"only","three","values"\n')}
    )

    with pytest.raises(
        ManifestError, match=re.escape(f"s3://{INVENTORY}/{key} row 4: 3 values for the 12 fields")
    ):
        read_all(s3)


def test_a_missing_manifest_or_data_file_is_named() -> None:
    with pytest.raises(ManifestError, match=re.escape(f"no such manifest: {MANIFEST_URI}")):
        inventory.read_manifest(FakeS3({}), MANIFEST_URI)
    with pytest.raises(ManifestError, match=re.escape("data/part-1.csv.gz unreadable")):
        read_all(inventory_s3(manifest_document(), {}))


# ---------------------------------------------------------------- the messages


@pytest.mark.parametrize(
    "key",
    [
        "paypal/transactions/2021/07/01/page 0001 été+bonus 100%.json",
        "reference/vat_rates/vat rates(2021).tsv",
        "payments/exports/~tilde/&amp;/a=b?c#d.csv",
    ],
)
def test_each_message_is_an_s3_notification_the_handler_reads_back_as_the_same_file(key: str) -> None:
    ref = FileRef.of(LAKE, key, '"0123456789abcdef"', 2048, "2021-07-01T10:00:00.125+00:00")

    body = message_body(ref, region="eu-west-2", serial=7)

    (read,) = lambda_handler.file_refs(lambda_handler._s3_event_of_message(body))
    assert read == ref
    assert (read.size, read.event_time) == (2048, "2021-07-01T10:00:00.125+00:00")
    record = json.loads(body)["Records"][0]
    assert record["eventTime"] == "2021-07-01T10:00:00.125Z"
    assert record["s3"]["object"]["eTag"] == "0123456789abcdef"
    assert " " not in record["s3"]["object"]["key"]
    assert record["s3"]["configurationId"] == backfill.SENDER


# ---------------------------------------------------------------- sending


class FakeSQS:
    """The SQS calls of a backfill; ``refuse`` maps a message's key to the failures it meets first."""

    def __init__(self, refuse: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.refuse = refuse or {}

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803
        if QueueName != "payments-lake-events":
            raise ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no queue"}},
                "GetQueueUrl",
            )
        return {"QueueUrl": "https://sqs.eu-west-2.amazonaws.com/123456789012/payments-lake-events"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"Attributes": {"QueueArn": "arn:aws:sqs:eu-west-2:123456789012:payments-lake-events"}}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(Entries)
        failed = []
        for entry in Entries:
            key = json.loads(entry["MessageBody"])["Records"][0]["s3"]["object"]["key"]
            if self.refuse.get(key):
                failed.append({"Id": entry["Id"], **self.refuse[key].pop(0)})
        ids = {f["Id"] for f in failed}
        return {"Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in ids], "Failed": failed}

    def keys_sent(self) -> list[str]:
        return [
            json.loads(entry["MessageBody"])["Records"][0]["s3"]["object"]["key"]
            for call in self.calls
            for entry in call
        ]


def lake_with(count: int) -> tuple[FakeLake, list[FileRef]]:
    lake = FakeLake()
    refs = [lake.put(LAKE, f"paypal/transactions/part-{n:03d}", f"{n}\n".encode()) for n in range(count)]
    return lake, refs


def loaded(ledger: FakeLedger, ref: FileRef) -> None:
    claim = ledger.claim(ref, "paypal_transactions", "raw.paypal_transactions")
    ledger.complete(
        claim, LoadOutcome("paypal_transactions", "raw.paypal_transactions", 1, 1, 0, "job-1", "ndjson")
    )


def test_new_files_go_ten_to_a_call_and_what_the_ledger_has_is_skipped() -> None:
    lake, refs = lake_with(28)
    ledger = FakeLedger()
    for ref in refs[:3]:
        loaded(ledger, ref)
    sqs = FakeSQS()
    progress: list[int] = []

    result = run_backfill(
        lake=lake, ledger=ledger, sqs=sqs, s3=None, queue="payments-lake-events", bucket=LAKE,
        on_progress=progress.append,
    )  # fmt: skip

    assert [len(call) for call in sqs.calls] == [10, 10, 5]
    assert all(len({e["Id"] for e in call}) == len(call) for call in sqs.calls)
    assert sqs.keys_sent() == [r.key for r in refs[3:]]
    assert (result.listed, result.already_in_ledger, result.to_enqueue, result.enqueued) == (28, 3, 25, 25)
    assert (result.send_calls, result.failed) == (3, [])
    assert sum(progress) == 28
    assert ledger.get(refs[3]) is None  # nothing claimed: the function does that when the message comes
    assert ledger.get(refs[0]).status == Status.LOADED


def test_a_dry_run_counts_and_sends_nothing() -> None:
    lake, _ = lake_with(12)
    sqs = FakeSQS()

    result = run_backfill(
        lake=lake,
        ledger=FakeLedger(),
        sqs=sqs,
        s3=None,
        queue="payments-lake-events",
        bucket=LAKE,
        dry_run=True,
    )

    assert sqs.calls == []
    assert (result.listed, result.to_enqueue, result.enqueued) == (12, 12, 0)


def test_entries_sqs_refused_on_its_side_are_retried_and_sender_faults_are_reported() -> None:
    lake, refs = lake_with(10)
    throttled = {"Code": "InternalError", "Message": "try again", "SenderFault": False}
    sqs = FakeSQS(
        {
            refs[2].key: [throttled, throttled],
            refs[5].key: [{"Code": "InvalidParameterValue", "Message": "too big", "SenderFault": True}],
            refs[7].key: [throttled] * 9,
        }
    )
    pauses: list[float] = []

    result = run_backfill(
        lake=lake, ledger=FakeLedger(), sqs=sqs, s3=None, queue="payments-lake-events", bucket=LAKE,
        sleep=pauses.append,
    )  # fmt: skip

    assert [len(call) for call in sqs.calls] == [10, 2, 2, 1, 1]
    assert sqs.keys_sent().count(refs[2].key) == 3
    assert result.enqueued == 8
    assert result.failed == [
        {"uri": refs[5].uri, "reason": "InvalidParameterValue: too big"},
        {"uri": refs[7].uri, "reason": "InternalError: try again (after 5 attempts)"},
    ]
    assert pauses == sorted(pauses) and len(pauses) == 4


def test_more_than_ten_messages_per_call_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at most 10"):
        send_batch(FakeSQS(), "url", [(FileRef.of(LAKE, "k", "e"), "{}")] * 11)


def test_a_manifest_backfill_filters_by_prefix_and_checks_the_bucket() -> None:
    key = "inv/payments-lake/daily/data/part-1.csv.gz"
    s3 = inventory_s3(manifest_document(), {key: gzip.compress((PART_1 + PART_2).encode())})
    sqs = FakeSQS()

    result = run_backfill(
        lake=FakeLake(), ledger=FakeLedger(), sqs=sqs, s3=s3, queue="payments-lake-events",
        manifest_uri=MANIFEST_URI, prefix="payments/",
    )  # fmt: skip

    assert sqs.keys_sent() == ["payments/exports/2021/07/02/a%2Bb%25.csv"]
    assert (result.listed, result.noncurrent, result.enqueued) == (1, 2, 1)
    with pytest.raises(BackfillError, match=f"lists bucket {LAKE}, not other-lake"):
        run_backfill(
            lake=FakeLake(), ledger=FakeLedger(), sqs=sqs, s3=s3, queue="payments-lake-events",
            manifest_uri=MANIFEST_URI, bucket="other-lake",
        )  # fmt: skip


# ---------------------------------------------------------------- what a person sees


def test_no_such_queue_fails_before_anything_is_listed() -> None:
    class Unlisted(FakeLake):
        def list_objects(self, *args: Any, **kwargs: Any) -> list[FileRef]:
            raise AssertionError("listed before the queue was checked")

    with pytest.raises(BackfillError, match=r"^no such queue: nope$"):
        run_backfill(lake=Unlisted(), ledger=FakeLedger(), sqs=FakeSQS(), s3=None, queue="nope", bucket=LAKE)


def test_no_such_bucket_is_a_backfill_error() -> None:
    from ingest.core.errors import ObjectGone

    class Bucketless(FakeLake):
        def list_objects(self, bucket: str, *args: Any, **kwargs: Any) -> list[FileRef]:
            raise ObjectGone(f"bucket {bucket} does not exist")

    with pytest.raises(BackfillError, match="bucket nowhere does not exist"):
        run_backfill(
            lake=Bucketless(), ledger=FakeLedger(), sqs=FakeSQS(), s3=None, queue="payments-lake-events",
            bucket="nowhere",
        )  # fmt: skip


def test_the_command_turns_an_expected_failure_into_one_line_and_exit_code_2(monkeypatch, capsys) -> None:
    def refuse(**kwargs: Any) -> None:
        raise BackfillError("no such queue: payments-lake-events")

    monkeypatch.setattr(backfill, "run_backfill", refuse)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")  # clients are built, never called

    code = main(["backfill", "--bucket", LAKE])

    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == "backfill: no such queue: payments-lake-events"
    assert "Traceback" not in err


def test_the_command_reports_a_missing_aws_setup_in_one_line_too(monkeypatch, capsys) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = main(["backfill", "--bucket", LAKE])

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("no AWS region is set; set AWS_DEFAULT_REGION")
    assert "\n" not in err
