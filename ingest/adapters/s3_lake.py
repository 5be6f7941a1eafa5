"""S3 edges: read a lake object as it was announced, keep failed files and quarantined rows.

Error bucket layout (one bucket may serve several lakes, so the source bucket is part of the key):

    failed/<bucket>/<key>                    the failed object, byte for byte
    failed/<bucket>/<key>.error.json         why it failed (ledger key, pipeline, type, message)
    quarantine/<bucket>/<key>.rows.ndjson    rejected rows of a loaded file, one reason per row
    quarantine/<bucket>/<key>.rows.ndjson.error.json   counts of rejected rows by reason
    drift/<bucket>/<key>.extra_fields.json   every field kept in ``_extra``, when the ledger item
                                             (DynamoDB's 400 KB) only lists the first ones

A lake key may itself take S3's whole 1,024 bytes, so ``<area>/<bucket>/<key>`` is fitted to the
limit (``fitted_key``); every sidecar records the original bucket and key.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from datetime import datetime
from typing import IO, Any

from ingest.adapters.clients import aws_error_code
from ingest.adapters.native_reads import NativeReads, may_read_natively
from ingest.core.errors import ObjectChanged, ObjectGone, TransientError
from ingest.core.model import FileRef

MAX_KEY_BYTES = 1024
"""S3's limit on an object key, in bytes of UTF-8."""
SIDECAR_SUFFIX = ".error.json"
_ROWS_SUFFIX = ".rows.ndjson"
_DIGEST = re.compile(r"~[0-9a-f]{64}\Z")


def fitted_key(area: str, ref: FileRef, suffix: str = "") -> str:
    """``<area>/<bucket>/<key><suffix>`` as an S3 key, with room left for its sidecar's suffix.

    When that would pass S3's 1,024 bytes, the head of ``<area>/<bucket>/<key>`` is kept, cut at
    a character, and the tail becomes ``~`` and the SHA-256 of the whole of it: the key stays
    readable, and distinct files never share one. A short key that already ends like that is
    fitted too, so a lake key can never take the name of another one's fitted key.
    """
    natural = f"{area}/{ref.bucket}/{ref.key}"
    room = MAX_KEY_BYTES - len(f"{suffix}{SIDECAR_SUFFIX}".encode())
    if len(natural.encode("utf-8")) <= room and not _DIGEST.search(natural):
        return natural + suffix
    digest = "~" + hashlib.sha256(natural.encode("utf-8")).hexdigest()
    # Cutting the bytes may split a character; "ignore" drops only that partial character.
    head = natural.encode("utf-8")[: room - len(digest)].decode("utf-8", "ignore")
    return head + digest + suffix


def failed_key(ref: FileRef) -> str:
    """Where a failed file's bytes are kept; its sidecar is ``sidecar_key`` of this."""
    return fitted_key("failed", ref)


def quarantine_key(ref: FileRef) -> str:
    """Where a loaded file's rejected rows are kept; their summary is ``sidecar_key`` of this."""
    return fitted_key("quarantine", ref, _ROWS_SUFFIX)


def extra_fields_key(ref: FileRef) -> str:
    """Where the whole list of a loaded file's drift fields is kept when the ledger lists a part."""
    return fitted_key("drift", ref, ".extra_fields.json")


def sidecar_key(kept_key: str) -> str:
    """The ``.error.json`` next to a kept object (``failed_key`` and ``quarantine_key`` leave room)."""
    return kept_key + SIDECAR_SUFFIX


