"""The Arrow evaluation of a suite gives exactly GX's results (``ingest/core/validate/arrow_checks.py``).

GX is the reference: every shipped suite, and a suite using every argument the Arrow side
accepts, is run by both engines on tables full of the values where rules are easy to get wrong
(bounds, NaN, nulls, repeated keys, text a regular expression nearly matches). A GX release that
changes one of these rules fails here, not in production.
"""

from __future__ import annotations

import decimal
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from ingest.core.coerce.arrow_casts import arrow_type
from ingest.core.config import load_pipelines
from ingest.core.settings import EXPECTATIONS_DIR, PACKAGE_DIR
from ingest.core.validate.results import BatchOutcome
from ingest.core.validate.suite import Suite

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}
BASE = datetime(2021, 7, 1, tzinfo=UTC)

# Values chosen where a rule's edge is: each suite's own bounds, sets and patterns, and the
# near misses of them.
TEXT = [
    None, "", " ", "T0006", "T0007", "T1107", "T0006\n", "\nT0006", "t0006", "T006", "T00066",
    "T\u0661\u0662\u0663\u0664", "S", "P", "D", "V", "X", "s", "USD", "EUR", "usd", "US", "USDD",
    "GB", "UK", "gb", "DE", "ZZ", "completed", "refunded", "COMPLETED", "A1", "A1", "B2", "é",
    "\u0000", "T0006 ", "USD\n", "1.5", "10",
]  # fmt: skip
NUMBERS = [
    None, 0, -0.0, 0.01, -0.01, 1, -1, 0.5, 1.5, 4.99, 5, 10, 99.99, 100, 999.99, 1000, 1000.01,
    10000, 100000, -100000, 1e9, -1e9, 2**53, 0.1 + 0.2, 1e-9, -1e-9,
]  # fmt: skip
INTEGERS = [None, 0, 1, 2, 2, 3, -1, 7, 2**40, -(2**40), 500_001]


def column_values(kind: pa.DataType, rows: int, rng: random.Random) -> pa.Array:
    """``rows`` values of an Arrow type, drawn from the edge values, repeats likely."""
    if pa.types.is_string(kind):
        return pa.array([rng.choice(TEXT) for _ in range(rows)], kind)
    if pa.types.is_decimal(kind):
        picks = [rng.choice(NUMBERS) for _ in range(rows)]
        return pa.array(
            [None if v is None else decimal.Decimal(str(round(float(v), 9))) for v in picks], kind
        )
    if pa.types.is_floating(kind):
        return pa.array([rng.choice([*NUMBERS, float("nan")]) for _ in range(rows)], kind)
    if pa.types.is_integer(kind):
        return pa.array([rng.choice(INTEGERS) for _ in range(rows)], kind)
    if pa.types.is_timestamp(kind):
        offsets = [None, 0, 0, 1, -1, 3600, -86400, 86400 * 400]
        return pa.array(
            [
                None if (o := rng.choice(offsets)) is None else BASE + timedelta(seconds=o)
                for _ in range(rows)
            ],
            kind,
        )
    raise AssertionError(f"no values for {kind}")


