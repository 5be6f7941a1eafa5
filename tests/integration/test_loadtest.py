"""The load test (``benchmarks.loadtest``, ``make loadtest``) at small scale: its accounting passes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from benchmarks.loadtest.config import BAD_KINDS, GOOD, MAX_ROWS, Config, Planned
from benchmarks.loadtest.files import build_file, plan_kinds, players_of
from benchmarks.loadtest.queue import event_key
from benchmarks.loadtest.run import run_loadtest
from ingest_devstack import local
from ingest_devstack.s3_events import object_created

pytestmark = pytest.mark.integration


def test_files_are_reproducible_and_bad_files_unique() -> None:
    players = players_of(7)
    kinds = plan_kinds(400, 0.1, seed=7)
    assert kinds == plan_kinds(400, 0.1, seed=7)
    assert kinds.count(GOOD) == 360
    assert set(kinds) - {GOOD} == set(BAD_KINDS)
    built = [build_file(7, n, kind, "loadtest-x", players) for n, kind in enumerate(kinds)]
    again = [build_file(7, n, kind, "loadtest-x", players) for n, kind in enumerate(kinds)]
    assert [body for _, body in built] == [body for _, body in again]
    # Equal bytes under two keys would make the second a content duplicate, not the failure planned.
    assert len({body for _, body in built}) == len(built)
    assert len({plan.key for plan, _ in built}) == len(built)
    good = [plan for plan, _ in built if plan.good]
    assert all(5 <= plan.rows <= MAX_ROWS and plan.bad_rows < plan.rows for plan in good)
    assert any(plan.bad_rows for plan in good)


def test_s3_event_names_the_object_as_s3_does() -> None:
    from datetime import UTC, datetime

    from ingest.apps.lambda_handler import file_refs

    plan = Planned(
        1, "paypal/transactions/loadtest-x/page 1 été+bonus 100%", "paypal_transactions", "good", "x"
    )
    plan.etag, plan.size = "0123abcd", 42
    event = object_created(
        "lake",
        plan.key,
        plan.etag,
        plan.size,
        event_time=datetime(2021, 7, 2, tzinfo=UTC),
        serial=plan.number,
    )
    assert event["Records"][0]["s3"]["object"]["key"] == (
        "paypal/transactions/loadtest-x/page+1+%C3%A9t%C3%A9%2Bbonus+100%25"
    )
    [ref] = file_refs(event)
    assert (ref.bucket, ref.key, ref.etag, ref.size) == ("lake", plan.key, "0123abcd", 42)
    assert ref.event_time == "2021-07-02T00:00:00.000+00:00"
    assert event_key(json.dumps(event)) == plan.key


@pytest.mark.alone
def test_small_load_test_accounts_for_every_row(stack: local.Stack, tmp_path: Path) -> None:
    from rich.console import Console

    config = Config(
        files=48,
        runners=2,
        batch_size=50,
        batching_window=1.0,
        bad_share=8 / 48,  # one file of each bad kind
        idle_seconds=1.5,
        timeout=150,
        out_dir=tmp_path,
    )
    result = run_loadtest(config, Console(file=io.StringIO(), width=160), stack)

    assert [c for c in result["checks"] if not c["passed"]] == []
    assert result["passed"]
    assert json.loads((tmp_path / "result.json").read_text())["passed"]
    assert result["files"] == 48 and result["files_bad"] == 8
    assert result["bad_files_by_kind"] == dict.fromkeys(sorted(BAD_KINDS), 1)
    assert result["deliveries"] > result["files"]
    assert result["duplicates_skipped"] >= result["deliveries"] - result["files"]
    assert result["rows_in"] == result["rows_loaded"] + result["rows_quarantined"]
    assert result["rows_quarantined"] > 0
    assert result["duplicates_loaded"] == 0
    assert result["load_jobs"] >= 2  # both pipelines
    # Each kind of warning the runners logged comes with its first message, which says why.
    assert set(result["runner_log_samples"]) == set(result["runner_log_warnings"])
    assert "UnknownPipeline" in result["runner_log_samples"]["WARNING failed: UnknownPipeline"]


def _many_files(mode: str, files: int, tmp_path: Path) -> Config:
    """The issue's load test: 4 runner processes, the default batching."""
    return Config(mode=mode, files=files, runners=4, idle_seconds=1.5, timeout=900, out_dir=tmp_path)


@pytest.mark.alone
@pytest.mark.timeout(900)
def test_thousand_files_in_event_mode_lose_nothing_and_load_nothing_twice(
    stack: local.Stack, tmp_path: Path
) -> None:
    """Each file's S3 event delivered 1-3 times, shuffled, to four runner processes at once."""
    from rich.console import Console

    result = run_loadtest(
        _many_files("event", 1_000, tmp_path), Console(file=io.StringIO(), width=160), stack
    )

    assert [c for c in result["checks"] if not c["passed"]] == []
    assert result["files"] == 1_000 and result["deliveries"] > 1_000
    assert result["rows_in_bigquery"] + result["rows_quarantined"] == result["rows_in"]
    assert result["duplicates_loaded"] == 0 and result["rows_loaded_twice"] == 0
    assert result["messages_failed"] == 0


@pytest.mark.alone
@pytest.mark.timeout(900)
def test_backfill_loads_each_file_once_and_a_rerun_enqueues_nothing(
    stack: local.Stack, tmp_path: Path
) -> None:
    """Files uploaded with no notification, enqueued by ``ingest backfill``'s code, drained by
    four runner processes; then the same backfill again, which finds every file in the ledger.
    400 files, not the event test's 1,000: the path per file is the same (``make loadtest
    LOADTEST_ARGS="--mode backfill"`` runs 10,000), and the suite has 15 minutes."""
    from rich.console import Console

    result = run_loadtest(
        _many_files("backfill", 400, tmp_path), Console(file=io.StringIO(), width=160), stack
    )

    assert [c for c in result["checks"] if not c["passed"]] == []
    first, rerun = result["backfill"]["first"], result["backfill"]["rerun"]
    assert (first["listed"], first["enqueued"], first["failed"]) == (400, 400, [])
    assert (rerun["already_in_ledger"], rerun["enqueued"]) == (400, 0)
    assert result["deliveries"] == 400 and result["duplicates_loaded"] == 0
    assert result["rows_in_bigquery"] + result["rows_quarantined"] == result["rows_in"]
