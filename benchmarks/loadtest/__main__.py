"""Run the load test: ``python -m benchmarks.loadtest [--files N] ...`` (``make loadtest``).

``--runner CONTROL INDEX`` is how the run starts its runner processes, not for people."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import benchmarks.loadtest
from benchmarks.loadtest.config import MODES, Config
from benchmarks.loadtest.run import run_loadtest
from benchmarks.loadtest.runners import runner_main


def parse_args(argv: list[str] | None = None) -> Config:
    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loadtest", description=(benchmarks.loadtest.__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--files", type=int, default=defaults.files, help="files to upload (default %(default)s)"
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=defaults.mode,
        help="event: S3 events sent 1-3 times each; backfill: enqueued by ingest backfill",
    )
    parser.add_argument("--runners", type=int, default=defaults.runners, help="runner processes")
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="messages per handler call"
    )
    parser.add_argument(
        "--batching-window", type=float, default=defaults.batching_window, help="seconds to fill a batch"
    )
    parser.add_argument(
        "--pollers", type=int, default=defaults.pollers, help="handler calls at once per runner"
    )
    parser.add_argument("--bad-share", type=float, default=defaults.bad_share, help="share of bad files")
    parser.add_argument("--max-deliveries", type=int, default=defaults.max_deliveries)
    parser.add_argument(
        "--backlog",
        type=int,
        default=defaults.backlog,
        help="messages kept waiting in the queue while sending (0: all at once; default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="messages sent per second, evenly, in place of --backlog (default: off)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--retry-delay", type=int, default=defaults.retry_delay)
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the run's bucket, ledger and dataset")
    parser.add_argument("--out", type=Path, default=defaults.out_dir, help="folder of result.json")
    args = parser.parse_args(argv)
    if args.files < 1 or args.runners < 1 or args.batch_size < 1 or args.max_deliveries < 1:
        parser.error("--files, --runners, --batch-size and --max-deliveries must be at least 1")
    return Config(
        mode=args.mode,
        files=args.files,
        runners=args.runners,
        batch_size=args.batch_size,
        batching_window=args.batching_window,
        pollers=args.pollers,
        bad_share=args.bad_share,
        max_deliveries=args.max_deliveries,
        backlog=args.backlog,
        rate=args.rate,
        seed=args.seed,
        visibility_timeout=args.visibility_timeout,
        retry_delay=args.retry_delay,
        timeout=args.timeout,
        keep=args.keep,
        out_dir=args.out,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--runner"]:
        runner_main(Path(argv[1]), int(argv[2]))
        return 0
    config = parse_args(argv)
    from rich.console import Console

    from ingest.core.settings import Settings
    from ingest_devstack import local

    console = Console()
    was_running = bool(local.status().get("running"))
    stack = local.up(Settings.from_env())
    local.apply_environment(stack)
    console.print(f"Local stack: {'running, reused' if was_running else 'started'} ({stack.state_dir})")
    try:
        result = run_loadtest(config, console, stack)
    finally:
        if not was_running:
            local.down()
            console.print("Local stack stopped, as it was found.")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
