"""The NDJSON fast path's JSON columns: the kept source record (``record_column``, redacted) and
``_extra`` (fields no column reads), written as JSON text by msgspec and Arrow kernels, exactly as
the row reader writes them, or ``Declined`` where that cannot be vouched for."""

from __future__ import annotations

import json

import msgspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingest.core.arrow_arrays import field_of, has_float, member, offsets_of
from ingest.core.coerce.arrow_casts import ARROW_TYPES
from ingest.core.coerce.privacy import RedactTree, redact_in_place, redact_json_lines, redact_tree
from ingest.core.coerce.rows import RecordCoercer, masked_texts
from ingest.core.config import Pipeline


class Declined(Exception):
    """Something here the row-by-row reader must judge (the fast path reads the file no further)."""


# Control characters other than the ones a JSON escape names; kept JSON declines on them.
_OTHER_CONTROL = r"[\x00-\x07\x0b\x0e-\x1f]"
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)


def kept_json(
    content: bytes,
    records: pa.StructArray,
    derived: pa.StructArray,
    pipeline: Pipeline,
    coercer: RecordCoercer,
) -> tuple[pa.Array, pa.Array, list[tuple[str, pa.Array]]]:
    """The record column (the source record, redacted) and ``_extra`` (unknown fields), as JSON,
    and each unknown field's values (a file kept one if any of its rows has a value)."""
    nothing = pa.nulls(len(records), ARROW_TYPES["JSON"])
    if pipeline.record_column:
        if has_float(records.type):
            # Arrow reads a fraction, an exponent or an integer beyond 64 bits as a double:
            # orjson would write 1e400 as null and 2**64 rounded, the reference exactly.
            raise Declined("a number that is not a 64-bit integer")
        kept_text = source_records(content, len(records), coercer.redact_paths)
        return _as_json(masked_texts(kept_text, coercer.mask_json)), nothing, []
    kept = _redacted(derived, coercer.redact_paths)
    extra = [f for f in kept.type if f.name not in coercer.known_roots]
    if not extra:
        return nothing, nothing, []
    values = [member(kept, f.name) for f in extra]
    struct = pa.StructArray.from_arrays(values, fields=extra)
    has_any = values[0].is_valid()
    for value in values[1:]:
        has_any = pc.or_(has_any, value.is_valid())
    text = pc.if_else(has_any, json_text(struct), pa.scalar(None, pa.string()))
    named = [(f.name, value) for f, value in zip(extra, values, strict=True)]
    return nothing, _as_json(masked_texts(text, coercer.mask_json)), named


def source_records(content: bytes, rows: int, redact_paths: list[tuple[str, ...]]) -> pa.Array:
    """Each line's record as JSON, without the redacted paths, keys in the line's order: the JSON
    value the row reader keeps, the top level written compact and other objects as the producer
    spaced them (text a JSON column does not keep).

    ``privacy.redact_json_lines`` parses only the objects on the redacted paths, into one
    buffer that becomes the Arrow column as it is: for 10,000 PayPal records 54 ms, where orjson
    parsing and writing each line whole took 200-245 (and Arrow's kernels, building the text
    column by column, about 300). Text holding a ``\\u`` or ``\\/`` escape is parsed and
    written whole by orjson, line by line, so that it is written as the row reader writes it
    (``"\\u0040"`` as ``"@"``) before its free text is masked; what orjson reads differently
    (a lone surrogate) declines the file. Arrow has already vouched for every line.
    """
    tree = redact_tree(redact_paths)
    try:
        # memchr finds a backslash in 0.4 ms where a two-byte search takes 14 for a 14 MB file.
        if b"\\" in content and (b"\\u" in content or b"\\/" in content):
            kept = _rewritten_lines(content, redact_paths)
        else:
            kept = _redacted_lines(content, tree)
    except orjson.JSONDecodeError as err:
        raise Declined(f"orjson cannot read a line: {err}") from err
    except msgspec.DecodeError as err:  # and its ValidationError: a line that is not an object
        raise Declined(f"a line is not one JSON object: {err}") from err
    if len(kept) != rows:
        raise Declined("lines and records differ")
    return kept


