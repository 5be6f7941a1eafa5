"""One record as a reader hands it over: the record, or why it could not be read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
