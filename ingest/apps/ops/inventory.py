"""An S3 Inventory report as the file versions it lists: ``manifest.json`` and its data files.

Shapes as the S3 User Guide documents them ("Amazon S3 Inventory", "Locating your inventory
list"): ``manifest.json`` names ``sourceBucket``, ``destinationBucket`` (an ARN), ``fileFormat``
(CSV, ORC or Parquet), ``fileSchema`` and ``files: [{key, size, MD5checksum}]``, the data files in
the destination bucket. A CSV data file is gzipped, has no header row, holds the ``fileSchema``
columns in order, and URL-encodes the key; a Parquet file names its columns in snake case
(``e_tag``, ``last_modified_date``) and keeps the key as it is. ORC is refused: it would need a
reader the Lambda image does not otherwise carry, and an inventory can be switched to CSV.

Rows that are not the object's current version (a delete marker, or an older version in an
inventory of all versions) are counted and left out: the handler reads a key's current version,
pinned by ETag, so an older version would only fail as ObjectChanged.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from ingest.adapters.clients import aws_error_code
from ingest.core.model import FileRef

FORMATS = ("CSV", "Parquet")
REQUIRED = ("Bucket", "Key", "ETag")
"""Without an ETag no event can pin the version, nor the ledger know the file."""
_PARQUET_COLUMNS = {
    "bucket": "Bucket",
    "key": "Key",
    "size": "Size",
    "last_modified_date": "LastModifiedDate",
    "e_tag": "ETag",
    "is_latest": "IsLatest",
    "is_delete_marker": "IsDeleteMarker",
}
_BUCKET_ARN = re.compile(r"\Aarn:aws[a-z-]*:s3:::")


class ManifestError(Exception):
    """The manifest or a data file it names cannot be used; the message is one line."""


@dataclass(frozen=True)
class Manifest:
    uri: str
    source_bucket: str
    destination_bucket: str
    file_format: str
    columns: tuple[str, ...]
    """CSV: the ``fileSchema`` names in order. Parquet: empty, each file names its columns."""
    files: tuple[str, ...]
    """Keys of the data files in ``destination_bucket``."""


@dataclass
class Counts:
    """What the data files held: current versions as file refs, the rest counted."""

    noncurrent: int = 0


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:] or uri.endswith("/"):
        raise ManifestError(f"expected s3://bucket/key/manifest.json, got {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def parse_manifest(document: Any, uri: str) -> Manifest:
    """Check a parsed ``manifest.json``; ManifestError names what is missing or unsupported."""
    if not isinstance(document, dict):
        raise ManifestError(f"{uri} is not an S3 Inventory manifest (not a JSON object)")
    missing = [f for f in ("sourceBucket", "destinationBucket", "fileFormat", "files") if f not in document]
    if missing:
        raise ManifestError(f"{uri} is not an S3 Inventory manifest: no {', '.join(missing)}")
    file_format = str(document["fileFormat"])
    if file_format.upper() == "ORC":
        raise ManifestError(
            f"{uri}: ORC inventories are not supported; set the inventory's format to CSV or Parquet"
        )
    if file_format.upper() not in {f.upper() for f in FORMATS}:
        raise ManifestError(f"{uri}: unknown inventory fileFormat {file_format!r}")
    file_format = next(f for f in FORMATS if f.upper() == file_format.upper())
    columns: tuple[str, ...] = ()
    if file_format == "CSV":
        columns = tuple(name.strip() for name in str(document.get("fileSchema", "")).split(","))
        absent = [name for name in REQUIRED if name not in columns]
        if absent:
            raise ManifestError(
                f"{uri}: the inventory lacks {', '.join(absent)} "
                f"(fileSchema {document.get('fileSchema')!r}); add the field to the inventory configuration"
            )
    files = document["files"]
    if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("key") for f in files):
        raise ManifestError(f"{uri}: 'files' must be a list of {{key, size, MD5checksum}}")
    return Manifest(
        uri=uri,
        source_bucket=str(document["sourceBucket"]),
        # Documented as an ARN (arn:aws:s3:::bucket); a bare name is accepted too.
        destination_bucket=_BUCKET_ARN.sub("", str(document["destinationBucket"])),
        file_format=file_format,
        columns=columns,
        files=tuple(str(f["key"]) for f in files),
    )


def _utc_iso(text: str) -> str | None:
    """LastModifiedDate (``2022-11-16T00:29:32.000Z``) in the ledger's ISO form, None if empty."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _is_current(row: dict[str, Any]) -> bool:
    # Fields absent from an inventory of current versions only; CSV spells booleans "true"/"false".
    delete_marker = str(row.get("IsDeleteMarker", "")).lower() == "true"
    latest = str(row.get("IsLatest", "true") or "true").lower() != "false"
    return latest and not delete_marker


