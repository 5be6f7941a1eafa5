"""Small NDJSON files of one pipeline read by Arrow together, paying its fixed cost once.

Arrow reads a 100-record PayPal page in about 17 ms, 9 of them its fixed cost per read, the row
reader in about 13; read together, a hundred such pages cost Arrow 4-6 ms each.
``arrow_ndjson.load_tables`` reads the files' text joined and splits the result back into each
file's table, with its own row numbers and lineage. If Arrow cannot vouch for every row of every
file, the files are split in two and tried again, down to groups too small to repay Arrow, which
are read row by row: a bad file costs its neighbours only a few tries, and the row reader still
names each bad row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ingest.core import arrow_ndjson
from ingest.core.prepare import Reading
from ingest.core.transforms.apply import arrow_transform

# A file at most this large waits to be read with others; a larger one is read on its own.
# A load group of 250 such files holds at most 64 MB of text while it waits.
MAX_FILE_BYTES = 256 << 10
# Below this much text in all, Arrow's fixed cost loses to the row reader (about 3.5 pages of
# 100 PayPal records).
MIN_BYTES = 512 << 10
# Text per Arrow read: Arrow's table takes about four times the text.
MAX_BYTES = 16 << 20


def may_read_together(reading: Reading) -> bool:
    content = reading.whole_content()
    return content is not None and len(content) <= MAX_FILE_BYTES


def finish_together(readings: list[Reading], temporary: contextlib.ExitStack) -> list[Exception | None]:
    """Read each file's rows (``may_read_together`` files of one pipeline); per file, the
    exception that fails it (the row reader's: malformed, too many bad rows...) or None."""
    errors: dict[int, Exception | None] = {}
    for batch in _batches(list(enumerate(readings))):
        _finish(batch, temporary, errors)
    return [errors[index] for index in range(len(readings))]


def _batches(numbered: list[tuple[int, Reading]]) -> Iterator[list[tuple[int, Reading]]]:
    batch: list[tuple[int, Reading]] = []
    size = 0
    for index, reading in numbered:
        length = len(reading.content or b"")
        if batch and size + length > MAX_BYTES:
            yield batch
            batch, size = [], 0
        batch.append((index, reading))
        size += length
    if batch:
        yield batch


def _finish(
    batch: list[tuple[int, Reading]], temporary: contextlib.ExitStack, errors: dict[int, Exception | None]
) -> None:
    readings = [reading for _, reading in batch]
    contents = [reading.content or b"" for reading in readings]
    tables = None
    if len(batch) > 1 and sum(len(c) for c in contents) >= MIN_BYTES:
        first = readings[0]
        tables = arrow_ndjson.load_tables(
            contents,
            first.pipeline,
            first.coercer,
            [reading.lineage for reading in readings],
            arrow_transform(first.pipeline),
        )
        if tables is None:
            middle = len(batch) // 2
            _finish(batch[:middle], temporary, errors)
            _finish(batch[middle:], temporary, errors)
            return
    for position, (index, reading) in enumerate(batch):
        try:
            reading.finish(tables[position] if tables is not None else None, temporary)
            errors[index] = None
        except Exception as err:  # the file's own failure, charged to it alone
            errors[index] = err
