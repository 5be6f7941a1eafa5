"""Readers of JSON text: NDJSON, one top-level array, objects written back to back (Firehose).

A line or element that is not one JSON object becomes a row error; a file whose structure is
broken (an array cut off, a concatenated object that does not parse) fails as a whole.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Buffer, Iterator
from typing import IO

from ingest.core.errors import EmptyFile, MalformedFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.parsed_row import ParsedRow

# A \uD800-\uDFFF escape; json.loads joins a valid pair into one character and leaves a lone
# one in the string, which no UTF-8 writer (Arrow, the quarantine file) can encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Utf8(io.RawIOBase):
    """Re-encodes decoded text as UTF-8 bytes, for parsers that read bytes (ijson)."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer, /) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = self._text.read(PEEK_BYTES // 4)
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8")
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _as_row(number: int, value: object, raw: str | None = None, text: str | None = None) -> ParsedRow:
    """``text``: the record's JSON text, checked for a lone surrogate escape when it has one."""
    if text is not None and _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value):
        return ParsedRow(
            number, None, "record holds a lone surrogate escape (\\uD800-\\uDFFF): not text", text
        )
    if isinstance(value, dict):
        return ParsedRow(number, value)
    kind = type(value).__name__ if value is not None else "null"
    return ParsedRow(number, None, f"record is a JSON {kind}, not an object", raw or json.dumps(value))


def ndjson_rows(text: IO[str]) -> Iterator[ParsedRow]:
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


def json_array_rows(text: IO[str]) -> Iterator[ParsedRow]:
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


def json_concat_rows(text: IO[str]) -> Iterator[ParsedRow]:
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
