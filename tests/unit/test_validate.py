"""Great Expectations suites before load: which rows they quarantine, which files they fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import payment, paypal_transaction

from ingest.apps.tools.validate_file import to_html, validate_file
from ingest.core import paypal
from ingest.core.coerce.arrow_casts import to_arrow
from ingest.core.coerce.rows import RecordCoercer
from ingest.core.config import load_pipelines
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.settings import EXPECTATIONS_DIR, PACKAGE_DIR
from ingest.core.transforms.apply import apply_transform
from ingest.core.validate.suite import Suite, SuiteError, load_suite

PIPELINES = {p.name: p for p in load_pipelines(PACKAGE_DIR / "pipelines")}
LINEAGE = {"_source_uri": "s3://lake/k", "_source_etag": "e", "_ingested_at": None}


def run_suite(pipeline_name: str, records: list[dict[str, Any]], suite: Suite | None = None):
    """Coerce records as ingestion does and run the pipeline's suite on them."""
    pipeline = PIPELINES[pipeline_name]
    rows = [ParsedRow(n, r) for n, r in enumerate(records, 1)]
    coercer = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=b"k")
    coerced = coercer.coerce(apply_transform(pipeline, rows))
    assert coerced.rejected == [], coerced.rejected
    table = to_arrow(pipeline, coerced, LINEAGE)
    suite = suite or load_suite(EXPECTATIONS_DIR / f"{pipeline.suite}.json")
    return suite.run(table, coerced.row_numbers)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_pipeline_has_a_suite_whose_columns_exist(name):
    pipeline = PIPELINES[name]
    suite = load_suite(EXPECTATIONS_DIR / f"{pipeline.suite}.json")

    assert suite.name == pipeline.suite
    assert suite.columns() <= {c.name for c in pipeline.columns}
    assert {e["severity"] for e in suite.expectations} <= {"critical", "warning"}


def test_paypal_suite_uses_the_event_codes_the_package_knows():
    document = json.loads((EXPECTATIONS_DIR / "paypal_transactions.json").read_text())
    by_id = {e["meta"]["id"]: e for e in document["expectations"]}

    assert set(by_id["paypal.event_code_known"]["kwargs"]["value_set"]) == paypal.KNOWN_EVENT_CODES
    sales = by_id["paypal.sale_gross_not_negative"]["kwargs"]["row_condition"]
    assert (sales["operator"], set(sales["parameter"])) == ("IN", paypal.PAYMENT_CODES)
    # An unknown code must load (it moves the balance): the suite only warns about it.
    assert by_id["paypal.event_code_known"]["severity"] == "warning"


# Each defect is planted on its own row; the row must be flagged by exactly that check.
PAYPAL_DEFECTS = {
    "paypal.status_known": {"transaction_status": "X"},
    "paypal.event_code_format": {"transaction_event_code": "REFUND"},
    "paypal.currency_iso": {"transaction_amount": {"currency_code": "usd", "value": "1.00"}},
    "paypal.fee_not_positive_on_completed_payments": {
        "fee_amount": {"currency_code": "USD", "value": "0.50"}
    },
    "paypal.sale_gross_not_negative": {"transaction_amount": {"currency_code": "USD", "value": "-1.00"}},
    "paypal.reference_on_reversals": {"transaction_event_code": "T1107"},
    "paypal.gross_bounded": {"transaction_amount": {"currency_code": "USD", "value": "2000000.00"}},
}


def test_paypal_suite_quarantines_each_critical_defect_and_nothing_else():
    records = [paypal_transaction(transaction_id=f"GOOD{n}") for n in range(5)]
    planted = {}
    for check_id, info in PAYPAL_DEFECTS.items():
        planted[len(records)] = check_id
        records.append(paypal_transaction(transaction_id=f"BAD{len(records)}", **info))

    outcome = run_suite("paypal_transactions", records)

    assert {position: ids for position, ids in outcome.bad_positions.items()} == {
        position: [check_id] for position, check_id in planted.items()
    }