def _redacted_lines(content: bytes, tree: RedactTree) -> pa.Array:
    """Each line redacted into one buffer, which becomes the column as it is."""
    text, ends = redact_json_lines(content, tree)
    return pa.StringArray.from_buffers(len(ends) - 1, pa.py_buffer(ends), pa.py_buffer(text))


def _rewritten_lines(content: bytes, redact_paths: list[tuple[str, ...]]) -> pa.Array:
    texts = []
    for line in content.split(b"\n"):
        if not line.strip():  # strip stops at the first other byte; isspace reads the whole line
            continue
        record = orjson.loads(line)
        if type(record) is not dict:
            raise Declined("a line is not one JSON object")
        redact_in_place(record, redact_paths)
        texts.append(orjson.dumps(record))
    return pa.array(texts, pa.binary()).cast(pa.string())


def _as_json(text: pa.Array) -> pa.Array:
    return pa.ExtensionArray.from_storage(ARROW_TYPES["JSON"], text.cast(pa.string()))


def _redacted(struct: pa.StructArray, paths: list[tuple[str, ...]]) -> pa.StructArray:
    for path in paths:
        struct = _without(struct, path)
    return struct


def _without(struct: pa.Array, path: tuple[str, ...]) -> pa.Array:
    """``struct`` without the field at ``path`` (unchanged where a step is not an object)."""
    if not pa.types.is_struct(struct.type) or struct.type.get_field_index(path[0]) < 0:
        return struct
    names, children = [], []
    for field in struct.type:
        if field.name == path[0] and len(path) == 1:
            continue
        child = field_of(struct, field.name)
        names.append(field.name)
        children.append(_without(child, path[1:]) if field.name == path[0] else child)
    validity = struct.is_valid()
    mask = None if struct.null_count == 0 else pc.invert(validity)
    if not names:  # every field redacted: {} where the object was
        return pa.array([{} if present else None for present in validity.to_pylist()], pa.struct([]))
    return pa.StructArray.from_arrays(children, names, mask=mask)


def json_text(values: pa.Array) -> pa.Array:
    """Each value as JSON text (null stays null: the key is left out of its object).

    Raises Declined for a type or text this cannot write exactly (floats, control characters).
    """
    type_ = values.type
    if pa.types.is_null(type_):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_string(type_):
        if pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
            if pc.any(pc.match_substring_regex(values, _OTHER_CONTROL)).as_py():
                raise Declined("control character in text")
            for plain, escaped in _ESCAPES:
                values = pc.replace_substring(values, plain, escaped)
        return pc.binary_join_element_wise('"', values, '"', "")
    if pa.types.is_int64(type_):
        return values.cast(pa.string())
    if pa.types.is_boolean(type_):
        return pc.if_else(values, "true", "false")
    if pa.types.is_struct(type_):
        # Each present member as ',"key":value', absent ones as "", joined; then the first comma
        # dropped. (binary_join_element_wise's "skip" drops rows whose members are all null.)
        members = [
            pc.fill_null(
                pc.binary_join_element_wise(
                    "," + json.dumps(f.name, ensure_ascii=False) + ":",
                    json_text(field_of(values, f.name)),
                    "",
                ),
                "",
            )
            for f in type_
        ]
        joined = pc.binary_join_element_wise(*members, "") if members else pa.array([""] * len(values))
        text = pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(joined, 1), "}", "")
        return pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string()))
    if pa.types.is_list(type_):
        items = json_text(pc.list_flatten(values))
        if items.null_count:
            raise Declined("null in a list")
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets_of(values), items), ",")
        text = pc.binary_join_element_wise("[", joined, "]", "")
        return pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string()))
    raise Declined(f"cannot write {type_} as JSON exactly")
