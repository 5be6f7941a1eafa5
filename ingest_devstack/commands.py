"""``ingest local|worker|generate|demo`` and ``ingest --local``: the dev stack's part of the CLI.

pyproject.toml lists these ``Command`` values under the ``ingest.commands`` entry points and
``use_local_stack`` under ``ingest.local_stack``; the CLI finds them there (``ingest.apps.cli.plugins``)
and never imports this package, which the Lambda image does not ship.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.apps.cli import logs, rendering
from ingest.apps.cli.command import NOT_RUN, Command, CommandFailed
from ingest.apps.cli.failures import ExpectedFailure
from ingest.apps.cli.parser import positive
from ingest.apps.cli.rendering import console, err_console
from ingest_devstack import local
from ingest_devstack.local import StackError

if TYPE_CHECKING:
    from typing import Any

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
    """``ingest --local``: point this process at the running local stack's endpoints.

    A stack whose state file outlived its emulators (a reboot, a kill) counts as stopped: the
    command would otherwise meet connection errors, or wait on BigQuery's retries, instead.
    """
    stack = local.read_stack()
    if stack is None:
        raise ExpectedFailure(
            f"no local stack is running (none in {local.default_state_dir()}); "
            "start it with `ingest local up`"
        )
    if not local.status()["running"]:
        raise ExpectedFailure(
            f"the local stack in {stack.state_dir} has stopped (its emulators are not running); "
            "start it again with `ingest local up`"
        )
    local.apply_environment(stack)


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
            print_status(state)
        return 0 if state["running"] else 1
    return 0


def print_status(state: dict[str, Any]) -> None:
    """``ingest local status``: each emulator, whether it runs, where; then how to use them."""
    from rich.table import Table

    if "moto" not in state:
        console.print("No local stack is running: `ingest local up` starts one.")
        return
    table = Table(title=f"Local stack in {state['state_dir']}")
    for column in ("emulator", "state", "pid", "endpoint"):
        table.add_column(column, overflow="fold")
    for name, label in (
        ("moto", "moto server (S3, DynamoDB, SQS, SNS, CloudWatch)"),
        ("bigquery", "BigQuery"),
    ):
        emulator = state[name]
        running = "[green]running" if emulator["alive"] else "[red]stopped"
        table.add_row(label, running, str(emulator["pid"]), emulator["url"])
    console.print(table)
    if state["running"]:
        console.print('Use it with --local, or in a shell: eval "$(ingest local env)"')
    else:
        console.print("An emulator has stopped: `ingest local down`, then `ingest local up`.")


ACTIONS = {
    "up": "start the emulators in the background (state in INGEST_LOCAL_DIR, default .local/) and print "
    "their environment",
    "down": "stop them (their data stays on disk for the next `up`)",
    "status": "whether each emulator runs, and where (exit 1 when not)",
    "env": 'print `export ...` lines for a shell: eval "$(ingest local env)"',
}


def _local_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=list(ACTIONS),
        metavar="ACTION",
        help="; ".join(f"{action}: {meaning}" for action, meaning in ACTIONS.items()),
    )
    parser.add_argument("--json", action="store_true", help="status as JSON")


def run_worker(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.apps import lambda_handler as handler
    from ingest.apps.ops import metrics
    from ingest.core.settings import Settings
    from ingest_devstack import worker

    _no_emf_on_the_console()
    logs.human_lines_for(logging.getLogger(metrics.SERVICE))
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
    if args.json:
        rendering.print_json(
            {
                "queue_url": queue_url,
                "messages": stats.messages,
                "invocations": stats.invocations,
                "left_for_retry": stats.failed_messages,
            }
        )
    else:
        console.print(
            f"{stats.messages} messages in {stats.invocations} invocations; "
            f"{stats.failed_messages} left on the queue for retry"
        )
    return 1 if stats.failed_messages else 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=positive, metavar="N", default=2, help="concurrent pollers per process (default 2)"
    )
    parser.add_argument(
        "--processes",
        type=positive,
        metavar="N",
        default=1,
        help="worker processes, each a Lambda container of its own draining until idle (default 1)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        metavar="SECONDS",
        default=5.0,
        help="stop after this many idle seconds (default 5)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        metavar="N",
        default=10,
        help="most messages per invocation (default 10)",
    )
    parser.add_argument(
        "--batching-window",
        type=float,
        metavar="SECONDS",
        default=0.0,
        help="seconds to wait for a batch to fill, like MaximumBatchingWindowInSeconds (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="the counts as JSON")


def run_generate(args: argparse.Namespace) -> int:
    import time
    from collections import Counter

    if args.scale < 1:
        raise ExpectedFailure(f"--scale must be at least 1, got {args.scale}")
    year, month = args.month
    started = time.perf_counter()
    manifest, manifest_path = generate_month(args.out, year, month, args.seed, args.scale, args.manifest)
    elapsed = time.perf_counter() - started
    totals = manifest["totals"]
    if args.json:
        rendering.print_json({"out": args.out, "manifest": str(manifest_path), "totals": totals})
        return 0
    console.print(
        f"Wrote {totals['files']:,} files ({totals['rows_in']:,} rows) to {args.out} in {elapsed:.1f}s"
    )
    # soft_wrap: a path is never folded, so it can be copied whatever the terminal's width.
    console.print(
        f"  manifest (what each file holds, what should load or fail): {manifest_path}", soft_wrap=True
    )
    console.print(
        f"  expected: {totals['rows_expected_loaded']:,} rows loaded, "
        f"{totals['rows_expected_quarantined']:,} quarantined, "
        f"{totals['files_expected_to_fail']} files failing"
    )
    kinds = Counter(d["kind"] for d in manifest["discrepancies"])
    console.print("  discrepancies: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items())))
    return 0


def default_manifest_path(out: str) -> Path:
    """Where the manifest goes: beside the files in a folder; for S3, a local folder named after the
    bucket and prefix. Never into S3: every object in the lake is ingested, and a manifest there
    fails as UnknownPipeline."""
    from ingest_devstack.generate.publish import MANIFEST_NAME, parse_s3_uri

    if not out.startswith("s3://"):
        return Path(out) / MANIFEST_NAME
    bucket, prefix = parse_s3_uri(out)
    return GENERATED_MANIFESTS / bucket / prefix / MANIFEST_NAME


GENERATED_MANIFESTS = Path("reports/generated")


def generate_month(
    out: str, year: int, month: int, seed: int, scale: int, manifest_path: Path | None, s3: Any = None
) -> tuple[dict[str, Any], Path]:
    """Write the month's files to ``out`` one at a time (memory stays flat at any scale), then the
    manifest to ``manifest_path`` on this machine."""
    from ingest_devstack.generate.month import MonthStream
    from ingest_devstack.generate.publish import manifest_bytes, open_sink

    stream = MonthStream(year, month, seed=seed, scale=scale)
    sink = open_sink(out, s3)
    for file in stream:
        sink.put(file.key, file.body)
    manifest = stream.manifest()
    path = manifest_path or default_manifest_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(manifest_bytes(manifest))
    return manifest, path


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=_month, metavar="YYYY-MM", default=(2021, 7), help="default 2021-07")
    parser.add_argument(
        "--scale", type=int, metavar="N", default=1, help="multiply the sales, about 30 a day (default 1)"
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", default=7, help="same month, seed and scale give the same bytes"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR_OR_S3_URI", help="a folder or s3://bucket/prefix"
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        metavar="PATH",
        help="where to write manifest.json, always on this machine (default: in the --out folder; for "
        f"S3, {GENERATED_MANIFESTS}/BUCKET/PREFIX/manifest.json)",
    )
    parser.add_argument("--json", action="store_true", help="the totals and the manifest's path as JSON")


def run_demo(args: argparse.Namespace) -> int:
    from ingest.apps import lambda_handler  # noqa: F401  # its logger exists before it is made human
    from ingest.apps.ops import metrics
    from ingest_devstack import demo

    _no_emf_on_the_console()
    logs.human_lines_for(logging.getLogger(metrics.SERVICE))
    year, month = args.month
    summary = demo.run(year, month, keep=args.keep, out_dir=args.out)  # ends listing its reports
    return 0 if all(summary["checks"].values()) else 1


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=_month, metavar="YYYY-MM", default=(2021, 7), help="default 2021-07")
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", default=Path("reports/demo"), help="default reports/demo"
    )


LOCAL = Command(
    "local",
    help="start, stop or inspect the local emulators",
    description="The local stack is a moto server (S3, DynamoDB, SQS, SNS, CloudWatch) and the "
    "BigQuery emulator, on free 127.0.0.1 ports, with their data under INGEST_LOCAL_DIR (default "
    ".local/). Any other command uses it with --local, or in a shell after "
    '`eval "$(ingest local env)"`; production code does not know the difference.',
    examples=(
        "ingest local up",
        "ingest local status --json",
        'eval "$(ingest local env)"',
        "ingest local down",
    ),
    exit_codes=(
        (0, "done (status: the stack runs)"),
        (1, "status or env: no stack runs; up: the stack could not start (its log's end is shown)"),
        NOT_RUN,
    ),
    run=_stack_errors_reported(run_local),
    arguments=_local_arguments,
    manages_local_stack=True,
)
WORKER = Command(
    "worker",
    help="run the Lambda handler on the SQS queue until it is idle",
    description="Polls the ingest queue (INGEST_QUEUE_NAME) as Lambda's SQS event source would and "
    "hands each batch of S3 events to the same handler the function runs, until the queue has been "
    "empty for --idle seconds. Messages whose files may succeed later stay on the queue.",
    examples=("ingest --local worker", "ingest worker --local --processes 2 --batch-size 10"),
    exit_codes=((0, "the queue is drained"), (1, "some messages were left on the queue for retry"), NOT_RUN),
    run=_stack_errors_reported(run_worker),
    arguments=_worker_arguments,
    uses_bigquery=True,
)
GENERATE = Command(
    "generate",
    help="write a month of deterministic demo data to a folder or S3",
    description="Writes a month of PayPal Transaction Search pages, payment-database streams and "
    "reference tables, with planted defects, to a folder or an S3 prefix; the same month, seed and "
    "scale always give the same bytes. The manifest (what each file holds, which rows should load, "
    "be quarantined or fail) is written on this machine, never into S3: every object in the lake is "
    "ingested, and a manifest there would fail as UnknownPipeline.",
    examples=(
        "ingest generate --out /tmp/july",
        "ingest --local generate --month 2021-02 --out s3://payments-lake/",
    ),
    exit_codes=((0, "written"), NOT_RUN),
    run=_stack_errors_reported(run_generate),
    arguments=_generate_arguments,
)
DEMO = Command(
    "demo",
    help="a month of data end to end on the local emulators",
    description="Starts the local stack, generates a month of data into the lake, ingests it with "
    "the scheduled batch and then through S3 events, SQS and the Lambda handler (every event twice: "
    "nothing loads twice), writes the month's finance report, health and monitoring reports, and "
    "compares what landed with what the generator planted. `make demo` runs it.",
    examples=("ingest demo", "ingest demo --month 2021-02 --keep"),
    exit_codes=((0, "every check passed"), (1, "some check failed (the summary says which)"), NOT_RUN),
    run=_stack_errors_reported(run_demo),
    arguments=_demo_arguments,
)
