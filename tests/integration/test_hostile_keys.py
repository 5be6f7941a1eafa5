"""Hostile keys: a lake key near S3's 1,024-byte limit is still kept in the error bucket.

``failed/<bucket>/`` and ``quarantine/<bucket>/`` in front of such a key (and a suffix behind it)
pass the limit; the error bucket then keys it by a readable head and a SHA-256 of the whole
(``ingest.adapters.s3_lake.fitted_key``), and every reader finds it through the same function.

moto stores keys of any length, so the tests' S3 client refuses, as AWS does, a key longer than
1,024 bytes of UTF-8; without that a key AWS would refuse would pass here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.helpers import orders_ndjson, write_orders_pipeline

from ingest.adapters.bigquery import queries
from ingest.adapters.s3_lake import MAX_KEY_BYTES, failed_key, quarantine_key, sidecar_key
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.runs import replay_failed
from ingest.ingestion.services import Services

pytestmark = pytest.mark.integration

MISSING_AMOUNT = b"order_id,ordered_at\no-1,2021-07-01T10:00:00Z\no-2,2021-07-01T11:00:00Z\n"
HEAD_BYTES = MAX_KEY_BYTES - len(".error.json") - len("~") - 64
"""Bytes of ``failed/<bucket>/<key>`` a fitted failed key keeps."""


def refuse_keys_aws_refuses(s3: Any) -> None:
    """Make ``s3`` answer as AWS does to a key past 1,024 bytes (moto takes any length)."""
    from botocore.exceptions import ClientError

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        key = params.get("Key")
        if isinstance(key, str) and len(key.encode("utf-8")) > MAX_KEY_BYTES:
            error = {"Code": "KeyTooLongError", "Message": "Your key is too long"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, model.name)

    s3.meta.events.register("before-parameter-build.s3", check)


@dataclass
class Lake:
    """This test's bucket and pipelines, with services whose S3 client keeps AWS's key limit.

    CSVs go under ``<prefix>/`` to ``table_id``, NDJSON under ``<prefix>-rows/`` to a table of its
    own, so fixing the CSV pipeline before replay is not undone by a table made before the fix.
    """

    build: Callable[[], Services]
    pipelines_dir: Path
    bucket: str
    prefix: str
    table_id: str

    def services(self) -> Services:
        services = self.build()
        refuse_keys_aws_refuses(services.s3)
        return services

    def put(self, services: Services, key: str, body: bytes) -> FileRef:
        response = services.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return FileRef.of(self.bucket, key, response["ETag"], len(body))

    def long_key(self, top: str, tail: str) -> str:
        """A key of about 1,000 bytes of mixed one-, two- and three-byte characters, whose fitted
        failed key is cut inside a three-byte character."""
        start = f"{top}/zahlungsaufträge/"
        natural_start = f"failed/{self.bucket}/{start}"
        pad = "x" * ((HEAD_BYTES - len(natural_start.encode()) - 1) % 3)  # the cut falls mid-character
        key = f"{start}{pad}{'注' * 320}/{tail}"
        assert 990 <= len(key.encode()) <= MAX_KEY_BYTES
        return key


@pytest.fixture
def lake(make_services, pipelines_dir, prefix, scratch_bucket) -> Lake:
    table_id = write_orders_pipeline(pipelines_dir, prefix)
    write_orders_pipeline(pipelines_dir, f"{prefix}-rows")
    return Lake(make_services, pipelines_dir, scratch_bucket, prefix, table_id)


def error_object(services: Services, key: str) -> bytes:
    return services.s3.get_object(Bucket=services.settings.error_bucket, Key=key)["Body"].read()


def assert_fitted(key: str, area: str, ref: FileRef) -> None:
    """Within S3's limit, with room for the sidecar, and headed by the start of the natural key."""
    natural = f"{area}/{ref.bucket}/{ref.key}"
    assert len(sidecar_key(key).encode()) <= MAX_KEY_BYTES
    assert key != natural and not key.startswith(natural)
    head = key.partition("~")[0]
    assert natural.startswith(head) and len(head.encode()) > 900


