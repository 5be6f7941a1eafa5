"""One local stack (moto server + BigQuery emulator) for the whole test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import local
from ingest.pipeline import Services
from ingest.settings import Settings

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
    from ingest.clients import aws_client

    name = f"scratch-{prefix}"
    aws_client("s3").create_bucket(Bucket=name)
    return name
