"""The load test (``benchmarks/loadtest.py``, ``make loadtest``) at small scale: its accounting passes."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ingest_devstack import local

pytestmark = pytest.mark.integration

LOADTEST = Path(__file__).resolve().parents[2] / "benchmarks" / "loadtest.py"


@pytest.fixture(scope="module")
def loadtest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loadtest", LOADTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_files_are_reproducible_and_bad_files_unique(loadtest: ModuleType) -> None:
    players = loadtest._players(7)
    kinds = loadtest.plan_kinds(400, 0.1, seed=7)
    assert kinds == loadtest.plan_kinds(400, 0.1, seed=7)
    assert kinds.count(loadtest.GOOD) == 360
    assert set(kinds) - {loadtest.GOOD} == set(loadtest.BAD_KINDS)
    built = [loadtest.build_file(7, n, kind, "loadtest-x", players) for n, kind in enumerate(kinds)]
    again = [loadtest.build_file(7, n, kind, "loadtest-x", players) for n, kind in enumerate(kinds)]
    assert [body for _, body in built] == [body for _, body in again]
    # Equal bytes under two keys would make the second a content duplicate, not the failure planned.
    assert len({body for _, body in built}) == len(built)
    assert len({plan.key for plan, _ in built}) == len(built)
    good = [plan for plan, _ in built if plan.good]
    assert all(5 <= plan.rows <= loadtest.MAX_ROWS and plan.bad_rows < plan.rows for plan in good)
    assert any(plan.bad_rows for plan in good)


def test_s3_event_names_the_object_as_s3_does(loadtest: ModuleType) -> None:
    from datetime import UTC, datetime

    from ingest.apps.lambda_handler import file_refs

    plan = loadtest.Planned(
        1, "paypal/transactions/loadtest-x/page 1 été+bonus 100%", "paypal_transactions", "good", "x"
    )
    plan.etag, plan.size = "0123abcd", 42
    event = loadtest.s3_event("lake", plan, "us-east-1", datetime(2021, 7, 2, tzinfo=UTC))
    assert event["Records"][0]["s3"]["object"]["key"] == (
        "paypal/transactions/loadtest-x/page+1+%C3%A9t%C3%A9%2Bbonus+100%25"
    )
    [ref] = file_refs(event)
    assert (ref.bucket, ref.key, ref.etag, ref.size) == ("lake", plan.key, "0123abcd", 42)
    assert ref.event_time == "2021-07-02T00:00:00.000+00:00"
    assert loadtest.event_key(json.dumps(event)) == plan.key


def test_small_load_test_accounts_for_every_row(
    loadtest: ModuleType, stack: local.Stack, tmp_path: Path
) -> None:
    from rich.console import Console

    config = loadtest.Config(
        files=48,
        runners=2,
        batch_size=50,
        batching_window=1.0,
        bad_share=8 / 48,  # one file of each bad kind
        idle_seconds=1.5,
        timeout=150,
        out_dir=tmp_path,
    )
    result = loadtest.run_loadtest(config, Console(file=io.StringIO(), width=160), stack)

    assert [c for c in result["checks"] if not c["passed"]] == []
    assert result["passed"]
    assert json.loads((tmp_path / "result.json").read_text())["passed"]
    assert result["files"] == 48 and result["files_bad"] == 8
    assert result["bad_files_by_kind"] == dict.fromkeys(sorted(loadtest.BAD_KINDS), 1)
    assert result["deliveries"] > result["files"]
    assert result["duplicates_skipped"] >= result["deliveries"] - result["files"]
    assert result["rows_in"] == result["rows_loaded"] + result["rows_quarantined"]
    assert result["rows_quarantined"] > 0
    assert result["duplicates_loaded"] == 0
    assert result["load_jobs"] >= 2  # both pipelines