def _ref(row: dict[str, Any], where: str) -> FileRef:
    bucket, key, etag = (row.get(name) for name in REQUIRED)
    if not bucket or not key or not etag:
        raise ManifestError(f"{where}: a row without Bucket, Key or ETag")
    size = row.get("Size")
    modified = row.get("LastModifiedDate")
    if isinstance(modified, datetime):
        modified = modified.isoformat()
    try:
        return FileRef.of(
            str(bucket),
            str(key),
            str(etag),
            int(size) if size not in (None, "") else None,
            _utc_iso(str(modified or "")),
        )
    except ValueError as err:
        raise ManifestError(f"{where}: unreadable row ({err})") from None


def csv_rows(lines: Iterable[str], columns: tuple[str, ...], where: str, counts: Counts) -> Iterator[FileRef]:
    """The current versions a CSV data file lists (no header; keys URL-encoded)."""
    for number, values in enumerate(csv.reader(lines), start=1):
        if not values:
            continue
        if len(values) != len(columns):
            raise ManifestError(
                f"{where} row {number}: {len(values)} values for the {len(columns)} fields of fileSchema"
            )
        row = dict(zip(columns, values, strict=True))
        if not _is_current(row):
            counts.noncurrent += 1
            continue
        row["Key"] = unquote_plus(row["Key"])
        yield _ref(row, f"{where} row {number}")


def parquet_rows(source: Any, where: str, counts: Counts) -> Iterator[FileRef]:
    """The current versions a Parquet data file lists (``source``: a seekable binary file)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise ManifestError(f"{where}: not a readable Parquet file ({err})") from None
    present = [name for name in _PARQUET_COLUMNS if name in parquet.schema_arrow.names]
    absent = [name for name in ("bucket", "key", "e_tag") if name not in present]
    if absent:
        raise ManifestError(f"{where}: the inventory lacks {', '.join(absent)}")
    for batch in parquet.iter_batches(columns=present, batch_size=10_000):
        for values in batch.to_pylist():
            row = {_PARQUET_COLUMNS[name]: value for name, value in values.items()}
            if not _is_current(row):
                counts.noncurrent += 1
                continue
            yield _ref(row, where)


def read_manifest(s3: Any, uri: str) -> Manifest:
    """Fetch and check ``manifest.json``; ManifestError when it is missing or not one."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        code = aws_error_code(err)
        if code in {"NoSuchKey", "404", "NoSuchBucket"}:
            raise ManifestError(f"no such manifest: {uri} ({code})") from None
        raise ManifestError(f"reading {uri} failed: {code or err}") from None
    try:
        document = json.loads(body)
    except ValueError as err:
        raise ManifestError(f"{uri} is not JSON ({err})") from None
    return parse_manifest(document, uri)


def inventory_refs(s3: Any, manifest: Manifest, counts: Counts) -> Iterator[FileRef]:
    """Every current version the manifest's data files list, file by file, streamed."""
    from botocore.exceptions import ClientError

    for key in manifest.files:
        where = f"s3://{manifest.destination_bucket}/{key}"
        try:
            if manifest.file_format == "Parquet":
                # Parquet's footer is at the end: the file is spooled to disk, then read batch by batch.
                with tempfile.TemporaryFile() as spooled:
                    s3.download_fileobj(manifest.destination_bucket, key, spooled)
                    spooled.seek(0)
                    yield from parquet_rows(spooled, where, counts)
                continue
            body = s3.get_object(Bucket=manifest.destination_bucket, Key=key)["Body"]
        except ClientError as err:
            code = aws_error_code(err)
            raise ManifestError(f"inventory data file {where} unreadable ({code or err})") from None
        # AWS writes CSV inventories gzipped (.csv.gz); a plain .csv is read as it is.
        raw: Any = gzip.GzipFile(fileobj=body) if key.endswith(".gz") else body
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield from csv_rows(text, manifest.columns, where, counts)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise ManifestError(f"inventory data file {where} unreadable ({err})") from None
