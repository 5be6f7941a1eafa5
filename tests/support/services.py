"""``fake_services``: Services wired to the in-memory fakes, with pipelines from a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.core.config import load_pipelines
from ingest.core.settings import Settings
from ingest.ingestion.services import Services
from support.lake import FakeLake
from support.ledger import FakeLedger
from support.warehouse import FakeValidationSink, FakeWarehouse


@dataclass
class Fakes:
    """Services on fakes, and the fakes themselves for the test to drive and inspect."""

    services: Services
    lake: FakeLake
    ledger: FakeLedger
    warehouse: FakeWarehouse
    validations: FakeValidationSink


def fake_services(pipelines_dir: Path, **settings: Any) -> Fakes:
    """Services reading pipelines from ``pipelines_dir``; ``settings`` override Settings' fields."""
    config = Settings(pipelines_dir=pipelines_dir, **settings)
    lake = FakeLake(config.error_bucket)
    ledger = FakeLedger(config.lease_seconds, config.max_attempts)
    warehouse, validations = FakeWarehouse(), FakeValidationSink()
    services = Services(
        settings=config,
        pipelines=load_pipelines(pipelines_dir),
        lake=lake,
        ledger=ledger,
        warehouse=warehouse,
        validations=validations,
    )
    return Fakes(services, lake, ledger, warehouse, validations)
