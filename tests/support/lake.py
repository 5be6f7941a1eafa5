"""``FakeLake``: object versions per (bucket, key, etag), and the error bucket's copies."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from ingest.adapters.s3_lake import extra_fields_key, failed_key, quarantine_key, sidecar_key
from ingest.core.errors import ObjectChanged, ObjectGone
from ingest.core.model import FileRef

EPOCH = datetime(2021, 7, 1, tzinfo=UTC)


class FakeLake:
    """The ``Lake`` port in memory: the current version of each key, every version's bytes."""

    def __init__(self, error_bucket: str = "errors") -> None:
        self.error_bucket = error_bucket
        self.versions: dict[tuple[str, str, str], bytes] = {}
        self.current: dict[tuple[str, str], tuple[str, datetime]] = {}
        """(bucket, key) -> (etag of the version there now, when it landed)."""
        self._landed = 0
        self._lock = threading.Lock()

    # What tests do to the lake

    def put(self, bucket: str, key: str, body: bytes) -> FileRef:
        """Upload ``body`` (S3's ETag of a single-part upload is the MD5 of the bytes)."""
        etag = hashlib.md5(body).hexdigest()
        with self._lock:
            self._landed += 1
            landed = EPOCH + timedelta(seconds=self._landed)
            self.versions[(bucket, key, etag)] = body
            self.current[(bucket, key)] = (etag, landed)
        return FileRef.of(bucket, key, etag, len(body), landed.isoformat(timespec="milliseconds"))

    def delete(self, ref: FileRef) -> None:
        self.current.pop((ref.bucket, ref.key), None)

    def read(self, bucket: str, key: str) -> bytes:
        """The bytes at ``key`` now (the error bucket's included); KeyError if none."""
        etag, _ = self.current[(bucket, key)]
        return self.versions[(bucket, key, etag)]

    def kept(self, ref: FileRef) -> tuple[bytes | None, dict[str, Any]]:
        """The error bucket's copy of a failed file (None if its bytes were not kept) and its sidecar."""
        sidecar = json.loads(self.read(self.error_bucket, sidecar_key(failed_key(ref))))
        body = self.read(self.error_bucket, failed_key(ref)) if sidecar["bytes_kept"] else None
        return body, sidecar

    def quarantined(self, ref: FileRef) -> list[dict[str, Any]]:
        """The quarantined rows of a loaded file, as the error bucket keeps them (one object a line)."""
        text = self.read(self.error_bucket, quarantine_key(ref)).decode()
        return [json.loads(line) for line in text.splitlines() if line]

    def keys(self, bucket: str) -> list[str]:
        return sorted(key for b, key in self.current if b == bucket)

    # The port

    def open(self, ref: FileRef) -> IO[bytes]:
        found = self.current.get((ref.bucket, ref.key))
        if found is None:
            raise ObjectGone(f"{ref.uri} no longer exists (deleted after its event)")
        if found[0] != ref.etag:
            raise ObjectChanged(f"{ref.uri} changed after its event: ETag is no longer {ref.etag}")
        return io.BytesIO(self.versions[(ref.bucket, ref.key, ref.etag)])

    def replay_source(self, ref: FileRef) -> FileRef:
        found = self.current.get((ref.bucket, ref.key))
        if found is not None and found[0] == ref.etag:
            return ref
        copy = self.current.get((self.error_bucket, failed_key(ref)))
        if copy is None:
            return ref
        body = self.versions[(self.error_bucket, failed_key(ref), copy[0])]
        return FileRef.of(self.error_bucket, failed_key(ref), copy[0], len(body))

    def keep_failed_file(self, ref: FileRef, reason: dict[str, Any]) -> str:
        key = failed_key(ref)
        sidecar = {**reason, "bucket": ref.bucket, "key": ref.key}
        found = self.current.get((ref.bucket, ref.key))
        if found is not None and found[0] == ref.etag:
            self._store(key, self.versions[(ref.bucket, ref.key, ref.etag)])
            sidecar["bytes_kept"] = True
        else:
            sidecar["bytes_kept"] = False
            sidecar["bytes_note"] = f"the failed version no longer exists in {ref.bucket}"
        self._store(sidecar_key(key), json.dumps(sidecar, sort_keys=True).encode())
        return key

    def keep_extra_fields(self, ref: FileRef, document: dict[str, Any]) -> str:
        key = extra_fields_key(ref)
        self._store(key, json.dumps({**document, "bucket": ref.bucket, "key": ref.key}).encode())
        return key

    def write_quarantine(self, ref: FileRef, rows_ndjson: IO[bytes], summary: dict[str, Any]) -> str:
        key = quarantine_key(ref)
        rows_ndjson.seek(0)
        self._store(key, rows_ndjson.read())
        self._store(
            sidecar_key(key),
            json.dumps({**summary, "bucket": ref.bucket, "key": ref.key}, sort_keys=True).encode(),
        )
        return key

    def list_objects(
        self, bucket: str, prefix: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[FileRef]:
        found = []
        for (b, key), (etag, landed) in self.current.items():
            if b != bucket or not key.startswith(prefix):
                continue
            if (since and landed < since) or (until and landed >= until):
                continue
            body = self.versions[(b, key, etag)]
            found.append((landed, key, FileRef.of(b, key, etag, len(body), landed.isoformat())))
        return [ref for _, _, ref in sorted(found, key=lambda entry: (entry[0], entry[1]))]

    def _store(self, key: str, body: bytes) -> None:
        self.put(self.error_bucket, key, body)
