"""Masks personal data in records shown to people (``ingest inspect``'s sample, the notebooks).

Fields named for personal data are masked whole; every other text has its email and phone shapes
masked (``[email]``, ``[phone]``), as ingestion masks free text before storage. Country codes are
shown, wherever they are (``shipping_info.address.country_code`` too)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingest.core.coerce.privacy import mask_free_text

# Personal data never shown in a sample: any key holding "email", IP addresses, and names and
# addresses under the PayPal parents that carry them (payer_name is an object of given_name...).
_PERSONAL_PARENTS = {"payer_info", "shipping_info"}
_NAME_KEYS = {"payer_name", "given_name", "surname", "alternate_full_name", "full_name", "name", "address"}
_ALWAYS_MASKED = {"payer_name", "ip_address"}
# A country code is not personal data, even inside a masked address: VAT is booked on it, so a
# reader must see it. Its text is still masked as free text, in case the field holds anything else.
_NOT_PERSONAL = {"country_code"}

MAX_DEPTH = 32
"""Levels of objects and arrays shown. Real records nest a few levels, a hostile one hundreds;
every walk of a record recurses per level (here, and ``dataclasses.asdict`` and ``json.dumps``
after it), so a sample cut at this depth can never exhaust Python's stack."""
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels, not shown)"


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` safe to show: emails, payer and shipping names and IPs masked, and
    anything nested deeper than ``MAX_DEPTH`` replaced by ``TOO_DEEP``."""
    return _mask_children(record, (), 1)


def _mask_children(record: dict[str, Any], path: tuple[str, ...], depth: int) -> dict[str, Any]:
    return {key: _mask_field(key, value, path, depth) for key, value in record.items()}


def _mask_field(key: str, value: Any, path: tuple[str, ...], depth: int) -> Any:
    name = key.lower()
    if name in _NOT_PERSONAL and isinstance(value, str):
        return mask_free_text(value)
    under_personal = any(parent in _PERSONAL_PARENTS for parent in path)
    if "email" in name or name in _ALWAYS_MASKED or (under_personal and name in _NAME_KEYS):
        return mask_value(value, depth)
    return _mask_nested(value, (*path, name), depth)


def _mask_nested(value: Any, path: tuple[str, ...], depth: int) -> Any:
    """``value`` found at ``depth`` under ``path``; arrays of arrays are walked too, so an email
    inside them is masked like one anywhere else."""
    if isinstance(value, str):
        return mask_free_text(value)  # a note or custom field holding an email or phone number
    if not isinstance(value, dict | list):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return _mask_children(value, path, depth + 1)
    return [_mask_nested(item, path, depth + 1) for item in value]


def mask_value(value: Any, depth: int = 0) -> Any:
    """``jane@example.com`` -> ``j***@example.com``, ``Jane`` -> ``J***``; objects leaf by leaf."""
    if value is None or value == "":
        return value
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            k: mask_free_text(v)
            if k.lower() in _NOT_PERSONAL and isinstance(v, str)
            else mask_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_value(v, depth + 1) for v in value]
    if not isinstance(value, str):
        return "***"
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else f"{value[:1]}***"


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Some object or array in ``value`` sits more than ``limit`` levels down (``value`` itself
    is level 1). Iterative, so it answers for any depth the JSON reader could build."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