def test_a_refund_with_its_reference_and_a_negative_gross_passes():
    refund = paypal_transaction(
        transaction_id="REFUND1",
        transaction_event_code="T1107",
        paypal_reference_id="ORIGINAL1",
        transaction_amount={"currency_code": "USD", "value": "-4.99"},
        fee_amount={"currency_code": "USD", "value": "0.14"},
    )
    withdrawal = paypal_transaction(
        transaction_id="WITHDRAW1",
        transaction_event_code="T0400",
        transaction_amount={"currency_code": "USD", "value": "-5000.00"},
    )

    assert run_suite("paypal_transactions", [refund, withdrawal]).bad_positions == {}


def test_paypal_own_negative_records_and_unknown_codes_load():
    """Fees, conversions, holds and codes we have no class for are PayPal's records: quarantining
    them would take them out of the balance they move."""

    def negative(txn: str, code: str, value: str, currency: str = "USD") -> dict:
        return paypal_transaction(
            transaction_id=txn,
            transaction_event_code=code,
            paypal_reference_id="ORIGINAL1",
            transaction_amount={"currency_code": currency, "value": value},
            fee_amount=None,
        )

    records = [
        negative("FEE1", "T0106", "-20.00"),
        negative("CONV1", "T0200", "-100.00"),
        negative("CONV2", "T0200", "84.10", "EUR"),
        negative("HOLD1", "T1110", "-9.99"),
        negative("CB1", "T1201", "-9.99"),
        negative("NEW1", "T9901", "1.00"),
    ]

    outcome = run_suite("paypal_transactions", records)

    assert outcome.bad_positions == {}
    assert [c.id for c in outcome.checks if not c.success] == ["paypal.event_code_known"]


def test_duplicate_transaction_and_event_code_in_one_file_quarantines_both_copies():
    records = [paypal_transaction(transaction_id="SAME"), paypal_transaction(transaction_id="SAME")]
    records.append(
        paypal_transaction(transaction_id="SAME", transaction_event_code="T1107", paypal_reference_id="X")
    )

    outcome = run_suite("paypal_transactions", [*records])

    assert outcome.bad_positions == {0: ["paypal.key_unique_in_file"], 1: ["paypal.key_unique_in_file"]}


def test_a_warning_is_reported_but_quarantines_nothing():
    clock_oddity = paypal_transaction(
        transaction_initiation_date="2021-07-01T10:00:00+0000",
        transaction_updated_date="2021-07-01T09:00:00+0000",
    )

    outcome = run_suite("paypal_transactions", [clock_oddity])

    assert outcome.bad_positions == {}
    (warning,) = [c for c in outcome.checks if not c.success]
    assert (warning.id, warning.severity, warning.sample_rows) == (
        "paypal.updated_not_before_initiated",
        "warning",
        (1,),
    )


def test_payments_suite_flags_bad_status_currency_and_cost():
    records = [
        payment(1),
        payment(2, transaction_status="bogus"),
        payment(3, currency_code="US$"),
        payment(4, total_cost="-5.00"),
        payment(5, country_code=""),  # empty country is allowed: the store did not say
    ]

    outcome = run_suite("payment_transactions", records)

    assert outcome.bad_positions == {
        1: ["payments.status_known"],
        2: ["payments.currency_iso"],
        3: ["payments.total_cost_bounded"],
    }


def write_suite(directory: Path, name: str, *expectations: dict[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": list(expectations)}))
    return path


def test_a_failed_critical_table_check_fails_the_file(tmp_path):
    path = write_suite(
        tmp_path,
        "strict",
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"max_value": 1},
            "meta": {"id": "one_row"},
        },
    )

    outcome = run_suite("payment_transactions", [payment(1), payment(2)], Suite(path))

    (check,) = outcome.checks
    assert check.fails_file and not check.row_level and outcome.bad_positions == {}


