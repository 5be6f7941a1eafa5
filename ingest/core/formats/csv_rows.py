"""Reader of CSV text: a header read up front, then rows by name, ragged rows as row errors."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from ingest.core.errors import EmptyFile, LimitExceeded, MalformedFile, UndecodableFile
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.limits import Limits


class _BoundedLines:
    """The lines of ``text`` for ``csv.reader``, failing a record longer than ``limit`` characters
    as it is read: a line with no end is never held whole (``readline`` with a size), nor is a
    quoted field that runs over many lines (the characters since the last row are counted)."""

    def __init__(self, text: IO[str], limit: int) -> None:
        self._text = text
        self._limit = limit
        self.since_row = 0
        """Characters read since the last whole row; the row reader resets it."""

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(self._limit + 1)
        if not line:
            raise StopIteration
        self.since_row += len(line)
        if self.since_row > self._limit:
            raise LimitExceeded(
                f"a CSV record is longer than {self._limit:,} characters (INGEST_MAX_RECORD_BYTES)"
            )
        return line


def open_csv(text: IO[str], delimiter: str, limits: Limits) -> tuple[tuple[str, ...], Iterator[ParsedRow]]:
    """Read the header now (callers check it before any row) and return the row iterator."""
    lines = _BoundedLines(text, limits.max_record_bytes)
    # The csv module's own bound is per field and process-wide (128 KiB by default); the
    # record bound above is the one that holds, so a field may be as long as a record.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_record_bytes))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise EmptyFile("CSV file holds no header") from None
    except UnicodeDecodeError as err:
        raise UndecodableFile(f"invalid {err.encoding} text near the start: {err.reason}") from err
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
    return tuple(named), _csv_rows(reader, lines, full, named, delimiter)


def _csv_rows(
    reader: Iterator[list[str]], lines: _BoundedLines, header: list[str], named: list[str], delimiter: str
) -> Iterator[ParsedRow]:
    number = 0
    while True:
        lines.since_row = 0
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