class S3Lake:
    """The ``Lake`` port on S3: lake buckets to read and list, and one error bucket."""

    def __init__(self, s3: Any, error_bucket: str) -> None:
        self.s3 = s3
        self.error_bucket = error_bucket
        self._native: NativeReads | None = None
        self._native_lock = threading.Lock()

    def open(self, ref: FileRef) -> IO[bytes]:
        """A stream of exactly the announced version's bytes, or ObjectGone / ObjectChanged.

        A small object is read whole by the native client (``native_reads``); a large one, or one
        whose key only boto3 sends as it is, is streamed through boto3."""
        from botocore.exceptions import BotoCoreError, ClientError

        if may_read_natively(ref) and (whole := self._native_reads().read(ref)) is not None:
            return io.BytesIO(whole)
        try:
            response = self.s3.get_object(Bucket=ref.bucket, Key=ref.key, IfMatch=f'"{ref.etag}"')
        except ClientError as err:
            code = aws_error_code(err)
            if code in {"NoSuchKey", "404"}:
                raise ObjectGone.at(ref.uri) from err
            if code in {"PreconditionFailed", "412"}:
                raise ObjectChanged.at(ref.uri, ref.etag) from err
            raise TransientError(f"reading {ref.uri} failed: {err}") from err
        except BotoCoreError as err:
            raise TransientError(f"reading {ref.uri} failed: {err}") from err
        body: IO[bytes] = response["Body"]
        return body

    def _native_reads(self) -> NativeReads:
        with self._native_lock:  # the readers of a load group open files at once
            if self._native is None:
                self._native = NativeReads(self.s3)
            return self._native

    def replay_source(self, ref: FileRef) -> FileRef:
        """Where a failed file's bytes are now: the lake if that version is still there, else the
        error bucket's copy (which may be gone too; reading it then fails as ObjectGone)."""
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=ref.bucket, Key=ref.key, IfMatch=f'"{ref.etag}"')
            return ref
        except ClientError:
            pass
        try:
            head = self.s3.head_object(Bucket=self.error_bucket, Key=failed_key(ref))
        except ClientError:
            return ref
        return FileRef.of(self.error_bucket, failed_key(ref), head["ETag"], head.get("ContentLength"))

    def keep_failed_file(self, ref: FileRef, reason: dict[str, Any]) -> str:
        """Copy the failed object into the error bucket unchanged and write its sidecar.

        The copy is conditional on the ETag, so what is kept is the version that failed; when that
        version is gone the sidecar still records why and says the bytes could not be kept.
        """
        from botocore.exceptions import ClientError

        key = failed_key(ref)
        sidecar = {**reason, "bucket": ref.bucket, "key": ref.key}  # the key above may be fitted
        try:
            self.s3.copy_object(
                Bucket=self.error_bucket,
                Key=key,
                CopySource={"Bucket": ref.bucket, "Key": ref.key},
                CopySourceIfMatch=f'"{ref.etag}"',
                MetadataDirective="COPY",
            )
            sidecar["bytes_kept"] = True
        except ClientError as err:
            if aws_error_code(err) not in {"NoSuchKey", "404", "PreconditionFailed", "412"}:
                raise
            sidecar["bytes_kept"] = False
            sidecar["bytes_note"] = (
                f"the failed version no longer exists in {ref.bucket}: {aws_error_code(err)}"
            )
        self._put_json(sidecar_key(key), sidecar)
        return key

    def write_quarantine(self, ref: FileRef, rows_ndjson: IO[bytes], summary: dict[str, Any]) -> str:
        """Upload a loaded file's rejected rows (one JSON object per line, each with its reason)
        and a sidecar summarising the reasons; returns the rows' key."""
        key = quarantine_key(ref)
        rows_ndjson.seek(0)
        self.s3.upload_fileobj(
            rows_ndjson, self.error_bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"}
        )
        self._put_json(sidecar_key(key), {**summary, "bucket": ref.bucket, "key": ref.key})
        return key

    def keep_extra_fields(self, ref: FileRef, document: dict[str, Any]) -> str:
        """Keep ``document`` (a loaded file's whole list of drift fields); its key."""
        key = extra_fields_key(ref)
        self._put_json(key, {**document, "bucket": ref.bucket, "key": ref.key})
        return key

    def _put_json(self, key: str, document: dict[str, Any]) -> None:
        self.s3.put_object(
            Bucket=self.error_bucket,
            Key=key,
            Body=json.dumps(document, indent=2, sort_keys=True).encode("utf-8"),
            ContentType="application/json",
        )

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[FileRef]:
        """Every object under ``prefix`` last modified in [since, until), oldest first.

        Oldest first, so a batch loads versions in the order they landed (reference tables end up
        holding the newest).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        found: list[tuple[datetime, str, FileRef]] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    modified = item["LastModified"]
                    if (since and modified < since) or (until and modified >= until):
                        continue
                    landed = modified.isoformat(timespec="milliseconds")
                    ref = FileRef.of(bucket, item["Key"], item["ETag"], int(item["Size"]), landed)
                    found.append((modified, item["Key"], ref))
        except ClientError as err:
            if aws_error_code(err) == "NoSuchBucket":
                raise ObjectGone(f"bucket {bucket} does not exist") from err
            raise TransientError(f"listing s3://{bucket}/{prefix} failed: {err}") from err
        except BotoCoreError as err:
            raise TransientError(f"listing s3://{bucket}/{prefix} failed: {err}") from err
        return [ref for _, _, ref in sorted(found, key=lambda entry: (entry[0], entry[1]))]
