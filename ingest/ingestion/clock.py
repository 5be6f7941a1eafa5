"""Where ingestion's time goes: seconds per stage, for batch runs' accounts and the benchmarks."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class StageClock:
    """Seconds spent in each stage of ingestion, summed over the threads doing it.

    Stages: ``read`` (get, parse, coerce), ``validate`` (the suite, its results, quarantine
    files), ``load`` (load jobs and MERGEs) and ``ledger`` (claims and outcomes).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
