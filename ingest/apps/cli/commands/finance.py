"""``ingest reconcile|report``: PayPal against our payments, and the report finance reads."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.apps.cli import failures, rendering
from ingest.apps.cli.command import Command
from ingest.apps.cli.parser import non_negative
from ingest.apps.cli.rendering import err_console, print_error

if TYPE_CHECKING:
    from ingest.apps.finance.period import Period


def add_period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start",
        required=True,
        metavar="DAY_OR_MONTH",
        help="first day YYYY-MM-DD, or a month YYYY-MM (all of its days)",
    )
    parser.add_argument(
        "--end",
        metavar="DAY_OR_MONTH",
        help="last day YYYY-MM-DD or month YYYY-MM (default: the end of --start)",
    )
    parser.add_argument(
        "--late-window-days",
        type=non_negative,
        metavar="DAYS",
        default=3,
        help="days our payment row may be dated after PayPal's and still match, as late (default 3)",
    )
    parser.add_argument(
        "--vat-basis",
        choices=("transaction", "line"),
        default="transaction",
        help="round VAT per transaction, as each invoice (default), or once per day and country line",
    )


def _period(args: argparse.Namespace) -> Period | None:
    """The period of --start/--end, or None after saying what is wrong with it."""
    from ingest.apps.finance.period import Period

    try:
        return Period.parse(args.start, args.end)
    except ValueError as err:
        print_error(str(err))
        return None


def reconcile(args: argparse.Namespace) -> int:
    from ingest.apps.finance import reconcile
    from ingest.apps.finance.figures import figures
    from ingest.apps.finance.models import Tables
    from ingest.apps.finance.period import Options
    from ingest.ingestion.services import Services

    period = _period(args)
    if period is None:
        return 2
    services = Services.from_env()
    tables = Tables.for_services(services)
    options = Options(late_window_days=args.late_window_days, vat_basis=args.vat_basis)
    with err_console.status(f"Reconciling {period} ..."):
        try:
            run = reconcile.run(services.bigquery, tables, period, options)
        except reconcile.MissingSourceTable as err:
            print_error(str(err))
            return 2
        headline = figures(services.bigquery, tables, period, options=options)
    if args.json:
        rendering.print_json({**run.to_dict(), "figures": headline})
        return 0
    title = f"Reconciliation {period}: days replaced in {tables.recon_dataset}"
    rendering.print_reconciled_models(title, run.models)
    rendering.print_figures(headline)
    return 0


def _reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    add_period_options(parser)
    parser.add_argument("--json", action="store_true", help="rows per model and the headline figures as JSON")


def report(args: argparse.Namespace) -> int:
    from ingest.apps.finance import report
    from ingest.apps.finance.period import Options
    from ingest.apps.reports.notebook_run import NotebookToolsMissing

    period = _period(args)
    if period is None:
        return 2
    options = Options(late_window_days=args.late_window_days, nominal=args.nominal, vat_basis=args.vat_basis)
    failures.check_credentials(bigquery=True)
    err_console.print(f"Reconciliation report {period} ...")
    try:
        produced = report.produce(period, args.out, options)
    except (NotebookToolsMissing, FileNotFoundError) as err:
        print_error(str(err))
        return 2
    if produced.figures is not None:
        rendering.print_figures(produced.figures)
    # Plain prints: a scheduler's log keeps the paths whole, unwrapped.
    print(f"executed notebook: {produced.notebook.executed}")
    for label, path in produced.files.items():
        print(f"{label}: {path}")
    rendering.print_index(args.out)
    if produced.error is not None:
        print_error(
            f"the report failed: {produced.error}; "
            f"the executed notebook shows where: {produced.notebook.executed}"
        )
        return 2
    if args.alert and produced.figures is not None:  # figures are there when there is no error
        return _alert(produced.figures, produced.report_path)
    return 0


def _alert(figures: dict[str, Any], report_path: Path) -> int:
    """Publish the report's alert (reversals, chargebacks) if it has one; 1 if it could not be sent."""
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.markup import escape

    from ingest.apps.finance import alerts
    from ingest.ingestion.services import Services

    try:
        message_id = alerts.publish_alert(Services.from_env(), figures, report_path)
    except (alerts.AlertTopicNotFound, BotoCoreError, ClientError) as err:
        print_error(f"the report is complete, but no alert was sent: {err}")
        return 1
    if message_id is not None:
        err_console.print(f"Alert sent: {escape(alerts.alert_subject(figures))}")
    return 0


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    add_period_options(parser)
    parser.add_argument(
        "--nominal",
        default="4000",
        metavar="CODE",
        help="nominal account the accounting export books sales to (default 4000)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("reports/reconciliation"),
        help="folder of the period folders (default reports/reconciliation)",
    )
    parser.add_argument(
        "--no-alert", dest="alert", action="store_false", help="do not alert about reversals and chargebacks"
    )


COMMANDS = (
    Command(
        "reconcile",
        help="reconcile PayPal with our payments for a day or a month (recomputes those days)",
        description="Runs the SQL models in ingest/sql/ for every day of the period and replaces "
        "those days in the reconciliation tables (INGEST_RECON_DATASET): matches, adjustments, "
        "daily_balances, balance_breaks, revenue_by_country. Running a day again replaces it.",
        examples=(
            "ingest reconcile --start 2021-07",
            "ingest reconcile --start 2021-07-01 --end 2021-07-07 --json",
        ),
        exit_codes=(
            (0, "reconciled"),
            (2, "a source table is missing (the message says which to load), or it could not run"),
        ),
        run=reconcile,
        arguments=_reconcile_arguments,
        uses_bigquery=True,
    ),
    Command(
        "report",
        help="the finance report of a day or a month: reconciles, then writes the report and its files",
        description="Runs notebooks/reconciliation_report.py with papermill: reconciles the period "
        "(as `ingest reconcile`), then writes report.html (no code, renders offline), "
        "accounting_export.csv, exceptions.csv, figures.json and the executed notebook to "
        "<out>/<start>_<end>/. When the period has reversals or chargebacks it publishes an alert to "
        "the alerts topic (INGEST_ALERTS_TOPIC). Exceptions are the report's content, not a failure.",
        examples=(
            "ingest report --start 2021-07",
            "ingest report --start 2021-07-15 --no-alert --out reports/reconciliation",
        ),
        exit_codes=(
            (0, "the report is complete"),
            (1, "it is, but the alert could not be sent"),
            (2, "the report failed (the executed notebook says why), or it could not run"),
        ),
        run=report,
        arguments=_report_arguments,
        uses_bigquery=True,
    ),
)