def random_table(schema: dict[str, pa.DataType], rows: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    arrays = {name: column_values(kind, rows, rng) for name, kind in schema.items()}
    arrays["_source_row"] = pa.array(range(1, rows + 1), pa.int64())
    return pa.table(arrays)


def pipeline_schema(pipeline_name: str, suite: Suite) -> dict[str, pa.DataType]:
    columns = {c.name: c for c in PIPELINES[pipeline_name].columns}
    return {name: arrow_type(columns[name]) for name in sorted(suite.columns())}


def comparable(outcome: BatchOutcome) -> tuple[dict[str, tuple[Any, ...]], dict[int, list[str]]]:
    fields = ("type", "column", "severity", "success", "row_level", "element_count", "unexpected_count")
    checks = {c.id: tuple(getattr(c, f) for f in (*fields, "sample_rows", "error")) for c in outcome.checks}
    return checks, {position: sorted(ids) for position, ids in outcome.bad_positions.items()}


def assert_same(arrow: Suite, gx: Suite, tables: list[pa.Table]) -> None:
    """Per file: Arrow alone, Arrow over all the files at once, and GX alone, all equal."""
    assert arrow.engine == "arrow"
    assert gx.engine == "gx"
    numbers = [t.column("_source_row").to_pylist() for t in tables]
    together = arrow.run_files(tables, numbers)
    for table, rows, joint in zip(tables, numbers, together, strict=True):
        reference = comparable(gx.run(table, rows))
        assert comparable(arrow.run(table, rows)) == reference
        assert comparable(joint) == reference


@pytest.mark.parametrize("pipeline_name", sorted(PIPELINES))
def test_each_shipped_suite_gives_gx_results_on_edge_values(pipeline_name: str) -> None:
    path = EXPECTATIONS_DIR / f"{PIPELINES[pipeline_name].suite}.json"
    arrow, gx = Suite(path, "arrow"), Suite(path, "gx")
    schema = pipeline_schema(pipeline_name, arrow)
    tables = [random_table(schema, rows, seed) for seed, rows in enumerate((1, 2, 7, 60, 250, 400))]
    assert_same(arrow, gx, tables)
    # The tables hold failures of many checks, or the comparison above proves little.
    failing = {
        c.id
        for outcome in arrow.run_files(tables, [[0] * len(t) for t in tables])
        for c in outcome.checks
        if not c.success
    }
    assert len(failing) >= len(arrow.expectations) // 2, failing


def expectation(number: int, kind: str, **kwargs: Any) -> dict[str, Any]:
    severity = "warning" if number % 3 == 2 else "critical"
    return {"type": kind, "severity": severity, "kwargs": kwargs, "meta": {"id": f"e{number}"}}


def condition(column: str, operator: str, parameter: Any) -> dict[str, Any]:
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": parameter}


def write_suite(folder: Path, *expectations: dict[str, Any]) -> Path:
    path = folder / "every_argument.json"
    path.write_text(json.dumps({"name": "every_argument", "expectations": list(expectations)}))
    return path


EVERY_ARGUMENT = [
    ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 300}),
    ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 60, "strict_max": True}),
    ("expect_column_values_to_not_be_null", {"column": "n"}),
    ("expect_column_values_to_not_be_null", {"column": "s", "row_condition": condition("k", "!=", "A1")}),
    (
        "expect_column_values_to_not_be_null",
        {"column": "t1", "row_condition": {"type": "nullity", "column": {"name": "s"}, "is_null": True}},
    ),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["T0006", "USD", ""]}),
    ("expect_column_values_to_be_in_set", {"column": "n", "value_set": [0, 1, 4.99, 100]}),
    ("expect_column_values_to_be_in_set", {"column": "i", "value_set": [1, 2, 3]}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": r"^T\d{4}$"}),
    ("expect_column_values_to_match_regex", {"column": "k", "regex": "[0-9]"}),
    (
        "expect_column_values_to_be_between",
        {"column": "n", "min_value": 0, "max_value": 100, "strict_min": True},
    ),
    (
        "expect_column_values_to_be_between",
        {"column": "d", "min_value": -1, "max_value": 1000, "strict_max": True},
    ),
    (
        "expect_column_values_to_be_between",
        {
            "column": "i",
            "max_value": 3,
            "row_condition": {
                "type": "or",
                "conditions": [condition("k", "IN", ["A1", "B2"]), condition("n", ">", 5)],
            },
        },
    ),
    (
        "expect_column_values_to_be_between",
        {
            "column": "d",
            "min_value": 0,
            "row_condition": {
                "type": "and",
                "conditions": [
                    condition("k", "NOT_IN", ["A1"]),
                    condition("d", "<=", 1000),
                    condition("i", "==", 2),
                ],
            },
        },
    ),
    (
        "expect_column_values_to_be_between",
        {"column": "n", "max_value": 10, "row_condition": condition("n", ">=", 0.5)},
    ),
    (
        "expect_column_values_to_be_between",
        {"column": "n", "min_value": -1, "row_condition": condition("d", "<", 100)},
    ),
    ("expect_column_values_to_be_unique", {"column": "k"}),
    (
        "expect_column_values_to_be_unique",
        {"column": "n", "row_condition": condition("s", "IN", ["T0006", "USD"])},
    ),
    ("expect_compound_columns_to_be_unique", {"column_list": ["k", "i"]}),
    (
        "expect_compound_columns_to_be_unique",
        {"column_list": ["k", "n"], "ignore_row_if": "any_value_is_missing"},
    ),
    ("expect_compound_columns_to_be_unique", {"column_list": ["s", "d"], "ignore_row_if": "never"}),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "t1", "column_B": "t2", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
    ),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "t1", "column_B": "t2", "ignore_row_if": "both_values_are_missing"},
    ),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "n", "column_B": "d", "ignore_row_if": "neither"},
    ),
]
EVERY_SCHEMA = {
    "s": pa.string(),
    "k": pa.string(),
    "n": pa.float64(),
    "d": pa.decimal128(38, 9),
    "i": pa.int64(),
    "t1": pa.timestamp("us", tz="UTC"),
    "t2": pa.timestamp("us", tz="UTC"),
}


def test_every_argument_the_arrow_side_accepts_gives_gx_results(tmp_path: Path) -> None:
    path = write_suite(tmp_path, *(expectation(n, kind, **kw) for n, (kind, kw) in enumerate(EVERY_ARGUMENT)))
    arrow, gx = Suite(path, "arrow"), Suite(path, "gx")
    tables = [random_table(EVERY_SCHEMA, rows, 100 + seed) for seed, rows in enumerate((1, 3, 9, 61, 300))]
    assert_same(arrow, gx, tables)


