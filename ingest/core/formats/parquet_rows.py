"""Reader of Parquet files, batch by batch."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from ingest.core.errors import EmptyFile, LimitExceeded, MalformedFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.limits import Limits

PARQUET_BATCH_ROWS = 10_000


if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq


def parquet_rows(data: IO[bytes], limits: Limits) -> Iterator[ParsedRow]:
    """Rows of a Parquet file, batch by batch; the footer needs random access, so it is spooled."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = 0
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(data, spool, PEEK_BYTES)
        spool.seek(0)
        try:
            parquet = pq.ParquetFile(spool)
            _check_limits(parquet, limits)
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for row in _batch_rows(batch, number):
                    number += 1
                    yield row
        except (pa.ArrowException, OSError) as err:
            raise MalformedFile(f"Parquet file does not read: {err}") from err
    if number == 0:
        raise EmptyFile("Parquet file holds no rows")


def _batch_rows(batch: pa.RecordBatch, before: int) -> list[ParsedRow]:
    """The batch's records; a record holding a value Python cannot hold is a row error.

    Arrow stores dates and timestamps Python's datetime cannot (past year 9999, or before year 1
    once an offset applies): converting them raises OverflowError or ValueError. That is the
    row's fault, not a transient failure, so the row is quarantined and the others load.
    """
    try:
        return [ParsedRow(before + n, record) for n, record in enumerate(batch.to_pylist(), start=1)]
    except (OverflowError, ValueError):
        pass
    rows = []
    for n in range(batch.num_rows):
        try:
            rows.append(ParsedRow(before + n + 1, batch.slice(n, 1).to_pylist()[0]))
        except (OverflowError, ValueError) as err:
            rows.append(ParsedRow(before + n + 1, None, error=f"a value Python cannot hold: {err}"))
    return rows


def _check_limits(parquet: pq.ParquetFile, limits: Limits) -> None:
    """Refuse, from the footer alone, a file whose rows would pass the limits once decoded.

    Parquet compresses inside the file, so its object size says nothing of its decoded size;
    the footer states both per row group. A row's size is judged by its row group's average
    (Arrow decodes a page at a time, and the footer has no per-row sizes).
    """
    metadata = parquet.metadata
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    decoded = sum(group.total_byte_size for group in groups)
    if decoded > limits.max_inflated_bytes:
        raise LimitExceeded(
            f"Parquet data decodes to {decoded:,} bytes, more than {limits.max_inflated_bytes:,} "
            "(INGEST_MAX_INFLATED_BYTES)"
        )
    for number, group in enumerate(groups, start=1):
        if group.num_rows and group.total_byte_size / group.num_rows > limits.max_record_bytes:
            raise LimitExceeded(
                f"rows of Parquet row group {number} average more than {limits.max_record_bytes:,} "
                "bytes (INGEST_MAX_RECORD_BYTES)"
            )
    depth = max((_depth(field.type) for field in parquet.schema_arrow), default=0)
    if depth > limits.max_nesting:
        raise LimitExceeded(
            f"Parquet schema nests {depth} levels, deeper than {limits.max_nesting} (INGEST_MAX_NESTING)"
        )


def _depth(data_type: pa.DataType) -> int:
    """Levels of objects and arrays in an Arrow type (a scalar: 0)."""
    import pyarrow.types as pat

    if pat.is_struct(data_type):
        return 1 + max((_depth(data_type.field(i).type) for i in range(data_type.num_fields)), default=0)
    if pat.is_map(data_type):
        return 1 + max(_depth(data_type.key_type), _depth(data_type.item_type))
    if pat.is_list(data_type) or pat.is_large_list(data_type) or pat.is_fixed_size_list(data_type):
        return 1 + _depth(data_type.value_type)
    return 0
