"""Look at one raw file as the pipeline would read it: format, columns, errors, what would load.

``inspect_file`` reads a local path or ``s3://bucket/key`` once, as a stream, and keeps only
aggregates (a type and a null count per field), the first rows as a masked sample and the first
errors, so a file of any size fits in memory. Given a pipeline it also coerces the rows the way
``ingest_file`` does, in batches, and counts what would load and what would be quarantined;
nothing is written anywhere.

Types are inferred per field over all rows. JSON numbers, booleans and arrays keep their JSON
type; text (every CSV field, every JSON string) is typed by its content, so ``"19.99"`` is
NUMERIC and ``"2021-07-01T10:00:00Z"`` a TIMESTAMP. Nested objects become dotted paths.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from ingest.core.config import Pipeline, load_pipelines, route
from ingest.core.errors import IngestError, MissingColumn, NoValidRows, UnknownPipeline
from ingest.core.formats import Detected, ParsedRow, read_rows

DEFAULT_SAMPLE = 5
MAX_LISTED = 100
"""Errors and quarantined rows listed in a report; all of them are counted."""
MAX_COLUMNS = 1000
"""Distinct fields profiled; a file with more (keys that are data) gets a warning instead."""
COERCE_BATCH = 1000
"""Rows coerced at a time in pipeline mode, so memory stays flat however long the file is."""
AUTO = "auto"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NUMERIC_INTEGER_DIGITS, NUMERIC_SCALE = 29, 9
_NUMBERS = {"INT64", "NUMERIC", "FLOAT64"}
_INTEGER = re.compile(r"[+-]?(0|[1-9]\d*)")  # no leading zeros: "007" is a code, not a number
_DECIMAL = re.compile(r"[+-]?(\d+)\.(\d+)")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

# Personal data never shown in a sample: any key holding "email", IP addresses, and names and
# addresses under the PayPal parents that carry them (payer_name is an object of given_name...).
_PERSONAL_PARENTS = {"payer_info", "shipping_info"}
_NAME_KEYS = {"payer_name", "given_name", "surname", "alternate_full_name", "full_name", "name", "address"}
_ALWAYS_MASKED = {"payer_name", "ip_address"}


class InspectError(Exception):
    """The request itself is wrong (no such file, bad URI, unknown pipeline), not the file."""


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    """Field name; nested JSON objects as dotted paths."""
    type: str
    """BigQuery type that holds every value seen; STRING when only nulls were seen."""
    nulls: int
    """Rows whose value is null, empty or absent."""


@dataclass(frozen=True)
class RowError:
    row: int
    """Record number as the pipeline counts it (``_source_row``, quarantine ``row``)."""
    error: str


@dataclass(frozen=True)
class Quarantined:
    row: int
    reason: str


@dataclass(frozen=True)
class FileError:
    error_type: str
    message: str

    @classmethod
    def of(cls, err: IngestError) -> FileError:
        return cls(err.error_type, str(err))


@dataclass(frozen=True)
class PipelineCheck:
    """What ``ingest_file`` would do with the file under one pipeline (without loading it)."""

    name: str | None
    table: str | None
    would_load: int
    would_quarantine: int
    quarantined: list[Quarantined]
    extra_fields: list[str]
    """Fields outside the schema that would go to ``_extra`` (drift)."""
    missing_columns: list[str]
    """Required columns absent from the CSV header, or never given a value in any record."""
    unmatched_columns: list[str]
    """Optional columns whose source never appears: a typo there silently loads nulls."""
    file_error: FileError | None
    """Why the pipeline would fail the whole file (then nothing loads)."""


@dataclass(frozen=True)
class Report:
    source: str
    bytes: int | None
    etag: str | None
    format: str | None
    compression: str | None
    encoding: str | None
    delimiter: str | None
    header: list[str] | None
    rows: int
    """Records read, with or without errors (data rows for CSV)."""
    rows_with_errors: int
    columns: list[ColumnProfile]
    errors: list[RowError]
    sample: list[dict[str, Any]]
    """``{"row": n, "record": {...}}`` of the first good rows, personal data masked."""
    warnings: list[str]
    file_error: FileError | None
    """Why the file cannot be read as a whole; the counts above cover what was read before."""
    pipeline: PipelineCheck | None

    @property
    def ok(self) -> bool:
        """The file reads, and loads under the pipeline if one was given."""
        return self.file_error is None and (self.pipeline is None or self.pipeline.file_error is None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- type inference -----------------------------------------------------------------------


def text_type(text: str) -> str:
    """The narrowest BigQuery type that holds this text as the pipeline would coerce it."""
    value = text.strip()
    if value.lower() in {"true", "false"}:
        return "BOOL"
    if _INTEGER.fullmatch(value):
        return "INT64" if INT64_MIN <= int(value) <= INT64_MAX else _numeric_or_float(value, "")
    if decimal := _DECIMAL.fullmatch(value):
        return _numeric_or_float(decimal.group(1), decimal.group(2))
    if _FLOAT.fullmatch(value):
        return "FLOAT64"
    if _DATE.fullmatch(value) and _parses(date.fromisoformat, value):
        return "DATE"
    if _TIMESTAMP.match(value) and _parses(datetime.fromisoformat, value):
        return "TIMESTAMP"
    return "STRING"


def _numeric_or_float(integer: str, fraction: str) -> str:
    digits = len(integer.lstrip("+-").lstrip("0"))
    fits = digits <= NUMERIC_INTEGER_DIGITS and len(fraction.rstrip("0")) <= NUMERIC_SCALE
    return "NUMERIC" if fits else "FLOAT64"


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def value_type(value: Any) -> str | None:
    """BigQuery type of one JSON or CSV value; None for null and empty text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64" if INT64_MIN <= value <= INT64_MAX else "NUMERIC"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, str):
        return text_type(value)
    return "JSON"


