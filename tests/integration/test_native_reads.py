"""Reading a lake object: small ones whole through obstore, the rest streamed through boto3.

Both paths must give exactly the announced version's bytes, and the same errors: a deleted object
is ObjectGone, an overwritten one ObjectChanged. A key that object_store would normalise (a
trailing or leading "/", an empty, "." or ".." segment, a control character) names another object
there, so it must never take the native path: the test plants that other object next to it.
"""

from __future__ import annotations

import pytest

from ingest.adapters import native_reads
from ingest.adapters.clients import aws_client
from ingest.adapters.s3_lake import S3Lake
from ingest.core.errors import ObjectChanged, ObjectGone
from ingest.core.model import FileRef

pytestmark = pytest.mark.integration

ODD_KEYS = [
    "a b.json",
    "a+b.json",
    "a%20b.json",
    "a%2Fb.json",
    "zahlungsaufträge/日本.json",
    "a#b?c=d&e.json",
    'x{}[]<>|^`"~\\.json',
    "dir/.hidden",
    "dir/...",
    "2021-07-01T10:00:00Z.ndjson.gz",
]
# Each with the object object_store would read instead, which must not be what is read.
NORMALISED_KEYS = {
    "folder/": "folder",
    "/leading": "leading",
    "a//b": "a/b",
    "a/./b": "a/b",
    "a/../b": "b",
    "tab\there": "tabhere",
}


@pytest.fixture
def lake(stack, scratch_bucket: str) -> tuple[S3Lake, str]:
    return S3Lake(aws_client("s3"), error_bucket=scratch_bucket), scratch_bucket


def put(lake: S3Lake, bucket: str, key: str, body: bytes) -> FileRef:
    response = lake.s3.put_object(Bucket=bucket, Key=key, Body=body)
    return FileRef.of(bucket, key, response["ETag"], len(body))


@pytest.fixture(params=["native", "boto3"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either reading path, chosen by the size up to which objects are read whole."""
    if request.param == "boto3":
        monkeypatch.setattr(native_reads, "WHOLE_READ_BYTES", 0)
    return str(request.param)


def test_either_path_reads_exactly_the_announced_bytes(lake, path: str) -> None:
    s3_lake, bucket = lake
    body = b"".join(b'{"n": %d, "text": "\xc3\xa9\\u0000"}\n' % n for n in range(2000))
    ref = put(s3_lake, bucket, "paypal/transactions/page.json", body)

    assert native_reads.may_read_natively(ref) == (path == "native")
    assert s3_lake.open(ref).read() == body


def test_either_path_fails_an_overwritten_object_as_changed(lake, path: str) -> None:
    s3_lake, bucket = lake
    announced = put(s3_lake, bucket, "overwritten.json", b'{"version": 1}\n')
    put(s3_lake, bucket, "overwritten.json", b'{"version": 2}\n')

    with pytest.raises(ObjectChanged, match="changed after its event"):
        s3_lake.open(announced).read()


def test_either_path_fails_a_deleted_object_as_gone(lake, path: str) -> None:
    s3_lake, bucket = lake
    ref = put(s3_lake, bucket, "deleted.json", b'{"n": 1}\n')
    s3_lake.s3.delete_object(Bucket=bucket, Key=ref.key)

    with pytest.raises(ObjectGone, match="no longer exists"):
        s3_lake.open(ref).read()


@pytest.mark.parametrize("key", ODD_KEYS)
def test_keys_with_characters_urls_escape_are_read_natively_and_exactly(lake, key: str) -> None:
    s3_lake, bucket = lake
    body = f"the object named {key}\n".encode()
    ref = put(s3_lake, bucket, key, body)

    assert native_reads.may_read_natively(ref)
    assert s3_lake.open(ref).read() == body


@pytest.mark.parametrize("key", sorted(NORMALISED_KEYS))
def test_a_key_object_store_would_normalise_is_read_through_boto3_as_it_is(lake, key: str) -> None:
    s3_lake, bucket = lake
    put(s3_lake, bucket, NORMALISED_KEYS[key], b"the wrong object\n")
    body = f"the object named {key!r}\n".encode()
    ref = put(s3_lake, bucket, key, body)

    assert not native_reads.may_read_natively(ref)
    assert s3_lake.open(ref).read() == body


def test_an_object_of_unknown_size_is_streamed_through_boto3(lake) -> None:
    s3_lake, bucket = lake
    body = b'{"n": 1}\n'
    put(s3_lake, bucket, "unknown-size.json", body)
    etag = s3_lake.s3.head_object(Bucket=bucket, Key="unknown-size.json")["ETag"]
    ref = FileRef.of(bucket, "unknown-size.json", etag, None)

    assert not native_reads.may_read_natively(ref)
    assert s3_lake.open(ref).read() == body


def test_an_object_larger_than_its_event_said_is_streamed_not_held(lake, monkeypatch) -> None:
    """A message that understates the size (forged, or hand-written) must not make a large object
    land in memory whole: its size is checked before its body is read."""
    s3_lake, bucket = lake
    monkeypatch.setattr(native_reads, "WHOLE_READ_BYTES", 1024)
    body = b'{"n": 1}\n' * 1000
    real = put(s3_lake, bucket, "understated.json", body)
    announced = FileRef.of(bucket, real.key, real.etag, 10)
    reads = native_reads.NativeReads(s3_lake.s3)

    assert native_reads.may_read_natively(announced)
    assert reads.read(announced) is None
    assert s3_lake.open(announced).read() == body
