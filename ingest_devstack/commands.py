"""``ingest local|worker|generate|demo`` and ``ingest --local``: the dev stack's part of the CLI.

pyproject.toml lists these ``Command`` values under the ``ingest.commands`` entry points and
``use_local_stack`` under ``ingest.local_stack``; the CLI finds them there (``ingest.apps.cli.plugins``)
and never imports this package, which the Lambda image does not ship.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

from ingest.apps.cli import rendering
from ingest.apps.cli.command import Command, CommandFailed
from ingest.apps.cli.parser import positive
from ingest.apps.cli.rendering import console, err_console
from ingest_devstack import local
from ingest_devstack.local import StackError

Run = Callable[[argparse.Namespace], int]


def _stack_errors_reported(run: Run) -> Run:
    """A stack that cannot start or be reached is a message for the user, not a traceback."""

    @functools.wraps(run)
    def reported(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except StackError as err:
            raise CommandFailed(str(err)) from err

    return reported


def use_local_stack() -> None:
    """``ingest --local``: point this process at the running local stack's endpoints."""
    try:
        local.apply_environment()
    except StackError as err:
        raise CommandFailed(str(err)) from err


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = text.split("-")
        return int(year), int(month)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None


def _no_emf_on_the_console() -> None:
    """The handler prints CloudWatch EMF documents for Lambda's logs; on a console they are noise
    (POWERTOOLS_METRICS_DISABLED=false shows them)."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def run_local(args: argparse.Namespace) -> int:
    from ingest.core.settings import Settings

    if args.action == "up":
        stack = local.up(Settings.from_env())
        err_console.print(f"[green]Local stack up[/] (state in {stack.state_dir}). Use it with:")
        err_console.print('  eval "$(.venv/bin/ingest local env)"')
        print(local.export_lines(stack), end="")
    elif args.action == "down":
        stopped = local.down()
        err_console.print("Local stack stopped." if stopped else "No local stack was running.")
    elif args.action == "env":
        running = local.read_stack()
        if running is None:
            err_console.print("No local stack is running: `ingest local up` starts one.")
            return 1
        print(local.export_lines(running), end="")
    else:
        state = local.status()
        if args.json:
            print(json.dumps(state, indent=2))
        else:
            console.print(state)
        return 0 if state["running"] else 1
    return 0


def _local_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    parser.add_argument("--json", action="store_true", help="status as JSON")


def run_worker(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.apps import lambda_handler as handler
    from ingest.core.settings import Settings
    from ingest_devstack import worker

    _no_emf_on_the_console()
    sqs = aws_client("sqs")
    queue_url = sqs.get_queue_url(QueueName=Settings.from_env().queue_name)["QueueUrl"]
    options = {
        "workers": args.workers,
        "idle_seconds": args.idle,
        "batch_size": args.batch_size,
        "batching_window": args.batching_window,
    }
    if args.processes > 1:
        err_console.print(
            f"Draining {queue_url} with {args.processes} processes of {args.workers} pollers, "
            f"each until idle for {args.idle}s ..."
        )
        stats = worker.drain_processes(queue_url, handler.handle, processes=args.processes, **options)
    else:
        err_console.print(f"Draining {queue_url} until idle for {args.idle}s ...")
        stats = worker.drain(sqs, queue_url, handler.handle, **options)
    console.print(
        f"{stats.messages} messages in {stats.invocations} invocations; "
        f"{stats.failed_messages} left on the queue for retry"
    )
    return 1 if stats.failed_messages else 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="concurrent pollers per process (default 2)")
    parser.add_argument(
        "--processes",
        type=positive,
        default=1,
        help="worker processes, each a Lambda container of its own draining until idle (default 1)",
    )
    parser.add_argument("--idle", type=float, default=5.0, help="stop after this many idle seconds")
    parser.add_argument(
        "--batch-size", type=positive, default=10, help="most messages per invocation (default 10)"
    )
    parser.add_argument(
        "--batching-window",
        type=float,
        default=0.0,
        help="seconds to wait for a batch to fill, like MaximumBatchingWindowInSeconds (default 0)",
    )


def run_generate(args: argparse.Namespace) -> int:
    import time
    from collections import Counter

    from ingest_devstack.generate import publish_month

    if args.scale < 1:
        err_console.print(f"[red]--scale must be at least 1, got {args.scale}")
        return 2
    year, month = args.month
    started = time.perf_counter()
    manifest = publish_month(args.out, year, month, seed=args.seed, scale=args.scale)
    elapsed = time.perf_counter() - started
    totals = manifest["totals"]
    console.print(
        f"Wrote {totals['files']:,} files ({totals['rows_in']:,} rows) and manifest.json to {args.out} "
        f"in {elapsed:.1f}s"
    )
    console.print(
        f"  expected: {totals['rows_expected_loaded']:,} rows loaded, "
        f"{totals['rows_expected_quarantined']:,} quarantined, "
        f"{totals['files_expected_to_fail']} files failing"
    )
    kinds = Counter(d["kind"] for d in manifest["discrepancies"])
    console.print("  discrepancies: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items())))
    return 0


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=_month, default=(2021, 7), help="YYYY-MM (default 2021-07)")
    parser.add_argument("--scale", type=int, default=1, help="multiply the sales, about 30 a day (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="same month, seed and scale give the same bytes")
    parser.add_argument(
        "--out", required=True, metavar="DIR_OR_S3_URI", help="a folder or s3://bucket/prefix"
    )


def run_demo(args: argparse.Namespace) -> int:
    from ingest_devstack import demo

    _no_emf_on_the_console()
    year, month = args.month
    summary = demo.run(year, month, keep=args.keep, out_dir=args.out)
    # Last, and plain: the paths stay whole to copy, unwrapped.
    print(f"The month's reconciliation report: {summary['reconciliation']['report']}")
    rendering.print_index(args.out)
    return 0 if all(summary["checks"].values()) else 1


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=_month, default=(2021, 7), help="YYYY-MM (default 2021-07)")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    parser.add_argument("--out", type=Path, default=Path("reports/demo"))


LOCAL = Command(
    "local",
    help="start, stop or inspect the local emulators",
    run=_stack_errors_reported(run_local),
    arguments=_local_arguments,
    manages_local_stack=True,
)
WORKER = Command(
    "worker",
    help="run the Lambda handler on the SQS queue until it is idle",
    run=_stack_errors_reported(run_worker),
    arguments=_worker_arguments,
)
GENERATE = Command(
    "generate",
    help="write a month of deterministic demo data to a folder or S3",
    run=_stack_errors_reported(run_generate),
    arguments=_generate_arguments,
)
DEMO = Command(
    "demo",
    help="a month of data end to end on the local emulators",
    run=_stack_errors_reported(run_demo),
    arguments=_demo_arguments,
)
