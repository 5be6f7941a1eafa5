"""Peak memory of every hostile file, each ingested in a child process as a worker would read it.

The hostile corpus (``test_hostile_corpus``) says how each file must end; this says what it may
cost: a worker's peak RSS stays under 600 MB whatever the file (issue 21). This process puts the
files in the lake; one child ingests them one after another, the kernel's peak (VmHWM) reset
before each, so each case reports its own peak over what the worker held before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.helpers import write_orders_pipeline
from test_hostile_corpus import CASES

from ingest.adapters.clients import aws_client

pytestmark = pytest.mark.integration

PEAK_RSS_LIMIT_MIB = 600
TESTS = Path(__file__).resolve().parent.parent

# The child: reads the lake objects to ingest from stdin, prints one JSON line per case.
CHILD = """
import ctypes, gc, json, sys
from pathlib import Path

sys.path[:0] = [sys.argv[2], sys.argv[2] + "/integration"]
from test_hostile_corpus import CASES
from ingest.core.model import FileRef
from ingest.core.settings import Settings
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.services import Services

pipelines_dir = Path(sys.argv[1])
settings_of = {case.id: case.settings for case in CASES}
default = Services.from_env(Settings(pipelines_dir=pipelines_dir))
trim = ctypes.CDLL("libc.so.6").malloc_trim  # hands back the heap the previous case freed


def status_mib(field):
    with open("/proc/self/status", encoding="ascii") as status:
        return next(round(int(line.split()[1]) / 1024) for line in status if line.startswith(field + ":"))


for line in sys.stdin:
    put = json.loads(line)
    overrides = settings_of[put["id"]]
    services = Services.from_env(Settings(pipelines_dir=pipelines_dir, **overrides)) if overrides else default
    ref = FileRef.of(put["bucket"], put["key"], put["etag"], put["size"])
    gc.collect()
    trim(0)
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # VmHWM := VmRSS
    start = status_mib("VmRSS")
    result = ingest_file(ref, services)
    print(json.dumps({"id": put["id"], "status": result.status, "error": result.error_type,
                      "start_mib": start, "peak_mib": status_mib("VmHWM")}), flush=True)
"""


def test_no_hostile_file_takes_a_worker_past_600_mb(stack, pipelines_dir, prefix, scratch_bucket):
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to measure each case's own peak")
    write_orders_pipeline(pipelines_dir, prefix)
    s3 = aws_client("s3")
    puts = []
    for case in CASES:
        body = case.build()
        key = f"{prefix}/2021/07/01/{case.id}/{case.name}"
        etag = s3.put_object(Bucket=scratch_bucket, Key=key, Body=body)["ETag"]
        puts.append({"id": case.id, "bucket": scratch_bucket, "key": key, "etag": etag, "size": len(body)})

    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(pipelines_dir), str(TESTS)],
        input="".join(json.dumps(put) + "\n" for put in puts),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    measured = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [m["id"] for m in measured] == [c.id for c in CASES], run.stderr[-3000:]
    # Each file ended as the corpus says it must, so these peaks are of that work.
    for case, m in zip(CASES, measured, strict=True):
        assert (m["status"], m["error"]) == (case.status, case.error), m
    table = "\n".join(f"{m['peak_mib']:>5} MiB (from {m['start_mib']:>4})  {m['id']}" for m in measured)
    over = [m for m in measured if m["peak_mib"] >= PEAK_RSS_LIMIT_MIB]
    assert not over, f"peak RSS of {PEAK_RSS_LIMIT_MIB} MiB or more:\n{table}"
    print(table)
