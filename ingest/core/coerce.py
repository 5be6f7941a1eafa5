"""Coerce parsed records to a pipeline's BigQuery schema, one explicit rule per type.

Good rows become a typed Arrow table ready to write as Parquet; a row that cannot be coerced is
rejected with its row number and a reason, and the rest still load. Unknown fields are never
dropped silently: they are kept as JSON in ``_extra`` (unless the whole record is kept anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.core.config import EXTRA_COLUMN, Column, ConfigError, Pipeline
from ingest.core.errors import MissingColumn
from ingest.core.formats import ParsedRow

NUMERIC_SCALE = 9
NUMERIC_PRECISION = 38
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMERIC_QUANTUM = Decimal(1).scaleb(-NUMERIC_SCALE)
# The default context holds 28 digits; NUMERIC holds 38 (29 before the point, 9 after).
_NUMERIC_CONTEXT = Context(prec=NUMERIC_PRECISION)
# 1,234,567.89: commas every three digits before an optional dot decimal part.
_GROUPED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}

ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "NUMERIC": pa.decimal128(NUMERIC_PRECISION, NUMERIC_SCALE),
    "FLOAT64": pa.float64(),
    "BOOL": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    # The JSON logical type in Parquet is what BigQuery reads into a JSON column.
    "JSON": pa.json_(),
}


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type a column is written to Parquet as (a REPEATED RECORD is a list of structs)."""
    if column.type == "RECORD":
        return pa.list_(pa.struct([pa.field(f.name, arrow_type(f)) for f in column.fields]))
    return ARROW_TYPES[column.type]