def merge_types(seen: str | None, new: str) -> str:
    """The type that holds values of both types (a small lattice; STRING holds anything)."""
    if seen is None or seen == new:
        return new
    pair = {seen, new}
    if pair <= _NUMBERS:
        return "FLOAT64" if "FLOAT64" in pair else "NUMERIC"
    if pair == {"DATE", "TIMESTAMP"}:
        return "TIMESTAMP"
    return "JSON" if "JSON" in pair else "STRING"


def flatten(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf; arrays are leaves and an empty object is a null."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, None if isinstance(value, dict) else value


# --- masking ------------------------------------------------------------------------------


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` safe to show: emails, payer and shipping names and IPs masked."""
    return _mask_children(record, ())


def _mask_children(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    return {key: _mask_field(key, value, path) for key, value in record.items()}


def _mask_field(key: str, value: Any, path: tuple[str, ...]) -> Any:
    name = key.lower()
    under_personal = any(parent in _PERSONAL_PARENTS for parent in path)
    if "email" in name or name in _ALWAYS_MASKED or (under_personal and name in _NAME_KEYS):
        return mask_value(value)
    if isinstance(value, dict):
        return _mask_children(value, (*path, name))
    if isinstance(value, list):
        return [_mask_children(v, (*path, name)) if isinstance(v, dict) else v for v in value]
    return value


def mask_value(value: Any) -> Any:
    """``jane@example.com`` -> ``j***@example.com``, ``Jane`` -> ``J***``; objects leaf by leaf."""
    if value is None or value == "":
        return value
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if not isinstance(value, str):
        return "***"
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else f"{value[:1]}***"


# --- reading ------------------------------------------------------------------------------


class _Profiler:
    """Aggregates over a row stream: per-field type and fill count, first errors, sample."""

    def __init__(self, sample_size: int) -> None:
        self.sample_size = sample_size
        self.types: dict[str, str | None] = {}
        self.filled: dict[str, int] = {}
        self.rows = self.records = self.error_rows = 0
        self.errors: list[RowError] = []
        self.sample: list[dict[str, Any]] = []
        self.overflow = False

    def start(self, header: Iterable[str] | None) -> None:
        for name in header or ():
            self._add_column(name)

    def observe(self, rows: Iterable[ParsedRow]) -> Iterator[ParsedRow]:
        for row in rows:
            self._add(row)
            yield row

    def _add(self, row: ParsedRow) -> None:
        self.rows += 1
        if row.record is None:
            self.error_rows += 1
            if len(self.errors) < MAX_LISTED:
                self.errors.append(RowError(row.number, row.error or "unreadable"))
            return
        self.records += 1
        if len(self.sample) < self.sample_size:
            self.sample.append({"row": row.number, "record": mask_record(row.record)})
        for name, value in flatten(row.record):
            if name not in self.types and not self._add_column(name):
                continue
            kind = value_type(value)
            if kind is not None:
                self.filled[name] += 1
                self.types[name] = merge_types(self.types[name], kind)

    def _add_column(self, name: str) -> bool:
        if len(self.types) >= MAX_COLUMNS:
            self.overflow = True
            return False
        self.types[name], self.filled[name] = None, 0
        return True

    def columns(self) -> list[ColumnProfile]:
        return [
            ColumnProfile(name, kind or "STRING", max(0, self.records - self.filled[name]))
            for name, kind in self.types.items()
        ]

    def has_value(self, path: str) -> bool:
        return any((name == path or name.startswith(f"{path}.")) and self.filled[name] for name in self.types)


class _Coercion:
    """Runs the pipeline's coercion over the stream in batches and keeps only the counts."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.would_load = self.would_quarantine = 0
        self.quarantined: list[Quarantined] = []
        self.extra_fields: set[str] = set()
        self.file_error: FileError | None = None

    def run(self, detected: Detected, rows: Iterator[ParsedRow]) -> None:
        from ingest.core.coerce import RecordCoercer  # pyarrow: only when a pipeline is checked
        from ingest.core.transforms import apply_transform

        # Nothing is stored, so pseudonyms only need to be consistent within this run.
        coercer = RecordCoercer(
            self.pipeline, empty_is_null=detected.format == "csv", pseudonym_key=secrets.token_bytes(32)
        )
        if detected.header is not None:
            try:
                coercer.check_header(detected.header)
            except MissingColumn as err:
                self.file_error = FileError.of(err)
                collections.deque(rows, maxlen=0)  # the file fails; still profile it
                return
        for batch in itertools.batched(apply_transform(self.pipeline, rows), COERCE_BATCH, strict=False):
            coerced = coercer.coerce(batch)
            self.would_load += len(coerced.row_numbers)
            self.would_quarantine += len(coerced.rejected)
            room = MAX_LISTED - len(self.quarantined)
            self.quarantined.extend(Quarantined(r.number, r.reason) for r in coerced.rejected[:room])
            self.extra_fields |= coerced.extra_fields

    def result(self, profile: _Profiler, detected: Detected | None, read: FileError | None) -> PipelineCheck:
        error = read or self.file_error
        if error is None and self.would_load == 0 and self.quarantined:
            first = self.quarantined[0]
            error = FileError.of(NoValidRows.among(self.would_quarantine, first.row, first.reason))
        missing: list[str] = []
        unmatched: list[str] = []
        header = detected.header if detected else None
        for column in self.pipeline.columns if detected else ():  # undetected: nothing to compare
            source = column.source or column.name
            present = source in header if header is not None else profile.has_value(source)
            if not present:
                (missing if column.required else unmatched).append(source)
        return PipelineCheck(
            name=self.pipeline.name,
            table=self.pipeline.table_id,
            would_load=0 if error else self.would_load,
            would_quarantine=self.would_quarantine,
            quarantined=self.quarantined,
            extra_fields=sorted(self.extra_fields),
            missing_columns=missing,
            unmatched_columns=unmatched,
            file_error=error,
        )


def inspect_stream(
    stream: IO[bytes],
    source: str,
    pipeline: Pipeline | None = None,
    sample: int = DEFAULT_SAMPLE,
    size: int | None = None,
    etag: str | None = None,
) -> Report:
    """Profile one stream of file bytes (read once), checking it against ``pipeline`` if given."""
    profile = _Profiler(sample)
    coercion = _Coercion(pipeline) if pipeline else None
    detected: Detected | None = None
    file_error = None
    try:
        detected, rows = read_rows(stream, pipeline.format if pipeline else AUTO)
        profile.start(detected.header)
        observed = profile.observe(rows)
        if coercion is None:
            collections.deque(observed, maxlen=0)
        else:
            coercion.run(detected, observed)
    except IngestError as err:
        file_error = FileError.of(err)
    if file_error is None and profile.rows and profile.error_rows == profile.rows:
        # Under any pipeline such a file fails as a whole, so it is a file error here too.
        first = profile.errors[0]
        message = f"none of {profile.rows} rows can be read; row {first.row}: {first.error}"
        file_error = FileError.of(NoValidRows(message))

    header = detected.header if detected else None
    warnings = [f"header column {i} has no name" for i, name in enumerate(header or (), 1) if not name]
    if profile.overflow:
        warnings.append(f"more than {MAX_COLUMNS} distinct fields; fields past those are not profiled")
    if profile.error_rows > len(profile.errors):
        warnings.append(f"listing the first {len(profile.errors)} of {profile.error_rows} row errors")
    if coercion and coercion.would_quarantine > len(coercion.quarantined):
        warnings.append(f"listing the first {len(coercion.quarantined)} quarantined rows")
    return Report(
        source=source,
        bytes=size,
        etag=etag,
        format=detected.format if detected else None,
        compression=detected.compression if detected else None,
        encoding=detected.encoding if detected else None,
        delimiter=detected.delimiter if detected else None,
        header=list(header) if header is not None else None,
        rows=profile.rows,
        rows_with_errors=profile.error_rows,
        columns=profile.columns(),
        errors=profile.errors,
        sample=profile.sample,
        warnings=warnings,
        file_error=file_error,
        pipeline=coercion.result(profile, detected, file_error) if coercion else None,
    )


def inspect_file(
    target: str | Path,
    pipeline: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    s3: Any = None,
    pipelines: tuple[Pipeline, ...] | None = None,
) -> Report:
    """Inspect a local path or ``s3://bucket/key``; ``pipeline`` is a name, ``"auto"`` or None.

    ``"auto"`` routes by the object key (for a local path, by its trailing parts, so a copy of
    the lake layout routes too). Raises InspectError when the request cannot be served.
    """
    if sample < 0:
        raise InspectError(f"sample must be 0 or more, got {sample}")
    text = str(target)
    stream, size, etag, keys = open_target(text, s3)
    chosen, routing_error = None, None
    try:
        if pipeline:
            chosen, routing_error = choose_pipeline(pipeline, keys, pipelines)
        report = inspect_stream(stream, text, chosen, sample, size=size, etag=etag)
    finally:
        stream.close()
    if routing_error is None:
        return report
    unrouted = PipelineCheck(None, None, 0, 0, [], [], [], [], FileError.of(routing_error))
    return replace(report, pipeline=unrouted)


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
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in {"NoSuchKey", "NoSuchBucket", "404"}:
            raise InspectError(f"{uri} does not exist ({code})") from err
        raise
    return response["Body"], response.get("ContentLength"), response.get("ETag", "").strip('"'), [key]


def choose_pipeline(
    name: str, keys: list[str], pipelines: tuple[Pipeline, ...] | None
) -> tuple[Pipeline | None, UnknownPipeline | None]:
    if pipelines is None:
        from ingest.core.settings import Settings

        pipelines = load_pipelines(Settings.from_env().pipelines_dir)
    if name != AUTO:
        by_name = {p.name: p for p in pipelines}
        if name not in by_name:
            raise InspectError(f"no pipeline named {name!r}; known: {', '.join(sorted(by_name))}")
        return by_name[name], None
    for key in keys:
        try:
            return route(key, pipelines), None
        except UnknownPipeline:
            continue
    return None, UnknownPipeline(f"no pipeline matches key {keys[0]!r}")


# --- lake and ledger, for notebooks -------------------------------------------------------


def recent_objects(bucket: str, prefix: str = "", limit: int = 20, s3: Any = None) -> list[dict[str, Any]]:
    """The ``limit`` most recently modified objects under ``prefix``: key, size, last_modified."""
    if s3 is None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    listed = (obj for page in pages for obj in page.get("Contents", []))
    newest = heapq.nlargest(limit, listed, key=lambda obj: obj["LastModified"])
    return [{"key": o["Key"], "size": o["Size"], "last_modified": o["LastModified"]} for o in newest]


def ledger_entries(bucket: str, key: str, ledger: Any = None) -> list[dict[str, Any]]:
    """Ledger items (claims and skipped redeliveries) of every version of one object."""
    if ledger is None:
        from ingest.adapters.clients import aws_client
        from ingest.adapters.dynamodb_ledger import Ledger
        from ingest.core.settings import Settings

        ledger = Ledger(aws_client("dynamodb"), Settings.from_env().ledger_table)
    return [e.item for e in ledger.entries() if e.bucket == bucket and e.key == key]
