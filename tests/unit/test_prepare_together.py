"""Small NDJSON files read by Arrow together load exactly what each file read alone loads.

Each set of files is prepared twice: every file alone by the row-by-row reference
(``ARROW_NDJSON_BYTES = 0``), and all of them through ``prepare_together`` (Arrow over their
joined text, split back per file). Per file, both must give the same rows (typed values, kept
JSON as JSON values, row numbers, lineage), quarantined rows, tally and error.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from test_arrow_ndjson import (
    CASES,
    ITEMS,
    KEY,
    PAYMENTS,
    PAYPAL,
    SALE,
    Outcome,
    assert_same,
    edited,
    ndjson,
    payment,
    paypal_file,
    paypal_records,
    record_prepared,
)

from ingest.core import arrow_ndjson, prepare, prepare_together
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import Pipeline


def lineage(number: int) -> dict[str, Any]:
    return {
        "_source_uri": f"s3://lake/file-{number}",
        "_source_etag": f"etag-{number}",
        "_ingested_at": datetime(2026, 1, 1, 0, 0, number, tzinfo=UTC),
    }


def outcome_of(prepared: prepare.Prepared | None, error: Exception | None) -> Outcome:
    outcome = Outcome(taken=False)
    if error is not None or prepared is None:
        outcome.error = (type(error).__name__, str(error))
    else:
        record_prepared(outcome, prepared)
    return outcome


def coercer_for(pipeline: Pipeline) -> Any:
    return lambda detected: RecordCoercer(pipeline, empty_is_null=detected.format == "csv", pseudonym_key=KEY)


def reference(monkeypatch: pytest.MonkeyPatch, files: list[bytes], pipeline: Pipeline) -> list[Outcome]:
    outcomes = []
    with monkeypatch.context() as patch:
        patch.setattr(prepare, "ARROW_NDJSON_BYTES", 0)
        for number, data in enumerate(files):
            with contextlib.ExitStack() as temporary:
                try:
                    prepared = prepare.prepare_file(
                        io.BytesIO(data), pipeline, coercer_for(pipeline), None, lineage(number), temporary
                    )
                except Exception as err:
                    outcomes.append(outcome_of(None, err))
                    continue
                outcomes.append(outcome_of(prepared, None))
    return outcomes


def together(
    monkeypatch: pytest.MonkeyPatch, files: list[bytes], pipeline: Pipeline
) -> tuple[list[Outcome], list[int]]:
    """Each file's outcome read together, and the file counts of the Arrow reads that succeeded."""
    taken: list[int] = []
    real = arrow_ndjson.load_tables

    def spy(contents: list[bytes], *args: Any) -> Any:
        tables = real(contents, *args)
        if tables is not None:
            taken.append(len(contents))
        return tables

    outcomes: list[Outcome] = []
    with monkeypatch.context() as patch, contextlib.ExitStack() as temporary:
        patch.setattr(arrow_ndjson, "load_tables", spy)
        patch.setattr(prepare_together, "MIN_BYTES", 0)  # the test files are small
        readings: list[tuple[int, prepare.Reading | None, Exception | None]] = []
        for number, data in enumerate(files):
            try:
                reading = prepare.start_file(
                    io.BytesIO(data), pipeline, coercer_for(pipeline), lineage(number), temporary
                )
            except Exception as err:
                readings.append((number, None, err))
                continue
            readings.append((number, reading, None))
        waiting = [r for _, r, _ in readings if r is not None and prepare_together.may_read_together(r)]
        errors = dict(
            zip(map(id, waiting), prepare_together.finish_together(waiting, temporary), strict=True)
        )
        for _, reading, error in readings:
            if reading is None:
                outcomes.append(outcome_of(None, error))
            elif id(reading) in errors:
                outcomes.append(outcome_of(reading.prepared, errors[id(reading)]))
            else:
                try:
                    reading.finish_alone(temporary)
                except Exception as err:
                    outcomes.append(outcome_of(None, err))
                    continue
                outcomes.append(outcome_of(reading.prepared, None))
    return outcomes, taken


def assert_each_file_same(got: list[Outcome], expected: list[Outcome]) -> None:
    assert len(got) == len(expected)
    for number, (one, other) in enumerate(zip(got, expected, strict=True)):
        try:
            assert_same(one, other)
        except AssertionError as err:
            raise AssertionError(f"file {number}: {err}") from err


def pages(count: int, records: int, seed: int = 5) -> list[bytes]:
    all_records = paypal_records(count * records, seed=seed)
    return [ndjson(*all_records[i * records : (i + 1) * records]) for i in range(count)]


