"""``ingest load|run|batch|backfill|replay|ledger``: land files now, in batches, through the fleet,
again; read the ledger."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from ingest.apps.cli import rendering
from ingest.apps.cli.command import Command
from ingest.apps.cli.parser import day, positive
from ingest.apps.cli.rendering import console, err_console, print_error
from ingest.core.settings import NOTEBOOKS_DIR


def load(args: argparse.Namespace) -> int:
    from ingest.core.model import FileRef
    from ingest.ingestion.flow import ingest_file
    from ingest.ingestion.services import Services

    if not args.uri.startswith("s3://") or "/" not in args.uri[5:]:
        err_console.print(f"expected s3://bucket/key, got {args.uri!r}")
        return 2
    bucket, key = args.uri[5:].split("/", 1)
    services = Services.from_env()
    head = services.s3.head_object(Bucket=bucket, Key=key)
    result = ingest_file(FileRef.of(bucket, key, head["ETag"], head["ContentLength"]), services)
    console.print(result)
    return 0 if result.error_type is None else 1


def _load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uri")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """What a batch takes, for ``run`` and for ``batch``, which runs the same batch in a notebook."""
    from ingest.ingestion.flow import FILES_PER_LOAD

    parser.add_argument("--bucket", help="the lake bucket (default INGEST_LAKE_BUCKET)")
    parser.add_argument("--prefix", default="", help="only keys under this prefix")
    parser.add_argument("--pipeline", metavar="NAME", help="only files of this pipeline")
    parser.add_argument(
        "--max-files-per-load",
        type=positive,
        default=FILES_PER_LOAD,
        help=f"files combined into one load job (default {FILES_PER_LOAD})",
    )


def _utc_midnight(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ingest.ingestion.runs import run_batch
    from ingest.ingestion.services import Services

    services = Services.from_env()
    bucket = args.bucket or services.settings.lake_bucket
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, disable=args.json) as progress:
        task = progress.add_task(f"s3://{bucket}/{args.prefix}", total=None)
        batch = run_batch(
            services,
            bucket,
            args.prefix,
            since=_utc_midnight(args.since),
            until=_utc_midnight(args.until),
            pipeline=args.pipeline,
            max_files_per_load=args.max_files_per_load,
            on_listed=lambda total: progress.update(task, total=total),
            on_file=lambda _result: progress.advance(task),
        )
    if args.json:
        rendering.print_json(batch.to_dict())
        return 1 if batch.failed else 0
    rendering.print_batch_summary(batch.to_dict())
    return 1 if batch.failed else 0


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add_batch_options(parser)
    parser.add_argument("--since", type=day, help="only objects last modified on or after YYYY-MM-DD (UTC)")
    parser.add_argument("--until", type=day, help="only objects last modified before YYYY-MM-DD (UTC)")
    parser.add_argument("--json", action="store_true", help="the run's account as JSON, no progress bar")


def batch(args: argparse.Namespace) -> int:
    import uuid

    from ingest.apps.reports.notebook_run import NotebookToolsMissing, run_notebook

    notebook = NOTEBOOKS_DIR / "ingest_batch.py"
    if not notebook.is_file():
        print_error(
            f"batch notebook not found: {notebook} (`ingest batch` runs from a checkout of the repository)"
        )
        return 2
    now = datetime.now(UTC)
    run_day = args.date or now.date().isoformat()
    # Sorts by the day it covers, then by when it ran; the suffix tells apart runs in one second.
    run_id = f"{run_day}-{now:%H%M%S}-{uuid.uuid4().hex[:6]}"
    out_dir = (args.out / run_id).resolve()
    parameters = {
        "bucket": args.bucket or "",
        "prefix": args.prefix,
        "run_date": run_day,
        "pipeline": args.pipeline or "",
        "max_files_per_load": args.max_files_per_load,
        "run_id": run_id,
        "output_dir": str(out_dir),
    }
    err_console.print(f"Batch {run_id} ...")
    try:
        result = run_notebook(notebook, out_dir, parameters, title=f"Ingest batch {run_id}")
    except NotebookToolsMissing as err:
        print_error(str(err))
        return 2
    batch_json = out_dir / "batch.json"
    account = json.loads(batch_json.read_text(encoding="utf-8")) if batch_json.is_file() else None
    if account is not None:
        rendering.print_batch_summary(account)
    # Plain prints: a scheduler's log keeps the paths whole, unwrapped.
    print(f"executed notebook: {result.executed}")
    if result.html is not None:
        print(f"report: {result.html}")
    rendering.print_index(args.out)
    if account is None:
        print_error(f"the batch did not run: {result.error or 'no batch.json written'}")
        return 2
    if account["failed"]:
        return 1
    if result.error:
        print_error(f"the report failed after the run: {result.error}")
        return 2
    return 0


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    add_batch_options(parser)
    parser.add_argument(
        "--date",
        type=day,
        help="YYYY-MM-DD: objects that landed by the end of this day (UTC); default today",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports/batches"),
        help="folder of the run folders (default reports/batches)",
    )


def backfill(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.adapters.s3_lake import S3Lake
    from ingest.apps.ops.backfill import BackfillError, run_backfill
    from ingest.core.settings import Settings

    settings = Settings.from_env()
    s3 = aws_client("s3")
    # An inventory names its bucket; a listing needs one.
    bucket = args.bucket if args.manifest else (args.bucket or settings.lake_bucket)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # The bar only where someone watches it: a scheduler's log gets the summary alone.
    quiet = args.json or not err_console.is_terminal
    with Progress(*columns, console=err_console, disable=quiet) as progress:
        task = progress.add_task("listing" if not args.manifest else "reading the inventory", total=None)

        def listed(total: int | None) -> None:
            progress.update(task, total=total, description="skipping loaded files, enqueueing the rest")

        try:
            result = run_backfill(
                lake=S3Lake(s3, settings.error_bucket),
                ledger=Ledger.from_settings(aws_client("dynamodb"), settings),
                sqs=aws_client("sqs"),
                s3=s3,
                queue=args.queue or settings.queue_name,
                bucket=bucket,
                prefix=args.prefix,
                since=_utc_midnight(args.since),
                until=_utc_midnight(args.until),
                manifest_uri=args.manifest,
                dry_run=args.dry_run,
                on_total=listed,
                on_progress=lambda files: progress.advance(task, files),
            )
        except (BackfillError, BotoCoreError) as err:
            progress.stop()
            print_error(f"backfill: {err}")
            return 2
    if args.json:
        rendering.print_json(result.to_dict(), ensure_ascii=False)
    else:
        rendering.print_backfill(result.to_dict())
    return 1 if result.failed else 0


def _backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", help="the lake bucket to list (default INGEST_LAKE_BUCKET)")
    parser.add_argument("--prefix", default="", help="only keys under this prefix")
    parser.add_argument("--since", type=day, help="only objects last modified on or after YYYY-MM-DD (UTC)")
    parser.add_argument("--until", type=day, help="only objects last modified before YYYY-MM-DD (UTC)")
    parser.add_argument(
        "--manifest",
        metavar="S3_URI",
        help="read an S3 Inventory report (s3://.../manifest.json, CSV or Parquet) instead of listing",
    )
    parser.add_argument("--queue", help="the ingest queue's name or URL (default INGEST_QUEUE_NAME)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be enqueued, send nothing")
    parser.add_argument("--json", action="store_true", help="the account as JSON, no progress bar")


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
    rendering.print_replayed(results, args.dry_run)
    failed = [r for _, r in results if r is not None and r.error_type]
    return 1 if failed else 0


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=day, help="failures started on or after YYYY-MM-DD")
    parser.add_argument("--error-type", help="only this error type, e.g. UnknownPipeline")
    parser.add_argument("--key", help="only keys containing this text")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")


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

    parser.add_argument("--status", choices=[s.value for s in Status])
    parser.add_argument("--since", type=day, help="entries started on or after YYYY-MM-DD")
    parser.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    parser.add_argument("--json", action="store_true", help="entries and summary as JSON")


COMMANDS = (
    Command(
        "load",
        help="ingest one object now: ingest load s3://bucket/key",
        run=load,
        arguments=_load_arguments,
    ),
    Command(
        "run",
        help="batch mode: ingest every new object under a prefix, many small files per load job",
        description="Lists objects, skips what the ledger has, loads the rest with few load jobs. "
        "Exit code 0: no file failed; 1: some failed (listed in the summary).",
        run=run,
        arguments=_run_arguments,
    ),
    Command(
        "batch",
        help="scheduled batch: one day's new objects through the batch notebook, kept as a report",
        description="Runs notebooks/ingest_batch.py with papermill: ingests every object under the "
        "prefix that landed by the end of --date (UTC) and is not in the ledger yet, then writes the "
        "executed notebook, report.html (no code, renders offline) and batch.json to <out>/<run_id>/. "
        "Exit code 0: no file failed; 1: some file failed; 2: the run itself failed (the executed "
        "notebook says why).",
        run=batch,
        arguments=_batch_arguments,
    ),
    Command(
        "backfill",
        help="hand existing lake files to the Lambda fleet: one S3 event per new file on the ingest queue",
        description="Lists objects under a prefix (or reads an S3 Inventory manifest), skips what the "
        "ledger already has, and sends one S3-event-shaped message per remaining file to the ingest "
        "queue, ten per SendMessageBatch, so the ingest function loads them with its own ledger, error "
        "bucket and load-job batching. Exit code 0: everything enqueued (or, with --dry-run, counted); "
        "1: SQS refused some files (listed); 2: the backfill could not run (no such queue, bucket or "
        "ledger table, a bad manifest).",
        run=backfill,
        arguments=_backfill_arguments,
    ),
    Command(
        "replay",
        help="ingest FAILED files again after a fix (config, code)",
        run=replay,
        arguments=_replay_arguments,
    ),
    Command(
        "ledger", help="list and summarise the ingestion ledger", run=ledger, arguments=_ledger_arguments
    ),
)
