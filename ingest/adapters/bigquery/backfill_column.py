"""``ingest schema backfill``: move a newly declared column's values out of ``_extra``, one UPDATE."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingest.adapters.bigquery.errors import classify
from ingest.adapters.bigquery.sql import quoted, render
from ingest.core.config import Column, Pipeline

if TYPE_CHECKING:
    from google.cloud import bigquery

# JSON_VALUE reads scalars; a JSON or RECORD column's values need no move to be queried.
BACKFILL_TYPES = {"STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"}
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BackfillRefused(ValueError):
    """The column cannot be backfilled from ``_extra`` (why is the message)."""


def backfill_statement(pipeline: Pipeline, column_name: str, project: str) -> str:
    """The UPDATE moving ``column_name``'s values from ``_extra`` into the column."""
    column = _declared(pipeline, column_name)
    if pipeline.record_column:
        raise BackfillRefused(
            f"pipeline {pipeline.name} keeps every field in {pipeline.record_column}, so _extra is "
            "empty: query the field there, or reload the files"
        )
    if column.type not in BACKFILL_TYPES or column.repeated:
        raise BackfillRefused(f"column {column.name} is {column.type}: only scalar columns are backfilled")
    if pipeline.transform:
        raise BackfillRefused(
            f"pipeline {pipeline.name} has a transform: its _extra holds the transform's fields, "
            "not the source's; reload the files with `ingest replay` or a new run instead"
        )
    if column.pseudonymise or column.free_text:
        raise BackfillRefused(
            f"column {column.name} is pseudonymised or masked at load: _extra never held its values"
        )
    segments = column.source_path
    if not all(_PLAIN.fullmatch(s) for s in segments):
        raise BackfillRefused(f"source {'.'.join(segments)!r} is not a path of plain names")
    return render(
        "backfill_column",
        table=f"{project}.{pipeline.table_id}",
        column=quoted(column.name),
        type=column.type,
        path="$." + ".".join(segments),
    )


def run_backfill(client: bigquery.Client, statement: str, target: str) -> int:
    """Run ``backfill_statement``'s UPDATE of ``target`` (``table.column``, for errors); the number
    of rows that took a value."""
    from google.api_core import exceptions

    try:
        job = client.query(statement)
        job.result()
    except exceptions.GoogleAPICallError as err:
        raise classify(err, f"backfilling {target}") from err
    return int(job.num_dml_affected_rows or 0)


def _declared(pipeline: Pipeline, name: str) -> Column:
    for column in pipeline.columns:
        if column.name.lower() == name.lower():
            return column
    raise BackfillRefused(
        f"pipeline {pipeline.name} declares no column {name!r}: declare it first (ingest schema diff "
        "prints the YAML line), then backfill"
    )
