"""The pseudonym key comes from Secrets Manager once per process, however many readers ask at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.helpers import write_orders_pipeline
from support.services import fake_services

from ingest.ingestion import services as services_module


def test_eight_readers_asking_at_once_read_the_secret_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no key in the settings, so it comes from the secret, whose read takes a while
    write_orders_pipeline(tmp_path, "orders")
    services = fake_services(tmp_path, pseudonym_key="", pseudonym_key_secret="ingest-pseudonym-key").services
    reads: list[str] = []
    started = threading.Barrier(8)

    def slow_read(name: str) -> str:
        reads.append(name)
        time.sleep(0.05)
        return "secret-key"

    monkeypatch.setattr(services_module, "_read_secret", slow_read)

    def ask(_: int) -> bytes:
        started.wait()  # all eight ask at the same moment, as a load group's readers do
        return services.pseudonym_key()

    # WHEN a load group's eight readers each need a coercer at once
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(ask, range(8)))

    # THEN the secret is read once and every reader has the same key
    assert reads == ["ingest-pseudonym-key"]
    assert keys == [b"secret-key"] * 8
