"""A whole NDJSON file to a pipeline's load table in Arrow, when Arrow can vouch for every row.

The row-by-row reader (``formats`` -> ``transforms`` -> ``coerce``) is the reference: it names each
bad row and quarantines it. Most files have no bad row, and for them this module gives the same
table about three times faster (10,000-record PayPal pages), because parsing (``pyarrow.json``)
and casting run in Arrow's C++ kernels, mostly outside the GIL, and the kept ``_raw`` is each
line with its redacted objects cut out by msgspec (``privacy.redact_json_lines``).

It declines (returns None), and the caller reads the file row by row, whenever it cannot give
exactly what the reference gives: text that is not UTF-8, a line that is not one JSON object, a
literal ``null`` (Arrow cannot tell it from an absent key), duplicate keys, a number with a
fraction, a value Arrow will not cast, a required value missing, a transform without an Arrow
form. Typed columns are then identical to the reference's; the kept JSON holds the same JSON
value (``_raw`` with keys in the line's order, ``_extra`` in the order Arrow first saw them).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ingest.core.arrow_arrays import empty_lists, field_of, offsets_of
from ingest.core.arrow_kept_json import Declined, kept_json
from ingest.core.coerce.arrow_casts import arrow_cast, arrow_type, to_arrow
from ingest.core.coerce.rows import Coerced, RecordCoercer
from ingest.core.config import EXTRA_COLUMN, Column, Lineage, Pipeline

# A null value token (after a key, in an array, or a whole line), and more: a string holding
# "null" as a word makes the file decline too, which costs only speed.
_NULL_TOKEN = re.compile(rb"(?<![A-Za-z0-9_])null(?![A-Za-z0-9_])")
_BLANK_LINE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
# The first lines Arrow infers the file's schema from.
SAMPLE_BYTES = 256 << 10
# Arrow reads in blocks of this many bytes; a record longer than a block makes the read fail.
BLOCK_BYTES = 4 << 20

log = logging.getLogger(__name__)

ArrowTransform = Callable[[pa.StructArray], pa.StructArray | None]


def load_table(
    content: bytes,
    pipeline: Pipeline,
    coercer: RecordCoercer,
    lineage: Lineage,
    transform: ArrowTransform | None,
) -> tuple[pa.Table, set[str]] | None:
    """The file's rows as the load table ``to_arrow`` builds and the names of the fields kept in
    ``_extra``; None to read the file row by row.

    ``transform`` is the Arrow form of the pipeline's transform (None when it has none).
    """
    tables = load_tables([content], pipeline, coercer, [lineage], transform)
    return None if tables is None else tables[0]


def load_tables(
    contents: list[bytes],
    pipeline: Pipeline,
    coercer: RecordCoercer,
    lineages: list[Lineage],
    transform: ArrowTransform | None,
) -> list[tuple[pa.Table, set[str]]] | None:
    """``load_table`` for several files read as one: each file's table and ``_extra`` names, or
    None (for all of them) if Arrow cannot vouch for every row of every file.

    Arrow's fixed cost per call (about 9 ms for the PayPal pipeline: two reads, one kernel call
    per column) is paid once for all the files instead of once per file. Each file's rows keep
    their own row numbers and lineage.
    """
    if pipeline.transform and transform is None:
        return None
    if any(c.endswith(b"\r") for c in contents):
        return None  # the newline joining it to the next file would make its lone CR a CRLF
    counts = [_lines_with_text(c) for c in contents]
    if not all(counts):
        return None  # an empty file is the row reader's to judge (EmptyFile)
    joined = (
        contents[0]
        if len(contents) == 1
        else b"".join(c if c.endswith(b"\n") else c + b"\n" for c in contents)
    )
    records = read_records(joined, sum(counts))
    if records is None:
        return None
    try:
        derived = records if transform is None else transform(records)
        if derived is None:
            return None
        arrays = {
            column.name: _column(column, _leaf(derived, column.source_path), coercer)
            for column in pipeline.columns
        }
        kept, extras, extra_values = kept_json(joined, records, derived, pipeline, coercer)
    except (Declined, RecursionError):  # nesting deeper than Python's stack: row by row
        return None
    except pa.ArrowException:
        # A shape this module did not foresee: the row reader is the reference anyway.
        log.warning(
            "Arrow reader declined %s: %s", lineages[0].get("_source_uri"), traceback.format_exc(limit=1)
        )
        return None
    if pipeline.record_column:
        arrays[pipeline.record_column] = kept
    arrays[EXTRA_COLUMN] = extras
    tables = []
    start = 0
    for count, lineage in zip(counts, lineages, strict=True):
        part = {name: array.slice(start, count) for name, array in arrays.items()}
        names = {name for name, values in extra_values if values.slice(start, count).null_count < count}
        coerced = Coerced(part, row_numbers=list(range(1, count + 1)))
        tables.append((to_arrow(pipeline, coerced, lineage), names))
        start += count
    return tables


def read_records(content: bytes, lines: int | None = None) -> pa.StructArray | None:
    """Each line's object as one struct, every text value as text; None if Arrow cannot vouch.

    ``lines``: the lines holding text, when the caller has counted them (files joined)."""
    # The checks below read the text in place: a copy of a large file would stay in the heap.
    if b"\r" in content and content.count(b"\r") != content.count(b"\r\n"):
        return None  # a lone CR splits lines for the row reader, not for Arrow
    if b"null" in content and _NULL_TOKEN.search(content):
        return None
    if not _is_utf8(content):
        return None  # Arrow does not check the encoding of the text it copies
    try:
        # Arrow reads ISO-looking text as timestamps: the schema it infers from the first lines,
        # with text for timestamps, is declared; a timestamp only later lines have, read again.
        sample_end = content.find(b"\n", SAMPLE_BYTES)
        if sample_end < 0:
            table = _read(content, None)  # the whole file is the sample
        else:
            table = _read(content, _text_schema(_read(content[:sample_end], None).schema), "infer")
        if any(_has_timestamp(f.type) for f in table.schema):
            table = _read(content, _text_schema(table.schema))
    except (pa.ArrowException, OSError, RecursionError):
        return None
    if lines is None:
        lines = _lines_with_text(content)
    if table.num_rows != lines or not table.num_rows:
        return None  # two objects on a line: one bad row for the row reader
    table = table.combine_chunks()
    return pa.StructArray.from_arrays([column.chunk(0) for column in table.columns], table.column_names)


def _is_utf8(content: bytes) -> bool:
    offsets = pa.array([0, len(content)], pa.int32()).buffers()[1]
    text = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(content)])
    try:
        text.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _lines_with_text(content: bytes) -> int:
    """Lines holding more than whitespace: the records the row reader would count."""
    first_end = content.find(b"\n")
    first = content[: first_end if first_end >= 0 else len(content)]
    if _BLANK_LINE.search(content) or not first.strip():
        return sum(1 for line in content.split(b"\n") if line.strip())
    tail = content[content.rfind(b"\n") + 1 :]
    return content.count(b"\n") + (1 if tail.strip() else 0)


def _read(content: bytes, schema: pa.Schema | None, unexpected: str = "error") -> pa.Table:
    parse = pajson.ParseOptions(
        explicit_schema=schema, newlines_in_values=False, unexpected_field_behavior=unexpected
    )
    return pajson.read_json(pa.BufferReader(content), pajson.ReadOptions(block_size=BLOCK_BYTES), parse)


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _as_text(f.type)) for f in schema])


def _has_timestamp(type_: pa.DataType) -> bool:
    return bool(_as_text(type_) != type_)


def _as_text(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(type_):
        return pa.string()
    if pa.types.is_struct(type_):
        return pa.struct([pa.field(f.name, _as_text(f.type)) for f in type_])
    if pa.types.is_list(type_):
        return pa.list_(_as_text(type_.value_type))
    return type_


def _leaf(struct: pa.Array, path: tuple[str, ...]) -> pa.Array:
    """The values at ``path``, null where a record lacks it (as the row reader's lookup)."""
    value: pa.Array | None = struct
    for part in path:
        value = field_of(value, part) if value is not None else None
        if value is None:
            return pa.nulls(len(struct))
    assert value is not None
    return value


def _column(column: Column, leaf: pa.Array, coercer: RecordCoercer) -> pa.Array:
    if column.type == "RECORD":
        return _records(column, leaf)
    leaf = _empty_as_null(leaf) if coercer.empty_is_null or column.type != "STRING" else leaf
    return coercer.protected(column, _typed(column, leaf))


def _typed(column: Column, values: pa.Array) -> pa.Array:
    if column.required and values.null_count:
        raise Declined(f"{column.name}: required value missing")
    typed = arrow_cast(column.type, values)
    if typed is None:
        raise Declined(f"{column.name}: Arrow cannot vouch for every value")
    return typed


def _empty_as_null(values: pa.Array) -> pa.Array:
    if not pa.types.is_string(values.type):
        return values
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _records(column: Column, lists: pa.Array) -> pa.Array:
    """A REPEATED RECORD column: each element's fields by their own rule, no list as []."""
    target = arrow_type(column)
    if pa.types.is_null(lists.type):
        return empty_lists(len(lists), target)
    if not pa.types.is_list(lists.type) or not pa.types.is_struct(lists.type.value_type):
        raise Declined(f"{column.name}: not a list of objects")
    elements = pc.list_flatten(lists)
    children = []
    for field in column.fields:
        # The row reader takes "" as missing in a record's fields, whatever the type.
        children.append(_typed(field, _empty_as_null(_leaf(elements, field.source_path))))
    structs = pa.StructArray.from_arrays(children, fields=list(target.value_type))
    return pa.ListArray.from_arrays(offsets_of(lists), structs, type=target)