def test_an_expectation_that_cannot_run_fails_the_file_with_the_reason(tmp_path):
    path = write_suite(
        tmp_path,
        "typo",
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "no_such_column"},
            "meta": {"id": "typo"},
        },
    )

    outcome = run_suite("payment_transactions", [payment(1)], Suite(path))

    (check,) = outcome.checks
    assert check.fails_file and check.error and "no_such_column" in check.describe()


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}, "unique meta.id"),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "severity": "fatal",
                "meta": {"id": "x"},
            },
            "severity",
        ),
        ({"type": "expect_nothing_like_this", "kwargs": {}, "meta": {"id": "x"}}, "typo"),
    ],
)
def test_invalid_suites_are_refused_with_the_file_name(tmp_path, expectation, message):
    path = write_suite(tmp_path, "typo", expectation)
    with pytest.raises(SuiteError, match=message):
        Suite(path)


def test_validate_file_reports_rows_good_bad_and_failed_expectations(tmp_path):
    records = [
        paypal_transaction(transaction_id="A"),
        paypal_transaction(transaction_id="B", transaction_status="X"),
    ]
    records.append({"transaction_info": {"transaction_id": "C"}})  # no event code: rejected by coercion
    path = tmp_path / "page.json"
    path.write_text(json.dumps(records))

    report = validate_file(path, "paypal_transactions")

    assert (report.rows, report.good, report.bad) == (3, 1, 2)
    assert (report.rejected_by_coercion, report.rejected_by_suite) == (1, 1)
    assert [c["id"] for c in report.failed_expectations] == ["paypal.status_known"]
    assert [r["row"] for r in report.quarantined_rows] == [2, 3]
    assert not report.ok and report.file_error is None


def test_validate_html_renders_without_any_network_resource(tmp_path):
    path = tmp_path / "page.json"
    path.write_text(json.dumps([paypal_transaction(transaction_status="X")]))

    page = to_html(validate_file(path, "paypal_transactions"))

    assert "paypal.status_known" in page and "would fail" in page  # the only row is bad
    assert "<script" not in page and "http" not in page and "<link" not in page


def test_concurrent_runs_of_one_suite_each_see_their_own_rows():
    # The local worker and a warm Lambda's batch processor may validate files in threads.
    from concurrent.futures import ThreadPoolExecutor

    def validate(size: int):
        records = [paypal_transaction(transaction_id=f"T{size}-{n}") for n in range(size)]
        records[-1]["transaction_info"]["transaction_status"] = "X"
        return run_suite("paypal_transactions", records)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(validate, [3, 7, 11, 5] * 4))

    for size, outcome in zip([3, 7, 11, 5] * 4, outcomes, strict=True):
        assert outcome.bad_positions == {size - 1: ["paypal.status_known"]}
        assert not [c for c in outcome.checks if c.error]


def suite_frame(pipeline_name: str, records: list[dict[str, Any]], suite: Suite):
    pipeline = PIPELINES[pipeline_name]
    coercer = RecordCoercer(pipeline, empty_is_null=False, pseudonym_key=b"k")
    coerced = coercer.coerce(apply_transform(pipeline, [ParsedRow(n, r) for n, r in enumerate(records, 1)]))
    return to_arrow(pipeline, coerced, LINEAGE), coerced.row_numbers


