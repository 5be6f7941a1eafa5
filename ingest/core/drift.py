"""Schema drift: the fields a file holds that its pipeline does not declare.

Every table keeps them in ``_extra`` (JSON), and the ledger names them (``extra_fields``). A
pipeline's ``schema_drift`` says what else happens: ``keep_extra`` (the default) loads the file
with them; ``fail`` fails it with ``SchemaDrift``, naming each field and the first row carrying
it, its bytes kept in the error bucket like any file failed for good.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ingest.core.config import EXTRA_COLUMN
from ingest.core.errors import SchemaDrift

if TYPE_CHECKING:
    import pyarrow as pa

# Field names come from the lake: a message names a bounded number, each cut to a bounded length.
NAMED_FIELDS = 10
NAME_CHARS = 80


def first_rows(batches: Iterable[pa.RecordBatch], names: set[str]) -> dict[str, int]:
    """The first row number (``_source_row``) whose ``_extra`` holds each of ``names``.

    ``batches`` hold the ``_extra`` and ``_source_row`` columns, in row order. Reading stops once
    every name is found.
    """
    found: dict[str, int] = {}
    for row, extra in extra_objects(batches, "_source_row"):
        for name in extra.keys() & names:
            found.setdefault(name, row)
        if len(found) == len(names):
            break
    return found


def extra_objects(
    batches: Iterable[pa.RecordBatch], row_column: str | None = None
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each row's ``_extra`` object, in row order, skipping rows without one; with the row's
    ``row_column`` value beside it (None without one). ``batches`` hold those columns."""
    import pyarrow.compute as pc  # here: the ledger and add_columns' records import this module

    for batch in batches:
        extras = batch.column(EXTRA_COLUMN)
        present = pc.is_valid(extras)
        if not pc.any(present).as_py():
            continue
        texts = extras.filter(present).to_pylist()
        rows = batch.column(row_column).filter(present).to_pylist() if row_column else [None] * len(texts)
        for row, text in zip(rows, texts, strict=True):
            yield row, json.loads(text)


def drift_error(pipeline: str, names: set[str], first: dict[str, int]) -> SchemaDrift:
    """``SchemaDrift`` naming the undeclared fields, first rows first, and what to do."""
    ordered = sorted(names, key=lambda name: (first.get(name, 1 << 62), name))
    shown = [
        f"{quoted_name(name)} (first in row {first[name]})" if name in first else quoted_name(name)
        for name in ordered[:NAMED_FIELDS]
    ]
    more = f" and {len(ordered) - NAMED_FIELDS} more" if len(ordered) > NAMED_FIELDS else ""
    return SchemaDrift(
        f"{len(ordered)} field(s) pipeline {pipeline} does not declare: {', '.join(shown)}{more}; "
        "declare them as columns, or set schema_drift: keep_extra, then replay"
    )


def shown_name(name: str) -> str:
    """A field name for a table a person reads: at most ``NAME_CHARS``, on one line (a newline or
    other control character in a key is written as its escape)."""
    bounded = _bounded(name)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in bounded)


def _bounded(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def quoted_name(name: str) -> str:
    """A field name from the lake for a message or log line: bounded, quoted, its control
    characters escaped."""
    return repr(_bounded(name))
