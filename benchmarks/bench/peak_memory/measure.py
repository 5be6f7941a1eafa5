"""Upload a generated file to the lake, then ingest it in a child process and watch its memory.

The child runs only ``Services.from_env`` and ``ingest_file``, so the peak RSS measured is the
ingest's alone. It reports its own ``ru_maxrss`` and ``VmHWM``; this process samples the child's
``/proc/<pid>/status`` (VmHWM as a cross-check, VmRSS every 0.1 s to show when in the ingest the
peak happens).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bench.peak_memory.orders import Generated
from benchmarks.bench.summary import MB

UPLOAD_PART_BYTES = 16 * 1024 * 1024

# Runs in the child: only the ingest, then its own peak RSS. Argument: the FileRef as JSON.
CHILD_SCRIPT = """\
import json, resource, sys, time

def status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1

from ingest.core.model import FileRef
from ingest.ingestion.flow import ingest_file
from ingest.ingestion.services import Services

ref = FileRef.of(**json.loads(sys.argv[1]))
services = Services.from_env()
rss_before_kib = status_kib("VmRSS")
start = time.perf_counter()
result = ingest_file(ref, services)
seconds = time.perf_counter() - start
print(json.dumps({
    "status": str(result.status.value if hasattr(result.status, "value") else result.status),
    "rows_in": result.rows_in,
    "rows_loaded": result.rows_loaded,
    "rows_quarantined": result.rows_quarantined,
    "error_type": result.error_type,
    "message": result.message[:500],
    "seconds": seconds,
    "rss_before_kib": rss_before_kib,
    "vmhwm_kib": status_kib("VmHWM"),
    "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}), flush=True)
"""


@dataclass
class Measured:
    generated: Generated
    result: dict[str, Any] | None
    parent_vmhwm_kib: int
    wall_seconds: float
    rss_peak_at: float
    """Seconds after the child started when this process saw its largest VmRSS."""
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the child started, VmRSS KiB), sampled by this process."""
    failure: str = ""

    @property
    def ingest_started_at(self) -> float:
        """About when ``ingest_file`` began, in seconds after the child started (the rest of the
        child's time is imports and ``Services.from_env``)."""
        if self.result is None:
            return 0.0
        return max(self.wall_seconds - self.result["seconds"], 0.0)

    def rss_at(self, fraction: float) -> int:
        """The child's VmRSS at ``fraction`` of the ingest's time (the sample just before)."""
        start = self.ingest_started_at
        moment = start + (self.wall_seconds - start) * fraction
        earlier = [kib for at, kib in self.rss_samples if at <= moment]
        return earlier[-1] if earlier else 0

    @property
    def peak_kib(self) -> int:
        """Peak RSS of the ingest child; the largest of what it and this process saw."""
        if self.result is None:
            return self.parent_vmhwm_kib
        return max(self.result["ru_maxrss_kib"], self.result["vmhwm_kib"], self.parent_vmhwm_kib)


def upload(s3: Any, bucket: str, generated: Generated) -> dict[str, Any]:
    """Upload to the lake in parts; return the FileRef fields of the stored object."""
    from boto3.s3.transfer import TransferConfig

    key = f"bench-memory/{generated.fmt}/orders-{generated.size_mb}mb-{int(time.time())}"
    config = TransferConfig(
        multipart_threshold=UPLOAD_PART_BYTES,
        multipart_chunksize=UPLOAD_PART_BYTES,
        max_concurrency=2,
        use_threads=True,
    )
    s3.upload_file(str(generated.path), bucket, key, Config=config)
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != generated.bytes:
        raise RuntimeError(f"uploaded {head['ContentLength']} bytes of {key}, expected {generated.bytes}")
    return {"bucket": bucket, "key": key, "etag": head["ETag"], "size": head["ContentLength"]}


# --- measuring ---------------------------------------------------------------------------


def proc_status_kib(pid: int, name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(generated: Generated, ref: dict[str, Any], timeout: float, log_dir: Path) -> Measured:
    """Ingest ``ref`` in a child process; its JSON result line and peak RSS."""
    stderr_path = log_dir / f"ingest-{generated.fmt}-{generated.size_mb}mb.stderr"
    peak: dict[str, float] = {"vmhwm": 0, "vmrss": 0, "at": 0.0}
    samples: list[tuple[float, int]] = []
    start = time.perf_counter()
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_SCRIPT, json.dumps(ref)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                hwm, rss = proc_status_kib(child.pid, "VmHWM"), proc_status_kib(child.pid, "VmRSS")
                if hwm is not None:
                    peak["vmhwm"] = max(peak["vmhwm"], hwm)
                if rss is not None:
                    samples.append((time.perf_counter() - start, rss))
                    if rss > peak["vmrss"]:
                        peak["vmrss"], peak["at"] = rss, samples[-1][0]
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            stdout, _ = child.communicate(timeout=timeout)
            failure = ""
        except subprocess.TimeoutExpired:
            child.kill()
            stdout, _ = child.communicate()
            failure = f"timed out after {timeout:.0f}s (child killed)"
        except BaseException:
            child.kill()
            child.wait()
            raise
        finally:
            done.set()
            sampler.join()
    wall = time.perf_counter() - start
    result = None
    lines = [line for line in stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    if lines:
        result = json.loads(lines[-1])
    elif not failure:
        tail = stderr_path.read_text(errors="replace")[-1500:]
        failure = f"child exited {child.returncode} without a result; stderr tail:\n{tail}"
    return Measured(generated, result, int(peak["vmhwm"]), wall, peak["at"], samples, failure)


def as_mb(kib: int) -> float:
    return kib * 1024 / MB
