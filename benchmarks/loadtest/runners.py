"""The runner processes, each playing one Lambda container fed by the run's queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.loadtest.config import PAYMENTS, PAYPAL, ROOT, Config
from benchmarks.loadtest.queue import event_key, queue_counts
from benchmarks.loadtest.resources import Resources, runner_environment


def runner_main(control: Path, index: int) -> None:
    """One runner process: drain the queue through the handler until told the run is over."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ingest.adapters.clients import aws_client
    from ingest.apps import lambda_handler as handler
    from ingest_devstack import worker

    handler.logger.setLevel(logging.WARNING)
    config = json.loads((control / "config.json").read_text())
    queue_url = config["queue_url"]
    sqs = aws_client("sqs")

    # Cold start before the clock runs: clients, pipelines, GX suites, pseudonym key.
    services = handler.services()
    for pipeline in services.pipelines:
        if pipeline.name in {PAYPAL, PAYMENTS}:
            services.suite(pipeline)
            services.warehouse.ensure_table(pipeline)
    services.pseudonym_key()
    spent = _time_stages()
    cpu_at_ready = _cpu_seconds()
    (control / f"ready-{index}").touch()

    received: Counter[str] = Counter()
    batches: list[dict[str, Any]] = []
    lock = threading.Lock()
    totals: Counter[str] = Counter()

    def finish(code: int = 0) -> None:
        with lock:
            result = {
                "index": index,
                "pid": os.getpid(),
                "messages": totals["messages"],
                "failed_messages": totals["failed_messages"],
                "batches": batches,
                "received": dict(received),
                "cpu_seconds": round(_cpu_seconds() - cpu_at_ready, 1),
                "stages": dict(spent),
                "terminated": code != 0,
            }
        (control / f"runner-{index}.json").write_text(json.dumps(result))
        if code:
            os._exit(code)  # stopped mid-batch, like a Lambda timeout: its claims stay IN_PROGRESS

    signal.signal(signal.SIGTERM, lambda *_: finish(3))

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        started = time.time()
        failed: set[str] = set()
        with lock:
            received.update(event_key(r["body"]) for r in records)
        try:
            response = handler.handle(event, context)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            return response
        except Exception:
            logging.getLogger("loadtest").exception("handler raised on a batch of %d", len(records))
            failed = {r["messageId"] for r in records}
            raise
        finally:
            # The messages to retry come back after --retry-delay, not the whole visibility timeout.
            again = [r for r in records if r["messageId"] in failed]
            for start in range(0, len(again), 10):
                sqs.change_message_visibility_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {
                            "Id": str(n),
                            "ReceiptHandle": r["receiptHandle"],
                            "VisibilityTimeout": config["retry_delay"],
                        }
                        for n, r in enumerate(again[start : start + 10])
                    ],
                )
            with lock:
                batches.append(
                    {
                        "at": started,
                        "seconds": time.time() - started,
                        "messages": len(records),
                        "failed": len(failed),
                    }
                )

    while True:
        stats = worker.drain(
            sqs,
            queue_url,
            handle,
            workers=config["pollers"],
            idle_seconds=config["idle_seconds"],
            batch_size=config["batch_size"],
            batching_window=config["batching_window"],
        )
        with lock:
            totals.update(messages=stats.messages, failed_messages=stats.failed_messages)
        if (control / "sent").exists() and queue_counts(sqs, queue_url)["total"] == 0:
            break
    finish()


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time_stages() -> Counter[str]:
    """Time the handler's costliest steps in this runner process, for the report (seconds, counts).

    The suite runs are measured in CPU time of their thread (waiting for the suite's lock is not
    work); reading and the BigQuery calls in wall time, as the lake and the emulator do part of it.
    A name that no longer exists fails the runner at start, so a rename cannot empty the report.
    """
    from ingest.adapters.bigquery import validation_results
    from ingest.adapters.bigquery.warehouse import BigQueryWarehouse
    from ingest.core.prepare import Reading
    from ingest.core.validate.suite import Suite
    from ingest.ingestion import staging

    spent: Counter[str] = Counter()
    lock = threading.Lock()

    def timed(owner: Any, name: str, label: str, clock: Callable[[], float]) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    spent[f"{label}_seconds"] += clock() - started
                    spent[f"{label}_calls"] += 1

        setattr(owner, name, wrapper)

    timed(Suite, "run", "suite_cpu", time.thread_time)
    timed(Suite, "run_concatenated", "suite_together_cpu", time.thread_time)
    timed(validation_results, "insert_validation_results", "bigquery_validation_insert", time.perf_counter)
    timed(BigQueryWarehouse, "write_rows", "bigquery_load_and_merge", time.perf_counter)
    timed(staging, "open_file", "open_file", time.perf_counter)
    timed(Reading, "finish_alone", "read_alone", time.perf_counter)
    timed(staging, "finish_together", "read_together", time.perf_counter)
    return spent


def start_runners(res: Resources, settings: Any, config: Config) -> list[subprocess.Popen[bytes]]:
    assert res.control is not None
    (res.control / "config.json").write_text(
        json.dumps(
            {
                "queue_url": res.queue_url,
                "batch_size": config.batch_size,
                "batching_window": config.batching_window,
                "pollers": config.pollers,
                "idle_seconds": config.idle_seconds,
                "retry_delay": config.retry_delay,
            }
        )
    )
    env = runner_environment(res, settings)
    processes = []
    for index in range(config.runners):
        log = open(res.control / f"runner-{index}.log", "wb")  # noqa: SIM115 - the child owns it
        command = [sys.executable, "-m", "benchmarks.loadtest", "--runner", str(res.control), str(index)]
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT))
        log.close()
    return processes


def wait_ready(res: Resources, processes: list[subprocess.Popen[bytes]], limit: float = 300) -> None:
    assert res.control is not None
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready = sum((res.control / f"ready-{i}").exists() for i in range(len(processes)))
        if ready == len(processes):
            return
        for index, process in enumerate(processes):
            if process.poll() is not None:
                raise RuntimeError(f"runner {index} exited while starting:\n{log_tail(res, index)}")
        time.sleep(0.2)
    raise RuntimeError(f"runners not ready after {limit:.0f}s")


def log_tail(res: Resources, index: int, chars: int = 3000) -> str:
    assert res.control is not None
    path = res.control / f"runner-{index}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the runner processes this run started, one by one by their own handle."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