def test_clean_paypal_pages_are_read_in_one_arrow_read_and_load_what_each_loads_alone(monkeypatch):
    files = pages(6, 25)
    files[2] = files[2].rstrip(b"\n")  # no newline at the end of one file
    files[4] = b"\n\n" + files[4].replace(b"\n", b"\n \n", 3)  # blank lines: row numbers skip them

    got, taken = together(monkeypatch, files, PAYPAL)
    expected = reference(monkeypatch, files, PAYPAL)

    assert taken == [6]
    assert [o.tally["rows_loaded"] for o in expected] == [25] * 6
    assert_each_file_same(got, expected)
    # Each file's rows carry its own lineage and numbering from 1.
    for number, outcome in enumerate(got):
        assert {row["_source_uri"] for row in outcome.rows} == {f"s3://lake/file-{number}"}
        assert [row["_source_row"] for row in outcome.rows] == list(range(1, 26))


def test_unknown_fields_are_named_only_for_the_files_that_carry_them(monkeypatch):
    files = [ndjson(*[payment(n) for n in range(start, start + 10)]) for start in (1, 11, 21, 31)]
    carried = [payment(n) for n in range(11, 21)]
    carried[3] = {**carried[3], "campaign": 'Black "Friday" ü'}
    files[1] = ndjson(*carried)
    files[3] = ndjson(*[{**payment(n), "device": {"os": "iOS", "build": n}} for n in range(31, 41)])

    got, taken = together(monkeypatch, files, PAYMENTS)
    expected = reference(monkeypatch, files, PAYMENTS)

    assert taken == [4]
    assert [o.tally["extra_fields"] for o in got] == [[], ["campaign"], [], ["device"]]
    assert_each_file_same(got, expected)


def test_a_file_arrow_cannot_vouch_for_is_read_row_by_row_and_the_others_still_by_arrow(monkeypatch):
    files = pages(8, 10, seed=9)
    records = [json.loads(line) for line in files[5].splitlines()]
    records[3] = edited(records[3], "transaction_info.transaction_amount.value", "12,50")  # a bad value
    files[5] = ndjson(*records[:6]) + b"not json at all\n" + ndjson(*records[6:])

    got, taken = together(monkeypatch, files, PAYPAL)
    expected = reference(monkeypatch, files, PAYPAL)

    assert_each_file_same(got, expected)
    assert [len(o.rejected) for o in got] == [0, 0, 0, 0, 0, 2, 0, 0]
    # Halves are tried again: 0-3 and 6-7 by Arrow; 4 and 5 end alone, too small to repay
    # Arrow, and are read row by row.
    assert taken == [4, 2]


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_file_among_clean_pages_changes_nothing_for_any_of_them(monkeypatch, name):
    case = CASES[name]
    clean = (
        pages(3, 8, seed=13)
        if case.pipeline is PAYPAL
        else [ndjson(*[payment(n) for n in range(s, s + 8)]) for s in (1, 9, 17)]
    )
    files = [clean[0], case.build(), clean[1], clean[2]]

    got, _ = together(monkeypatch, files, case.pipeline)
    expected = reference(monkeypatch, files, case.pipeline)

    assert_each_file_same(got, expected)


def test_gzip_pages_are_read_together_from_their_plain_text(monkeypatch):
    files = [gzip.compress(page) for page in pages(3, 12, seed=17)]

    got, taken = together(monkeypatch, files, PAYPAL)

    assert taken == [3]
    assert_each_file_same(got, reference(monkeypatch, files, PAYPAL))


def test_product_names_read_together_are_the_row_readers_for_odd_names(monkeypatch):
    # Unicode spaces, a trailing newline, a suffix in the middle, repeats and no name at all: the
    # suffix rule is Python's regex, applied once per distinct name.
    names = [
        "Gem Pack (ID: #2202)",
        "Gem Pack (ID: #2202)\u00a0",
        "Gem\u2003(ID: #7)\n",
        "A (ID: #1) B",
    ]
    files = [
        paypal_file(
            edited(
                SALE,
                ITEMS,
                [
                    *({"item_code": str(n), "item_name": name} for n, name in enumerate(names)),
                    {"item_code": "x"},
                ],
            )
        ),
        paypal_file(edited(SALE, ITEMS, [{"item_code": "9", "item_name": names[0]}])),
    ]

    got, taken = together(monkeypatch, files, PAYPAL)

    assert taken == [2]
    assert_each_file_same(got, reference(monkeypatch, files, PAYPAL))
    products = [item["product_name"] for item in got[0].rows[3]["cart_items"]]
    assert products == ["Gem Pack", "Gem Pack", "Gem", "A (ID: #1) B", None]
