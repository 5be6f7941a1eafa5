"""Turn an object's bytes into numbered records, whatever the format, without trusting names.

Lake files often have no extension, so the format is read from the content: compression from
magic bytes, then the first meaningful character (``[`` a JSON array, ``{`` NDJSON or
concatenated objects as Firehose writes them, anything else CSV with a sniffed delimiter).

A record that cannot be read on its own (one bad NDJSON line, a ragged CSV row) becomes a
``ParsedRow`` with an error so the good rows still load; a file whose structure is broken
(truncated array, invalid UTF-8, broken gzip) raises an ``IngestError`` for the whole file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

from ingest.errors import EmptyFile, MalformedFile, UndecodableFile

GZIP_MAGIC = b"\x1f\x8b"
PEEK_BYTES = 1 << 20
CSV_DELIMITERS = (",", "\t", ";", "|")
_WHITESPACE = b" \t\r\n"


@dataclass(frozen=True)
class ParsedRow:
    number: int
    """1-based position of the record in the file (data rows only for CSV)."""
    record: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    """The record's text when it could not be parsed, so quarantine keeps it verbatim."""


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


class _Gunzip(io.RawIOBase):
    """Decompresses gzip (also several members back to back) and names corrupt streams."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = gzip.GzipFile(fileobj=inner, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._inner.readinto(buffer)
        except (EOFError, OSError, zlib.error) as err:
            raise UndecodableFile(f"gzip stream is corrupt or truncated: {err}") from err


def open_decompressed(stream: IO[bytes]) -> tuple[bytes, io.BufferedReader, str | None]:
    """The first ``PEEK_BYTES`` of plain content, a reader over all of it, and the compression."""
    raw = io.BufferedReader(_Stream(stream), PEEK_BYTES)
    compression = "gzip" if raw.peek(2)[:2] == GZIP_MAGIC else None
    plain = io.BufferedReader(_Gunzip(raw), PEEK_BYTES) if compression else raw
    head = plain.read(PEEK_BYTES)
    return head, io.BufferedReader(_Stream(plain, prefix=head), PEEK_BYTES), compression


def detect(head: bytes, pinned_format: str = "auto") -> Detected:
    """Detect format and encoding from the first bytes of the decompressed stream."""
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UndecodableFile("file is UTF-16; only UTF-8 text is supported")
    body = head[len(codecs.BOM_UTF8) :] if encoding == "utf-8-sig" else head
    stripped = body.lstrip(_WHITESPACE)
    if not stripped:
        raise EmptyFile("file holds no data (empty or whitespace only)")
    fmt = pinned_format if pinned_format != "auto" else _sniff_format(stripped)
    delimiter = _sniff_delimiter(stripped) if fmt == "csv" else None
    return Detected(format=fmt, compression=None, encoding=encoding, delimiter=delimiter)


def _sniff_format(stripped: bytes) -> str:
    first = stripped[:1]
    if first == b"[":
        return "json_array"
    if first == b"{":
        return "ndjson" if _looks_like_ndjson(stripped) else "json_concat"
    if b"\x00" in stripped[:4096]:
        raise UndecodableFile("file looks binary (NUL bytes), not text")
    return "csv"


def _looks_like_ndjson(stripped: bytes, lines_to_check: int = 5) -> bool:
    """NDJSON if any of the first complete lines is a JSON object on its own.

    Looking past the first line keeps one broken first line a row error instead of failing
    the file; pretty-printed or compact concatenated objects have no such line.
    """
    lines = stripped.split(b"\n", lines_to_check)
    complete = lines[:-1] if len(lines) > 1 else lines
    return any(_is_json_object(line) for line in complete[:lines_to_check] if line.strip())


def _is_json_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _sniff_delimiter(stripped: bytes) -> str:
    header = stripped.partition(b"\n")[0].decode("utf-8", errors="replace")
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(stream: IO[bytes], pinned_format: str = "auto") -> tuple[Detected, Iterator[ParsedRow]]:
    """Detect the format of ``stream`` and return it with an iterator over its records."""
    head, data, compression = open_decompressed(stream)
    detected = replace(detect(head, pinned_format), compression=compression)
    text = io.TextIOWrapper(data, encoding=detected.encoding, errors="strict", newline="")
    if detected.format == "csv":
        header, rows = _open_csv(text, detected.delimiter or ",")
        return replace(detected, header=header), _guard_decoding(rows)
    readers = {"ndjson": _ndjson_rows, "json_array": _json_array_rows, "json_concat": _json_concat_rows}
    return detected, _guard_decoding(readers[detected.format](text))


def _guard_decoding(rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    try:
        yield from rows
    except UnicodeDecodeError as err:
        raise UndecodableFile(f"invalid UTF-8 at byte {err.start} of a chunk: {err.reason}") from err


def _as_row(number: int, value: Any, raw: str | None = None) -> ParsedRow:
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
        yield _as_row(number, value, line.rstrip("\r\n"))
    if number == 0:
        raise EmptyFile("file holds no records")


def _json_array_rows(text: IO[str]) -> Iterator[ParsedRow]:
    try:
        values = json.load(text)
    except UnicodeDecodeError:
        raise  # a ValueError too, but the bytes are at fault: _guard_decoding names it
    except ValueError as err:
        raise MalformedFile(f"JSON array does not parse: {err}") from err
    if not isinstance(values, list):
        raise MalformedFile("expected a JSON array at the top level")
    if not values:
        raise EmptyFile("JSON array is empty")
    for number, value in enumerate(values, start=1):
        yield _as_row(number, value)


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
        yield _as_row(number, value)
        buffer = buffer[end:]
    if number == 0:
        raise EmptyFile("file holds no records")


def _open_csv(text: IO[str], delimiter: str) -> tuple[tuple[str, ...], Iterator[ParsedRow]]:
    """Read the header now (callers check it before any row) and return the row iterator."""
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EmptyFile("CSV file holds no header") from None
    except UnicodeDecodeError as err:
        raise UndecodableFile(f"invalid UTF-8 in the header: {err.reason}") from err
    except csv.Error as err:
        raise MalformedFile(f"CSV header does not parse: {err}") from err
    header = [name.strip() for name in header]
    # Exports add an empty trailing column to the header; it carries no data.
    while header and not header[-1]:
        header.pop()
    if len(set(header)) != len(header):
        duplicates = sorted({h for h in header if header.count(h) > 1})
        raise MalformedFile(f"CSV header repeats column names {duplicates}")
    return tuple(header), _csv_rows(reader, header, delimiter)


def _csv_rows(reader: Any, header: list[str], delimiter: str) -> Iterator[ParsedRow]:
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
        if len(fields) != len(header):
            yield ParsedRow(
                number,
                None,
                f"row has {len(fields)} fields, header has {len(header)}",
                delimiter.join(fields),
            )
            continue
        yield ParsedRow(number, dict(zip(header, fields, strict=True)))
    if number == 0:
        raise EmptyFile("CSV file has a header but no data rows")
