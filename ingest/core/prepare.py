"""Turn one file's bytes into a validated Parquet load file and a quarantine file. No cloud I/O.

Read -> transform -> coerce (chunk by chunk into a temporary Parquet file) -> validate with the
pipeline's suite (only the suite's columns, window by window) -> copy the rows that pass.
``ingest.ingestion.flow`` loads the result; ``ingest validate`` only reports it.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.core import arrow_ndjson, drift, spill
from ingest.core.coerce.arrow_casts import to_arrow
from ingest.core.coerce.converters import json_text
from ingest.core.coerce.rows import RecordCoercer, RejectedRow
from ingest.core.config import EXTRA_COLUMN, Lineage, Pipeline
from ingest.core.errors import EmptyFile, LimitExceeded, NoValidRows, ValidationFailed
from ingest.core.formats.detect import Detected
from ingest.core.formats.nesting import may_be_deeper_than
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.formats.reader import open_rows
from ingest.core.limits import MIN_BAD_ROWS_FOR_SHARE, Limits
from ingest.core.spill import SpillFormat, SpillWriter
from ingest.core.transforms.apply import apply_transform, arrow_transform
from ingest.core.validate.results import Validation
from ingest.core.validate.suite import Suite, row_reason

# Records coerced at a time: enough for vectorised Arrow conversion, small enough that a wide
# nested PayPal chunk stays within tens of MB.
CHUNK_ROWS = 10_000
# A file whose coerced rows take at most this much stays in memory (a load group of 250 such
# files: about 64 MB); a larger one is spilled to a temporary Parquet file.
IN_MEMORY_BYTES = 256 * 1024
# NDJSON files of this size range are read whole by Arrow (``arrow_ndjson``) when it can vouch
# for every row: 3x faster on 10k-record PayPal files. Below it Arrow's fixed cost per file
# (about 9 ms: 16.6 ms against the row reader's 13.0 for a 100-record page, 28.6 against 40.9
# for 300) loses to reading row by row; above it the text and its Arrow table (about four
# times the text) would sit in memory at once.
ARROW_MIN_BYTES = 1 << 20
ARROW_NDJSON_BYTES = 32 << 20
# Rows validated per Great Expectations run. A run costs ~0.1-0.3 s whatever its size, and GX
# copies the frame several times: a 250k-row window of the PayPal suite's columns peaked ~110 MB
# (1M rows in one run: ~460 MB); 100k-row windows took the 1M-row batch's peak RSS from 666 to
# 624 MB at the same speed. Uniqueness within a file is checked per window.
VALIDATION_ROWS = 100_000


@dataclass
class Tally:
    rows_in: int = 0
    rows_loaded: int = 0
    first_rejected: RejectedRow | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    """Quarantined rows per reason: the column a value failed in, or ``validation <check id>``."""
    extra_fields: set[str] = field(default_factory=set)

    @property
    def rows_quarantined(self) -> int:
        return self.rows_in - self.rows_loaded

    def reject(self, sink: IO[bytes], source: str, etag: str, row: RejectedRow, reasons: list[str]) -> None:
        """Write one quarantined row, with why, to the file's quarantine sink."""
        self.first_rejected = self.first_rejected or row
        self.reasons.update(reasons)
        line = {"source": source, "etag": etag, "row": row.number, "reason": row.reason, "raw": row.raw}
        sink.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")

    def check_bad_row_share(self, limits: Limits) -> None:
        """Fail the file as a whole once too many of its rows were rejected to call it a good file
        with some bad rows (``limits.max_bad_row_share``, judged from ``MIN_BAD_ROWS_FOR_SHARE``
        rejected rows on), before the quarantine file grows as large as the file."""
        rejected = self.rows_quarantined
        if rejected < MIN_BAD_ROWS_FOR_SHARE or rejected <= limits.max_bad_row_share * self.rows_in:
            return
        first = self.first_rejected
        raise LimitExceeded(
            f"{rejected:,} of {self.rows_in:,} rows read were rejected, more than "
            f"{limits.max_bad_row_share:.0%} (INGEST_MAX_BAD_ROW_SHARE)"
            + (f"; the first, row {first.number}: {first.reason}" if first else "")
        )


# The load file of rows held in memory is written on the load's critical path, once per warm
# Lambda file: for a 100-row PayPal page snappy without dictionaries took 1.9 ms of CPU against
# zstd's 4.7 (50 KB against 36 KB). Spilled and combined files, which are large, stay zstd.
IN_MEMORY_LOAD_FILE = {"compression": "snappy", "use_dictionary": False}


