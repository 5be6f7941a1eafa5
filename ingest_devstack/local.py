"""The local stack: a moto server (S3, DynamoDB, SQS, SNS, CloudWatch) and the BigQuery emulator.

Both run as background processes on free 127.0.0.1 ports, with logs, pids and emulator data
under one state folder (``.local/`` by default). ``environment()`` is what a shell, a notebook
or a test needs to point boto3 and google-cloud-bigquery at them; nothing else changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest.core.settings import Settings

# The emulators' scripts and requirement files sit beside this module.
DEVSTACK_DIR = Path(__file__).resolve().parent

STATE_FILE = "stack.json"
START_TIMEOUT_SECONDS = 60
LOCAL_REGION = "us-east-1"


class StackError(RuntimeError):
    """The local stack could not be started or reached."""


@dataclass(frozen=True)
class Stack:
    state_dir: str
    moto_port: int
    moto_pid: int
    bigquery_port: int
    bigquery_grpc_port: int
    bigquery_pid: int
    bq_project: str

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def bigquery_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.bigquery_port}"

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            # moto accepts any credentials; these are placeholders, not secrets.
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_endpoint,
            "INGEST_BQ_PROJECT": self.bq_project,
        }


def default_state_dir() -> Path:
    return Path(os.environ.get("INGEST_LOCAL_DIR", ".local")).resolve()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process (all its threads) has used so far; None once it is gone.

    The benchmark and the load test measure with it what the emulators cost beside the pipeline.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_stack(state_dir: Path | None = None) -> Stack | None:
    path = (state_dir or default_state_dir()) / STATE_FILE
    if not path.exists():
        return None
    return Stack(**json.loads(path.read_text()))


def default_emulator_venv() -> Path:
    """Shared by every stack (the demo's, the tests'), so it is installed once per checkout."""
    return Path(os.environ.get("INGEST_EMULATOR_VENV", ".local/bigquery-venv")).resolve()


def emulator_python(venv: Path) -> Path:
    """The BigQuery emulator's venv interpreter, creating the venv on first use.

    Several processes may ask at once (each test worker starts a stack of its own): the first
    installs under a lock file beside the venv, the others wait and then find it installed.
    """
    import fcntl

    python = venv / "bin" / "python"
    marker = venv / ".installed"
    requirements = DEVSTACK_DIR / "bigquery-emulator-requirements.txt"
    if _installed(marker, requirements):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(marker, requirements):
            _install_emulator(venv, python, requirements)
            marker.write_text(requirements.read_text())
    return python


def _installed(marker: Path, requirements: Path) -> bool:
    return marker.exists() and marker.read_text() == requirements.read_text()


def _install_emulator(venv: Path, python: Path, requirements: Path) -> None:
    print(f"Installing the BigQuery emulator into {venv} (first run only)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    # local-bigquery pins duckdb >= 2.0, whose extensions cannot be fetched offline; uv's
    # override installs 1.5.5 with its extension wheels instead.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "-r",
            str(requirements),
            "--override",
            str(DEVSTACK_DIR / "bigquery-emulator-overrides.txt"),
        ],
        check=True,
    )


def _start(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return process.pid


def _wait_until_ready(url: str, pid: int, name: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not _alive(pid):
            tail = log_path.read_text(errors="replace")[-2000:]
            raise StackError(f"{name} exited while starting; end of {log_path}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise StackError(f"{name} did not answer at {url} within {START_TIMEOUT_SECONDS}s; see {log_path}")


def up(settings: Settings, state_dir: Path | None = None, emulator_venv: Path | None = None) -> Stack:
    """Start both emulators (or reuse running ones) and provision every resource."""
    state_dir = state_dir or default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = read_stack(state_dir)
    if stack and _alive(stack.moto_pid) and _alive(stack.bigquery_pid):
        provision(stack, settings)
        return stack
    if stack:
        down(state_dir)

    bq_python = emulator_python(emulator_venv or default_emulator_venv())
    moto_port, bq_port, grpc_port = free_port(), free_port(), free_port()
    moto_log, bq_log = state_dir / "moto.log", state_dir / "bigquery.log"
    moto_pid = _start(
        [
            sys.executable,
            "-P",
            str(DEVSTACK_DIR / "moto_emulator.py"),
            "-H",
            "127.0.0.1",
            "-p",
            str(moto_port),
        ],
        moto_log,
    )
    bq_data = state_dir / "bigquery"
    # moto keeps its state in memory, so a new stack has an empty ledger; warehouse data left
    # from an earlier stack would disagree with it, so the emulator starts empty too.
    shutil.rmtree(bq_data, ignore_errors=True)
    bq_pid = _start(
        [
            str(bq_python),
            "-P",  # the launcher's folder is the ingest package: keep it off sys.path
            str(DEVSTACK_DIR / "bigquery_emulator.py"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(bq_port),
            "--grpc-port",
            str(grpc_port),
            "--project",
            settings.bq_project,
            "--data-dir",
            str(bq_data),
        ],
        bq_log,
        env={"INGEST_DUCKDB_EXTENSION_DIR": str(state_dir / "duckdb-extensions")},
    )
    stack = Stack(
        state_dir=str(state_dir),
        moto_port=moto_port,
        moto_pid=moto_pid,
        bigquery_port=bq_port,
        bigquery_grpc_port=grpc_port,
        bigquery_pid=bq_pid,
        bq_project=settings.bq_project,
    )
    (state_dir / STATE_FILE).write_text(json.dumps(asdict(stack), indent=2))
    try:
        _wait_until_ready(f"{stack.aws_endpoint}/moto-api/", moto_pid, "moto server", moto_log)
        _wait_until_ready(
            f"{stack.bigquery_endpoint}/bigquery/v2/projects/{settings.bq_project}/datasets",
            bq_pid,
            "BigQuery emulator",
            bq_log,
        )
        provision(stack, settings)
    except BaseException:
        down(state_dir)
        raise
    (state_dir / "env").write_text(export_lines(stack))
    return stack


def provision(stack: Stack, settings: Settings) -> dict[str, str]:
    """Create buckets, ledger, queue, topic and datasets on the running emulators."""
    from ingest.adapters.clients import aws_client, bigquery_client
    from ingest_devstack.provision import provision_aws, provision_bigquery

    with environment_applied(stack):
        clients = [aws_client(name) for name in ("s3", "dynamodb", "sqs", "sns", "secretsmanager")]
        created = provision_aws(settings, *clients)
        provision_bigquery(settings, bigquery_client(settings.bq_project, settings.bq_location))
    return created


class environment_applied:  # noqa: N801 - used as a context manager, reads like one
    """Temporarily point this process at a stack (restores the previous environment)."""

    def __init__(self, stack: Stack) -> None:
        self._values = stack.environment()
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for name, value in self._values.items():
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value

    def __exit__(self, *exc: object) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def apply_environment(stack: Stack | None = None) -> Stack:
    """Point this process (a notebook, the CLI) at the running local stack, for good."""
    stack = stack or read_stack()
    if stack is None:
        raise StackError("no local stack is running; start it with `ingest local up`")
    os.environ.update(stack.environment())
    return stack


def export_lines(stack: Stack) -> str:
    return "".join(f"export {name}={value}\n" for name, value in stack.environment().items())


def down(state_dir: Path | None = None) -> bool:
    """Stop both emulators; True if something was running. Emulator data stays on disk."""
    state_dir = state_dir or default_state_dir()
    stack = read_stack(state_dir)
    if stack is None:
        return False
    for pid in (stack.moto_pid, stack.bigquery_pid):
        _terminate(pid)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    (state_dir / "env").unlink(missing_ok=True)
    return True


def _terminate(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            waited = 0
        if waited == pid or not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def status(state_dir: Path | None = None) -> dict[str, object]:
    stack = read_stack(state_dir)
    if stack is None:
        return {"running": False}
    return {
        "running": _alive(stack.moto_pid) and _alive(stack.bigquery_pid),
        "moto": {"pid": stack.moto_pid, "alive": _alive(stack.moto_pid), "url": stack.aws_endpoint},
        "bigquery": {
            "pid": stack.bigquery_pid,
            "alive": _alive(stack.bigquery_pid),
            "url": stack.bigquery_endpoint,
        },
        "environment": stack.environment(),
        "state_dir": stack.state_dir,
    }
