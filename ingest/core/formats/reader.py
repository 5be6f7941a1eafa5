"""The entry point of the readers: detect a stream's format and hand over its records."""

from __future__ import annotations

import codecs
import io
from collections.abc import Buffer, Callable, Iterator
from dataclasses import dataclass, replace
from typing import IO

from ingest.core.errors import MalformedFile, UndecodableFile
from ingest.core.formats.csv_rows import open_csv
from ingest.core.formats.decompress import (
    BUFFER_BYTES,
    PEEK_BYTES,
    PrefixedStream,
    open_decompressed,
    read_up_to,
)
from ingest.core.formats.detect import Detected, detect
from ingest.core.formats.json_rows import json_array_rows, json_concat_rows, ndjson_rows
from ingest.core.formats.parquet_rows import parquet_rows
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.limits import Limits

_TEXT_READERS: dict[str, Callable[[IO[str], Limits], Iterator[ParsedRow]]] = {
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


def read_rows(
    stream: IO[bytes], pinned_format: str = "auto", limits: Limits | None = None
) -> tuple[Detected, Iterator[ParsedRow]]:
    """Detect the format of ``stream`` and return it with an iterator over its records."""
    opened = open_rows(stream, pinned_format, limits=limits)
    return opened.detected, opened.rows


def open_rows(
    stream: IO[bytes], pinned_format: str = "auto", keep_ndjson_bytes: int = 0, limits: Limits | None = None
) -> Opened:
    """Detect the format of ``stream``; its records, and its whole content if it is a UTF-8
    NDJSON file of at most ``keep_ndjson_bytes`` (for a whole-file reader such as Arrow's).
    """
    limits = limits or Limits()
    start = stream.tell() if isinstance(stream, io.BytesIO) else None
    head, data, compression = open_decompressed(stream, limits.max_inflated_bytes)
    detected = replace(detect(head, pinned_format), compression=compression)
    if detected.format == "parquet":
        return Opened(detected, parquet_rows(data, limits))
    _check_decodes(head, detected.encoding)
    if detected.encoding != "utf-16":
        data = io.BufferedReader(_WithoutNul(data), BUFFER_BYTES)
    content = None
    if detected.format == "ndjson" and detected.encoding == "utf-8" and keep_ndjson_bytes:
        if compression is None and (whole := _whole_in_memory(stream, start, keep_ndjson_bytes)) is not None:
            # Already whole in memory (a native read): taken as it is, rather than copied through
            # the reader's layers 64 KB at a time.
            _refuse_nul(whole, 0)
            content, data = whole, io.BufferedReader(io.BytesIO(whole))
        else:
            # In steps: one read of the whole limit would make every small file allocate it.
            head_on = read_up_to(data, keep_ndjson_bytes + 1)
            if len(head_on) <= keep_ndjson_bytes:
                content, data = head_on, io.BufferedReader(io.BytesIO(head_on))
            else:
                data = io.BufferedReader(PrefixedStream(data, prefix=head_on), BUFFER_BYTES)
    text = io.TextIOWrapper(data, encoding=detected.encoding, errors="strict", newline="")
    if detected.format == "csv":
        header, rows = open_csv(text, detected.delimiter or ",", limits)
        return Opened(replace(detected, header=header), _guard_decoding(rows))
    if detected.format not in _TEXT_READERS:
        raise MalformedFile(f"format {detected.format!r} is not one this reader knows")
    return Opened(detected, _guard_decoding(_TEXT_READERS[detected.format](text, limits)), content)


def _check_decodes(head: bytes, encoding: str) -> None:
    """Fail now, naming the line, if the first ``PEEK_BYTES`` are not text in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(head, final=False)  # a character cut at the window's end is not an error
    except UnicodeDecodeError as err:
        if encoding == "utf-16":
            raise UndecodableFile(f"invalid UTF-16 text at byte {err.start:,}: {err.reason}") from err
        line = head.count(b"\n", 0, err.start) + 1
        raise UndecodableFile(
            f"invalid UTF-8 text on line {line:,} (byte {err.start:,}, 0x{head[err.start]:02x}): "
            f"{err.reason}; the producer may write Latin-1 or Windows-1252 text, not UTF-8"
        ) from err


class _WithoutNul(io.RawIOBase):
    """Passes text bytes through, failing the file at a NUL byte wherever it is: no UTF-8 text
    format writes one, and zero-filled blocks are how a file cut off by a crash often looks."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        _refuse_nul(data, self._offset)
        self._offset += len(data)
        view[: len(data)] = data
        return len(data)


def _refuse_nul(data: bytes, offset: int) -> None:
    if (at := data.find(b"\x00")) >= 0:
        raise UndecodableFile(f"NUL byte at byte {offset + at:,} of the text: the file is binary or corrupt")


def _whole_in_memory(stream: IO[bytes], start: int | None, limit: int) -> bytes | None:
    """What a ``BytesIO`` held from ``start`` on, if at most ``limit`` bytes; None for other streams."""
    if not isinstance(stream, io.BytesIO) or start is None or len(stream.getbuffer()) - start > limit:
        return None
    whole = stream.getvalue()  # the buffer itself, not a copy, while nothing else holds a view
    return whole if start == 0 else whole[start:]


def _guard_decoding(rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    try:
        yield from rows
    except UnicodeDecodeError as err:
        raise UndecodableFile(
            f"invalid {err.encoding} text past the first {PEEK_BYTES:,} bytes: {err.reason}"
        ) from err
