"""The processes the harness starts and asks about: measured children, the peers' venv, git."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.bench import summary
from benchmarks.bench.config import PEERS_REQUIREMENTS, ROOT
from benchmarks.bench.summary import MB, RESULT_PREFIX


class ChildFailed(RuntimeError):
    """A measured child process exited badly or printed no result."""


def run_child(
    command: list[str],
    log_path: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``command`` from the repo root; its result lines as dicts (other output to ``log_path``)."""
    results: list[dict[str, Any]] = []
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, **(env or {})},
            cwd=ROOT,  # where ``python -m benchmarks...`` finds the package
            text=True,
        )
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
                else:
                    log.write(line)
            child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
                child.wait()
    if child.returncode != 0 or not results:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2500:]
        program = command[2] if command[1] == "-m" else Path(command[1]).name
        raise ChildFailed(f"{program} exited {child.returncode}; end of {log_path}:\n{tail}")
    return results


def peers_python(console: Console) -> Path:
    """The peers venv's interpreter (dlt, duckdb), created on first use as the emulator's is."""
    venv = Path(os.environ.get("BENCH_PEERS_VENV", ROOT / ".local" / "bench-peers-venv")).resolve()
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = PEERS_REQUIREMENTS.read_text(encoding="utf-8")
    if marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python
    console.log(f"installing dlt and duckdb into {venv} (first run only)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = ["pip", "install", "--quiet", "--python", str(python), "-r", str(PEERS_REQUIREMENTS)]
    subprocess.run([sys.executable, "-m", "uv", *install], check=True)
    marker.write_text(wanted, encoding="utf-8")
    return python


def peak_rss_figure(measured: list[dict[str, Any]]) -> dict[str, Any]:
    return summary.per_run(measured, lambda r: r["peak_rss_kib"] * 1024 / MB, "MB")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Our venv's versions of what the figures depend on, and the source measured."""
    names = ("pandas", "pandas-gbq", "great-expectations", "pyarrow", "google-cloud-bigquery", "moto")
    return {
        "ingest": package_version("ingest"),
        **{name: package_version(name) for name in names},
        "python": platform.python_version(),
        "source": source_revision(),
    }


def peer_versions(python: Path) -> dict[str, str | None]:
    script = (
        "import json; from importlib import metadata as m;"
        "print(json.dumps({n: m.version(n) for n in ('dlt', 'duckdb', 's3fs')}))"
    )
    output = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True).stdout
    found = json.loads(output)
    return {"dlt": found["dlt"], "duckdb": found["duckdb"], "s3fs (peers)": found["s3fs"]}


def source_revision() -> str | None:
    """The checkout's commit, marked ``+changes`` when files differ from it: what was measured."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout, or no git
        return None
    return commit + ("+changes" if changed else "")


def machine_info() -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    meminfo, cpuinfo = read("/proc/meminfo"), read("/proc/cpuinfo")
    return summary.machine(os.cpu_count(), meminfo, cpuinfo, platform.python_version(), platform.platform())
