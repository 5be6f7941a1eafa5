"""Turn one file's bytes into a validated Parquet load file and a quarantine file. No cloud I/O.

Read -> transform -> coerce (chunk by chunk into a temporary Parquet file) -> validate with the
pipeline's suite (only the suite's columns, window by window) -> copy the rows that pass.
``ingest.pipeline`` loads the result; ``ingest validate`` only reports it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.config import Pipeline
from ingest.errors import EmptyFile, NoValidRows, ValidationFailed
from ingest.formats import Detected, read_rows
from ingest.schema import RecordCoercer, RejectedRow, json_text, to_arrow
from ingest.transforms import apply_transform
from ingest.validate import Suite, Validation, row_reason, validation_frame

# Records coerced at a time: enough for vectorised Arrow conversion, small enough that a wide
# nested PayPal chunk stays within tens of MB.
CHUNK_ROWS = 10_000
# Rows validated per Great Expectations run. A run costs ~0.1-0.3 s whatever its size, and GX
# copies the frame several times: a 250k-row window of the PayPal suite's columns peaks ~110 MB
# (1M rows in one run: ~460 MB). Uniqueness within a file is checked per window.
VALIDATION_ROWS = 250_000


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


@dataclass
class Prepared:
    detected: Detected
    tally: Tally
    parquet: IO[bytes]
    """Parquet of the rows to load (coerced, and passed by the suite)."""
    rejected: IO[bytes]
    """NDJSON of the quarantined rows, one ``{source, etag, row, reason, raw}`` object a line."""
    validation: Validation | None = None

    def raise_if_file_fails(self) -> None:
        """Raise what fails the whole file: a table-level check of the suite, or no row to load."""
        if self.validation is not None and (failures := self.validation.file_failures):
            raise ValidationFailed("; ".join(check.describe() for check in failures))
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
    lineage: dict[str, Any],
    temporary: contextlib.ExitStack,
) -> Prepared:
    """Read, coerce and validate one file; temporary files live as long as ``temporary``.

    Raises the reader's errors (undecodable, malformed) and MissingColumn. Memory holds one
    chunk of records, or one validation window of the suite's columns, at a time.
    """
    source, etag = lineage["_source_uri"], lineage["_source_etag"]
    tally = Tally()
    parquet = temporary.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
    rejected = temporary.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
    detected, rows = read_rows(body, pipeline.format)
    coercer = make_coercer(detected)
    if detected.header is not None:
        coercer.check_header(detected.header)
    writer = None
    for chunk in itertools.batched(apply_transform(pipeline, rows), CHUNK_ROWS, strict=False):
        coerced = coercer.coerce(chunk)
        tally.rows_in += coerced.rows_in
        tally.extra_fields |= coerced.extra_fields
        for row in coerced.rejected:
            tally.reject(rejected, source, etag, row, [row.reason.split(":", 1)[0]])
        if coerced.row_numbers:
            table = to_arrow(pipeline, coerced, lineage)
            writer = writer or pq.ParquetWriter(parquet, table.schema, compression="zstd")
            writer.write_table(table)
            tally.rows_loaded += table.num_rows
    if writer is not None:
        writer.close()
    prepared = Prepared(detected, tally, parquet, rejected)
    if suite is not None and tally.rows_loaded:
        filtered = temporary.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
        prepared.validation = _validate(prepared, filtered, suite, source, etag)
        if prepared.validation.bad_rows and not prepared.validation.file_failures:
            prepared.parquet = filtered
    return prepared


def _validate(prepared: Prepared, filtered: IO[bytes], suite: Suite, source: str, etag: str) -> Validation:
    """Run the suite over the coerced rows; copy the rows that pass to ``filtered``.

    The first pass reads only the suite's columns, window by window. Only if a critical row
    check failed does a second pass copy the good rows and quarantine the bad ones whole.
    """
    validation = Validation(suite.name)
    prepared.parquet.seek(0)
    parquet = pq.ParquetFile(prepared.parquet)
    wanted = suite.columns() | {"_source_row"}
    read = [name for name in parquet.schema_arrow.names if name in wanted]
    bad: dict[int, list[str]] = {}
    offset = 0
    for batch in parquet.iter_batches(batch_size=VALIDATION_ROWS, columns=read):
        numbers = batch.column("_source_row").to_pylist()
        outcome = suite.run(validation_frame(batch, wanted), numbers)
        validation.add(outcome.checks, batch.num_rows, len(outcome.bad_positions))
        bad.update((offset + position, ids) for position, ids in outcome.bad_positions.items())
        offset += batch.num_rows
    if not bad or validation.file_failures:
        return validation

    writer = pq.ParquetWriter(filtered, parquet.schema_arrow, compression="zstd")
    offset = 0
    for batch in parquet.iter_batches(batch_size=VALIDATION_ROWS):
        keep = [offset + i not in bad for i in range(batch.num_rows)]
        for position in (i for i, ok in enumerate(keep) if not ok):
            ids = bad[offset + position]
            row = batch.slice(position, 1).to_pylist()[0]
            # The row as it would have loaded; PayPal rows carry their source record in _raw.
            quarantined = RejectedRow(row["_source_row"], row_reason(ids, suite), json_text(row))
            prepared.tally.reject(
                prepared.rejected, source, etag, quarantined, [f"validation {i}" for i in ids]
            )
        writer.write_batch(batch.filter(pa.array(keep)))
        offset += batch.num_rows
    writer.close()
    prepared.tally.rows_loaded -= len(bad)
    return validation