def test_a_key_too_long_for_the_error_bucket_is_kept_under_a_fitted_key_and_replays(lake: Lake):
    # GIVEN two CSVs missing a required column, under ~1,000-byte keys differing only at the
    # end, and an NDJSON file with one bad row under another
    services = lake.services()
    first = lake.put(services, lake.long_key(lake.prefix, "orders-1.csv"), MISSING_AMOUNT)
    second_body = MISSING_AMOUNT.replace(b"o-", b"p-")
    second = lake.put(services, lake.long_key(lake.prefix, "orders-2.csv"), second_body)
    rows_key = lake.long_key(f"{lake.prefix}-rows", "orders.ndjson")
    bad_row = lake.put(services, rows_key, orders_ndjson(6, bad_rows=(2,)))

    # WHEN each is ingested
    results = [ingest_file(ref, services) for ref in (first, second, bad_row)]

    # THEN the CSVs fail for good, their bytes and sidecars kept under distinct fitted keys
    assert [(r.status, r.error_type, r.retryable) for r in results] == [
        (Status.FAILED, "MissingColumn", False),
        (Status.FAILED, "MissingColumn", False),
        (Status.LOADED, None, False),
    ], [r.message for r in results]
    for ref, body in ((first, MISSING_AMOUNT), (second, second_body)):
        entry = services.ledger.get(ref)
        assert (entry.status, entry.error_key) == (Status.FAILED, failed_key(ref))
        assert_fitted(entry.error_key, "failed", ref)
        # The cut fell inside a three-byte character, which is left out whole.
        assert len(entry.error_key.partition("~")[0].encode()) == HEAD_BYTES - 1
        assert error_object(services, entry.error_key) == body
        sidecar = json.loads(error_object(services, sidecar_key(entry.error_key)))
        assert (sidecar["bucket"], sidecar["key"], sidecar["error_type"]) == (
            ref.bucket,
            ref.key,
            "MissingColumn",
        )
        assert sidecar["bytes_kept"] is True
    assert failed_key(first) != failed_key(second)
    listed = services.s3.list_objects_v2(
        Bucket=services.settings.error_bucket, Prefix=f"failed/{lake.bucket}/"
    )
    kept = {failed_key(first), failed_key(second)}
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(kept | {sidecar_key(k) for k in kept})

    # AND the NDJSON loads its good rows, its bad row quarantined under a fitted key
    entry = services.ledger.get(bad_row)
    assert (entry.rows_in, entry.rows_loaded, entry.rows_quarantined) == (6, 5, 1)
    assert entry.quarantine_key == quarantine_key(bad_row)
    assert_fitted(entry.quarantine_key.removesuffix(".rows.ndjson"), "quarantine", bad_row)
    assert entry.quarantine_key.endswith(".rows.ndjson")
    (line,) = error_object(services, entry.quarantine_key).decode().splitlines()
    assert json.loads(line)["row"] == 2
    summary = json.loads(error_object(services, sidecar_key(entry.quarantine_key)))
    assert (summary["key"], summary["rows_quarantined"]) == (bad_row.key, 1)

    # WHEN the first CSV is gone from the lake, the pipeline fixed and the failures replayed
    services.s3.delete_object(Bucket=first.bucket, Key=first.key)
    path = lake.pipelines_dir / f"{lake.table_id.split('.')[1]}.yaml"
    path.write_text(
        path.read_text().replace(
            "{name: amount, type: NUMERIC, mode: REQUIRED}", "{name: amount, type: NUMERIC}"
        )
    )
    services = lake.services()
    replayed = dict(replay_failed(services, error_type="MissingColumn", key_contains=f"{lake.prefix}/"))

    # THEN both load, the first from the error bucket's copy under its fitted key
    assert set(replayed) == {first, second}
    for ref in (first, second):
        result = replayed[ref]
        assert (result.status, result.rows_loaded) == (Status.LOADED, 2), result.message
        assert services.ledger.get(ref).status == Status.LOADED
        where = "_source_uri = @uri"
        assert queries.count_rows(services.bigquery, lake.table_id, where, uri=ref.uri) == 2
