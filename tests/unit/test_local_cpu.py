"""The CPU measure the benchmark and the load test take of the local stack's processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ingest_devstack.local import cpu_seconds


def test_cpu_seconds_grows_with_the_work_a_process_does() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    after = cpu_seconds(os.getpid())

    assert before is not None and after is not None
    assert after - before >= 0.2


def test_cpu_seconds_of_a_process_that_is_gone_is_none() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()

    assert cpu_seconds(child.pid) is None
