"""How a batch notebook run is judged: its deliberate FilesFailed is the files' failure, which the
account already records; any other error is a fault of the report, whatever the files did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.apps.reports.batch_notebook import FilesFailed, run_id_for, unexpected

WITH_FAILURES: dict[str, Any] = {"listed": 3, "failed": 1}
WITHOUT_FAILURES: dict[str, Any] = {"listed": 3, "failed": 0}
FILES_FAILED = f"{FilesFailed.__name__}: 1 of 3 files failed in run r1: see Failures above"


@pytest.mark.parametrize(
    ("error", "account", "kept"),
    [
        (None, WITH_FAILURES, None),
        (FILES_FAILED, WITH_FAILURES, None),  # the scheduler's signal, documented in the report
        (FILES_FAILED, WITHOUT_FAILURES, FILES_FAILED),  # raised with nothing failed: a fault
        (FILES_FAILED, None, FILES_FAILED),  # no account written: the run did not happen
        ("KeyError: 'rows_inserted'", WITH_FAILURES, "KeyError: 'rows_inserted'"),  # hidden before
        ("RuntimeError: 1 of 3 files failed", WITH_FAILURES, "RuntimeError: 1 of 3 files failed"),
    ],
)
def test_only_the_notebooks_own_files_failed_error_is_left_out(error, account, kept):
    assert unexpected(error, account) == kept


def test_run_ids_sort_by_the_day_covered_then_the_time_run_and_differ_within_a_second():
    late_run = run_id_for("2026-12-06", datetime(2026, 12, 8, 23, 0, tzinfo=UTC))  # a day made up late
    early, again = (run_id_for("2026-12-07", datetime(2026, 12, 8, 1, 0, 0, tzinfo=UTC)) for _ in range(2))

    assert late_run.startswith("2026-12-06-230000-") and early.startswith("2026-12-07-010000-")
    assert sorted([early, late_run]) == [late_run, early]
    assert early != again
