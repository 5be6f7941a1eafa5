"""Reader of Parquet files, batch by batch."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import IO

from ingest.core.errors import EmptyFile, MalformedFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.parsed_row import ParsedRow

PARQUET_BATCH_ROWS = 10_000


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
                for record in batch.to_pylist():
                    number += 1
                    yield ParsedRow(number, record)
        except (pa.ArrowException, OSError) as err:
            raise MalformedFile(f"Parquet file does not read: {err}") from err
    if number == 0:
        raise EmptyFile("Parquet file holds no rows")
