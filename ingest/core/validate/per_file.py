"""A suite rewritten to judge each file of a many-file frame as if it were validated alone.

A GX run costs 0.2-0.6 s however few its rows, so many small files are validated in one run: a
uniqueness check gains the file as a key column, a row count becomes a check of each row's
file count. An expectation that cannot be judged per file that way keeps the suite per file.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Columns added to a frame of many files: which file a row is from, that file's row count, and
# per uniqueness check the file again (null where the check ignores the row).
FILE_COLUMN = "__file"
FILE_ROWS_COLUMN = "__file_rows"
# Row-level expectations that compare a row with its neighbours: not judged per file in a group.
ORDER_DEPENDENT = frozenset(
    {"expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"}
)
UNIQUE_KWARGS = frozenset({"column", "column_list", "ignore_row_if", "row_condition", "condition_parser"})


def per_file_variant(expectations: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The suite rewritten to judge each file of a many-file frame alone, one expectation for
    each of the suite's, in its order; None if some expectation cannot be rewritten that way."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    rewritten = []
    for number, expectation in enumerate(expectations):
        kind, kwargs = expectation["type"], dict(expectation.get("kwargs", {}))
        if "mostly" in kwargs or kind in ORDER_DEPENDENT:
            return None
        if kind == "expect_table_row_count_to_be_between":
            if set(kwargs) - {"min_value", "max_value"}:
                return None
            # Every row carries its file's row count, so a file of the wrong size fails whole.
            kind, kwargs = "expect_column_values_to_be_between", {"column": FILE_ROWS_COLUMN, **kwargs}
        elif kind == "expect_column_values_to_be_unique":
            if set(kwargs) - UNIQUE_KWARGS:
                return None
            # GX ignores nulls in a column's uniqueness; a null key column ignores the row too.
            column = kwargs.pop("column")
            kind = "expect_compound_columns_to_be_unique"
            kwargs.update(column_list=[f"__key_{number}", column], ignore_row_if="any_value_is_missing")
        elif kind == "expect_compound_columns_to_be_unique":
            if set(kwargs) - UNIQUE_KWARGS:
                return None
            kwargs["column_list"] = [f"__key_{number}", *kwargs["column_list"]]
        else:
            try:
                implementation = get_expectation_impl(kind)
            except Exception:  # an unknown type: the suite build reports it
                return None
            if not issubclass(
                implementation, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation
            ):
                return None
        rewritten.append({**expectation, "type": kind, "kwargs": kwargs})
    return rewritten


def add_file_columns(
    frame: pd.DataFrame, sizes: Sequence[int], expectations: list[dict[str, Any]]
) -> list[int]:
    """Add the columns the per-file variant reads to a frame of files one after another;
    where each file starts."""
    import numpy as np

    starts = [0, *itertools.accumulate(sizes)][:-1]
    file_of_row = np.repeat(np.arange(len(sizes), dtype="float64"), sizes)
    frame[FILE_COLUMN] = file_of_row
    frame[FILE_ROWS_COLUMN] = np.repeat(np.asarray(sizes, dtype="int64"), sizes)
    for expectation in expectations:
        column_list = expectation["kwargs"].get("column_list", ())
        if column_list and column_list[0].startswith("__key_"):
            key = file_of_row.copy()
            if (
                expectation["kwargs"].get("ignore_row_if", "all_values_are_missing")
                == "all_values_are_missing"
            ):
                # The row is ignored when all of the original columns are null, as alone.
                key[frame[list(column_list[1:])].isna().all(axis=1).to_numpy()] = np.nan
            frame[column_list[0]] = key
    return starts
