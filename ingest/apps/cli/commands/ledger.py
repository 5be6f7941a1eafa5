"""``ingest replay|ledger``: what the ledger holds, and ingesting its failed files again."""

from __future__ import annotations

import argparse

from ingest.apps.cli import rendering
from ingest.apps.cli.command import NOT_RUN, Command
from ingest.apps.cli.parser import day, positive


def replay(args: argparse.Namespace) -> int:
    from ingest.ingestion.runs import replay_failed
    from ingest.ingestion.services import Services

    results = replay_failed(
        Services.from_env(),
        since=args.since,
        error_type=args.error_type,
        key_contains=args.key,
        dry_run=args.dry_run,
    )
    failed = [r for _, r in results if r is not None and r.error_type]
    if args.json:
        rendering.print_json(
            {
                "dry_run": args.dry_run,
                "files": [
                    {
                        "uri": ref.uri,
                        "status": None if result is None else result.status.value,
                        "rows_loaded": None if result is None else result.rows_loaded,
                        "rows_quarantined": None if result is None else result.rows_quarantined,
                        "error_type": None if result is None else result.error_type,
                        "message": None if result is None else result.message,
                    }
                    for ref, result in results
                ],
            },
            ensure_ascii=False,
        )
    else:
        rendering.print_replayed(results, args.dry_run)
    return 1 if failed else 0


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=day, metavar="YYYY-MM-DD", help="failures started on or after this day"
    )
    parser.add_argument("--error-type", metavar="TYPE", help="only this error type, e.g. UnknownPipeline")
    parser.add_argument("--key", metavar="TEXT", help="only keys containing this text")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")
    parser.add_argument("--json", action="store_true", help="the files and their outcomes as JSON")


def ledger(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.core.ledger_entry import summarize
    from ingest.core.model import Status
    from ingest.core.settings import Settings

    settings = Settings.from_env()
    entries = Ledger.from_settings(aws_client("dynamodb"), settings).entries(
        status=Status(args.status) if args.status else None, since=args.since
    )
    summary = summarize(entries)
    if args.json:
        rendering.print_json({"summary": summary, "entries": [e.item for e in entries]})
        return 0
    rendering.print_ledger(settings.ledger_table, entries, summary, args.limit)
    return 0


def _ledger_arguments(parser: argparse.ArgumentParser) -> None:
    from ingest.core.model import Status

    parser.add_argument(
        "--status",
        choices=[s.value for s in Status],
        metavar="STATUS",
        help=f"only entries in this state: {', '.join(s.value for s in Status)}",
    )
    parser.add_argument(
        "--since", type=day, metavar="YYYY-MM-DD", help="entries started on or after this day"
    )
    parser.add_argument(
        "--limit", type=positive, metavar="N", default=50, help="rows to show (default 50); --json has all"
    )
    parser.add_argument("--json", action="store_true", help="entries and summary as JSON")


COMMANDS = (
    Command(
        "replay",
        help="ingest FAILED files again after a fix (config, code)",
        description="Finds the ledger's FAILED entries (optionally by day, error type or key), takes "
        "each file's bytes again (from the lake if that version is still there, else the error "
        "bucket's copy) and ingests them through the same exactly-once flow; the ledger keeps "
        "each earlier failure as a REPLAYED history item. "
        "--dry-run lists them and changes nothing.",
        examples=(
            "ingest replay --error-type UnknownPipeline --dry-run",
            "ingest replay --since 2021-07-01 --key paypal/",
        ),
        exit_codes=(
            (0, "every replayed file loaded (or, with --dry-run, listed)"),
            (1, "some failed again"),
            NOT_RUN,
        ),
        run=replay,
        arguments=_replay_arguments,
        uses_bigquery=True,
    ),
    Command(
        "ledger",
        help="list and summarise the ingestion ledger",
        description="The ingestion ledger is the DynamoDB table (INGEST_LEDGER_TABLE) with one entry per "
        "file: its status, pipeline, rows in, loaded and quarantined, and why it failed. This lists "
        "the entries, newest first, then counts them by status.",
        examples=("ingest ledger --status FAILED", "ingest ledger --since 2021-07-01 --json | jq .summary"),
        exit_codes=((0, "listed"), NOT_RUN),
        run=ledger,
        arguments=_ledger_arguments,
    ),
)
