"""Rows kept on disk between reading a file and its load, in the form their next reader wants.

A file loaded alone is spilled as the Parquet file its load job takes. A file loaded with others
is read back once more, into the group's combined load file, so it is spilled as Arrow IPC
(LZ4-compressed buffers): for 10,000 PayPal rows 13-16 ms to write and 4-5 to read back, where a
zstd Parquet file took 39 and 51 (CPU of every thread; Arrow decodes Parquet on its pool) and
zstd IPC 21-25 and 9-10; it takes 3.6 MB of disk against their 1.6 and 2.0 (a 256 MB load
group of PayPal pages: about 65 MB).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Literal

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

SpillFormat = Literal["parquet", "arrow"]
_IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
LARGE_LOAD_FILE = {"compression": "zstd", "use_dictionary": False}
"""Spilled and combined load files. Without dictionaries, for 10,000 PayPal rows: 31 ms to write
against 39, 21 to read against 25, and 1.53 MB against 1.64 (most bytes are ``_raw``'s text,
which a dictionary cannot shorten)."""


class SpillWriter:
    """Batches or tables written one after another into ``sink`` in ``form``; ``close`` ends it."""

    def __init__(self, sink: IO[bytes], schema: pa.Schema, form: SpillFormat) -> None:
        self.schema = schema
        self._writer: pq.ParquetWriter | ipc.RecordBatchFileWriter = (
            pq.ParquetWriter(sink, schema, **LARGE_LOAD_FILE)
            if form == "parquet"
            else ipc.new_file(sink, schema, options=_IPC_OPTIONS)
        )

    def write(self, rows: pa.Table | pa.RecordBatch) -> None:
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        self._writer.write_table(rows)

    def close(self) -> None:
        self._writer.close()


def write(sink: IO[bytes], table: pa.Table, form: SpillFormat, row_group_size: int) -> None:
    """``table`` into ``sink`` in ``form`` (Parquet in row groups of ``row_group_size``)."""
    if form == "parquet":
        pq.write_table(table, sink, row_group_size=row_group_size, **LARGE_LOAD_FILE)
        return
    with ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table, max_chunksize=row_group_size)


def batches(
    source: IO[bytes], form: SpillFormat, batch_size: int, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The spilled rows, at most ``batch_size`` at a time, only ``columns`` (in that order) if given."""
    source.seek(0)
    if form == "parquet":
        yield from pq.ParquetFile(source).iter_batches(batch_size=batch_size, columns=columns)
        return
    reader = ipc.open_file(source, options=_read_options(source, columns))
    for index in range(reader.num_record_batches):
        batch = reader.get_batch(index)
        if columns is not None:
            batch = batch.select(columns)
        for start in range(0, batch.num_rows, batch_size):
            yield batch.slice(start, batch_size)


def schema(source: IO[bytes], form: SpillFormat) -> pa.Schema | None:
    """The spilled rows' schema; None if nothing was written (no row to load)."""
    source.seek(0)
    if not source.read(1):
        return None
    source.seek(0)
    if form == "parquet":
        return pq.ParquetFile(source).schema_arrow
    return ipc.open_file(source).schema


def _read_options(source: IO[bytes], columns: list[str] | None) -> ipc.IpcReadOptions:
    """Only ``columns`` are read (and decompressed) from the file's batches."""
    if columns is None:
        return ipc.IpcReadOptions()
    stored = ipc.open_file(source).schema
    source.seek(0)
    return ipc.IpcReadOptions(included_fields=sorted(stored.get_field_index(name) for name in columns))
