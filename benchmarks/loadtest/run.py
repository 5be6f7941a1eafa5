"""One whole load test against the stack the environment points at."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.loadtest.accounting import account, check
from benchmarks.loadtest.backfill import run_backfill_of
from benchmarks.loadtest.config import Config
from benchmarks.loadtest.deliveries import send_events, upload
from benchmarks.loadtest.queue import queue_counts
from benchmarks.loadtest.report import print_result, write_result
from benchmarks.loadtest.resources import Resources, cleanup, create_resources
from benchmarks.loadtest.runners import log_tail, start_runners, stop, wait_ready


def run_loadtest(config: Config, console: Any = None, stack: Any = None) -> dict[str, Any]:
    """The whole run against the stack the environment points at; returns the result (also written).

    ``stack`` (``ingest_devstack.local.Stack``), when given, lets the result say how much CPU the
    emulators used.
    """
    from rich.console import Console

    from ingest.adapters.clients import aws_client
    from ingest.core.settings import Settings
    from ingest_devstack.demo import progress_bar

    console = console or Console()
    settings = Settings.from_env()
    run_id = config.run_id or f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
    res = Resources(run_id=run_id, bucket=f"loadtest-{run_id}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        create_resources(res, settings, config)
        res.control = Path(tempfile.mkdtemp(prefix=f"loadtest-{run_id}-control-"))
        console.print(
            f"Run [bold]{run_id}[/]: {config.files:,} files, {config.runners} runners, batch size "
            f"{config.batch_size}, batching window {config.batching_window:g}s, bucket {res.bucket}, "
            f"dataset {res.dataset}"
        )

        processes = start_runners(res, settings, config)  # their cold start overlaps the upload
        with progress_bar(console) as progress:
            task = progress.add_task("plan + upload files", total=config.files)
            planned, upload_seconds = upload(res, config, lambda: progress.advance(task))
        if config.mode == "backfill":
            for file in planned:
                file.copies = 1  # ingest backfill sends one event per file
        wait_ready(res, processes)

        sqs = aws_client("sqs")
        total = sum(p.copies for p in planned)
        with progress_bar(console) as progress:
            sending = progress.add_task("send events", total=total)
            done = progress.add_task("deliveries handled", total=total)
            outcome: dict[str, Any] = {}

            def send() -> None:
                try:
                    if config.mode == "backfill":
                        outcome["first_send"] = time.time()
                        outcome["backfill"] = run_backfill_of(
                            res, settings, lambda n: progress.advance(sending, n)
                        )
                        outcome["sent"] = outcome["backfill"]["enqueued"]
                        return
                    outcome["sent"], outcome["first_send"] = send_events(
                        sqs,
                        res,
                        planned,
                        config.seed,
                        config.backlog,
                        lambda n: progress.advance(sending, n),
                        rate=config.rate,
                    )
                except BaseException as err:
                    outcome["error"] = err
                finally:
                    assert res.control is not None
                    (res.control / "sent").touch()

            emulators_before = _emulator_cpu(stack)
            sender = threading.Thread(target=send, name="sender", daemon=True)
            sender.start()
            timeout = config.timeout or 600 + config.files
            deadline = time.monotonic() + timeout
            timed_out = False
            while any(p.poll() is None for p in processes):
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                counts = queue_counts(sqs, res.queue_url)
                progress.update(done, completed=max(0, progress.tasks[0].completed - counts["total"]))
                time.sleep(1)
            if not timed_out:
                sender.join()
            progress.update(done, completed=total - queue_counts(sqs, res.queue_url)["total"])
        emulators = {k: round(v - emulators_before.get(k, 0.0), 1) for k, v in _emulator_cpu(stack).items()}
        if "error" in outcome:
            raise outcome["error"]
        stopped_at = None
        if timed_out:
            console.print(f"[red]Timed out after {timeout:.0f}s; stopping the runners mid-batch.")
            stopped_at = time.time()
        stop(processes)  # a runner stopped mid-batch writes what it saw, then exits
        runners = []
        for index in range(config.runners):
            path = res.control / f"runner-{index}.json"
            if not path.exists():
                raise RuntimeError(f"runner {index} left no result:\n{log_tail(res, index)}")
            runners.append(json.loads(path.read_text()))
        warnings, samples = _runner_warnings(res, config.runners)

        console.print("Checking the accounting (ledger, BigQuery, error bucket)...")
        sent = outcome.get("sent", sum(p.copies for p in planned))
        first_send = outcome.get("first_send", time.time())
        result = account(res, settings, config, planned, runners, sent, first_send, stopped_at)
        result["upload_seconds"] = round(upload_seconds, 1)
        result["mode"] = config.mode
        if config.mode == "backfill":
            _check_backfill(result, res, settings, outcome["backfill"], len(planned))
        result["cpu_seconds"] = {
            "runners": round(sum(r["cpu_seconds"] for r in runners), 1),
            **{f"{name}_emulator": seconds for name, seconds in emulators.items()},
        }
        stages: Counter[str] = Counter()
        for runner in runners:
            stages.update(runner["stages"])
        result["runner_stages"] = {
            label: {
                "calls": int(stages[f"{label}_calls"]),
                "seconds": round(stages[f"{label}_seconds"], 1),
                "seconds_per_call": round(stages[f"{label}_seconds"] / max(stages[f"{label}_calls"], 1), 3),
            }
            for label in sorted({key.rsplit("_", 1)[0] for key in stages})
        }
        result["timed_out"] = timed_out
        result["runner_log_warnings"] = warnings
        result["runner_log_samples"] = samples
        if timed_out:
            result["checks"].insert(0, check("finished within --timeout", False, f"{timeout:.0f}s"))
            result["passed"] = False
        write_result(result, config.out_dir)
        print_result(result, console)
        return result
    finally:
        stop(processes)
        cleanup(res, settings, config.keep)


def _check_backfill(
    result: dict[str, Any], res: Resources, settings: Any, first: dict[str, Any], files: int
) -> None:
    """The backfill's own checks: it enqueued every file once, and a rerun enqueues nothing."""
    again = run_backfill_of(res, settings)
    result["backfill"] = {"first": first, "rerun": again}
    result["checks"] += [
        check(
            "backfill enqueued every file once, nothing refused",
            first["listed"] == files and first["enqueued"] == files and not first["failed"],
            f"listed {first['listed']:,}, enqueued {first['enqueued']:,}, refused {len(first['failed'])}, "
            f"{first['send_calls']:,} SendMessageBatch calls in {first['seconds']:.1f}s",
        ),
        check(
            "a rerun of the backfill enqueues nothing (the ledger has every file)",
            again["enqueued"] == 0 and again["already_in_ledger"] == files,
            f"listed {again['listed']:,}, already in the ledger {again['already_in_ledger']:,}, "
            f"enqueued {again['enqueued']:,}",
        ),
    ]
    result["passed"] = all(c["passed"] for c in result["checks"])


