"""A raw file's columns as ``ingest inspect`` reports them: a type and a null count per field.

Types are inferred per field over all rows (``ingest.core.type_inference``: ``"19.99"`` is
NUMERIC, ``"2021-07-01T10:00:00Z"`` a TIMESTAMP). Nested objects become dotted paths, down to
``MAX_DEPTH`` levels; an empty object is a RECORD with no value, and an array of objects
(PayPal's ``cart_info.item_details``) a REPEATED RECORD whose elements' fields are profiled under
its path, as BigQuery would name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ingest.apps.tools.country_codes import CountryCodes, is_country_field
from ingest.apps.tools.masking import MAX_DEPTH, mask_record, nested_deeper_than
from ingest.core.config import RecordTransform
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.type_inference import is_records, merge_types, value_type

MAX_LISTED = 100
"""Errors and quarantined rows listed in a report; all of them are counted."""
MAX_COLUMNS = 1000
"""Distinct fields profiled; a file with more (keys that are data) gets a warning instead."""


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    """Field name; nested JSON objects as dotted paths."""
    type: str
    """BigQuery type that holds every value seen; STRING when only nulls were seen."""
    nulls: int
    """Rows whose value is null, empty or absent (for a field of array elements: in every element)."""
    mode: str = "NULLABLE"
    """REPEATED for an array of objects (a BigQuery REPEATED RECORD)."""


@dataclass(frozen=True)
class RowError:
    row: int
    """Record number as the pipeline counts it (``_source_row``, quarantine ``row``)."""
    error: str


def flatten(record: dict[str, Any], prefix: str = "", depth: int = 1) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf; an empty object is a leaf (``{}``), and so is an array.

    An array of objects is yielded itself, then each element's leaves under its path, so a
    field of the elements appears once per element. An object nested deeper than ``MAX_DEPTH``
    is a leaf too (typed JSON), so a hostile record cannot exhaust the stack; it is the only
    non-empty object yielded.
    """
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < MAX_DEPTH:
            yield from flatten(value, f"{name}.", depth + 1)
            continue
        yield name, value
        if is_records(value) and depth < MAX_DEPTH:
            for item in value:
                yield from flatten(item, f"{name}.", depth + 1)


class Profiler:
    """Aggregates over a row stream: per-field type and fill count, first errors, masked sample.

    Given the pipeline's record ``transform``, it also notes which fields the transformed rows
    give a value (``has_value``): a pipeline's columns name those, not the raw file's fields.
    """

    def __init__(self, sample_size: int, transform: RecordTransform | None = None) -> None:
        self.sample_size = sample_size
        self.types: dict[str, str | None] = {}
        self.filled: dict[str, int] = {}
        self.repeated: set[str] = set()
        self.rows = self.records = self.error_rows = 0
        self.errors: list[RowError] = []
        self.sample: list[dict[str, Any]] = []
        self.overflow = False
        self.too_deep = 0
        """Records cut at ``MAX_DEPTH``: an object profiled as one value, or a sample cut short."""
        self.first_too_deep: int | None = None
        self.country_codes = CountryCodes()
        self.transform = transform
        self.transformed = 0
        """Records the transform turned into rows (it refuses some: the dry run quarantines them)."""
        self.transformed_fields: set[str] = set()

    def start(self, header: Iterable[str] | None) -> None:
        for name in header or ():
            self._add_column(name)

    def observe(self, rows: Iterable[ParsedRow]) -> None:
        for row in rows:
            self._add(row)

    def _add(self, row: ParsedRow) -> None:
        self.rows += 1
        if row.record is None:
            self.error_rows += 1
            if len(self.errors) < MAX_LISTED:
                self.errors.append(RowError(row.number, row.error or "unreadable"))
            return
        self.records += 1
        cut = False
        if len(self.sample) < self.sample_size:
            self.sample.append({"row": row.number, "record": mask_record(row.record)})
            cut = nested_deeper_than(row.record, MAX_DEPTH)  # the sample shows it cut
        filled: set[str] = set()  # a field of array elements counts once per row
        for name, value in flatten(row.record):
            # flatten yields a non-empty object only where it stopped at MAX_DEPTH; checking
            # that here costs nothing, where walking every record again cost 15% of a profile.
            cut = cut or (isinstance(value, dict) and bool(value))
            if name not in self.types and not self._add_column(name):
                continue
            if isinstance(value, str) and is_country_field(name):
                self.country_codes.observe(name, value, row.number)
            empty_object = isinstance(value, dict) and not value  # a record with no value
            kind = "RECORD" if empty_object else value_type(value)
            if kind is None:
                continue
            if kind == "RECORD" and isinstance(value, list):
                self.repeated.add(name)
            self.types[name] = merge_types(self.types[name], kind)
            if not empty_object and name not in filled:
                filled.add(name)
                self.filled[name] += 1
        if cut:
            self.too_deep += 1
            self.first_too_deep = self.first_too_deep or row.number
        if self.transform is not None:
            self._add_transformed(row.record)

    def _add_transformed(self, record: dict[str, Any]) -> None:
        assert self.transform is not None
        try:
            derived = self.transform(record)
        except (ValueError, TypeError, KeyError):
            return  # the dry run quarantines the record, with the transform's reason
        self.transformed += 1
        for out in derived:
            for name, value in flatten(out):
                if len(self.transformed_fields) < MAX_COLUMNS and value_type(value) is not None:
                    self.transformed_fields.add(name)

    def _add_column(self, name: str) -> bool:
        if len(self.types) >= MAX_COLUMNS:
            self.overflow = True
            return False
        self.types[name], self.filled[name] = None, 0
        return True

    def columns(self) -> list[ColumnProfile]:
        return [
            ColumnProfile(
                name,
                kind or "STRING",
                max(0, self.records - self.filled[name]),
                "REPEATED" if name in self.repeated and kind == "RECORD" else "NULLABLE",
            )
            for name, kind in self.types.items()
        ]

    def has_value(self, path: str) -> bool:
        """Some row gave the field at ``path`` (or a field under it) a value: a row the transform
        made, if there is one (the rows a pipeline's columns read)."""
        if self.transform is not None:
            return any(name == path or name.startswith(f"{path}.") for name in self.transformed_fields)
        return self.has_raw_value(path)

    def has_raw_value(self, path: str) -> bool:
        """Some record of the file gave the field at ``path`` (or a field under it) a value."""
        return any((name == path or name.startswith(f"{path}.")) and self.filled[name] for name in self.types)