@dataclass
class Prepared:
    """A file's rows to load (coerced, and passed by the suite) and its quarantined rows.

    A small file's rows stay in memory as an Arrow table; a larger one's are spilled to a
    temporary Parquet file chunk by chunk.
    """

    detected: Detected
    tally: Tally
    rejected: IO[bytes]
    """NDJSON of the quarantined rows, one ``{source, etag, row, reason, raw}`` object a line."""
    source: str = ""
    etag: str = ""
    limits: Limits = field(default_factory=Limits)
    validation: Validation | None = None
    table: pa.Table | None = None
    """The rows to load, when they fit in ``IN_MEMORY_BYTES``."""
    spilled: IO[bytes] | None = None
    """The rows to load in a file of ``spill_format``, when they did not fit in memory."""
    pipeline: Pipeline | None = None
    """The pipeline reading the file; its ``schema_drift: fail`` makes undeclared fields fail it."""
    spill_format: SpillFormat = "parquet"
    """Parquet when the file is loaded alone (the spill is its load file), Arrow IPC when it
    is loaded with others (read back into their combined load file): ``ingest.core.spill``."""

    @property
    def is_load_file(self) -> bool:
        """Whether ``parquet`` is the rows' own load file (else only a combined file loads them)."""
        return self.spilled is None or self.spill_format == "parquet"

    @property
    def parquet(self) -> IO[bytes]:
        """The rows to load as a Parquet file (written now if they were held in memory)."""
        if not self.is_load_file:
            raise ValueError("rows spilled as Arrow IPC are loaded through a combined file")
        if self.spilled is None:
            self.spilled = io.BytesIO()
            if self.table is not None:
                pq.write_table(self.table, self.spilled, **IN_MEMORY_LOAD_FILE)
                self.table = None
        return self.spilled

    def batches(self, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows to load, ``batch_size`` at a time, only ``columns`` if given."""
        if self.table is not None:
            table = self.table.select(columns) if columns is not None else self.table
            yield from table.to_batches(max_chunksize=batch_size)
            return
        if self.spilled is None:
            return
        yield from spill.batches(self.spilled, self.spill_format, batch_size, columns)

    @property
    def schema(self) -> pa.Schema | None:
        if self.table is not None:
            return self.table.schema
        return None if self.spilled is None else spill.schema(self.spilled, self.spill_format)

    def raise_if_file_fails(self) -> None:
        """Raise what fails the whole file: undeclared fields under ``schema_drift: fail``, a
        table-level check of the suite, or no row to load."""
        if self.pipeline is not None and self.pipeline.schema_drift == "fail" and self.tally.extra_fields:
            names = self.tally.extra_fields
            carriers = drift.first_rows(self.batches(CHUNK_ROWS, [EXTRA_COLUMN, "_source_row"]), names)
            raise drift.drift_error(self.pipeline.name, names, carriers)
        if self.validation is not None and (failures := self.validation.file_failures):
            raise ValidationFailed("; ".join(check.describe() for check in failures))
        self.tally.check_bad_row_share(self.limits)
        if self.tally.rows_loaded == 0:
            first = self.tally.first_rejected
            if first is None:
                raise EmptyFile("file holds no records")
            raise NoValidRows.among(self.tally.rows_in, first.number, first.reason)


def prepare_file(
    body: IO[bytes],
    pipeline: Pipeline,
    make_coercer: Callable[[Detected], RecordCoercer],
    suite: Suite | None,
    lineage: Lineage,
    temporary: contextlib.ExitStack,
    limits: Limits | None = None,
) -> Prepared:
    """Read, coerce and validate one file; temporary files live as long as ``temporary``.

    Raises the reader's errors (undecodable, malformed) and MissingColumn. Memory holds one
    chunk of records, or one validation window of the suite's columns, at a time.
    """
    reading = start_file(body, pipeline, make_coercer, lineage, temporary, limits)
    whole = None
    content = reading.whole_content()
    if content is not None and len(content) >= ARROW_MIN_BYTES:
        whole = arrow_ndjson.load_table(
            content, pipeline, reading.coercer, lineage, arrow_transform(pipeline)
        )
    reading.finish(whole, temporary)
    if suite is not None:
        validate_files([reading.prepared], suite, temporary)
    return reading.prepared


@dataclass
class Reading:
    """A file opened and detected, its rows not yet read: Arrow may read it with others."""

    prepared: Prepared
    pipeline: Pipeline
    coercer: RecordCoercer
    lineage: Lineage
    content: bytes | None
    rows: Iterator[ParsedRow]

    def whole_content(self) -> bytes | None:
        """The plain NDJSON text, if Arrow may read it: a file whose nesting is known to be within
        the limit (Arrow's JSON reader recurses without a bound: 100,000 levels crash the process)."""
        content = self.content
        if content is None or may_be_deeper_than(content, self.prepared.limits.max_nesting):
            return None
        return content

    def finish_alone(self, temporary: contextlib.ExitStack) -> None:
        """Read the rows: by Arrow if the file is large enough to repay its fixed cost."""
        whole = None
        content = self.whole_content()
        if content is not None and len(content) >= ARROW_MIN_BYTES:
            transform = arrow_transform(self.pipeline)
            whole = arrow_ndjson.load_table(content, self.pipeline, self.coercer, self.lineage, transform)
        self.finish(whole, temporary)

    def finish(self, whole: tuple[pa.Table, set[str]] | None, temporary: contextlib.ExitStack) -> None:
        """Keep the rows Arrow read (``whole``), or read them row by row."""
        prepared, tally = self.prepared, self.prepared.tally
        self.content = None  # the text is no longer needed: let it go with the reading
        if whole is not None:
            table, tally.extra_fields = whole
            tally.rows_in = tally.rows_loaded = table.num_rows
            _keep(prepared, table, temporary)
            return
        rows = apply_transform(self.pipeline, self.rows)
        _coerce_rows(prepared, rows, self.coercer, self.pipeline, self.lineage, temporary)


def start_file(
    body: IO[bytes],
    pipeline: Pipeline,
    make_coercer: Callable[[Detected], RecordCoercer],
    lineage: Lineage,
    temporary: contextlib.ExitStack,
    limits: Limits | None = None,
    spill_format: SpillFormat = "parquet",
) -> Reading:
    """Open a file: detect its format, check a tabular header; its whole text if Arrow may read it.

    ``spill_format``: "arrow" for a file loaded with others (``Prepared.spill_format``). Raises
    the reader's errors (undecodable) and MissingColumn.
    """
    # Quarantined rows are few: in memory unless they are not.
    rejected = temporary.enter_context(tempfile.SpooledTemporaryFile(IN_MEMORY_BYTES))  # noqa: SIM115 - the stack closes it
    limits = limits or Limits()
    opened = open_rows(body, pipeline.format, keep_ndjson_bytes=ARROW_NDJSON_BYTES, limits=limits)
    detected = opened.detected
    coercer = make_coercer(detected)
    if detected.header is not None:
        coercer.check_header(detected.header)
    source, etag = lineage["_source_uri"], lineage["_source_etag"]
    prepared = Prepared(
        detected, Tally(), rejected, source, etag, limits, pipeline=pipeline, spill_format=spill_format
    )
    return Reading(prepared, pipeline, coercer, lineage, opened.content, opened.rows)


def _coerce_rows(
    prepared: Prepared,
    rows: Iterator[ParsedRow],
    coercer: RecordCoercer,
    pipeline: Pipeline,
    lineage: Lineage,
    temporary: contextlib.ExitStack,
) -> None:
    """The row reader: coerce chunk by chunk, in memory while small, else spilled to Parquet."""
    tally = prepared.tally
    writer = None
    for chunk in itertools.batched(rows, CHUNK_ROWS, strict=False):
        coerced = coercer.coerce(chunk)
        tally.rows_in += coerced.rows_in
        tally.extra_fields |= coerced.extra_fields
        for row in coerced.rejected:
            tally.reject(
                prepared.rejected, prepared.source, prepared.etag, row, [row.reason.split(":", 1)[0]]
            )
        if not coerced.row_numbers:
            tally.check_bad_row_share(prepared.limits)
            continue
        table = to_arrow(pipeline, coerced, lineage)
        tally.rows_loaded += table.num_rows
        tally.check_bad_row_share(prepared.limits)
        if writer is None and prepared.table is None and table.nbytes <= IN_MEMORY_BYTES:
            prepared.table = table
            continue
        if writer is None:
            prepared.spilled = _temporary_file(temporary)
            writer = SpillWriter(prepared.spilled, table.schema, prepared.spill_format)
            if prepared.table is not None:
                writer.write(prepared.table)
                prepared.table = None
        writer.write(table)
    if writer is not None:
        writer.close()


def _temporary_file(temporary: contextlib.ExitStack) -> IO[bytes]:
    return temporary.enter_context(tempfile.TemporaryFile())


def _keep(prepared: Prepared, table: pa.Table, temporary: contextlib.ExitStack) -> None:
    """Hold the rows to load in memory if they are small, else spill them to Parquet."""
    if table.nbytes <= IN_MEMORY_BYTES:
        prepared.table = table
        return
    prepared.spilled = _temporary_file(temporary)
    spill.write(prepared.spilled, table, prepared.spill_format, CHUNK_ROWS)


def validate_files(members: list[Prepared], suite: Suite, temporary: contextlib.ExitStack) -> None:
    """Run the suite over each file's coerced rows; keep only the rows that pass in its Parquet.

    Files of up to ``VALIDATION_ROWS`` rows share GX runs of up to that many rows (each judged
    as if alone); a larger file runs window by window. Sets each file's ``validation``.
    """
    window: list[Prepared] = []
    window_rows = 0
    for member in members:
        rows = member.tally.rows_loaded
        if not rows:
            continue
        if rows > VALIDATION_ROWS:
            _finish_validation(member, _validate_alone(member, suite), suite, temporary)
            continue
        if window and window_rows + rows > VALIDATION_ROWS:
            _validate_together(window, suite, temporary)
            window, window_rows = [], 0
        window.append(member)
        window_rows += rows
    if window:
        _validate_together(window, suite, temporary)


def _suite_batches(
    prepared: Prepared, suite: Suite, batch_size: int
) -> Iterator[tuple[pa.RecordBatch, list[int]]]:
    """The file's rows, only the columns the suite reads, ``batch_size`` rows at a time."""
    wanted = suite.columns() | {"_source_row"}
    for batch in prepared.batches(batch_size, _present(prepared, wanted)):
        yield batch, batch.column("_source_row").to_pylist()


def _present(prepared: Prepared, wanted: set[str]) -> list[str]:
    """Of ``wanted``, the columns the file's rows have, in their order."""
    schema = prepared.schema
    return [name for name in (schema.names if schema is not None else ()) if name in wanted]


def _validate_together(members: list[Prepared], suite: Suite, temporary: contextlib.ExitStack) -> None:
    wanted = suite.columns() | {"_source_row"}
    tables = []
    for member in members:
        tables.append(pa.Table.from_batches(list(member.batches(VALIDATION_ROWS, _present(member, wanted)))))
    # One pass for the whole window (on GX, one conversion to pandas: per file, it costs more
    # than GX's run).
    combined = pa.concat_tables(tables, promote_options="permissive")
    numbers = [table.column("_source_row").to_pylist() for table in tables]
    outcomes = suite.run_concatenated(combined, [table.num_rows for table in tables], numbers)
    for member, outcome, rows in zip(members, outcomes, numbers, strict=True):
        validation = Validation(suite.name)
        validation.add(outcome.checks, len(rows), len(outcome.bad_positions))
        _finish_validation(member, (validation, outcome.bad_positions), suite, temporary)


def _validate_alone(prepared: Prepared, suite: Suite) -> tuple[Validation, dict[int, list[str]]]:
    """The suite's outcome on one file, window by window, and its bad rows by position."""
    validation = Validation(suite.name)
    bad: dict[int, list[str]] = {}
    offset = 0
    for frame, numbers in _suite_batches(prepared, suite, VALIDATION_ROWS):
        outcome = suite.run(frame, numbers)
        validation.add(outcome.checks, len(numbers), len(outcome.bad_positions))
        bad.update((offset + position, ids) for position, ids in outcome.bad_positions.items())
        offset += len(numbers)
    return validation, bad


def _finish_validation(
    prepared: Prepared,
    outcome: tuple[Validation, dict[int, list[str]]],
    suite: Suite,
    temporary: contextlib.ExitStack,
) -> None:
    validation, bad = outcome
    prepared.validation = validation
    if bad and not validation.file_failures:
        _keep_passing(prepared, bad, suite, temporary)


def _keep_passing(
    prepared: Prepared, bad: dict[int, list[str]], suite: Suite, temporary: contextlib.ExitStack
) -> None:
    """Keep only the rows that pass; quarantine the bad ones whole, with their reasons.

    A spilled file is filtered window by window into a new spill, never whole in memory.
    """
    if prepared.table is not None:
        passed = [_passing(prepared, batch, 0, bad, suite) for batch in prepared.batches(len(prepared.table))]
        prepared.table = pa.Table.from_batches(passed, schema=prepared.table.schema)
    else:
        filtered = _temporary_file(temporary)
        writer = None
        offset = 0
        for batch in prepared.batches(VALIDATION_ROWS):
            writer = writer or SpillWriter(filtered, batch.schema, prepared.spill_format)
            writer.write(_passing(prepared, batch, offset, bad, suite))
            offset += batch.num_rows
        if writer is not None:
            writer.close()
        prepared.spilled = filtered
    prepared.tally.rows_loaded -= len(bad)


def _passing(
    prepared: Prepared, batch: pa.RecordBatch, offset: int, bad: dict[int, list[str]], suite: Suite
) -> pa.RecordBatch:
    """The batch's rows that pass; the others quarantined (``offset``: the batch's first row)."""
    keep = [offset + i not in bad for i in range(batch.num_rows)]
    for position in (i for i, ok in enumerate(keep) if not ok):
        ids = bad[offset + position]
        row = batch.slice(position, 1).to_pylist()[0]
        # The row as it would have loaded; PayPal rows carry their source record in _raw.
        quarantined = RejectedRow(row["_source_row"], row_reason(ids, suite), json_text(row))
        prepared.tally.reject(
            prepared.rejected, prepared.source, prepared.etag, quarantined, [f"validation {i}" for i in ids]
        )
    return batch.filter(pa.array(keep))
