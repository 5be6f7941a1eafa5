"""``ingest schema diff|backfill``: the fields a pipeline's table keeps in ``_extra`` that the
pipeline does not declare, with the YAML that would declare them (``--apply`` adds it); then,
once declared, the UPDATE moving earlier rows' values from ``_extra`` into the column."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from ingest.apps.cli import rendering
from ingest.apps.cli.command import NOT_RUN, Command
from ingest.apps.cli.commands.ingestion import check_pipeline
from ingest.apps.cli.failures import ExpectedFailure
from ingest.apps.cli.parser import day, positive
from ingest.apps.cli.rendering import console

if TYPE_CHECKING:
    from ingest.apps.tools.schema_diff import ColumnQuarantine, FieldSeen
    from ingest.core.config import Column, Pipeline
    from ingest.core.settings import Settings


def schema(args: argparse.Namespace) -> int:
    from ingest.adapters.clients import bigquery_client
    from ingest.core.config import load_pipelines
    from ingest.core.settings import Settings

    if args.action == "backfill" and not args.column:
        raise ExpectedFailure("schema backfill needs --column NAME: the declared column to fill from _extra")
    settings = Settings.from_env()
    pipelines = {p.name: p for p in load_pipelines(settings.pipelines_dir)}
    check_pipeline(args.pipeline, list(pipelines))
    pipeline = pipelines[args.pipeline]
    client = bigquery_client(settings.bq_project, settings.bq_location)
    if args.action == "backfill":
        return _backfill(client, pipeline, args)
    return _diff(client, pipeline, settings, args)


def _backfill(client: Any, pipeline: Pipeline, args: argparse.Namespace) -> int:
    from ingest.adapters.bigquery import tables
    from ingest.adapters.bigquery.backfill_column import BackfillRefused, backfill_statement, run_backfill

    try:
        statement = backfill_statement(pipeline, args.column, client.project)  # before touching the table
    except BackfillRefused as err:
        raise ExpectedFailure(str(err)) from err
    tables.ensure_table(client, pipeline)  # the column exists once declared, even before a load
    moved = run_backfill(client, statement, f"{pipeline.table_id}.{args.column}")
    if args.json:
        rendering.print_json(
            {"pipeline": pipeline.name, "table": pipeline.table_id, "column": args.column, "rows": moved}
        )
    else:
        console.print(
            f"{moved:,} row(s) of {pipeline.table_id} took {args.column} from _extra.", markup=False
        )
    return 0


def _diff(client: Any, pipeline: Pipeline, settings: Settings, args: argparse.Namespace) -> int:
    from ingest.apps.tools import schema_diff
    from ingest.core.drift_columns import with_columns

    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None
    rows = schema_diff.read_extras(client, pipeline, since, args.limit)
    paths, lists = schema_diff.unread_paths(rows, pipeline) if pipeline.record_column else (rows, set())
    seen = schema_diff.undeclared_fields(paths)
    backfill = schema_diff.declared_since(seen, pipeline)  # declared after these rows loaded
    fields = [f for f in seen if f.name not in backfill]
    drifted = _drift_columns(client, pipeline)
    have = [c.name for c in pipeline.bigquery_columns()] + [c.name for c in drifted]
    lines = schema_diff.pin_lines(drifted) + schema_diff.yaml_lines(fields, lists, have)
    quarantines, unread = _quarantines(settings, with_columns(pipeline, drifted), since)
    applied = (
        _apply(pipeline, lines)
        if args.apply and any(line.lstrip().startswith("-") for line in lines)
        else None
    )
    if args.json:
        rendering.print_json(
            {
                "pipeline": pipeline.name,
                "table": pipeline.table_id,
                "rows_read": len(rows),
                "fields": [f.to_dict() for f in fields],
                "yaml": lines,
                "applied_to": str(applied) if applied else None,
                "declared_since": backfill,
                "added_columns": [{"name": c.name, "type": c.type} for c in drifted],
                "quarantined_by_column": None if quarantines is None else [q.to_dict() for q in quarantines],
                "ledger_unread": unread,
            },
            ensure_ascii=False,
        )
        return 0
    scope = f" since {args.since}" if args.since else ""
    where = pipeline.record_column or "_extra"
    if fields:
        _print_fields(fields, f"Fields {pipeline.table_id} keeps in {where}{scope}, read by no column")
    else:
        console.print(
            f"No undeclared field in {pipeline.table_id}'s {where}{scope} ({len(rows):,} rows read).",
            markup=False,
        )
    if drifted:
        shown = ", ".join(f"{c.name} {c.type}" for c in drifted)
        console.print(
            f"Columns schema_drift: add_columns added to {pipeline.table_id}, not in the YAML: {shown} "
            "(declaring them keeps their type if the table is made again)",
            markup=False,
        )
    if quarantines:
        _print_quarantines(quarantines, f"Rows quarantined for a value their column does not take{scope}")
    elif unread:
        console.print(
            f"(rows quarantined per column not counted: the ledger was not read: {unread})", markup=False
        )
    if len(rows) == args.limit:
        console.print(
            f"(the first {args.limit:,} rows with {where} were read: --limit reads more)", markup=False
        )
    # Plain prints: commands and YAML to copy, never wrapped or styled.
    for field_name, column in sorted(backfill.items()):
        print(
            f"{field_name}: declared since some rows loaded; move their values with "
            f"`ingest schema backfill --pipeline {pipeline.name} --column {column}`"
        )
    if applied:
        print(f"Added to the columns of {applied}:")
    elif lines:
        print(f"To declare them, add to the columns of {pipeline.name}'s YAML (or run again with --apply):")
    print("\n".join(lines))
    return 0


def _drift_columns(client: Any, pipeline: Pipeline) -> tuple[Column, ...]:
    """The columns ``schema_drift: add_columns`` added to the pipeline's table (none otherwise)."""
    if pipeline.schema_drift != "add_columns":
        return ()
    from ingest.adapters.bigquery.schema_changes import read_drift_columns

    return read_drift_columns(client, pipeline)


