"""Turn an object's bytes into numbered records, whatever the format, without trusting names.

Lake files often have no extension, so everything is read from the content: compression from
magic bytes (gzip, bzip2, zstd), Parquet from its magic, the text encoding from its BOM
(UTF-8 or UTF-16, UTF-8 without one), then the first meaningful character: ``[`` a JSON array,
``{`` NDJSON or concatenated objects as Firehose writes them, anything else CSV with a sniffed
delimiter.

Everything streams: the reader holds a bounded window of the file, never the whole of it. A
record that cannot be read on its own (one bad NDJSON line, a ragged CSV row) becomes a
``ParsedRow`` with an error so the good rows still load; a file whose structure is broken
(truncated array, invalid UTF-8, corrupt compression) raises an ``IngestError`` for the file.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from ingest.core.errors import EmptyFile, MalformedFile, UndecodableFile

PEEK_BYTES = 1 << 20
CSV_DELIMITERS = (",", "\t", ";", "|")
PARQUET_MAGIC = b"PAR1"
COMPRESSION_MAGIC = {
    "gzip": b"\x1f\x8b",
    "bzip2": b"BZh",
    "zstd": b"\x28\xb5\x2f\xfd",
}
PARQUET_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ParsedRow:
    number: int
    """1-based position of the record in the file (data rows only for CSV)."""
    record: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    """The record's text when it could not be parsed, so quarantine keeps it verbatim."""
    original: dict[str, Any] | None = None
    """The source record a pipeline transform derived ``record`` from (kept and quarantined as is)."""


@dataclass(frozen=True)
class Detected:
    format: str
    compression: str | None
    encoding: str
    delimiter: str | None = None
    header: tuple[str, ...] | None = None
    """Column names of a tabular file, as read from its header row."""


class _Stream(io.RawIOBase):
    """Adapts anything with ``read(n)`` (botocore bodies, files) to a raw stream.

    ``prefix`` is served first: the head read for detection is put back in front of the rest.
    """

    def __init__(self, inner: IO[bytes], prefix: bytes = b"") -> None:
        self._inner = inner
        self._prefix = prefix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Decompressed(io.RawIOBase):
    """Decompresses a stream (several gzip members or zstd frames too) and names corrupt data."""

    def __init__(self, inner: IO[bytes], compression: str) -> None:
        self.compression = compression
        if compression == "gzip":
            self._inner: Any = gzip.GzipFile(fileobj=inner, mode="rb")
        elif compression == "bzip2":
            self._inner = bz2.BZ2File(inner, mode="rb")
        else:
            self._inner = _ZstdFrames(inner)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (EOFError, OSError, zlib.error, ValueError, _zstd_error()) as err:
            raise UndecodableFile(f"{self.compression} data is corrupt or truncated: {err}") from err
        buffer[: len(data)] = data
        return len(data)


class _ZstdFrames:
    """zstd frames back to back; unlike zstandard's stream reader, a cut-off frame is an error."""

    def __init__(self, inner: IO[bytes]) -> None:
        import zstandard

        self._inner = inner
        self._new = zstandard.ZstdDecompressor().decompressobj
        self._frame = self._new()
        self._pending = b""
        self._in_frame = False

    def read(self, size: int) -> bytes:
        while len(self._pending) < size:
            compressed = self._inner.read(PEEK_BYTES)
            if not compressed:
                if self._in_frame:
                    raise EOFError("the last zstd frame is cut off")
                break
            while compressed:
                self._pending += self._frame.decompress(compressed)
                self._in_frame = not self._frame.eof
                compressed = self._frame.unused_data if self._frame.eof else b""
                if self._frame.eof:
                    self._frame = self._new()
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def _zstd_error() -> type[Exception]:
    try:
        import zstandard
    except ImportError:
        return ValueError
    return zstandard.ZstdError


