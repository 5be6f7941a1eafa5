"""``ingest health|monitor``: the alarm rules evaluated here, and the monitoring report."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from ingest.apps.cli import failures, rendering
from ingest.apps.cli.command import NOT_RUN, Command
from ingest.apps.cli.parser import positive
from ingest.apps.cli.rendering import err_console


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    from ingest.apps.ops import health

    parser.add_argument(
        "--window-minutes",
        type=positive,
        metavar="MINUTES",
        default=int(health.WINDOW.total_seconds() // 60),
        help="look back this far for failed files and quarantined rows (default %(default)s)",
    )
    parser.add_argument(
        "--quarantine-rate-percent",
        type=float,
        metavar="PERCENT",
        default=health.QUARANTINE_RATE_PERCENT,
        help="alarm above this share of rows quarantined, per pipeline (default %(default)s)",
    )


def health(args: argparse.Namespace) -> int:
    from ingest.apps.ops import health
    from ingest.core.settings import Settings

    checks = health.check_health(
        Settings.from_env(),
        window=timedelta(minutes=args.window_minutes),
        quarantine_rate_percent=args.quarantine_rate_percent,
    )
    healthy = health.healthy(checks)
    if args.json:
        rendering.print_json({"healthy": healthy, "checks": health.checks_as_json(checks)})
    else:
        rendering.print_health(checks, healthy)
    return 0 if healthy else 1


def _health_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_options(parser)
    parser.add_argument("--json", action="store_true", help="the checks as JSON")


def monitor(args: argparse.Namespace) -> int:
    from ingest.apps.ops import monitoring

    failures.check_credentials(bigquery=False)
    with err_console.status(f"running the monitoring notebook over the last {args.hours:g} h ..."):
        run = monitoring.monitoring_report(
            args.out,
            hours=args.hours,
            window=timedelta(minutes=args.window_minutes),
            quarantine_rate_percent=args.quarantine_rate_percent,
        )
    rendering.print_index(args.out)
    if run.error:
        err_console.print(f"[red]The monitoring notebook failed: {run.error}; see {run.executed}")
        return 2
    print(f"Monitoring report: {run.html}")
    return 0


def _monitor_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_options(parser)
    parser.add_argument(
        "--hours", type=float, metavar="HOURS", default=24.0, help="the period, ending now (default 24)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("reports/monitoring"),
        help="folder of the reports (default %(default)s)",
    )


COMMANDS = (
    Command(
        "health",
        help="evaluate the alarm rules on the ledger and the queue",
        description="The CloudWatch alarms of deploy/template.yaml, evaluated here: failed files, "
        "dead letters, oldest queued event, quarantine rate and freshness per pipeline.",
        examples=("ingest health", "ingest health --window-minutes 60 --json"),
        exit_codes=((0, "no rule in ALARM"), (1, "some are"), NOT_RUN),
        run=health,
        arguments=_health_arguments,
    ),
    Command(
        "monitor",
        help="the monitoring report: throughput, latency, failures, quarantine, freshness",
        description="Runs notebooks/monitoring.py with papermill over the ledger's last hours and "
        "writes report.html and monitoring.json to DIR/TIME/.",
        examples=("ingest monitor", "ingest monitor --hours 168 --out reports/monitoring"),
        exit_codes=((0, "the report is written"), (2, "the notebook failed, or it could not run")),
        run=monitor,
        arguments=_monitor_arguments,
    ),
)
