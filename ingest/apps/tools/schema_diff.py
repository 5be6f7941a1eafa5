"""``ingest schema diff``: the fields a pipeline's table holds in ``_extra``, which it does not declare.

Read from the loaded table, not the lake: every row that loaded carries its undeclared fields in
``_extra`` (``ingest.core.drift``), with the file it came from. Each field gets its row and file
counts, the first and last file, the BigQuery type ``ingest inspect`` would infer from the values
seen, a masked sample, and the YAML line that would declare it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.apps.tools.masking import mask_value
from ingest.apps.tools.profiling import flatten
from ingest.core.bigquery_names import column_problem
from ingest.core.config import EXTRA_COLUMN, Column, Pipeline
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.type_inference import is_records, merge_types, value_type

# Rows read from the table at most: enough to see a field's types, bounded for a large table.
DEFAULT_ROWS = 100_000
SAMPLE_CHARS = 60


@dataclass
class FieldSeen:
    name: str
    rows: int = 0
    first_file: str = ""
    last_file: str = ""
    sample: str | None = None
    """The first non-null value, masked as ``ingest inspect`` masks samples."""
    seen_type: str | None = None
    """What every non-null value seen fits; None when only nulls were seen."""
    file_uris: set[str] = field(default_factory=set, repr=False)

    @property
    def files(self) -> int:
        return len(self.file_uris)

    @property
    def type(self) -> str:
        """The column type to declare: what every value seen fits, STRING when only nulls were."""
        return self.seen_type or "STRING"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "files": self.files,
            "first_file": self.first_file,
            "last_file": self.last_file,
            "type": self.type,
            "sample": self.sample,
        }


def undeclared_fields(rows: Iterable[tuple[str, Any]]) -> list[FieldSeen]:
    """Each field of the ``(source_uri, _extra)`` rows, in the order the rows were loaded.

    ``_extra`` is a JSON object (or its text); rows without one are skipped. Fields are sorted by
    rows carrying them, most first.
    """
    seen: dict[str, FieldSeen] = {}
    for uri, extra in rows:
        values = json.loads(extra) if isinstance(extra, str) else extra
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            entry = seen.setdefault(name, FieldSeen(name, first_file=uri))
            entry.rows += 1
            entry.last_file = uri
            entry.file_uris.add(uri)
            if (kind := value_type(value)) is not None:
                entry.seen_type = merge_types(entry.seen_type, kind)
                if entry.sample is None:
                    entry.sample = _short(json.dumps(mask_value(value), ensure_ascii=False))
    return sorted(seen.values(), key=lambda f: (-f.rows, f.name))


def yaml_lines(
    fields: Iterable[FieldSeen], lists: Iterable[str] = (), columns: Iterable[str] = ()
) -> list[str]:
    """The ``columns:`` entries that would declare ``fields``; a name BigQuery cannot take as a
    column, or that differs only in case from one of ``columns`` (the table's) or from an entry
    above, is a comment saying so. Objects and arrays are declared JSON (a RECORD needs fields).
    A name in a comment is shown escaped: a key holding a newline must not end the comment."""
    from ingest.core.drift import shown_name

    lines = []
    fields = list(fields)
    lists = {*lists, *(seen.name for seen in fields if seen.type == "RECORD")}
    taken = {name.casefold(): name for name in columns}
    for seen in fields:
        # A path in a kept record (a.b) becomes the column a_b reading it.
        column = seen.name.replace(".", "_")
        if any(seen.name.startswith(f"{path}.") for path in lists):
            lines.append(
                f"  # {shown_name(seen.name)}: a field of list elements, declared as a RECORD column's field"
            )
            continue
        if problem := column_problem(column):
            lines.append(f"  # not declarable: {problem}")
            continue
        if (other := taken.get(column.casefold())) is not None:
            lines.append(
                f"  # {column}: differs only in case from column {other} (BigQuery's names ignore case)"
            )
            continue
        taken[column.casefold()] = column
        kind = "JSON" if seen.type in {"RECORD", "JSON"} else seen.type
        source = f", source: {seen.name}" if column != seen.name else ""
        lines.append(f"  - {{name: {column}, type: {kind}{source}}}")
    return lines


def pin_lines(columns: Iterable[Column]) -> list[str]:
    """The ``columns:`` entries declaring columns ``schema_drift: add_columns`` added, as the
    table has them (a STRING one keeps masking contact details: ``free_text``)."""
    return [
        f"  - {{name: {c.name}, type: {c.type}{', free_text: true' if c.free_text else ''}}}" for c in columns
    ]


def read_extras(
    client: Any, pipeline: Pipeline, since: datetime | None, limit: int = DEFAULT_ROWS
) -> list[tuple[str, Any]]:
    """``(source_uri, value)`` of the table's rows that have one, oldest load first: of ``_extra``,
    or of the kept record for a pipeline with a ``record_column`` (its ``_extra`` stays empty)."""
    from google.cloud import bigquery

    column = pipeline.record_column or EXTRA_COLUMN
    where = [f"`{column}` IS NOT NULL"]
    parameters = [bigquery.ScalarQueryParameter("row_limit", "INT64", limit)]
    if since is not None:
        where.append("`_ingested_at` >= @since")
        parameters.append(bigquery.ScalarQueryParameter("since", "TIMESTAMP", since))
    sql = (
        f"SELECT `_source_uri` AS uri, `{column}` AS value "
        f"FROM `{client.project}.{pipeline.dataset}.{pipeline.table}` "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY `_ingested_at`, `_source_uri`, `_source_row` LIMIT @row_limit"
    )
    job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=parameters))
    return [(row["uri"], row["value"]) for row in job.result()]


def unread_paths(
    rows: Iterable[tuple[str, Any]], pipeline: Pipeline
) -> tuple[list[tuple[str, dict[str, Any]]], set[str]]:
    """For a pipeline keeping whole records: each record's leaf paths (``a.b``) that no column
    reads, and the paths of the lists of objects seen.

    The kept record holds every field, so "undeclared" means no column's source names it; a
    field inside a list of objects is named under the list's path (``yaml_lines``, given the
    lists, declares such fields no column of their own).
    """
    from ingest.apps.tools.inspect import TRANSFORM_INPUTS

    # A column the transform makes reads the raw path it is made from (PayPal's cart_items).
    made_from = TRANSFORM_INPUTS.get(pipeline.transform or "", {})
    read: set[str] = set()
    for column in pipeline.columns:
        source = made_from.get(column.name) or ".".join(column.source_path)
        read.add(source)
        read.update(f"{source}.{'.'.join(f.source_path)}" for f in column.fields)
    out = []
    lists: set[str] = set()
    for uri, value in rows:
        record = json.loads(value) if isinstance(value, str) else value
        if not isinstance(record, dict):
            continue
        leaves = list(flatten(record))
        lists.update(path for path, leaf in leaves if is_records(leaf))
        out.append((uri, {path: leaf for path, leaf in leaves if path not in read}))
    return out, lists


@dataclass
class ColumnQuarantine:
    """Rows quarantined for a value one column did not take (a type change shows here)."""

    column: str
    rows: int = 0
    files: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "rows": self.rows, "files": self.files}


def quarantined_by_column(entries: Iterable[LedgerEntry], pipeline: Pipeline) -> list[ColumnQuarantine]:
    """Per column of ``pipeline`` (its drift-added ones included), the rows its LOADED files
    quarantined for a value the column did not take, and in how many files; most rows first.

    Read from the ledger's ``quarantine_reasons`` (a reason is the column a value failed in, or
    a suite check): a column declared NUMERIC that starts receiving text shows here, its rows
    quarantined, never widened.
    """
    columns = {c.name for c in pipeline.columns}
    found: dict[str, ColumnQuarantine] = {}
    for entry in entries:
        if entry.pipeline != pipeline.name or not entry.quarantine_reasons:
            continue
        for reason, count in entry.quarantine_reasons.items():
            if reason not in columns:
                continue
            seen = found.setdefault(reason, ColumnQuarantine(reason))
            seen.rows += int(count)
            seen.files += 1
    return sorted(found.values(), key=lambda q: (-q.rows, q.column))


def _short(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def declared_since(fields: Iterable[FieldSeen], pipeline: Pipeline) -> dict[str, str]:
    """Of ``fields``, those the pipeline declares now (rows loaded before still hold them in
    ``_extra``): field name -> the column that reads it, for ``ingest schema backfill``."""
    readers: dict[str, str] = {}
    for column in pipeline.columns:
        readers.setdefault(column.source_path[0], column.name)
    return {seen.name: readers[seen.name] for seen in fields if seen.name in readers}


_COLUMNS_KEY = re.compile(r"columns:\s*(#.*)?")


def declare_in_yaml(text: str, lines: list[str]) -> str:
    """A pipeline YAML's text with ``lines`` (``yaml_lines``' entries) appended to its top-level
    block ``columns:`` list, at that list's indentation; comments and layout kept.

    Raises ValueError when the file has no such list (a flow-style ``columns: [...]``, say).
    """
    rows = text.splitlines(keepends=True)
    start = next((i for i, row in enumerate(rows) if _COLUMNS_KEY.fullmatch(row.rstrip("\n"))), None)
    if start is None:
        raise ValueError("no block-style top-level `columns:` list to add to")
    last, indent = start, None
    for index in range(start + 1, len(rows)):
        row = rows[index]
        if not row.strip():
            continue
        if not row[0].isspace():
            break  # the next top-level key or comment
        last = index
        if indent is None and row.lstrip().startswith("-"):
            indent = row[: len(row) - len(row.lstrip())]
    if not rows[last].endswith("\n"):
        rows[last] += "\n"
    entries = [(indent or "  ") + line.strip() + "\n" for line in lines if line.strip().startswith("-")]
    return "".join(rows[: last + 1] + entries + rows[last + 1 :])
