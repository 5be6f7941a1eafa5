"""Write a generated month to a folder or to S3, file by file, then its manifest."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Protocol

from ingest_devstack.generate.model import GeneratedMonth
from ingest_devstack.generate.month import MonthStream

MANIFEST_NAME = "manifest.json"


class Sink(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


class DirectorySink:
    """``directory/<key>``, folders created as needed."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory

    def put(self, key: str, body: bytes) -> None:
        path = self.directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def __str__(self) -> str:
        return str(self.directory)


class S3Sink:
    """``s3://bucket/prefix/<key>``; the client comes from the environment unless given."""

    def __init__(self, uri: str, client: Any = None) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        if client is None:
            from ingest.adapters.clients import aws_client

            client = aws_client("s3")
        self.client = client

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}{key}", Body=body)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/"); no prefix -> ("bucket", "")."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def open_sink(out: str | pathlib.Path, client: Any = None) -> Sink:
    """A folder, or S3 when ``out`` is an ``s3://`` URI."""
    if isinstance(out, str) and out.startswith("s3://"):
        return S3Sink(out, client)
    return DirectorySink(pathlib.Path(out))


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode()


def write_month(generated: GeneratedMonth, directory: pathlib.Path) -> None:
    """Write each file to ``directory/<key>`` and the manifest to ``directory/manifest.json``."""
    sink = DirectorySink(directory)
    for file in generated.files:
        sink.put(file.key, file.body)
    sink.put(MANIFEST_NAME, manifest_bytes(generated.manifest()))


def publish_month(
    out: str | pathlib.Path,
    year: int,
    month: int,
    *,
    seed: int = 7,
    scale: int = 1,
    payments_per_day: int = 30,
    client: Any = None,
) -> dict[str, Any]:
    """Generate a month straight into ``out`` (folder or ``s3://bucket/prefix``), one file at a
    time so that memory does not grow with ``scale``; write the manifest last and return it."""
    stream = MonthStream(year, month, seed=seed, payments_per_day=payments_per_day, scale=scale)
    sink = open_sink(out, client)
    for file in stream:
        sink.put(file.key, file.body)
    manifest = stream.manifest()
    sink.put(MANIFEST_NAME, manifest_bytes(manifest))
    return manifest
