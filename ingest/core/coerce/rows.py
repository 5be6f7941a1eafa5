"""The row coercer: chunks of parsed records to typed Arrow columns, and the rows it rejects.

Good rows become typed Arrow arrays ready to write as Parquet; a row that cannot be coerced is
rejected with its row number and a reason, and the rest still load. Unknown fields are never
dropped silently: they are kept as JSON in ``_extra`` (unless the whole record is kept anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.core.coerce.arrow_casts import ARROW_TYPES, typed_values
from ingest.core.coerce.converters import json_text, lookup, to_json
from ingest.core.coerce.privacy import CONTACT_HINTS, mask_free_text, mask_json_text, pseudonym, redact
from ingest.core.coerce.record_columns import records_column
from ingest.core.config import EXTRA_COLUMN, Column, Pipeline
from ingest.core.errors import ConfigError, MissingColumn
from ingest.core.formats.parsed_row import ParsedRow


@dataclass(frozen=True)
class RejectedRow:
    number: int
    reason: str
    raw: str


@dataclass
class Coerced:
    """Typed columns of the good rows (Arrow arrays), and the rejected rows with reasons."""

    arrays: dict[str, pa.Array]
    row_numbers: list[int] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    extra_fields: set[str] = field(default_factory=set)

    @property
    def rows_in(self) -> int:
        return len(self.row_numbers) + len(self.rejected)

    @property
    def columns(self) -> dict[str, list[object]]:
        """The good rows' values as Python objects, column by column (for people and tests)."""
        return {name: array.to_pylist() for name, array in self.arrays.items()}


