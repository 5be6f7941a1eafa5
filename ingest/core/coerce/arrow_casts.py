"""Arrow types of BigQuery columns, vectorised casts, and the load table a file's rows make.

A cast here gives exactly what the per-value converters give, or nothing: whenever Arrow cannot
vouch for every value of a column, the caller converts it value by value (which also names
each bad value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ingest.core.coerce.converters import (
    CONVERTERS,
    INT64_MAX,
    INT64_MIN,
    NUMERIC_PRECISION,
    NUMERIC_SCALE,
    failure,
)
from ingest.core.config import Column, Lineage, Pipeline

if TYPE_CHECKING:
    from ingest.core.coerce.rows import Coerced

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
_FLOAT_EXACT_INT = 2**53
# BigQuery's TIMESTAMP range, as Arrow values (Arrow's own range is far wider).
_TIMESTAMP_RANGE = (
    pa.scalar(datetime(1, 1, 1, tzinfo=UTC), ARROW_TYPES["TIMESTAMP"]),
    pa.scalar(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), ARROW_TYPES["TIMESTAMP"]),
)
# Types whose text Arrow parses itself (see cast_whole_column).
_ARROW_PARSES_TEXT = {"INT64", "NUMERIC", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"}


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type a column is written to Parquet as (a REPEATED RECORD is a list of structs)."""
    if column.type == "RECORD":
        return pa.list_(pa.struct([pa.field(f.name, arrow_type(f)) for f in column.fields]))
    return ARROW_TYPES[column.type]


def cast_whole_column(bq_type: str, raw: list[object]) -> pa.Array | None:
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
        in_range = all(INT64_MIN <= v <= INT64_MAX for v in raw if isinstance(v, int))
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


def typed_values(
    bq_type: str, values: list[object], refuse: Callable[[int, str], None], *, finite_only: bool = False
) -> pa.Array:
    """``values`` (None: missing) as the type's Arrow array: cast by Arrow in one step, else
    converted one by one, each value a converter refuses null and ``refuse(index, why)`` told.

    ``finite_only`` refuses NaN and infinite floats before their converter sees them: a
    column's rule; a record's fields have always left them to their converters.
    """
    fast = cast_whole_column(bq_type, values)
    if fast is not None:
        return fast
    convert = CONVERTERS[bq_type]
    converted: list[object] = []
    for index, value in enumerate(values):
        if value is None:
            converted.append(None)
            continue
        try:
            if finite_only and isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"is not finite ({value!r})")
            converted.append(convert(value))
        except (ValueError, TypeError, ArithmeticError) as err:
            refuse(index, failure(value, err))
            converted.append(None)
    return pa.array(converted, ARROW_TYPES[bq_type])


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
    if bq_type == "TIMESTAMP" and not _within(cast, _TIMESTAMP_RANGE):
        return None  # Arrow holds year 0 (year 1 at +14:00), BigQuery does not: refused by value
    return cast


def _within(values: pa.Array, bounds: tuple[pa.Scalar, pa.Scalar]) -> bool:
    low, high = pc.min_max(values).values()
    # Compared as Arrow scalars: as_py() of a year-0 value would itself overflow.
    if not low.is_valid:
        return True
    return bool(pc.greater_equal(low, bounds[0]).as_py() and pc.less_equal(high, bounds[1]).as_py())


def to_arrow(pipeline: Pipeline, coerced: Coerced, lineage: Lineage) -> pa.Table:
    """The good rows as an Arrow table with the pipeline's load schema."""
    shared: Mapping[str, object] = lineage
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
            arrays[name] = pa.array([shared[name]] * count, type=type_)
        fields.append(pa.field(name, type_, nullable=not column.required))
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))
