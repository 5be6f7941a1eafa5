"""``schema_drift: add_columns``: which undeclared fields of a load group become columns, typed how.

A field becomes a NULLABLE column when its name is one BigQuery takes unquoted (``column_name``
rules), is not one of ours (a leading underscore), does not differ only in case from a column
the table has (BigQuery's names ignore case), and every value seen is a scalar: objects and
arrays stay in ``_extra``, where their text is masked, since a JSON column would keep contact
details inside them as they came. The type is the one ``ingest inspect`` infers from the values
seen (``ingest.core.type_inference``); a STRING column masks email and phone shapes as
``_extra`` did (``free_text``). A value that does not fit the type later is quarantined with
the reason, never widened. A field seen only with nulls waits for a value to be typed by. A group
offering more than ``MAX_COLUMNS_AT_ONCE`` such fields adds none: keys that are data (ids, dates
as keys) would fill the table with columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.core.bigquery_names import column_problem
from ingest.core.config import Column, Pipeline
from ingest.core.drift import extra_objects, quoted_name
from ingest.core.type_inference import merge_types, value_type

if TYPE_CHECKING:
    import pyarrow as pa

MAX_COLUMNS_AT_ONCE = 20
# Types a drift column may take: scalars the coercer converts (objects and arrays stay in _extra).
ADDABLE_TYPES = frozenset({"STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "DATE", "TIMESTAMP"})
# Values read per field to type it: enough to see its shape, bounded for a group of large files.
VALUES_TYPED = 10_000


@dataclass(frozen=True)
class NewColumn:
    """A column ``add_columns`` adds, and the first file of the group that carried its field."""

    column: Column
    first_file: str


@dataclass(frozen=True)
class ColumnsAdded:
    """What adding columns did: the table's drift columns after it (each with the table's type,
    which another worker may have chosen first), and those this change added."""

    columns: tuple[Column, ...]
    added: tuple[NewColumn, ...]


@dataclass(frozen=True)
class DriftFile:
    """One prepared file of a load group: its URI, undeclared field names, and ``_extra`` values."""

    uri: str
    fields: frozenset[str]
    extras: Iterable[pa.RecordBatch]
    """Batches holding the file's ``_extra`` column."""


@dataclass
class _Seen:
    first_file: str
    type: str | None = None
    values: int = 0
    nested: bool = False


def drift_column(name: str, bq_type: str) -> Column:
    """The column a drifting field becomes: NULLABLE, its text masked like ``_extra``'s."""
    return Column(name, bq_type, "NULLABLE", free_text=bq_type == "STRING")


def with_columns(pipeline: Pipeline, columns: Iterable[Column]) -> Pipeline:
    """``pipeline`` reading ``columns`` too (those it does not have already, by name)."""
    have = {c.name.casefold() for c in pipeline.bigquery_columns()}
    new = tuple(c for c in columns if c.name.casefold() not in have)
    return dataclasses.replace(pipeline, columns=pipeline.columns + new) if new else pipeline


def columns_to_add(pipeline: Pipeline, files: Iterable[DriftFile]) -> tuple[list[NewColumn], list[str]]:
    """The columns a load group's undeclared fields become, and why the others stay in ``_extra``.

    ``files`` in the group's order: a field's first file is the first that carries it.
    """
    taken = {c.name.casefold() for c in pipeline.bigquery_columns()}
    seen: dict[str, _Seen] = {}
    refused: set[str] = set()
    kept: list[str] = []
    for file in files:
        for name in sorted(file.fields - seen.keys() - refused):
            if problem := _not_addable(name, taken):
                refused.add(name)
                kept.append(f"{quoted_name(name)}: {problem}")
                continue
            seen[name] = _Seen(file.uri)
        if wanted := {n for n in file.fields if n in seen and seen[n].values < VALUES_TYPED}:
            _type_values(file.extras, wanted, seen)
    # Two spellings of one name (BigQuery's names ignore case): the one more rows carry is the column.
    spellings: dict[str, list[str]] = {}
    for name in seen:
        spellings.setdefault(name.casefold(), []).append(name)
    for names in spellings.values():
        chosen = max(sorted(names), key=lambda n: seen[n].values)
        for other in names:
            if other != chosen:
                del seen[other]
                kept.append(
                    f"{quoted_name(other)}: another spelling of {quoted_name(chosen)}, which more rows carry"
                )
    for name, field in sorted(seen.items()):
        if field.nested:
            kept.append(
                f"{quoted_name(name)}: holds objects or arrays, kept in _extra with their text masked"
            )
        elif field.type is None:
            kept.append(f"{quoted_name(name)}: only nulls seen so far; typed once a value arrives")
    addable = {
        name: field.type for name, field in seen.items() if not field.nested and field.type is not None
    }
    if len(addable) > MAX_COLUMNS_AT_ONCE:
        kept.append(
            f"{len(addable)} new fields in one load group, more than {MAX_COLUMNS_AT_ONCE}: none added "
            "(keys that look like data); declare the ones wanted"
        )
        return [], kept
    new = [
        NewColumn(drift_column(name, bq_type), seen[name].first_file)
        for name, bq_type in sorted(addable.items(), key=lambda item: (seen[item[0]].first_file, item[0]))
    ]
    return new, kept


def _not_addable(name: str, taken: set[str]) -> str | None:
    if name.startswith("_"):
        return "a leading underscore is kept for the pipeline's own columns"
    if problem := column_problem(name):
        return problem
    if name.casefold() in taken:
        return "differs only in case from a column (BigQuery's names ignore case)"
    return None


def _type_values(batches: Iterable[pa.RecordBatch], names: set[str], seen: dict[str, _Seen]) -> None:
    for _, extra in extra_objects(batches):
        for name, value in extra.items():
            if name not in names:
                continue
            field = seen[name]
            field.values += 1
            kind = value_type(value)
            if kind is None:
                continue
            if kind not in ADDABLE_TYPES:
                field.nested = True
                continue
            field.type = merge_types(field.type, kind)
        if all(seen[name].values >= VALUES_TYPED for name in names):
            return