def test_files_validated_together_are_judged_as_if_each_were_alone():
    # Batch mode validates a load group's small files in one GX run; each must get what its own
    # run gives: the same transaction in two files is not a duplicate, twice in one file it is.
    suite = load_suite(EXPECTATIONS_DIR / "paypal_transactions.json")
    files = [
        [paypal_transaction(transaction_id="SHARED"), paypal_transaction(transaction_id="A1")],
        [
            paypal_transaction(transaction_id="SHARED"),
            paypal_transaction(transaction_id="TWICE"),
            paypal_transaction(transaction_id="TWICE"),
            paypal_transaction(transaction_id="BAD", transaction_status="X"),
        ],
        [paypal_transaction(transaction_id="C1", transaction_updated_date="2021-06-30T00:00:00+0000")],
    ]
    frames, numbers = zip(*(suite_frame("paypal_transactions", f, suite) for f in files), strict=True)

    together = suite.run_files(frames, numbers)
    alone = [suite.run(frame, rows) for frame, rows in zip(frames, numbers, strict=True)]

    assert suite.validates_files_together
    assert [o.bad_positions for o in together] == [
        {},
        {1: ["paypal.key_unique_in_file"], 2: ["paypal.key_unique_in_file"], 3: ["paypal.status_known"]},
        {},
    ]
    assert [o.bad_positions for o in together] == [o.bad_positions for o in alone]
    for joint, own in zip(together, alone, strict=True):
        assert sorted(
            (c.id, c.success, c.fails_file, c.unexpected_count, c.sample_rows) for c in joint.checks
        ) == (sorted((c.id, c.success, c.fails_file, c.unexpected_count, c.sample_rows) for c in own.checks))


def test_a_row_count_check_fails_only_the_file_of_the_wrong_size_in_a_joint_run(tmp_path):
    path = write_suite(
        tmp_path,
        "sizes",
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 2}, "meta": {"id": "two"}},
        {
            "type": "expect_column_values_to_be_unique",
            "kwargs": {"column": "transaction_id"},
            "meta": {"id": "u"},
        },
    )
    suite = Suite(path)
    files = [[payment(1), payment(2)], [payment(1)], [payment(3), payment(3)]]
    frames, numbers = zip(*(suite_frame("payment_transactions", f, suite) for f in files), strict=True)

    outcomes = suite.run_files(frames, numbers)

    assert [[c.id for c in o.checks if c.fails_file] for o in outcomes] == [[], ["two"], []]
    assert [o.bad_positions for o in outcomes] == [{}, {}, {0: ["u"], 1: ["u"]}]


def test_a_suite_that_cannot_be_judged_per_file_in_one_run_runs_file_by_file(tmp_path):
    path = write_suite(
        tmp_path,
        "ordered",
        {
            "type": "expect_column_values_to_be_increasing",
            "kwargs": {"column": "transaction_id"},
            "meta": {"id": "increasing"},
        },
    )
    suite = Suite(path)
    files = [[payment(5), payment(6)], [payment(1), payment(2)]]  # increasing in each file, not across
    frames, numbers = zip(*(suite_frame("payment_transactions", f, suite) for f in files), strict=True)

    assert not suite.validates_files_together
    assert [o.bad_positions for o in suite.run_files(frames, numbers)] == [{}, {}]


def test_validate_file_says_which_engine_evaluates_the_suite_and_why_gx(tmp_path, monkeypatch):
    page = tmp_path / "page.json"
    page.write_text(json.dumps([paypal_transaction(transaction_id="A")]))

    shipped = validate_file(page, "paypal_transactions")
    assert (shipped.engine, shipped.engine_reason) == ("arrow", None)

    # A suite with an expectation Arrow has no evaluation for runs on GX, and says so.
    suites = tmp_path / "expectations"
    suites.mkdir()
    write_suite(
        suites,
        "payment_transactions",
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "currency_code", "min_value": 3, "max_value": 3},
            "meta": {"id": "currency_length"},
        },
    )
    monkeypatch.setenv("INGEST_EXPECTATIONS_DIR", str(suites))
    payments = tmp_path / "payments.ndjson"
    payments.write_text(json.dumps(payment(1)) + "\n")

    report = validate_file(payments, "payment_transactions")

    assert report.engine == "gx"
    assert "expect_column_value_lengths_to_be_between" in (report.engine_reason or "")
    assert " on gx (Arrow does not evaluate" in to_html(report)