def _to_string(value: Any) -> str:
    if isinstance(value, dict | list):
        return _to_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number_text(text: str) -> str:
    """Strip thousands separators, but only where they cannot be a decimal comma."""
    text = text.strip()
    if _GROUPED_THOUSANDS.match(text):
        return text.replace(",", "")
    return text


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("is a boolean, not an integer")
    if isinstance(value, float | Decimal):
        if value != value.to_integral_value() if isinstance(value, Decimal) else not value.is_integer():
            raise ValueError("has a fraction")
        value = int(value)
    elif isinstance(value, str):
        value = int(_number_text(value))
    elif not isinstance(value, int):
        raise ValueError(f"is a {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("is outside INT64")
    return value


def _to_numeric(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"is a {type(value).__name__}")
    try:
        if isinstance(value, Decimal):
            number = value
        else:
            number = Decimal(_number_text(value) if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("is not finite")
    exponent = number.as_tuple().exponent
    # Trailing zeros past the 9th place ("1.0000000000") lose nothing; other digits would.
    if exponent < -NUMERIC_SCALE and number != number.quantize(_NUMERIC_QUANTUM, context=_NUMERIC_CONTEXT):  # type: ignore[operator]
        raise ValueError(f"has more than {NUMERIC_SCALE} decimal places")
    try:
        number = number.quantize(_NUMERIC_QUANTUM, context=_NUMERIC_CONTEXT)
    except InvalidOperation:
        raise ValueError("is too large for NUMERIC") from None
    if len(number.as_tuple().digits) > NUMERIC_PRECISION:
        raise ValueError("is too large for NUMERIC")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"is a {type(value).__name__}")
    number = float(_number_text(value) if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError("is not finite")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("is not a boolean")


def _to_timestamp(value: Any) -> datetime:
    """ISO-8601 in its common spellings, or RFC 2822 (mail and HTTP headers).

    Slash dates (07/01/2021) are refused: day/month order cannot be known from one value.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                raise ValueError("is not an ISO-8601 or RFC 2822 timestamp") from None
    else:
        raise ValueError(f"is a {type(value).__name__}, not a timestamp")
    # A timestamp without an offset is taken as UTC, which is what every source here writes.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"is a {type(value).__name__}, not an ISO-8601 date")
    return date.fromisoformat(value.strip())


def _json_default(value: Any) -> Any:
    # Parquet and Avro sources hand over typed values; JSON keeps their canonical text.
    if isinstance(value, Decimal | datetime | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(value: Any) -> str:
    """Lenient JSON for people and quarantine files: typed values as text, NaN kept as NaN."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _to_json(value: Any) -> str:
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    )


_FLOAT_EXACT_INT = 2**53
# Types whose text Arrow parses itself (see _cast_whole_column).
_ARROW_PARSES_TEXT = {"INT64", "NUMERIC", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"}

CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "STRING": _to_string,
    "INT64": _to_int,
    "NUMERIC": _to_numeric,
    "FLOAT64": _to_float,
    "BOOL": _to_bool,
    "TIMESTAMP": _to_timestamp,
    "DATE": _to_date,
    "JSON": _to_json,
}


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
    def columns(self) -> dict[str, list[Any]]:
        """The good rows' values as Python objects, column by column (for people and tests)."""
        return {name: array.to_pylist() for name, array in self.arrays.items()}


def _lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def redact(record: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``record`` without the values at ``paths``; the input is left as it was."""
    result = dict(record)
    for path in paths:
        parent: Any = result
        for part in path[:-1]:
            child = parent.get(part) if isinstance(parent, dict) else None
            if not isinstance(child, dict):
                parent = None
                break
            parent[part] = child = dict(child)
            parent = child
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return result


def _records_converter(column: Column) -> Callable[[Any], list[dict[str, Any]]]:
    """Converter of a REPEATED RECORD value: a list of objects, each field by its own rule."""
    fields = [(f, f.source_path, CONVERTERS[f.type]) for f in column.fields]

    def convert(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise ValueError(f"is a {type(value).__name__}, not a list")
        elements = []
        for index, element in enumerate(value):
            if not isinstance(element, dict):
                raise ValueError(f"[{index}] is a {type(element).__name__}, not an object")
            converted = {}
            for field_, path, to_type in fields:
                raw = _lookup(element, path)
                if raw is None or raw == "":
                    if field_.required:
                        raise ValueError(f"[{index}].{field_.name} is missing")
                    converted[field_.name] = None
                    continue
                try:
                    converted[field_.name] = to_type(raw)
                except (ValueError, TypeError, ArithmeticError) as err:
                    raise ValueError(f"[{index}].{field_.name} {_preview(raw)} {_reason(err)}") from None
            elements.append(converted)
        return elements

    return convert


def pseudonym(key: bytes, value: str) -> str:
    """Keyed hash of an identifier (HMAC-SHA256, hex): equal inputs give equal pseudonyms, and
    without the key nobody can test a guessed email against it."""
    normalised = value.strip().lower().encode()
    return hmac.new(key, normalised, hashlib.sha256).hexdigest()


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
        # Paths and converters resolved once per file, not once per value.
        self._converters = [
            (c, c.source_path, _records_converter(c) if c.type == "RECORD" else CONVERTERS[c.type])
            for c in pipeline.columns
        ]

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
        parsed = [row for row in rows if row.record is not None]
        records = [row.record for row in parsed]
        errors: list[str | None] = [None] * len(records)
        arrays: dict[str, pa.Array] = {}
        for column, path, convert in self._converters:
            if len(path) == 1:
                raw = [record.get(path[0]) for record in records]  # type: ignore[union-attr]
            else:
                raw = [_lookup(record, path) for record in records]  # type: ignore[arg-type]
            arrays[column.name] = self._column(column, convert, raw, errors)

        extra_fields: set[str] = set()
        kept_records: list[str | None] = []
        extras_json: list[str | None] = []
        for index, record in enumerate(records):
            kept_json = extra = None
            if errors[index] is None:
                try:
                    original = parsed[index].original or record
                    kept_json, extra, names = self._kept_and_extras(record, original)  # type: ignore[arg-type]
                    extra_fields |= names
                except ValueError as err:
                    errors[index] = str(err)
            kept_records.append(kept_json)
            extras_json.append(extra)
        if self.pipeline.record_column:
            arrays[self.pipeline.record_column] = pa.array(kept_records, ARROW_TYPES["JSON"])
        arrays[EXTRA_COLUMN] = pa.array(extras_json, ARROW_TYPES["JSON"])

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
            RejectedRow(row.number, error, row.raw or self._raw_text(row.original or row.record))  # type: ignore[arg-type]
            for row, error in zip(parsed, errors, strict=True)
            if error is not None
        ]
        rejected.sort(key=lambda r: r.number)
        return Coerced(
            arrays=arrays,
            row_numbers=[row.number for row, ok in zip(parsed, good, strict=True) if ok],
            rejected=rejected,
            extra_fields=extra_fields,
        )

    def _column(
        self, column: Column, convert: Callable[[Any], Any], raw: list[Any], errors: list[str | None]
    ) -> pa.Array:
        if self.empty_is_null or column.type != "STRING":
            raw = [None if value == "" else value for value in raw]
        if column.required:
            for index, value in enumerate(raw):
                if value is None and errors[index] is None:
                    errors[index] = f"{column.name}: required value is missing"
        fast = None if column.type == "RECORD" else _cast_whole_column(column.type, raw)
        if fast is not None:
            return self.pseudonymised(column, fast)
        values: list[Any] = []
        for index, value in enumerate(raw):
            if value is None:
                # BigQuery has no NULL list: a record without items has an empty one.
                values.append([] if column.repeated else None)
                continue
            try:
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"is not finite ({value!r})")
                values.append(convert(value))
            except (ValueError, TypeError, ArithmeticError) as err:
                if errors[index] is None and column.type == "RECORD":
                    errors[index] = f"{column.name}: {err}"  # names the element and field
                elif errors[index] is None:
                    errors[index] = f"{column.name}: {_preview(value)} {_reason(err)}"
                values.append([] if column.repeated else None)
        return self.pseudonymised(column, pa.array(values, arrow_type(column)))

    def pseudonymised(self, column: Column, array: pa.Array) -> pa.Array:
        if not column.pseudonymise:
            return array
        key = self._pseudonym_key
        assert key is not None
        return pa.array([None if v is None else pseudonym(key, v) for v in array.to_pylist()], pa.string())

    def _kept_and_extras(
        self, record: dict[str, Any], original: dict[str, Any]
    ) -> tuple[str | None, str | None, set[str]]:
        if self.pipeline.record_column:
            kept = redact(original, self.redact_paths) if self.redact_paths else original
            return _to_json(kept), None, set()
        kept = redact(record, self.redact_paths) if self.redact_paths else record
        extras = {k: v for k, v in kept.items() if k not in self.known_roots}
        if not extras:
            return None, None, set()
        return None, _to_json(extras), set(extras)

    def _raw_text(self, record: dict[str, Any]) -> str:
        # Not _to_json: a NaN from the source must not stop the quarantine of its row.
        return json_text(redact(record, self.redact_paths))


def _cast_whole_column(bq_type: str, raw: list[Any]) -> pa.Array | None:
    """The column cast by Arrow in one step, or None when Arrow cannot vouch for every value."""
    target = ARROW_TYPES[bq_type]
    kinds = {type(value) for value in raw if value is not None}
    if not kinds:
        return pa.nulls(len(raw), target)
    if bq_type == "STRING":
        return pa.array(raw, pa.string()) if kinds == {str} else None
    if kinds == {str} and bq_type in _ARROW_PARSES_TEXT:
        return arrow_cast(bq_type, pa.array(raw, pa.string()))
    if kinds == {int} and bq_type in {"INT64", "NUMERIC", "FLOAT64"}:
        in_range = all(INT64_MIN <= v <= INT64_MAX for v in raw if v is not None)
        source = pa.array(raw, pa.int64()) if in_range else None
    elif kinds <= {int, float} and bq_type == "NUMERIC":
        # From the shortest text of each number, as the per-value converter reads it: no
        # binary rounding, and more than 9 decimal places is refused, not rounded.
        source = pa.array([None if v is None else repr(v) for v in raw], pa.string())
    elif kinds <= {int, float} and bq_type in {"FLOAT64", "INT64"}:
        exact = all(abs(v) < _FLOAT_EXACT_INT for v in raw if type(v) is int)
        source = pa.array(raw, pa.float64()) if exact else None
    elif kinds == {bool} and bq_type == "BOOL":
        return pa.array(raw, pa.bool_())
    else:
        return None
    return None if source is None else _cast(bq_type, source)


def arrow_cast(bq_type: str, source: pa.Array) -> pa.Array | None:
    """Text, INT64 or BOOL values cast to a column type, as the per-value converters would give
    them; None when Arrow cannot vouch for every value (the caller then converts value by value).
    """
    if pa.types.is_null(source.type):
        return pa.nulls(len(source), ARROW_TYPES[bq_type])
    if pa.types.is_string(source.type):
        if bq_type == "STRING":
            return source
        return _cast(bq_type, source) if bq_type in _ARROW_PARSES_TEXT else None
    if pa.types.is_int64(source.type):
        return _cast(bq_type, source) if bq_type in {"INT64", "NUMERIC", "FLOAT64"} else None
    if pa.types.is_boolean(source.type):
        return source if bq_type == "BOOL" else None
    return None


def _cast(bq_type: str, source: pa.Array) -> pa.Array | None:
    try:
        cast = pc.cast(source, ARROW_TYPES[bq_type])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        return None
    if bq_type == "FLOAT64" and not pc.all(pc.is_finite(cast)).as_py():
        return None  # "nan" and "inf" parse, but are refused value by value
    return cast


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reason(err: Exception) -> str:
    message = str(err)
    if message.startswith(("is ", "has ")):
        return message
    return f"is not valid: {message}"


def to_arrow(pipeline: Pipeline, coerced: Coerced, lineage: dict[str, Any]) -> pa.Table:
    """The good rows as an Arrow table with the pipeline's load schema."""
    arrays: dict[str, pa.Array] = {}
    fields = []
    count = len(coerced.row_numbers)
    for column in pipeline.bigquery_columns():
        name, type_ = column.name, arrow_type(column)
        if name in coerced.arrays:
            arrays[name] = coerced.arrays[name].cast(type_)
        elif name == "_source_row":
            arrays[name] = pa.array(coerced.row_numbers, type=type_)
        else:
            arrays[name] = pa.array([lineage[name]] * count, type=type_)
        fields.append(pa.field(name, type_, nullable=not column.required))
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))
