"""Run a pipeline's record transform over parsed rows, before coercion.

A transform turns one source record into the rows it stands for: PayPal records gain derived
fields, an exchange-rate object becomes one row per currency. Rows are numbered in output order,
which for one-to-one transforms is the record's own position in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ingest.core.arrow_ndjson import ArrowTransform
from ingest.core.config import Pipeline
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.transforms.paypal import flatten_transactions_arrow

# Transforms with a whole-file Arrow form giving the same rows (``ingest.core.arrow_ndjson``),
# keyed as pipelines name them; a pipeline whose transform is not here reads every file row by row.
ARROW_TRANSFORMS: dict[str, ArrowTransform] = {
    "ingest.core.transforms.paypal:flatten_transaction": flatten_transactions_arrow
}


def arrow_transform(pipeline: Pipeline) -> ArrowTransform | None:
    return ARROW_TRANSFORMS.get(pipeline.transform) if pipeline.transform else None


def apply_transform(pipeline: Pipeline, rows: Iterable[ParsedRow]) -> Iterator[ParsedRow]:
    transform = pipeline.transform_function()
    if transform is None:
        yield from rows
        return
    number = 0
    for row in rows:
        if row.record is None:
            number += 1
            yield ParsedRow(number, None, row.error, row.raw)
            continue
        try:
            derived = transform(row.record)
        except (ValueError, TypeError, KeyError) as err:
            number += 1
            # The source record is kept whole in quarantine; the reason names the transform.
            yield ParsedRow(number, None, f"{pipeline.transform}: {err}", row.raw, row.record)
            continue
        for record in derived:
            number += 1
            yield ParsedRow(number, record, original=row.record)