class _Utf8(io.RawIOBase):
    """Re-encodes decoded text as UTF-8 bytes, for parsers that read bytes (ijson)."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._text.read(PEEK_BYTES // 4)
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def open_decompressed(stream: IO[bytes]) -> tuple[bytes, io.BufferedReader, str | None]:
    """The first ``PEEK_BYTES`` of plain content, a reader over all of it, and the compression."""
    raw = io.BufferedReader(_Stream(stream), PEEK_BYTES)
    magic = raw.peek(4)[:4]
    compression = next((name for name, m in COMPRESSION_MAGIC.items() if magic.startswith(m)), None)
    plain = io.BufferedReader(_Decompressed(raw, compression), PEEK_BYTES) if compression else raw
    head = plain.read(PEEK_BYTES)
    return head, io.BufferedReader(_Stream(plain, prefix=head), PEEK_BYTES), compression


def detect(head: bytes, pinned_format: str = "auto") -> Detected:
    """Detect format, encoding and delimiter from the first bytes of the plain content."""
    if head.startswith(PARQUET_MAGIC) and pinned_format in {"auto", "parquet"}:
        return Detected(format="parquet", compression=None, encoding="binary")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text" exports; the BOM tells the byte order
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
        if b"\x00" in head[:4096]:
            raise UndecodableFile("file looks binary (NUL bytes), not text")
    # Only for sniffing: a multi-byte character cut at the window's end must not fail here.
    text = head.decode(encoding, errors="ignore").lstrip()
    if not text:
        raise EmptyFile("file holds no data (empty, whitespace or a byte-order mark only)")
    fmt = pinned_format if pinned_format != "auto" else _sniff_format(text)
    delimiter = _sniff_delimiter(text) if fmt == "csv" else None
    return Detected(format=fmt, compression=None, encoding=encoding, delimiter=delimiter)


def _sniff_format(text: str) -> str:
    first = text[:1]
    if first == "[":
        return "json_array"
    if first == "{":
        return "ndjson" if _looks_like_ndjson(text) else "json_concat"
    return "csv"


def _looks_like_ndjson(text: str, lines_to_check: int = 5) -> bool:
    """NDJSON if any of the first complete lines is a JSON object on its own.

    Looking past the first line keeps one broken first line a row error instead of failing
    the file; pretty-printed or compact concatenated objects have no such line.
    """
    lines = text.split("\n", lines_to_check)
    complete = lines[:-1] if len(lines) > 1 else lines
    return any(_is_json_object(line) for line in complete[:lines_to_check] if line.strip())


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _sniff_delimiter(text: str) -> str:
    header = text.partition("\n")[0]
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


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
        return Opened(detected, _parquet_rows(data))
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
            data = io.BufferedReader(_Stream(data, prefix=start), PEEK_BYTES)
    text = io.TextIOWrapper(data, encoding=detected.encoding, errors="strict", newline="")
    if detected.format == "csv":
        header, rows = _open_csv(text, detected.delimiter or ",")
        return Opened(replace(detected, header=header), _guard_decoding(rows))
    readers = {"ndjson": _ndjson_rows, "json_array": _json_array_rows, "json_concat": _json_concat_rows}
    if detected.format not in readers:
        raise MalformedFile(f"format {detected.format!r} is not one this reader knows")
    return Opened(detected, _guard_decoding(readers[detected.format](text)), content)


def _guard_decoding(rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    try:
        yield from rows
    except UnicodeDecodeError as err:
        raise UndecodableFile(
            f"invalid {err.encoding} text near byte {err.start} of a chunk: {err.reason}"
        ) from err


# A \uD800-\uDFFF escape; json.loads joins a valid pair into one character and leaves a lone
# one in the string, which no UTF-8 writer (Arrow, the quarantine file) can encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _as_row(number: int, value: Any, raw: str | None = None, text: str | None = None) -> ParsedRow:
    """``text``: the record's JSON text, checked for a lone surrogate escape when it has one."""
    if text is not None and _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value):
        return ParsedRow(
            number, None, "record holds a lone surrogate escape (\\uD800-\\uDFFF): not text", text
        )
    if isinstance(value, dict):
        return ParsedRow(number, value)
    kind = type(value).__name__ if value is not None else "null"
    return ParsedRow(number, None, f"record is a JSON {kind}, not an object", raw or json.dumps(value))


