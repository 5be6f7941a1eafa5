"""Small helpers over Arrow arrays shared by the NDJSON fast path and Arrow transforms: a struct's
field by name, list offsets, empty lists, and whether a type holds floats anywhere."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def field_of(struct: pa.Array, name: str) -> pa.Array | None:
    """A struct's field (null where the struct is null), or None when no record has it."""
    if not pa.types.is_struct(struct.type) or struct.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(struct, [struct.type.get_field_index(name)])


def member(struct: pa.Array, name: str) -> pa.Array:
    """A field the struct type has, by name (null where the struct is null)."""
    return pc.struct_field(struct, [struct.type.get_field_index(name)])


def offsets_of(lists: pa.Array) -> pa.Array:
    """Offsets into ``pc.list_flatten(lists)``, a null list counted as empty."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0)
    return pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths).cast(pa.int32())])


def empty_lists(count: int, type_: pa.DataType) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array([0] * (count + 1), pa.int32()), pa.array([], type_.value_type))


def has_float(type_: pa.DataType) -> bool:
    if pa.types.is_floating(type_):
        return True
    if pa.types.is_struct(type_):
        return any(has_float(f.type) for f in type_)
    if pa.types.is_list(type_):
        return has_float(type_.value_type)
    return False
