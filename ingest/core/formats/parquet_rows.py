"""Reader of Parquet files, batch by batch."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from ingest.core.errors import EmptyFile, MalformedFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.parsed_row import ParsedRow

PARQUET_BATCH_ROWS = 10_000


if TYPE_CHECKING:
    import pyarrow as pa


def parquet_rows(data: IO[bytes]) -> Iterator[ParsedRow]:
    """Rows of a Parquet file, batch by batch; the footer needs random access, so it is spooled."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = 0
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(data, spool, PEEK_BYTES)
        spool.seek(0)
        try:
            parquet = pq.ParquetFile(spool)
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
