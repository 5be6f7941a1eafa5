"""Small lake objects read whole by a native client: obstore (Rust's ``object_store``).

A GET through botocore costs 2.5-3 ms of our CPU (building, signing and parsing the request and
streaming the body through Python), more than reading a 100-record page; obstore's costs
0.4-0.5 ms and waits outside the GIL (``make bench`` and docs/benchmarks.md). boto3
stays for everything else: large objects (streamed, so memory stays bounded), writes, listings.

Same credentials, region and endpoint as the boto3 S3 client: obstore asks boto3's credential
chain (profiles, SSO, the Lambda role) and is pointed at the endpoint boto3 resolved
(``AWS_ENDPOINT_URL``), path-style off AWS as botocore does.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ingest.core.errors import ObjectChanged, ObjectGone, TransientError
from ingest.core.model import FileRef

if TYPE_CHECKING:
    from obstore.store import S3Credential, S3Store

WHOLE_READ_BYTES = 8 << 20
"""Objects up to this size are read whole into memory (eight readers at once: at most 64 MB)."""

# obstore asks again after this long. botocore refreshes temporary credentials 15 minutes before
# they expire, so the frozen ones it hands out are good for longer than this.
CREDENTIALS_TTL = timedelta(minutes=5)
# object_store normalises what S3 keeps apart: it drops a leading or trailing "/" (another
# object's key) and refuses empty, "." and ".." segments and control characters. Such keys go
# through boto3, which sends any key as it is.
_UNSAFE_KEY = re.compile(r"\A/|/\Z|//|(?:\A|/)\.{1,2}(?:/|\Z)|[\x00-\x1f\x7f]")
# A stalled read fails after READ_TIMEOUT and is retried; a whole request (at most
# WHOLE_READ_BYTES) gets REQUEST_TIMEOUT; retries stop after RETRY_TIMEOUT, then the file's
# failure is a TransientError, retried by the queue as botocore's would be.
CONNECT_TIMEOUT, READ_TIMEOUT, REQUEST_TIMEOUT = "5s", "20s", "60s"
MAX_RETRIES, RETRY_TIMEOUT = 4, timedelta(seconds=60)


def may_read_natively(ref: FileRef) -> bool:
    """Whether ``ref`` is small, of known size, and named as object_store names it."""
    return ref.size is not None and 0 <= ref.size <= WHOLE_READ_BYTES and not _UNSAFE_KEY.search(ref.key)


class NativeReads:
    """Whole-object GETs of exactly an announced version, one obstore store per bucket."""

    def __init__(self, s3: Any) -> None:
        from ingest.adapters.clients import aws_session

        credentials = aws_session().get_credentials()
        if credentials is None:
            raise TransientError("no AWS credentials found (environment, profile or role)")
        self._credentials = credentials
        self._region = s3.meta.region_name
        self._endpoint = s3.meta.endpoint_url
        self._stores: dict[str, S3Store] = {}
        self._lock = threading.Lock()

    def read(self, ref: FileRef) -> memoryview | None:
        """The announced version's bytes, or ObjectGone / ObjectChanged / TransientError; None,
        before its body is read, for an object larger than ``WHOLE_READ_BYTES`` (an event that
        understated its size: the caller streams it instead of holding it)."""
        import obstore
        from obstore.exceptions import BaseError, PreconditionError

        try:
            result = obstore.get(self._store(ref.bucket), ref.key, options={"if_match": ref.etag})
            if result.meta["size"] > WHOLE_READ_BYTES:
                return None
            return memoryview(result.bytes())
        except FileNotFoundError as err:
            raise ObjectGone.at(ref.uri) from err
        except PreconditionError as err:
            raise ObjectChanged.at(ref.uri, ref.etag) from err
        except (BaseError, OSError) as err:  # throttling, 5xx, timeouts, access: as botocore's
            raise TransientError(f"reading {ref.uri} failed: {_first_line(err)}") from err

    def _store(self, bucket: str) -> S3Store:
        with self._lock:
            store = self._stores.get(bucket)
            if store is None:
                store = self._stores[bucket] = self._new_store(bucket)
            return store

    def _new_store(self, bucket: str) -> S3Store:
        from obstore.store import S3Store

        client = {
            "allow_http": self._endpoint.startswith("http://"),
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "timeout": REQUEST_TIMEOUT,
        }
        retry = {"max_retries": MAX_RETRIES, "retry_timeout": RETRY_TIMEOUT}
        return S3Store(
            bucket,
            client_options=client,  # type: ignore[arg-type]  # the TypedDict's keys, built here
            retry_config=retry,  # type: ignore[arg-type]
            credential_provider=self._credential,
            **placement(self._endpoint, self._region, bucket),
        )

    def _credential(self) -> S3Credential:
        frozen = self._credentials.get_frozen_credentials()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + CREDENTIALS_TTL,
        }


def placement(endpoint: str, region: str, bucket: str) -> dict[str, Any]:
    """Where obstore sends a bucket's requests, from the endpoint boto3 resolved."""
    host = urlsplit(endpoint).hostname or ""
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        # AWS: the bucket in the host name, as botocore sends it, except for a bucket name with
        # dots, which AWS's TLS certificates do not cover (botocore goes path-style for it too).
        return {"region": region, "virtual_hosted_style_request": "." not in bucket}
    # Not AWS (moto, MinIO, LocalStack): path-style requests to that endpoint.
    return {"region": region, "endpoint": endpoint, "virtual_hosted_style_request": False}


def _first_line(err: Exception) -> str:
    """obstore's messages run to a page of debug output; the first line says what happened."""
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