def _quarantines(
    settings: Settings, pipeline: Pipeline, since: datetime | None
) -> tuple[list[ColumnQuarantine] | None, str | None]:
    """Rows quarantined per column, from the ledger's LOADED files; or None and why the ledger
    could not be read (the diff itself needs only BigQuery, so it goes on without them)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ingest.adapters.clients import aws_client
    from ingest.adapters.dynamodb.ledger import Ledger
    from ingest.apps.tools.schema_diff import quarantined_by_column
    from ingest.core.model import Status

    try:
        ledger = Ledger.from_settings(aws_client("dynamodb"), settings)
        entries = ledger.entries(Status.LOADED, since.isoformat() if since else None)
    except (BotoCoreError, ClientError) as err:
        return None, f"{type(err).__name__}: {err}"[:200]
    return quarantined_by_column(entries, pipeline), None


def _print_quarantines(quarantines: list[ColumnQuarantine], title: str) -> None:
    table = Table(title=title)
    for column in ("column", "rows", "files"):
        table.add_column(column, justify="left" if column == "column" else "right")
    for seen in quarantines:
        table.add_row(escape(seen.column), f"{seen.rows:,}", f"{seen.files:,}")
    console.print(table)


def _print_fields(fields: list[FieldSeen], title: str) -> None:
    table = Table(title=title)
    for column in ("field", "rows", "files", "type", "first file", "last file", "sample (masked)"):
        table.add_column(column, justify="right" if column in {"rows", "files"} else "left")
    from ingest.core.drift import shown_name

    for seen in fields:
        # Keys come from the lake: a 400-character or multi-line one must not take the table over.
        name = shown_name(seen.name)
        values = (name, f"{seen.rows:,}", f"{seen.files:,}", seen.type, seen.first_file, seen.last_file)
        table.add_row(*(escape(value) for value in (*values, seen.sample or "")))
    console.print(table)


def _apply(pipeline: Pipeline, lines: list[str]) -> Path:
    """Append ``lines`` to the pipeline's YAML file; restored if the result does not load."""
    import yaml

    from ingest.apps.tools.schema_diff import declare_in_yaml
    from ingest.core.config import load_pipelines
    from ingest.core.errors import ConfigError
    from ingest.core.settings import Settings

    directory = Settings.from_env().pipelines_dir
    path = next(
        (
            p
            for p in sorted(directory.glob("*.yaml"))
            if (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("name") == pipeline.name
        ),
        None,
    )
    if path is None:
        raise ExpectedFailure(f"no YAML file in {directory} names pipeline {pipeline.name}")
    before = path.read_text(encoding="utf-8")
    try:
        path.write_text(declare_in_yaml(before, lines), encoding="utf-8")
        load_pipelines(directory)
    except (ValueError, ConfigError) as err:
        path.write_text(before, encoding="utf-8")
        raise ExpectedFailure(f"{path} left as it was: {err}") from err
    return path


def _schema_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=["diff", "backfill"],
        metavar="ACTION",
        help="diff: the undeclared fields and their YAML; backfill: fill a declared column from _extra",
    )
    parser.add_argument("--column", metavar="NAME", help="backfill: the declared column to fill")
    parser.add_argument("--pipeline", metavar="NAME", required=True, help="the pipeline whose table to read")
    parser.add_argument(
        "--since", type=day, metavar="YYYY-MM-DD", help="only rows ingested on or after this day (UTC)"
    )
    parser.add_argument(
        "--limit",
        type=positive,
        default=100_000,
        metavar="N",
        help="rows read at most (default 100,000)",
    )
    parser.add_argument(
        "--apply", action="store_true", help="diff: also add the YAML lines to the pipeline's file"
    )
    parser.add_argument("--json", action="store_true", help="the fields and YAML lines as JSON")


COMMANDS = (
    Command(
        "schema",
        help="schema drift: fields a table keeps in _extra undeclared (diff); fill a new column (backfill)",
        description="diff: reads the pipeline's table for the fields its rows keep in _extra (fields no "
        "column reads; for a pipeline keeping whole records, such as PayPal's _raw, the record's "
        "paths no column reads), and lists each with the rows and files carrying it, the first and last "
        "file, the type ingest inspect would infer from the values, and a masked sample; then the "
        "YAML lines that would declare them as columns; --apply adds those to the pipeline's YAML "
        "file (kept only if the pipelines still load). Fields declared since some rows loaded are "
        "named with the backfill command that moves their values. For a pipeline with schema_drift: "
        "add_columns, the columns drift added to the table are listed too, with YAML lines that "
        "declare them with their types.\n\n"
        "backfill: once a field is declared as a column, rows loaded before keep its value in "
        "_extra; one UPDATE moves it into the column where it casts to the column's type (the "
        "others keep it in _extra), and adds the column to the table if no load has yet. Run "
        "again, it changes nothing.",
        examples=(
            "ingest schema diff --pipeline payment_transactions",
            "ingest --local schema diff --pipeline payment_transactions --since 2021-07-01 --json",
            "ingest schema diff --pipeline payment_transactions --apply",
            "ingest schema backfill --pipeline payment_transactions --column coupon",
        ),
        exit_codes=((0, "listed (also when there is no undeclared field), or backfilled"), NOT_RUN),
        run=schema,
        arguments=_schema_arguments,
        uses_bigquery=True,
    ),
)
