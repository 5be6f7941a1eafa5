"""A GX suite's expectations evaluated on Arrow columns, with the results GX gives on pandas.

A GX run costs about 0.2 s of CPU however few its rows (GX rebuilds each expectation's pydantic
configuration and resolves a graph of metrics), five times the whole budget of a warm Lambda
file. The expectation types our suites use are simple column predicates, so they are evaluated
here with Arrow kernels and numpy, in microseconds, and GX stays the definition: the suites
are GX JSON, an expectation type or argument not listed in ``KWARGS`` makes the whole suite run
on GX, and a run that raises (a type GX would compare differently, a missing column) is
re-run on GX, so GX's error message is what users see. ``tests/unit/test_arrow_checks.py``
runs both on the shipped suites and on hostile frames and requires identical results, so a GX
release that changes a rule fails a test rather than production.

The semantics copied from GX 1.x on pandas:
- a row condition is GX's pandas query: ``==``, ``<``, ``IN`` are false on a missing value,
  ``!=`` and ``NOT_IN`` true; an expectation's element count is the rows its condition keeps;
- a value expectation ignores missing values (null, and NaN as pandas reads it) except
  ``not_be_null``; the regular expression is Python's ``re.search`` (pandas' ``str.contains``);
- uniqueness marks every row of a repeated value (``duplicated(keep=False)``), ignores missing
  values, and for several columns the rows ``ignore_row_if`` names (missing equals missing);
- a pair comparison drops the rows ``ignore_row_if`` names, and a comparison with a missing
  value fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Per supported type, the kwargs it accepts; anything else runs the suite on GX.
_CONDITION = {"row_condition"}
KWARGS: dict[str, set[str]] = {
    "expect_table_row_count_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_not_be_null": {"column"} | _CONDITION,
    "expect_column_values_to_be_in_set": {"column", "value_set"} | _CONDITION,
    "expect_column_values_to_match_regex": {"column", "regex"} | _CONDITION,
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"}
    | _CONDITION,
    "expect_column_values_to_be_unique": {"column"} | _CONDITION,
    "expect_compound_columns_to_be_unique": {"column_list", "ignore_row_if"} | _CONDITION,
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if"}
    | _CONDITION,
}
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
# pandas' query is true on a missing value for these, false for the others.
_TRUE_ON_MISSING = {"!=", "NOT_IN"}


class Unsupported(Exception):
    """GX, not this module, must evaluate this expectation or this run (the reason is the text)."""


@dataclass(frozen=True)
class Result:
    """What the suite needs of one expectation's result on one file (GX's fields, by name)."""

    success: bool
    element_count: int | None
    unexpected_index_list: list[int] | None
    """Positions of the failing rows in the file; None for a table-level expectation."""


Masks = tuple[np.ndarray, np.ndarray]
"""Per row: counted in the element count (the condition keeps it), and unexpected."""


class ArrowSuite:
    """Expectations compiled for Arrow; ``Unsupported`` at build if GX must run the suite."""

    def __init__(self, expectations: Sequence[dict[str, Any]]) -> None:
        for expectation in expectations:
            _check_supported(expectation)
        self._expectations = list(expectations)

    def run(self, table: pa.Table, sizes: Sequence[int]) -> list[list[Result]]:
        """Each file's results, in suite order, for ``sizes`` files' rows one after another in
        ``table``; each file judged as if alone. ``Unsupported`` if GX must run it."""
        if sum(sizes) != table.num_rows:
            raise ValueError(f"sizes add up to {sum(sizes)}, the table has {table.num_rows} rows")
        files = np.repeat(np.arange(len(sizes)), sizes)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        results: list[list[Result]] = [[] for _ in sizes]
        columns = _Columns(table)
        for expectation in self._expectations:
            kind, kwargs = expectation["type"], expectation.get("kwargs", {})
            if kind == "expect_table_row_count_to_be_between":
                for file, size in enumerate(sizes):
                    ok = _between(np.asarray([size]), kwargs)[0]
                    results[file].append(Result(bool(ok), None, None))
                continue
            counted, unexpected = _masks(columns, kind, kwargs, files)
            counts = np.bincount(files[counted], minlength=len(sizes))
            failing = np.flatnonzero(unexpected)
            by_file = np.searchsorted(failing, np.append(starts, table.num_rows))
            for file, size in enumerate(sizes):
                positions = (failing[by_file[file] : by_file[file + 1]] - starts[file]).tolist()
                # GX reports no element count for a condition that keeps no row.
                element_count = int(counts[file]) or size
                results[file].append(Result(not positions, element_count, positions))
        return results


def _check_supported(expectation: dict[str, Any]) -> None:
    kind, kwargs = expectation.get("type"), expectation.get("kwargs", {})
    allowed = KWARGS.get(str(kind))
    if allowed is None:
        raise Unsupported(f"type {kind}")
    if set(kwargs) - allowed:
        raise Unsupported(f"{kind} with {sorted(set(kwargs) - allowed)}")
    for name in ("column", "column_A", "column_B"):
        if name in kwargs and not isinstance(kwargs[name], str):
            raise Unsupported(f"{name} {kwargs[name]!r}")
    required = {"column", "column_A", "column_B", "column_list", "value_set", "regex"} & allowed
    if required - set(kwargs):
        raise Unsupported(f"{kind} without {sorted(required - set(kwargs))}")
    if "value_set" in kwargs:
        _literals(kwargs["value_set"])
    if "regex" in kwargs:
        try:
            re.compile(kwargs["regex"])
        except (re.error, TypeError) as err:
            raise Unsupported(f"regex {kwargs['regex']!r}: {err}") from None
    if "column_list" in kwargs and (
        not isinstance(kwargs["column_list"], list)
        or not kwargs["column_list"]
        or not all(isinstance(c, str) for c in kwargs["column_list"])
    ):
        raise Unsupported("column_list that is not a list of names")
    if "min_value" in allowed or "max_value" in allowed:
        bounds = [kwargs.get("min_value"), kwargs.get("max_value")]
        if all(b is None for b in bounds) or not all(b is None or _number(b) for b in bounds):
            raise Unsupported("bounds that are not numbers")
        if None not in bounds and bounds[0] > bounds[1]:
            raise Unsupported("min_value above max_value")  # GX's error, worded by GX
    if kwargs.get("row_condition") is not None:
        _condition_columns(kwargs["row_condition"])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def _literals(values: Any) -> str:
    """'text' or 'number': the one kind every value of a set is (else Unsupported)."""
    if not isinstance(values, list) or not values:
        raise Unsupported("a value set that is not a non-empty list")
    if all(isinstance(v, str) for v in values):
        return "text"
    if all(_number(v) for v in values):
        return "number"
    raise Unsupported("a value set mixing kinds of values")


def _condition_columns(condition: Any) -> None:
    """Check a Condition's JSON shape (GX's own parser checks it again when GX runs)."""
    if not isinstance(condition, dict):
        raise Unsupported("a row_condition that is not a Condition object")
    kind = condition.get("type")
    if kind in ("and", "or"):
        parts = condition.get("conditions")
        if not isinstance(parts, list) or not parts:
            raise Unsupported(f"an '{kind}' condition without conditions")
        for part in parts:
            _condition_columns(part)
        return
    column = condition.get("column")
    if not isinstance(column, dict) or not isinstance(column.get("name"), str):
        raise Unsupported("a condition without a column name")
    if kind == "nullity":
        if not isinstance(condition.get("is_null"), bool):
            raise Unsupported("a nullity condition without is_null")
        return
    if kind != "comparison":
        raise Unsupported(f"a '{kind}' condition")
    operator, parameter = condition.get("operator"), condition.get("parameter")
    if operator in ("IN", "NOT_IN"):
        _literals(parameter)
    elif operator not in _COMPARISONS or not (isinstance(parameter, str) or _number(parameter)):
        raise Unsupported(f"condition {operator} {parameter!r}")


# --- evaluation -------------------------------------------------------------------------------


def _masks(columns: _Columns, kind: str, kwargs: dict[str, Any], files: np.ndarray) -> Masks:
    condition = kwargs.get("row_condition")
    kept = _condition(columns, condition) if condition is not None else np.ones(columns.rows, dtype=bool)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        return _pair(columns, kwargs, kept)
    if kind == "expect_compound_columns_to_be_unique":
        return _compound_unique(columns, kwargs, kept, files)
    column, missing = columns[kwargs["column"]], columns.missing(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return kept, kept & missing
    present = kept & ~missing
    if kind == "expect_column_values_to_be_unique":
        return kept, present & _repeated([_codes(column)], present, files)
    if kind == "expect_column_values_to_be_in_set":
        passes = _is_in(column, kwargs["value_set"])
    elif kind == "expect_column_values_to_match_regex":
        passes = _matches(column, kwargs["regex"])
    else:  # expect_column_values_to_be_between
        passes = _between(_numbers(column), kwargs)
    return kept, present & ~passes


class _Columns:
    """The table's columns, each combined and its missing values found once per run: a suite
    checks one column several times (not null, in a set, a pattern)."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self.rows = table.num_rows
        self._columns: dict[str, pa.Array] = {}
        self._missing: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self._columns:
            if name not in self._table.schema.names:
                raise Unsupported(f"no column {name}")  # GX reports it in its own words
            self._columns[name] = self._table.column(name).combine_chunks()
        return self._columns[name]

    def missing(self, name: str) -> np.ndarray:
        if name not in self._missing:
            self._missing[name] = _missing(self[name])
        return self._missing[name]