def _emulator_cpu(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by the local stack's moto server and BigQuery emulator."""
    from ingest_devstack.local import cpu_seconds

    if stack is None:
        return {}
    pids = {"moto": stack.moto_pid, "bigquery": stack.bigquery_pid}
    used = {name: cpu_seconds(pid) for name, pid in pids.items()}
    return {name: seconds for name, seconds in used.items() if seconds is not None}


def _runner_warnings(res: Resources, runners: int) -> tuple[dict[str, int], dict[str, str]]:
    """The runners' warning and error log lines, counted by kind ("failed: <error type>", ...),
    and the first message of each kind: the runners' logs go with the run's control folder, and
    a count of retried ``TransientError``s alone does not say which request failed."""
    import re

    counts: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for index in range(runners):
        for line in log_tail(res, index, chars=1 << 30).splitlines():
            try:
                record = json.loads(line)  # powertools' JSON lines: the handler's and the pipeline's
                level, message = str(record.get("level")), str(record.get("message"))
            except (ValueError, AttributeError):
                parts = line.split(" ", 4)  # logging.basicConfig's lines
                if len(parts) < 5:
                    continue
                level, message = parts[2], parts[4]
            if level not in {"WARNING", "ERROR", "CRITICAL"}:
                continue
            failed = re.match(r"failed s3://.*?: (\w+): ", message)
            kind = f"failed: {failed.group(1)}" if failed else re.sub(r"s3://\S+|\d+", "#", message)[:80]
            counts[f"{level} {kind}"] += 1
            samples.setdefault(f"{level} {kind}", message[:400])
    return dict(counts.most_common()), samples