class RecordCoercer:
    """Coerces records of one pipeline; built once per file."""

    def __init__(self, pipeline: Pipeline, empty_is_null: bool, pseudonym_key: bytes | None = None) -> None:
        if pipeline.pseudonymises and not pseudonym_key:
            raise ConfigError(
                f"pipeline {pipeline.name} pseudonymises columns: set INGEST_PSEUDONYM_KEY "
                "(a secret; the same key keeps pseudonyms joinable across loads)"
            )
        self.pipeline = pipeline
        self.empty_is_null = empty_is_null
        self._pseudonym_key = pseudonym_key
        self.redact_paths = [tuple(p.split(".")) for p in pipeline.redact]
        redacted_roots = {p[0] for p in self.redact_paths if len(p) == 1}
        self.known_roots = {c.source_path[0] for c in pipeline.columns} | redacted_roots
        """Top-level fields the columns read (or redaction drops): the others are kept in ``_extra``."""
        # Paths resolved once per file, not once per value.
        self._paths = [(c, c.source_path) for c in pipeline.columns]

    def check_header(self, fields: Iterable[str]) -> None:
        """Fail the file when a required column is missing from a tabular header."""
        present = set(fields)
        missing = [
            c.source or c.name
            for c in self.pipeline.columns
            if c.required and (c.source or c.name) not in present
        ]
        if missing:
            raise MissingColumn(f"required column(s) {', '.join(missing)} missing from the header")

    def coerce(self, rows: Iterable[ParsedRow]) -> Coerced:
        """Coerce a chunk of rows column by column.

        Each column is first cast by Arrow in one vectorised step; Arrow accepts a strict subset
        of what the per-value converters accept, with the same results, so only a column that
        Arrow refuses in this chunk (a bad value, thousands separators, RFC 2822 dates...) is
        converted value by value, which also names each bad value.
        """
        rows = list(rows)
        parsed = [(row, row.record) for row in rows if row.record is not None]
        records = [record for _, record in parsed]
        errors: list[str | None] = [None] * len(records)
        arrays: dict[str, pa.Array] = {}
        for column, path in self._paths:
            raw: list[object]
            if len(path) == 1:
                raw = [record.get(path[0]) for record in records]
            elif len(path) == 2:
                # PayPal's fields are two deep (transaction_info.fee_amount): inlined, with no
                # function call per value (a third of a page's calls went to ``lookup``).
                outer, inner = path
                raw = [
                    parent.get(inner) if isinstance(parent := record.get(outer), dict) else None
                    for record in records
                ]
            else:
                raw = [lookup(record, path) for record in records]
            arrays[column.name] = self._column(column, raw, errors)

        extra_fields: set[str] = set()
        kept_records: list[str | None] = []
        extras_json: list[str | None] = []
        for index, (row, record) in enumerate(parsed):
            kept_json = extra = None
            if errors[index] is None:
                try:
                    kept_json, extra, names = self._kept_and_extras(record, row.original or record)
                    extra_fields |= names
                except (ValueError, TypeError) as err:
                    # A value JSON cannot hold is the row's fault, not a failure worth a retry.
                    errors[index] = str(err)
            kept_records.append(kept_json)
            extras_json.append(extra)
        if self.pipeline.record_column:
            arrays[self.pipeline.record_column] = self._json_array(kept_records)
        arrays[EXTRA_COLUMN] = self._json_array(extras_json)

        good = [error is None for error in errors]
        if not all(good):
            mask = pa.array(good, pa.bool_())
            arrays = {name: array.filter(mask) for name, array in arrays.items()}
        rejected = [
            RejectedRow(
                row.number,
                row.error or "unreadable",
                row.raw or (self._raw_text(row.original) if row.original is not None else ""),
            )
            for row in rows
            if row.record is None
        ]
        rejected += [
            RejectedRow(row.number, error, row.raw or self._raw_text(row.original or record))
            for (row, record), error in zip(parsed, errors, strict=True)
            if error is not None
        ]
        rejected.sort(key=lambda r: r.number)
        return Coerced(
            arrays=arrays,
            row_numbers=[row.number for (row, _), ok in zip(parsed, good, strict=True) if ok],
            rejected=rejected,
            extra_fields=extra_fields,
        )

    def _column(self, column: Column, raw: list[object], errors: list[str | None]) -> pa.Array:
        if self.empty_is_null or column.type != "STRING":
            raw = [None if value == "" else value for value in raw]
        if column.required:
            for index, value in enumerate(raw):
                if value is None and errors[index] is None:
                    errors[index] = f"{column.name}: required value is missing"
        if column.type == "RECORD":  # always REPEATED (config): a list of objects per row
            return self.protected(column, records_column(column, raw, errors))

        def refuse(index: int, why: str) -> None:
            if errors[index] is None:
                errors[index] = f"{column.name}: {why}"

        return self.protected(column, typed_values(column.type, raw, refuse, finite_only=True))

    def protected(self, column: Column, array: pa.Array) -> pa.Array:
        """A column's typed values as stored: pseudonymised, or contact details in free text masked.

        Both readers (this one and ``arrow_ndjson``) store through here, so they store the same.
        """
        if column.free_text:
            return masked_texts(array, self.mask_text)
        if not column.pseudonymise:
            return array
        key = self._pseudonym_key
        assert key is not None
        # One HMAC per distinct value: a page repeats its payers.
        distinct = pc.unique(array)
        hashed = pa.array(
            [None if v is None else pseudonym(key, v) for v in distinct.to_pylist()], pa.string()
        )
        return pc.take(hashed, pc.index_in(array, value_set=distinct))

    def mask_text(self, text: str) -> str:
        return mask_free_text(text, self._pseudonym_key)

    def mask_json(self, text: str) -> str:
        """The kept JSON (``_raw``, ``_extra``) with contact details masked in every string value:
        they hold whatever a producer wrote, notes and descriptions included."""
        return mask_json_text(text, self._pseudonym_key)

    def _json_array(self, texts: list[str | None]) -> pa.Array:
        masked = masked_texts(pa.array(texts, pa.string()), self.mask_json)
        return pa.ExtensionArray.from_storage(ARROW_TYPES["JSON"], masked)

    def _kept_and_extras(
        self, record: dict[str, Any], original: dict[str, Any]
    ) -> tuple[str | None, str | None, set[str]]:
        if self.pipeline.record_column:
            kept = redact(original, self.redact_paths) if self.redact_paths else original
            return to_json(kept), None, set()
        kept = redact(record, self.redact_paths) if self.redact_paths else record
        extras = {k: v for k, v in kept.items() if k not in self.known_roots}
        if not extras:
            return None, None, set()
        return None, to_json(extras), set(extras)

    def _raw_text(self, record: dict[str, Any]) -> str:
        # Not to_json: a NaN from the source must not stop the quarantine of its row.
        return json_text(redact(record, self.redact_paths))


def masked_texts(values: pa.Array, mask: Callable[[str], str]) -> pa.Array:
    """``values`` (text) with ``mask`` applied to each value that may hold contact details.

    Arrow's regex finds those (next to none); only they go through Python, so a clean column
    costs one vectorised pass. ``mask`` checks the same hint itself, so the result is what
    applying it to every value would give.
    """
    if not len(values) or values.null_count == len(values):
        return values
    hits = None
    for hint in CONTACT_HINTS:
        found = pc.match_substring_regex(values, hint)
        if pc.any(found).as_py():
            hits = found if hits is None else pc.or_(hits, found)
    if hits is None:
        return values
    texts = values.to_pylist()
    flags = hits.to_pylist()
    return pa.array([mask(t) if hit else t for t, hit in zip(texts, flags, strict=True)], values.type)
