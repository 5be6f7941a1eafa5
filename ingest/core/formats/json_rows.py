"""Readers of JSON text: NDJSON, one top-level array, objects written back to back (Firehose).

A line or element that is not one JSON object becomes a row error; a file whose structure is
broken (an array cut off, a concatenated object that does not parse) fails as a whole.

Every record is bounded before it is built (``ingest.core.limits``): its text by
``max_record_bytes`` while it is read, its nesting by ``max_nesting`` on that text, so neither a
line with no end nor a value nested 100,000 deep costs more than one record's worth of memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO

from ingest.core.errors import EmptyFile, LimitExceeded, MalformedFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.nesting import deeper_than
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.limits import Limits

# A \uD800-\uDFFF escape; json.loads joins a valid pair into one character and leaves a lone
# one in the string, which no UTF-8 writer (Arrow, the quarantine file) can encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# How close to the end of the text read so far a decoding error may be and still mean "cut off
# here" rather than "wrong": the longest unfinished token a chunk can end in (``-1.5e+``).
_CUT_OFF_MARGIN = 8


def _lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _as_row(number: int, value: object, text: str) -> ParsedRow:
    """``text``: the record's JSON text, kept verbatim when the record is rejected."""
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(value):
        return ParsedRow(
            number, None, "record holds a lone surrogate escape (\\uD800-\\uDFFF): not text", text
        )
    if isinstance(value, dict):
        return ParsedRow(number, value)
    kind = type(value).__name__ if value is not None else "null"
    return ParsedRow(number, None, f"record is a JSON {kind}, not an object", text)


def _too_deep(number: int, text: str, limits: Limits) -> ParsedRow:
    return ParsedRow(
        number, None, f"record nests deeper than {limits.max_nesting} levels (INGEST_MAX_NESTING)", text
    )


def _too_long(what: str, limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        f"{what} is longer than {limits.max_record_bytes:,} characters (INGEST_MAX_RECORD_BYTES)"
    )


def ndjson_rows(text: IO[str], limits: Limits) -> Iterator[ParsedRow]:
    number = 0
    longest = limits.max_record_bytes
    # readline with a size never holds more than that much of a line, however long it is.
    while line := text.readline(longest + 1):
        if len(line) > longest and not line.endswith(("\n", "\r")):
            raise _too_long(f"line {number + 1}", limits)
        if not line.strip():
            continue
        number += 1
        record = line.rstrip("\r\n")
        if deeper_than(record, limits.max_nesting):
            yield _too_deep(number, record, limits)
            continue
        try:
            value = json.loads(record)
        except ValueError as err:
            yield ParsedRow(number, None, f"line is not valid JSON: {err}", record)
            continue
        yield _as_row(number, value, record)
    if number == 0:
        raise EmptyFile("file holds no records")


class _JsonText:
    """JSON text read chunk by chunk, decoded one value at a time by the standard library's C
    decoder, from a position in the text read so far.

    A value cut off at the end of what was read is decoded again once the text pending from its
    start has doubled, so a value spread over many chunks costs linear time (re-reading after
    every chunk costs quadratic: an unterminated 200 MB string took minutes), and a value longer
    than ``max_record_bytes`` fails the file when it passes that length.
    """

    def __init__(self, text: IO[str], limits: Limits) -> None:
        self._text = text
        self._limits = limits
        self._buffer = ""
        self._pos = 0
        self._eof = False

    def next_char(self) -> str:
        """The next character that is not whitespace, without taking it; "" at the end."""
        while True:
            match = _WHITESPACE.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._read(PEEK_BYTES):
                return ""

    def take(self) -> None:
        self._pos += 1

    def value(self, what: str) -> tuple[object, str]:
        """The JSON value starting at the position, and its text; ``what`` names it in errors."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except RecursionError as err:
                # Its end cannot be found without decoding it, so the file cannot go on.
                raise MalformedFile(f"{what} is nested too deeply to read") from err
            except json.JSONDecodeError as err:
                cut_off = err.pos >= len(self._buffer) - _CUT_OFF_MARGIN or err.msg.startswith(
                    "Unterminated string"
                )
                if cut_off and self._read_more(what):
                    continue
                if cut_off:
                    raise MalformedFile(f"{what} is cut off by the end of the file: {err}") from err
                raise MalformedFile(f"{what} does not parse as JSON: {err}") from err
            # A number or literal may go on in the next chunk: read on before trusting it.
            if end == len(self._buffer) and not isinstance(value, dict | list) and self._read_more(what):
                continue
            text = self._buffer[self._pos : end]
            self._pos = end
            return value, text

    def _read_more(self, what: str) -> bool:
        """Read as much again as the pending value's text; False at the end of the text."""
        pending = len(self._buffer) - self._pos
        if pending > self._limits.max_record_bytes:
            raise _too_long(what, self._limits)
        return self._read(max(pending, PEEK_BYTES))

    def _read(self, size: int) -> bool:
        if self._eof:
            return False
        chunk = self._text.read(size)
        if not chunk:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True


def _element_row(number: int, value: object, text: str, limits: Limits) -> ParsedRow:
    if deeper_than(text, limits.max_nesting):
        return _too_deep(number, text, limits)
    return _as_row(number, value, text)


def json_array_rows(text: IO[str], limits: Limits) -> Iterator[ParsedRow]:
    """Elements of a top-level array, one at a time, so a huge page never sits in memory."""
    json_text = _JsonText(text, limits)
    if json_text.next_char() != "[":
        raise MalformedFile("file does not start with a JSON array")
    json_text.take()
    number = 0
    if json_text.next_char() == "]":
        raise EmptyFile("JSON array is empty")
    while True:
        if not json_text.next_char():
            raise MalformedFile(f"JSON array is cut off after element {number}")
        value, element = json_text.value(f"JSON array element {number + 1}")
        number += 1
        yield _element_row(number, value, element, limits)
        after = json_text.next_char()
        if after == ",":
            json_text.take()
            continue
        if after == "]":
            json_text.take()
            break
        if not after:
            raise MalformedFile(f"JSON array is cut off after element {number}")
        raise MalformedFile(f"JSON array: expected ',' or ']' after element {number}, found {after!r}")
    if json_text.next_char():
        raise MalformedFile(f"data follows the end of the JSON array (after element {number})")


def json_concat_rows(text: IO[str], limits: Limits) -> Iterator[ParsedRow]:
    """Objects written back to back, with or without whitespace between them (Firehose)."""
    json_text = _JsonText(text, limits)
    number = 0
    while json_text.next_char():
        value, record = json_text.value(f"record {number + 1}")
        number += 1
        yield _element_row(number, value, record, limits)
    if number == 0:
        raise EmptyFile("file holds no records")
