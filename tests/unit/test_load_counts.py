"""A warm process counts a table's load jobs from the ledger once a minute, not once a file."""

from __future__ import annotations

import pytest
from support.services import fake_services

from ingest.core.settings import PACKAGE_DIR
from ingest.ingestion import services as services_module

TABLE, DAY = "raw.t", "2026-12-06"


def test_the_count_is_read_again_only_after_a_minute(tmp_path, monkeypatch):
    fakes = fake_services(PACKAGE_DIR / "pipelines")
    reads: list[str] = []
    counts = iter([3, 7])
    monkeypatch.setattr(fakes.ledger, "loads_on", lambda table, day: reads.append(table) or next(counts))
    clock = [1_000.0]
    monkeypatch.setattr(services_module.time, "monotonic", lambda: clock[0])

    assert fakes.services.loads_on(TABLE, DAY) == 3
    clock[0] += services_module.LOAD_COUNT_SECONDS - 1
    assert fakes.services.loads_on(TABLE, DAY) == 3  # still trusted: no second read
    assert len(reads) == 1
    clock[0] += 1
    assert fakes.services.loads_on(TABLE, DAY) == 7
    assert len(reads) == 2


@pytest.mark.parametrize("other", [("raw.other", DAY), (TABLE, "2026-12-07")])
def test_each_table_and_day_has_its_own_count(tmp_path, monkeypatch, other):
    fakes = fake_services(PACKAGE_DIR / "pipelines")
    monkeypatch.setattr(fakes.ledger, "loads_on", lambda table, day: len(table) + int(day[-2:]))

    assert fakes.services.loads_on(TABLE, DAY) == len(TABLE) + 6
    assert fakes.services.loads_on(*other) == len(other[0]) + int(other[1][-2:])