def _ndjson_rows(text: IO[str]) -> Iterator[ParsedRow]:
    number = 0
    for line in text:
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except ValueError as err:
            yield ParsedRow(number, None, f"line is not valid JSON: {err}", line.rstrip("\r\n"))
            continue
        except RecursionError:
            yield ParsedRow(number, None, "line is nested too deeply to read", line.rstrip("\r\n")[:10_000])
            continue
        yield _as_row(number, value, line.rstrip("\r\n"), line)
    if number == 0:
        raise EmptyFile("file holds no records")


def _json_array_rows(text: IO[str]) -> Iterator[ParsedRow]:
    """Elements of a top-level array, parsed incrementally so a huge page never sits in memory."""
    import ijson

    number = 0
    try:
        for number, value in enumerate(ijson.items(_Utf8(text), "item", use_float=True), start=1):
            yield _as_row(number, value)
    except ijson.JSONError as err:
        raise MalformedFile(f"JSON array does not parse after element {number}: {err}") from err
    if number == 0:
        raise EmptyFile("JSON array is empty")


def _json_concat_rows(text: IO[str]) -> Iterator[ParsedRow]:
    """Objects written back to back, with or without whitespace between them (Firehose)."""
    decoder = json.JSONDecoder()
    buffer = ""
    number = 0
    eof = False
    while True:
        buffer = buffer.lstrip()
        if not buffer:
            if eof:
                break
            chunk = text.read(PEEK_BYTES)
            eof = not chunk
            buffer = chunk
            continue
        try:
            value, end = decoder.raw_decode(buffer)
        except RecursionError as err:
            raise MalformedFile(f"record {number + 1} is nested too deeply to read") from err
        except ValueError as err:
            if not eof:
                chunk = text.read(PEEK_BYTES)
                eof = not chunk
                buffer += chunk
                continue
            raise MalformedFile(f"record {number + 1} does not parse as JSON: {err}") from err
        if end == len(buffer) and not eof:
            # A number or literal may continue in the next chunk; read on before trusting it.
            chunk = text.read(PEEK_BYTES)
            eof = not chunk
            if chunk:
                buffer += chunk
                continue
        number += 1
        yield _as_row(number, value, text=buffer[:end])
        buffer = buffer[end:]
    if number == 0:
        raise EmptyFile("file holds no records")


def _parquet_rows(data: IO[bytes]) -> Iterator[ParsedRow]:
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


def _open_csv(text: IO[str], delimiter: str) -> tuple[tuple[str, ...], Iterator[ParsedRow]]:
    """Read the header now (callers check it before any row) and return the row iterator."""
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EmptyFile("CSV file holds no header") from None
    except UnicodeDecodeError as err:
        raise UndecodableFile(f"invalid {err.encoding} text in the header: {err.reason}") from err
    except csv.Error as err:
        raise MalformedFile(f"CSV header does not parse: {err}") from err
    header = [name.strip() for name in header]
    # Exports add an empty trailing column to the header; it carries no data.
    while header and not header[-1]:
        header.pop()
    named = [name for name in header if name]
    if len(set(named)) != len(named):
        duplicates = sorted({h for h in named if named.count(h) > 1})
        raise MalformedFile(f"CSV header repeats column names {duplicates}")
    # An unnamed column inside the header (accounting's tax export has one) keeps its values,
    # if a row has any, under a positional name; rows that skip it entirely read by name.
    full = [name or f"column_{position}" for position, name in enumerate(header, start=1)]
    return tuple(named), _csv_rows(reader, full, named, delimiter)


def _csv_rows(reader: Any, header: list[str], named: list[str], delimiter: str) -> Iterator[ParsedRow]:
    number = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise MalformedFile(f"CSV does not parse after data row {number}: {err}") from err
        if not fields or (all(not f for f in fields) and len(fields) <= 1):
            continue
        number += 1
        while len(fields) > len(header) and not fields[-1]:
            fields.pop()
        if len(fields) == len(header):
            yield ParsedRow(number, {k: v for k, v in zip(header, fields, strict=True) if k in named or v})
        elif len(fields) == len(named):
            yield ParsedRow(number, dict(zip(named, fields, strict=True)))
        else:
            yield ParsedRow(
                number,
                None,
                f"row has {len(fields)} fields, header has {len(header)}",
                delimiter.join(fields),
            )
    if number == 0:
        raise EmptyFile("CSV file has a header but no data rows")
