"""One local stack (moto server + BigQuery emulator) for the whole test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.core.settings import Settings
from ingest.ingestion.services import Services
from ingest_devstack import local

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Stack]:
    state_dir = tmp_path_factory.mktemp("stack")
    saved = dict(os.environ)
    started = local.up(Settings(), state_dir=state_dir)
    local.apply_environment(started)
    try:
        yield started
    finally:
        local.down(state_dir)
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests never see each other's files or tables."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


@pytest.fixture
def make_services(stack: local.Stack, pipelines_dir: Path):
    """Services built from the environment, reading pipelines from this test's folder."""

    def build(**overrides: object) -> Services:
        settings = Settings(pipelines_dir=pipelines_dir, **overrides)  # type: ignore[arg-type]
        return Services.from_env(settings)

    return build


@pytest.fixture
def scratch_bucket(stack: local.Stack, prefix: str) -> str:
    """A bucket without notifications: the test delivers its files to the pipeline itself."""
    from ingest.adapters.clients import aws_client

    name = f"scratch-{prefix}"
    aws_client("s3").create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class LoadedMonth:
    """A generated month loaded in batch mode into tables of its own, for reconciliation tests."""

    services: Services
    manifest: dict
    bucket: str
    prefix: str


@pytest.fixture(scope="session")
def loaded_july(stack: local.Stack, tmp_path_factory: pytest.TempPathFactory) -> LoadedMonth:
    """July 2021 as the generator plants it, loaded once per test session (about a minute).

    Its pipelines read ``<prefix>/...`` into ``<table>_<prefix>`` and its reconciliation goes to
    the dataset ``recon_<prefix>``, so tests that share it see no other test's rows. Tests that
    reconcile must not change the raw tables.
    """
    from support.helpers import isolate_shipped_pipelines

    from ingest.adapters.clients import aws_client
    from ingest.ingestion.runs import run_batch
    from ingest_devstack.generate import publish_month

    prefix = f"m{uuid.uuid4().hex[:10]}"
    pipelines_dir = tmp_path_factory.mktemp("july") / "pipelines"
    isolate_shipped_pipelines(pipelines_dir, prefix)
    bucket = f"month-{prefix}"
    aws_client("s3").create_bucket(Bucket=bucket)
    manifest = publish_month(f"s3://{bucket}/{prefix}", 2021, 7)
    services = Services.from_env(
        Settings(pipelines_dir=pipelines_dir, recon_dataset=f"recon_{prefix}")  # type: ignore[arg-type]
    )
    run = run_batch(services, bucket, prefix)
    # The planted failing files fail, and so does manifest.json, which no pipeline takes.
    assert len(run.failed) == manifest["totals"]["files_expected_to_fail"] + 1
    return LoadedMonth(services, manifest, bucket, prefix)