def test_hand_checked_results_on_a_small_file(tmp_path: Path) -> None:
    # Worked out by hand from GX's documented rules, not from either engine.
    path = write_suite(
        tmp_path,
        expectation(0, "expect_column_values_to_be_between", column="n", min_value=0, max_value=10),
        expectation(1, "expect_column_values_to_match_regex", column="s", regex="^T[0-9]{4}$"),
        expectation(3, "expect_column_values_to_be_unique", column="s"),
        expectation(
            4, "expect_column_values_to_not_be_null", column="n", row_condition=condition("s", "!=", "X")
        ),
    )
    table = pa.table(
        {
            "s": ["T0006", "T0006\n", None, "X", "T0006", "t0006"],
            "n": [10.0, float("nan"), -0.01, None, 0.0, 11.0],
            "_source_row": [2, 3, 4, 5, 6, 7],
        }
    )
    for engine in ("arrow", "gx"):
        outcome = Suite(path, engine).run(table, table.column("_source_row").to_pylist())
        checks = {c.id: (c.unexpected_count, c.sample_rows, c.element_count) for c in outcome.checks}
        # between: NaN and null ignored, -0.01 and 11 out -> rows 4 and 7.
        assert checks["e0"] == (2, (4, 7), 6)
        # regex, re.search: "$" matches before a final newline, so only "X" and "t0006" fail.
        assert checks["e1"] == (2, (5, 7), 6)
        # unique: "T0006" twice (positions 0 and 4), null ignored; "T0006\n" is another value.
        assert checks["e3"] == (2, (2, 6), 6)
        # not null where s != "X": a null s passes "!=" (pandas), so 5 rows; NaN at row 3 fails.
        assert checks["e4"] == (1, (3,), 5)
        assert outcome.bad_positions == {
            0: ["e3"],
            2: ["e0"],
            3: ["e1"],
            5: ["e0", "e1"],
            4: ["e3"],
            1: ["e4"],
        }


def test_a_suite_with_an_expectation_arrow_does_not_evaluate_runs_on_gx(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path,
        expectation(0, "expect_column_values_to_be_increasing", column="n"),
        expectation(1, "expect_column_values_to_not_be_null", column="n", mostly=0.5),
    )
    suite = Suite(path)
    assert suite.engine == "gx"
    assert "expect_column_values_to_be_increasing" in suite.gx_reason
    outcome = suite.run(pa.table({"n": [3.0, 1.0, None], "_source_row": [1, 2, 3]}), [1, 2, 3])
    assert {c.id: c.success for c in outcome.checks} == {"e0": False, "e1": True}


def test_a_run_arrow_cannot_judge_as_gx_does_is_run_by_gx(tmp_path: Path) -> None:
    # A regular expression on a number column and a missing column: GX's verdict and words.
    path = write_suite(
        tmp_path,
        expectation(0, "expect_column_values_to_match_regex", column="n", regex="^1"),
        expectation(1, "expect_column_values_to_not_be_null", column="absent"),
    )
    table = pa.table({"n": [1.5, 2.5], "_source_row": [1, 2]})
    arrow, gx = Suite(path, "arrow"), Suite(path, "gx")
    assert arrow.engine == "arrow"
    assert comparable(arrow.run(table, [1, 2])) == comparable(gx.run(table, [1, 2]))
    errors = {c.id: c.error for c in arrow.run(table, [1, 2]).checks}
    assert errors["e1"] and "absent" in errors["e1"]


def test_validating_on_arrow_never_imports_great_expectations() -> None:
    # The Lambda's cold start: GX's import is seconds, and the shipped suites do not need it.
    script = f"""
import sys, pyarrow as pa
from ingest.core.coerce.arrow_casts import arrow_type
from ingest.core.config import load_pipelines
from ingest.core.validate.suite import suite_for
from pathlib import Path
for pipeline in load_pipelines(Path({str(PACKAGE_DIR / "pipelines")!r})):
    suite = suite_for(pipeline, Path({str(EXPECTATIONS_DIR)!r}))
    assert suite.engine == "arrow", (pipeline.name, suite.gx_reason)
    types = {{c.name: arrow_type(c) for c in pipeline.columns}}
    table = pa.table({{name: pa.nulls(2, types[name]) for name in suite.columns()}})
    table = table.append_column("_source_row", pa.array([1, 2]))
    suite.run(table, [1, 2])
print(sorted(m for m in sys.modules if m.startswith("great_expectations")))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


@pytest.mark.parametrize("widest", [2**20, 2**50], ids=["one key per row", "rows past 62 bits"])
def test_compound_uniqueness_counts_repeats_within_each_file(widest: int) -> None:
    """Rows 0 and 1 repeat in file 0; row 2 differs from them in two columns (by +1 and -1);
    row 5 has row 3's values in another file; row 4 repeats row 3 but is not considered. Codes
    as wide as ``widest`` take the other sort."""
    import numpy as np

    from ingest.core.validate.arrow_checks import _repeated

    files = np.array([0, 0, 0, 1, 1, 2])
    first = np.array([3, 3, 4, 7, 7, 7])
    second = np.array([widest, widest, widest - 1, 5, 5, 5])
    third = np.array([widest, widest, widest, 0, 0, 0])
    considered = np.array([True, True, True, True, False, True])

    repeated = _repeated([first, second, third], considered, files)

    assert repeated.tolist() == [True, True, False, False, False, False]
