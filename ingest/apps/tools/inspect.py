"""Look at one raw file as the pipeline would read it: format, columns, errors, what would load.

``inspect_file`` reads a local path or ``s3://bucket/key`` as a stream and keeps only aggregates
(``profiling``: a type and a null count per field), the first rows as a masked sample and the
first errors, so a file of any size fits in memory. Given a pipeline it also puts the file
through ingestion's own steps (``dry_run``) and counts what would load and what would be
quarantined; nothing is written anywhere. The pipeline's columns are looked for in the rows its
transform makes (an exchange-rates object becomes one row per currency), not in the raw record.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from ingest.apps.tools.country_codes import CountryCodeIssue
from ingest.apps.tools.masking import MAX_DEPTH
from ingest.apps.tools.profiling import MAX_COLUMNS, MAX_LISTED, ColumnProfile, Profiler, RowError
from ingest.apps.tools.targets import AUTO, InspectError, choose_pipeline, open_target
from ingest.core.coerce.privacy import mask_free_text
from ingest.core.config import Pipeline
from ingest.core.drift_columns import DriftFile, columns_to_add
from ingest.core.errors import IngestError, InternalError, MalformedFile, NoValidRows
from ingest.core.formats.detect import Detected
from ingest.core.formats.reader import read_rows
from ingest.core.settings import Settings

DEFAULT_SAMPLE = 5
IN_MEMORY_COPY_BYTES = 8 << 20
"""An S3 body checked with a pipeline is read twice, from a copy: in memory up to this size."""
TRANSFORM_INPUTS = {
    "ingest.core.transforms.paypal:flatten_transaction": {"cart_items": "cart_info.item_details"},
    "ingest.core.transforms.exchange_rates:exchange_rate_rows": {
        "base_currency": "base",
        "currency_code": "rates (each key)",
        "rate": "rates (each value)",
        "rates_at": "timestamp",
    },
}
"""What each shipped transform reads to make the columns it adds, for the people reading a check
(the YAML names every other column's source itself)."""


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
        # A file's error may quote a value it refused (NoValidRows quotes its first row's
        # reason): contact details in it are masked, as in every quarantine reason shown.
        return cls(err.error_type, mask_free_text(str(err)))


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
    """Required columns absent from the CSV header, or never given a value in any row (after the
    transform)."""
    unmatched_columns: list[str]
    """Optional columns whose source never appears: a typo there silently loads nulls."""
    file_error: FileError | None
    """Why the pipeline would fail the whole file (then nothing loads)."""
    derived_columns: dict[str, str] = field(default_factory=dict)
    """Columns the pipeline's transform makes (not in the raw records) -> what it makes them from."""
    added_columns: list[str] = field(default_factory=list)
    """Under ``schema_drift: add_columns``: the columns this file's fields would add ("name TYPE"),
    unless the table has them already (inspect does not read the table)."""


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
    country_codes: list[CountryCodeIssue] = field(default_factory=list)
    """Values of country-code fields that are not ISO 3166-1 alpha-2 (``UK`` for ``GB``)."""

    @property
    def ok(self) -> bool:
        """The file reads, and loads under the pipeline if one was given (rows with every
        required column: a load refuses the others)."""
        check = self.pipeline
        return self.file_error is None and (
            check is None or (check.file_error is None and not check.missing_columns)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profile(
    stream: IO[bytes], pipeline: Pipeline | None, sample: int
) -> tuple[Profiler, Detected | None, FileError | None]:
    profile = Profiler(sample, pipeline.transform_function() if pipeline else None)
    detected: Detected | None = None
    try:
        # The bounds a load would read the file within: past them, a load fails it as a whole.
        pinned_format = pipeline.format if pipeline else AUTO
        detected, rows = read_rows(stream, pinned_format, limits=Settings.from_env().limits)
        profile.start(detected.header)
        profile.observe(rows)
    except IngestError as err:
        return profile, detected, FileError.of(err)
    except (RecursionError, OverflowError) as err:
        return profile, detected, FileError.of(_beyond_limits(err))
    if profile.rows and profile.error_rows == profile.rows:
        # Under any pipeline such a file fails as a whole, so it is a file error here too.
        first = profile.errors[0]
        message = f"none of {profile.rows} rows can be read; row {first.row}: {first.error}"
        return profile, detected, FileError.of(NoValidRows(message))
    return profile, detected, None


def _beyond_limits(err: RecursionError | OverflowError) -> MalformedFile:
    """As ingestion records it (``ingestion.failure.as_ingest_error``): reading the same bytes
    again meets the same limit, so the file is malformed, not the tool broken."""
    return MalformedFile(f"the file does not read within Python's limits ({type(err).__name__}: {err})")


def _check(
    stream: IO[bytes],
    source: str,
    pipeline: Pipeline,
    profile: Profiler,
    detected: Detected | None,
    read_error: FileError | None,
) -> PipelineCheck:
    """What a load would do, from ingestion's own steps over the file (read again from the start).

    A file that cannot be read fails under any pipeline, with the error the profile met reading it.
    """
    from ingest.apps.tools.dry_run import dry_run, quarantined_rows
    from ingest.core.prepare import CHUNK_ROWS, Tally

    tally, quarantined, error = Tally(), [], read_error
    added: list[str] = []
    with contextlib.ExitStack() as temporary:
        try:
            prepared = dry_run(stream, pipeline, source, None, temporary)
            tally = prepared.tally
            if pipeline.schema_drift == "add_columns" and tally.extra_fields:
                drifting = DriftFile(source, frozenset(tally.extra_fields), prepared.batches(CHUNK_ROWS))
                added = [f"{c.column.name} {c.column.type}" for c in columns_to_add(pipeline, [drifting])[0]]
            listed = itertools.islice(quarantined_rows(prepared), MAX_LISTED)
            # A reason quotes the value it refused, which may be a note holding an address.
            quarantined = [Quarantined(row, mask_free_text(reason)) for row, reason in listed]
            prepared.raise_if_file_fails()
        except IngestError as err:
            error = error or FileError.of(err)
        except (RecursionError, OverflowError) as err:
            error = error or FileError.of(_beyond_limits(err))
        except Exception as err:
            # ingest_file records an unexpected error as a retryable InternalError
            # (ingestion.failure.as_ingest_error), so that is what a load would do.
            error = error or FileError.of(InternalError(f"{type(err).__name__}: {err}"))
    missing: list[str] = []
    unmatched: list[str] = []
    derived: dict[str, str] = {}
    header = detected.header if detected else None
    # A header is checked as the load checks it, before the transform; records after it. A file
    # the transform refuses throughout fails with its reason: no column is missing from nothing.
    compared = detected is not None and (
        header is not None or profile.transform is None or profile.transformed
    )
    inputs = TRANSFORM_INPUTS.get(pipeline.transform or "", {})
    for column in pipeline.columns if compared else ():
        source_name = column.source or column.name
        present = source_name in header if header is not None else profile.has_value(source_name)
        if not present:
            (missing if column.required else unmatched).append(source_name)
        elif header is None and profile.transform is not None and not profile.has_raw_value(source_name):
            derived[column.name] = inputs.get(column.name, f"the transform {pipeline.transform}")
    return PipelineCheck(
        name=pipeline.name,
        table=pipeline.table_id,
        would_load=0 if error else tally.rows_loaded,
        would_quarantine=tally.rows_quarantined,
        quarantined=quarantined,
        extra_fields=sorted(tally.extra_fields),
        missing_columns=missing,
        unmatched_columns=unmatched,
        file_error=error,
        derived_columns=derived,
        added_columns=added,
    )


def inspect_stream(
    stream: IO[bytes],
    source: str,
    pipeline: Pipeline | None = None,
    sample: int = DEFAULT_SAMPLE,
    size: int | None = None,
    etag: str | None = None,
) -> Report:
    """Profile one stream of file bytes, checking it against ``pipeline`` if given.

    With a pipeline the bytes are read twice, profiled and then put through ``dry_run``; a
    stream that cannot seek back (an S3 body) is copied to a temporary file first.
    """
    with contextlib.ExitStack() as temporary:
        if pipeline is not None and not stream.seekable():
            copy = temporary.enter_context(tempfile.SpooledTemporaryFile(IN_MEMORY_COPY_BYTES))
            shutil.copyfileobj(stream, copy)
            copy.seek(0)
            stream = copy
        profile, detected, file_error = _profile(stream, pipeline, sample)
        check = None
        if pipeline is not None:
            stream.seek(0)
            check = _check(stream, source, pipeline, profile, detected, file_error)

    header = detected.header if detected else None
    warnings = [f"header column {i} has no name" for i, name in enumerate(header or (), 1) if not name]
    if profile.overflow:
        warnings.append(f"more than {MAX_COLUMNS} distinct fields; fields past those are not profiled")
    if profile.too_deep:
        warnings.append(
            f"{profile.too_deep} record(s) cut at {MAX_DEPTH} levels of nesting (first: row "
            f"{profile.first_too_deep}): deeper objects are profiled as one JSON value and not shown"
        )
    if profile.error_rows > len(profile.errors):
        warnings.append(f"listing the first {len(profile.errors)} of {profile.error_rows} row errors")
    if check and check.would_quarantine > len(check.quarantined):
        warnings.append(f"listing the first {len(check.quarantined)} quarantined rows")
    country_codes = profile.country_codes.issues()
    warnings.extend(
        f"{issue.field}: {issue.value!r} in {issue.rows:,} row(s) (first: row {issue.first_row}): "
        f"{issue.problem}"
        for issue in country_codes
    )
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
        pipeline=check,
        country_codes=country_codes,
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
