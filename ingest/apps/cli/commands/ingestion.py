"""``ingest load|run|batch|backfill``: land files now, in batches, or through the Lambda fleet."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from ingest.apps.cli import empty_run, failures, rendering
from ingest.apps.cli.command import NOT_RUN, Command
from ingest.apps.cli.failures import ExpectedFailure
from ingest.apps.cli.parser import day, positive
from ingest.apps.cli.rendering import console, err_console, print_error

if TYPE_CHECKING:
    from ingest.core.model import FileResult


def load(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError

    from ingest.adapters.clients import aws_error_code
    from ingest.core.model import FileRef
    from ingest.ingestion.flow import ingest_file
    from ingest.ingestion.services import Services

    if not args.uri.startswith("s3://") or "/" not in args.uri[5:]:
        raise ExpectedFailure(f"expected s3://bucket/key, got {args.uri!r}")
    bucket, key = args.uri[5:].split("/", 1)
    services = Services.from_env()
    try:
        head = services.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if aws_error_code(err) in {"404", "NoSuchKey", "NotFound"}:
            folder = key.rpartition("/")[0]
            raise ExpectedFailure(
                f"{args.uri} does not exist; check the key (`aws s3 ls s3://{bucket}/{folder}/` lists "
                "what is there; keys are case-sensitive)"
            ) from err
        raise
    result = ingest_file(FileRef.of(bucket, key, head["ETag"], head["ContentLength"]), services)
    if args.json:
        rendering.print_json(file_result_dict(result), ensure_ascii=False)
    else:
        rendering.print_file_result(result)
    return 0 if result.error_type is None else 1


def file_result_dict(result: FileResult) -> dict[str, Any]:
    from dataclasses import asdict

    return {"uri": result.ref.uri, **{k: v for k, v in asdict(result).items() if k != "ref"}}


def _load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uri", metavar="S3_URI", help="the object to ingest: s3://bucket/key")
    parser.add_argument("--json", action="store_true", help="the file's outcome as JSON")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """What a batch takes, for ``run`` and for ``batch``, which runs the same batch in a notebook."""
    from ingest.ingestion.flow import FILES_PER_LOAD

    parser.add_argument("--bucket", metavar="BUCKET", help="the lake bucket (default INGEST_LAKE_BUCKET)")
    parser.add_argument("--prefix", metavar="PREFIX", default="", help="only keys under this prefix")
    parser.add_argument("--pipeline", metavar="NAME", help="only files of this pipeline")
    parser.add_argument(
        "--max-files-per-load",
        type=positive,
        metavar="N",
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
    check_pipeline(args.pipeline, [p.name for p in services.pipelines])
    bucket = args.bucket or services.settings.lake_bucket
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # The bar only where someone watches it: a scheduler's log gets the summary alone.
    with Progress(
        *columns, console=err_console, disable=args.json or not err_console.is_terminal
    ) as progress:
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
    account = batch.to_dict()
    why = explain_empty(services.s3, account)
    if args.json:
        rendering.print_json({**account, "explanation": why} if why else account)
        return 1 if batch.failed else 0
    rendering.print_batch_summary(account)
    if why:
        console.print(escape(why))
    return 1 if batch.failed else 0


def check_pipeline(name: str | None, known: list[str]) -> None:
    """Refuse ``--pipeline NAME`` naming no pipeline before any work, naming the closest one."""
    if name is not None and name not in known:
        raise failures.unknown_pipeline(name, known)


def explain_empty(s3: Any, account: dict[str, Any]) -> str | None:
    """Why a run that processed no file did so (what was listed, why none qualified); None when
    it processed some."""
    if account["files"]:
        return None
    return empty_run.explain(account, empty_run.list_prefix(s3, account["bucket"], account["prefix"]))


def _last_modified_window(parser: argparse.ArgumentParser) -> None:
    """--since and --until: run and backfill select objects by S3 last-modified time alike."""
    parser.add_argument(
        "--since",
        type=day,
        metavar="YYYY-MM-DD",
        help="only objects last modified on or after this day (UTC)",
    )
    parser.add_argument(
        "--until", type=day, metavar="YYYY-MM-DD", help="only objects last modified before this day (UTC)"
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    add_batch_options(parser)
    _last_modified_window(parser)
    parser.add_argument("--json", action="store_true", help="the run's account as JSON, no progress bar")


def batch(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import aws_client
    from ingest.apps.reports import batch_notebook
    from ingest.apps.reports.notebook_run import NotebookToolsMissing

    if not batch_notebook.NOTEBOOK.is_file():
        raise ExpectedFailure(
            f"batch notebook not found: {batch_notebook.NOTEBOOK}; `ingest batch` runs from a checkout of "
            "the repository"
        )
    if args.pipeline is not None:
        from ingest.core.config import load_pipelines
        from ingest.core.settings import Settings

        check_pipeline(args.pipeline, [p.name for p in load_pipelines(Settings.from_env().pipelines_dir)])
    failures.check_credentials(bigquery=True)
    run_day = args.date or datetime.now(UTC).date().isoformat()
    err_console.print(f"Batch for {run_day} ...")
    try:
        run = batch_notebook.run(
            run_day,
            args.out,
            bucket=args.bucket or "",
            prefix=args.prefix,
            pipeline=args.pipeline or "",
            max_files_per_load=args.max_files_per_load,
        )
    except NotebookToolsMissing as err:
        print_error(str(err))
        return 2
    account = run.account
    why = explain_empty(aws_client("s3"), account) if account is not None else None
    if args.json:
        from ingest.apps.reports.report_index import write_index

        paths = {"executed": str(run.executed), "report": run.html and str(run.html)}
        index = str(write_index(args.out.resolve().parent))
        rendering.print_json(
            {"account": account, "explanation": why, **paths, "index": index, "error": run.error}
        )
    else:
        if account is not None:
            rendering.print_batch_summary(account)
            if why:
                console.print(escape(why))
        # Plain prints: a scheduler's log keeps the paths whole, unwrapped.
        print(f"executed notebook: {run.executed}")
        if run.html is not None:
            print(f"report: {run.html}")
        rendering.print_index(args.out)
    if account is None:
        print_error(f"the batch did not run: {run.error or 'no batch.json written'}")
        return 2
    if run.error:  # not the notebook's deliberate FilesFailed: a fault of the report itself
        print_error(f"the batch report failed after the run: {run.error}")
        return 2
    return 1 if account["failed"] else 0


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    add_batch_options(parser)
    parser.add_argument(
        "--date",
        type=day,
        metavar="YYYY-MM-DD",
        help="objects last modified in S3 by the end of this day (UTC), not a date in the key; default today",
    )
    parser.add_argument("--json", action="store_true", help="the run's account and its files' paths as JSON")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("reports/batches"),
        help="folder of the run folders (default reports/batches)",
    )


def backfill(args: argparse.Namespace) -> int:
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
        # AWS errors go on to the CLI's classifier (no region, endpoint refused: one line, exit 2).
        except BackfillError as err:
            progress.stop()
            print_error(f"backfill: {err}")
            return 2
    if args.json:
        rendering.print_json(result.to_dict(), ensure_ascii=False)
    else:
        rendering.print_backfill(result.to_dict())
    return 1 if result.failed else 0


def _backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bucket", metavar="BUCKET", help="the lake bucket to list (default INGEST_LAKE_BUCKET)"
    )
    parser.add_argument("--prefix", metavar="PREFIX", default="", help="only keys under this prefix")
    _last_modified_window(parser)
    parser.add_argument(
        "--manifest",
        metavar="S3_URI",
        help="read an S3 Inventory report (s3://.../manifest.json, CSV or Parquet) instead of listing",
    )
    parser.add_argument(
        "--queue", metavar="QUEUE", help="the ingest queue's name or URL (default INGEST_QUEUE_NAME)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be enqueued, send nothing")
    parser.add_argument("--json", action="store_true", help="the account as JSON, no progress bar")


COMMANDS = (
    Command(
        "load",
        help="ingest one object now: ingest load s3://bucket/key",
        description="Ingests one object through the same flow as the Lambda function: claims it in "
        "the ledger, reads, validates and loads it (bad rows quarantined), or keeps it in the error "
        "bucket with the reason. A file the ledger already has is skipped.",
        examples=(
            "ingest load s3://payments-lake/paypal/transactions/2021/07/01/page-1.json",
            "ingest load --local s3://payments-lake/KEY --json",
        ),
        exit_codes=((0, "loaded (or already loaded)"), (1, "the file failed; the message says why"), NOT_RUN),
        run=load,
        arguments=_load_arguments,
        uses_bigquery=True,
    ),
    Command(
        "run",
        help="batch mode: ingest every new object under a prefix, many small files per load job",
        description="Lists the objects under --prefix (last modified in [--since, --until) when "
        "given: S3's last-modified time, not a date in the key), skips what the ledger has, and "
        "loads the rest with few load jobs. When nothing is processed it says what was listed and why.",
        examples=(
            "ingest run --prefix paypal/ --pipeline paypal_transactions",
            "ingest run --since 2021-07-01 --json",
        ),
        exit_codes=((0, "no file failed"), (1, "some failed (listed in the summary)"), NOT_RUN),
        run=run,
        arguments=_run_arguments,
        uses_bigquery=True,
    ),
    Command(
        "batch",
        help="scheduled batch: one day's new objects through the batch notebook, kept as a report",
        description="Runs notebooks/ingest_batch.py with papermill: ingests every object under the "
        "prefix whose S3 last-modified time is by the end of --date (UTC) and is not in the ledger "
        "yet, then writes the executed notebook, report.html (no code, renders offline) and "
        "batch.json to DIR/RUN_ID/. Objects are selected by when they landed in S3, not by a date in "
        "their key: data uploaded today for an earlier month is found by today's date. When nothing "
        "is processed it says what was listed and why.",
        examples=("ingest batch", "ingest batch --date 2021-07-31 --prefix paypal/ --out reports/batches"),
        exit_codes=(
            (0, "no file failed"),
            (1, "some file failed"),
            (2, "the run itself failed (the executed notebook says why), or it could not start"),
        ),
        run=batch,
        arguments=_batch_arguments,
        uses_bigquery=True,
    ),
    Command(
        "backfill",
        help="hand existing lake files to the Lambda fleet: one S3 event per new file on the ingest queue",
        description="Lists objects under a prefix (or reads an S3 Inventory manifest), skips what the "
        "ledger already has, and sends one S3-event-shaped message per remaining file to the ingest "
        "queue, ten per SendMessageBatch, so the ingest function loads them with its own ledger, error "
        "bucket and load-job batching.",
        examples=(
            "ingest backfill --prefix paypal/ --dry-run",
            "ingest backfill --manifest s3://inventory/lake/2021-07-31T00-00Z/manifest.json",
        ),
        exit_codes=(
            (0, "everything enqueued (or, with --dry-run, counted)"),
            (1, "SQS refused some files (listed)"),
            (2, "the backfill could not run (no such queue, bucket or ledger table, a bad manifest)"),
        ),
        run=backfill,
        arguments=_backfill_arguments,
    ),
)
