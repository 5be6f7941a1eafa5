"""The file a tool looks at: a local path or ``s3://bucket/key``, and the pipeline it is checked with."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from ingest.adapters.clients import aws_error_code
from ingest.core.config import Pipeline, load_pipelines, no_pipeline_named, route
from ingest.core.errors import UnknownPipeline

AUTO = "auto"
"""Pipeline name that routes by the object key, as ingestion does."""


class InspectError(Exception):
    """The request itself is wrong (no such file, bad URI, unknown pipeline), not the file."""


def open_target(target: str, s3: Any = None) -> tuple[IO[bytes], int | None, str | None, list[str]]:
    """A local file or ``s3://bucket/key`` opened for reading: stream, size, ETag, and the keys
    to route it by (for a local path, each of its trailing parts, so a copy of the lake routes)."""
    if target.startswith("s3://"):
        return open_s3(target, s3)
    path = Path(target)
    if not path.is_file():
        raise InspectError(f"{path} is not a file")
    parts = path.resolve().parts[1:]
    return path.open("rb"), path.stat().st_size, None, ["/".join(parts[i:]) for i in range(len(parts))]


def open_s3(uri: str, s3: Any) -> tuple[IO[bytes], int | None, str | None, list[str]]:
    from botocore.exceptions import ClientError

    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InspectError(f"expected s3://bucket/key, got {uri!r}")
    if s3 is None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        code = aws_error_code(err)
        if code in {"NoSuchKey", "NoSuchBucket", "404"}:
            raise InspectError(f"{uri} does not exist ({code})") from err
        raise
    return response["Body"], response.get("ContentLength"), response.get("ETag", "").strip('"'), [key]


def choose_pipeline(
    name: str, keys: list[str], pipelines: tuple[Pipeline, ...] | None
) -> tuple[Pipeline | None, UnknownPipeline | None]:
    """The pipeline called ``name``, or with ``auto`` the one the first routable key routes to.

    An unknown name is a wrong request (InspectError); a file no pipeline routes is a finding
    about the file, returned as the error ingestion would fail it with.
    """
    if pipelines is None:
        from ingest.core.settings import Settings

        pipelines = load_pipelines(Settings.from_env().pipelines_dir)
    if name != AUTO:
        by_name = {p.name: p for p in pipelines}
        if name not in by_name:
            raise InspectError(no_pipeline_named(name, by_name))
        return by_name[name], None
    for key in keys:
        try:
            return route(key, pipelines), None
        except UnknownPipeline:
            continue
    return None, UnknownPipeline(f"no pipeline matches key {keys[0]!r}")
