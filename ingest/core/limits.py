"""Bounds on what one file may cost to read, so a hostile or broken file fails alone, with its
bytes kept, instead of exhausting a worker's memory or time.

Each limit is a setting (``INGEST_MAX_*``); a file past one fails as ``LimitExceeded`` naming the
setting, and ``ingest replay`` reads it again once the setting is raised.
"""

from __future__ import annotations

from dataclasses import dataclass

# A record's parsed form takes up to ~8x its text in Python objects (a 32 MiB line of small
# numbers is a 128 MiB list of pointers plus the text), so this keeps one record's peak near
# 300 MB. BigQuery accepts rows up to 100 MB; payment records are a few KB.
MAX_RECORD_BYTES = 32 << 20
# BigQuery allows 15 levels of nested fields and PayPal's records use about 5; deeper values
# can only go to ``_extra``. Well under Python's recursion limit (1,000), which the JSON decoder
# and every recursive walk of a record would otherwise meet first.
MAX_NESTING = 32
# Compressed files only: a gzip of zeros inflates about 1,000 times, so without a bound a 5 MB
# object costs minutes of CPU. Payment exports inflate 5-30 times.
MAX_INFLATED_BYTES = 4 << 30
# Beyond this share of rejected rows a file is not a good file with some bad rows but a wrong
# file (another format, a broken producer): it fails whole, with one reason, instead of
# writing a quarantine file as large as itself. Judged once ``MIN_BAD_ROWS_FOR_SHARE`` rows were
# rejected, so small files keep row-level quarantine.
MAX_BAD_ROW_SHARE = 0.5
MIN_BAD_ROWS_FOR_SHARE = 1_000


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = MAX_RECORD_BYTES
    """Longest record (a line, a JSON value, a CSV row) read, in characters of its text."""
    max_nesting: int = MAX_NESTING
    """Deepest nesting of objects and arrays in a record."""
    max_inflated_bytes: int = MAX_INFLATED_BYTES
    """Most bytes a compressed file may inflate to."""
    max_bad_row_share: float = MAX_BAD_ROW_SHARE
    """Largest share of a file's rows that may be quarantined while the rest load."""

    def __post_init__(self) -> None:
        from ingest.core.errors import ConfigError

        for name in ("max_record_bytes", "max_nesting", "max_inflated_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"INGEST_{name.upper()} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.max_bad_row_share <= 1:
            raise ConfigError(f"INGEST_MAX_BAD_ROW_SHARE must be in (0, 1], not {self.max_bad_row_share}")
