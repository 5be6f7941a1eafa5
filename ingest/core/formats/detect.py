"""Format, encoding and CSV delimiter, read from the first bytes of the plain content."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass

from ingest.core.errors import EmptyFile, UndecodableFile

CSV_DELIMITERS = (",", "\t", ";", "|")
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Detected:
    format: str
    compression: str | None
    encoding: str
    delimiter: str | None = None
    header: tuple[str, ...] | None = None
    """Column names of a tabular file, as read from its header row."""


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
