"""The entry point of the readers: detect a stream's format and hand over its records."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import IO

from ingest.core.errors import MalformedFile, UndecodableFile
from ingest.core.formats.csv_rows import open_csv
from ingest.core.formats.decompress import PEEK_BYTES, PrefixedStream, open_decompressed
from ingest.core.formats.detect import Detected, detect
from ingest.core.formats.json_rows import json_array_rows, json_concat_rows, ndjson_rows
from ingest.core.formats.parquet_rows import parquet_rows
from ingest.core.formats.parsed_row import ParsedRow

_TEXT_READERS: dict[str, Callable[[IO[str]], Iterator[ParsedRow]]] = {
    "ndjson": ndjson_rows,
    "json_array": json_array_rows,
    "json_concat": json_concat_rows,
}


@dataclass
class Opened:
    detected: Detected
    rows: Iterator[ParsedRow]
    """The records, read as they are iterated."""
    content: bytes | None = None
    """The whole plain content of a UTF-8 NDJSON file within ``keep_ndjson_bytes``, else None."""


def read_rows(stream: IO[bytes], pinned_format: str = "auto") -> tuple[Detected, Iterator[ParsedRow]]:
    """Detect the format of ``stream`` and return it with an iterator over its records."""
    opened = open_rows(stream, pinned_format)
    return opened.detected, opened.rows


def open_rows(stream: IO[bytes], pinned_format: str = "auto", keep_ndjson_bytes: int = 0) -> Opened:
    """Detect the format of ``stream``; its records, and its whole content if it is a UTF-8
    NDJSON file of at most ``keep_ndjson_bytes`` (for a whole-file reader such as Arrow's).
    """
    head, data, compression = open_decompressed(stream)
    detected = replace(detect(head, pinned_format), compression=compression)
    if detected.format == "parquet":
        return Opened(detected, parquet_rows(data))
    content = None
    if detected.format == "ndjson" and detected.encoding == "utf-8" and keep_ndjson_bytes:
        # In steps: one read of the whole limit would make every small file allocate it.
        chunks: list[bytes] = []
        size = 0
        while size <= keep_ndjson_bytes and (chunk := data.read(PEEK_BYTES)):
            chunks.append(chunk)
            size += len(chunk)
        start = b"".join(chunks)
        if len(start) <= keep_ndjson_bytes:
            content, data = start, io.BufferedReader(io.BytesIO(start))
        else:
            data = io.BufferedReader(PrefixedStream(data, prefix=start), PEEK_BYTES)
    text = io.TextIOWrapper(data, encoding=detected.encoding, errors="strict", newline="")
    if detected.format == "csv":
        header, rows = open_csv(text, detected.delimiter or ",")
        return Opened(replace(detected, header=header), _guard_decoding(rows))
    if detected.format not in _TEXT_READERS:
        raise MalformedFile(f"format {detected.format!r} is not one this reader knows")
    return Opened(detected, _guard_decoding(_TEXT_READERS[detected.format](text)), content)


def _guard_decoding(rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    try:
        yield from rows
    except UnicodeDecodeError as err:
        raise UndecodableFile(
            f"invalid {err.encoding} text near byte {err.start} of a chunk: {err.reason}"
        ) from err