def _missing(column: pa.Array) -> np.ndarray:
    """Null, or NaN: pandas reads both as missing."""
    return _bools(pc.is_null(column, nan_is_null=pa.types.is_floating(column.type)))


def _bools(array: pa.Array | pa.ChunkedArray, missing_as: bool = False) -> np.ndarray:
    filled = pc.fill_null(array, missing_as)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _kind(column: pa.Array) -> str:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    return str(kind)


def _numbers(column: pa.Array) -> np.ndarray:
    """A numeric column as float64 (as the validation frame gives GX: NUMERIC is float64)."""
    if _kind(column) != "number":
        raise Unsupported(f"a bound on a {column.type} column")
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _float(column: pa.Array) -> pa.Array:
    """As float64, -0.0 made 0.0: Arrow hashes the two apart, pandas' isin and duplicated do not."""
    return pc.add(pc.cast(column, pa.float64()), 0.0)


def _between(values: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    passes = np.ones(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            passes &= values > low if kwargs.get("strict_min") else values >= low
        if high is not None:
            passes &= values < high if kwargs.get("strict_max") else values <= high
    return passes


def _is_in(column: pa.Array, values: list[Any]) -> np.ndarray:
    if _literals(values) != _kind(column):
        raise Unsupported(f"a set of {_literals(values)} on a {column.type} column")
    if _kind(column) == "number":
        column, value_set = _float(column), pa.array(values, pa.float64())
    else:
        value_set = pa.array(values, column.type)
    return _bools(pc.is_in(column, value_set=value_set))


def _matches(column: pa.Array, regex: str) -> np.ndarray:
    """Python's ``re.search`` on each distinct value, as pandas' ``str.contains`` does."""
    if _kind(column) != "text":
        raise Unsupported(f"a regular expression on a {column.type} column")
    pattern = re.compile(regex)
    encoded = pc.dictionary_encode(column)
    hits = np.asarray([pattern.search(v) is not None for v in encoded.dictionary.to_pylist()], dtype=bool)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return hits[np.nan_to_num(indices, nan=0).astype(np.int64)] if len(hits) else np.zeros(len(column), bool)


def _codes(column: pa.Array) -> np.ndarray:
    """A number per row, equal where the values are equal; missing values share one number."""
    if pa.types.is_floating(column.type):
        # NaN and null are the same missing value to pandas.
        column = _float(pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column))
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _repeated(codes: list[np.ndarray], rows: np.ndarray, files: np.ndarray) -> np.ndarray:
    """Rows among ``rows`` whose codes occur more than once in their file."""
    repeated = np.zeros(len(rows), dtype=bool)
    if not rows.any():
        return repeated
    keys = _one_key([files[rows], *(code[rows] for code in codes)])
    _, inverse, counts = np.unique(
        keys, axis=0 if keys.ndim > 1 else None, return_inverse=True, return_counts=True
    )
    repeated[np.flatnonzero(rows)] = counts[inverse.reshape(-1)] > 1
    return repeated


def _one_key(parts: list[np.ndarray]) -> np.ndarray:
    """Rows of non-negative integer parts as one int64 each, equal where every part is (mixed
    radix); rows of a 2-D array if the parts' ranges multiply past 62 bits.

    numpy sorts rows of a 2-D array as opaque bytes: 70,000 PayPal rows took 227 ms, where one
    int64 per row takes a few.
    """
    key = np.zeros(len(parts[0]), dtype=np.int64)
    span = 1
    for part in parts:
        radix = int(part.max()) + 1 if len(part) else 1
        span *= radix
        if span >= 1 << 62:
            return np.stack(parts, axis=1)
        key = key * radix + part
    return key


def _compound_unique(columns: _Columns, kwargs: dict[str, Any], kept: np.ndarray, files: np.ndarray) -> Masks:
    names = kwargs["column_list"]
    missing = np.stack([columns.missing(name) for name in names])
    ignore = kwargs.get("ignore_row_if", "all_values_are_missing")
    if ignore == "all_values_are_missing":
        considered = kept & ~missing.all(axis=0)
    elif ignore == "any_value_is_missing":
        considered = kept & ~missing.any(axis=0)
    elif ignore == "never":
        considered = kept
    else:
        raise Unsupported(f"ignore_row_if {ignore!r}")
    return kept, _repeated([_codes(columns[name]) for name in names], considered, files)


def _pair(columns: _Columns, kwargs: dict[str, Any], kept: np.ndarray) -> Masks:
    first, second = columns[kwargs["column_A"]], columns[kwargs["column_B"]]
    if first.type != second.type and not (_kind(first) == _kind(second) == "number"):
        raise Unsupported(f"comparing {first.type} with {second.type}")
    missing_a, missing_b = columns.missing(kwargs["column_A"]), columns.missing(kwargs["column_B"])
    ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
    if ignore == "either_value_is_missing":
        considered = kept & ~(missing_a | missing_b)
    elif ignore == "both_values_are_missing":
        considered = kept & ~(missing_a & missing_b)
    elif ignore == "neither":
        considered = kept
    else:
        raise Unsupported(f"ignore_row_if {ignore!r}")
    compare = pc.greater_equal if kwargs.get("or_equal") else pc.greater
    passes = _bools(compare(first, second))
    return kept, considered & ~passes


def _condition(columns: _Columns, condition: dict[str, Any]) -> np.ndarray:
    """The rows a row_condition keeps, by pandas' query rules."""
    kind = condition["type"]
    if kind in ("and", "or"):
        parts = [_condition(columns, part) for part in condition["conditions"]]
        combine = np.logical_and if kind == "and" else np.logical_or
        combined: np.ndarray = combine.reduce(parts)
        return combined
    column = columns[condition["column"]["name"]]
    if kind == "nullity":
        missing = columns.missing(condition["column"]["name"])
        return missing if condition["is_null"] else ~missing
    operator, parameter = condition["operator"], condition["parameter"]
    if operator in ("IN", "NOT_IN"):
        inside = _is_in(column, parameter)
        return ~inside if operator == "NOT_IN" else inside
    wanted = "text" if isinstance(parameter, str) else "number"
    if _kind(column) != wanted:
        raise Unsupported(f"comparing a {column.type} column with {parameter!r}")
    if wanted == "number":
        column, parameter = pc.cast(column, pa.float64()), float(parameter)
    compared = _COMPARISONS[operator](column, pa.scalar(parameter, column.type))
    return _bools(compared, missing_as=operator in _TRUE_ON_MISSING)
