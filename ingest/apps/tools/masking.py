"""Masks personal data in records shown to people (``ingest inspect``'s sample, the notebooks)."""

from __future__ import annotations

from typing import Any

# Personal data never shown in a sample: any key holding "email", IP addresses, and names and
# addresses under the PayPal parents that carry them (payer_name is an object of given_name...).
_PERSONAL_PARENTS = {"payer_info", "shipping_info"}
_NAME_KEYS = {"payer_name", "given_name", "surname", "alternate_full_name", "full_name", "name", "address"}
_ALWAYS_MASKED = {"payer_name", "ip_address"}


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` safe to show: emails, payer and shipping names and IPs masked."""
    return _mask_children(record, ())


def _mask_children(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    return {key: _mask_field(key, value, path) for key, value in record.items()}


def _mask_field(key: str, value: Any, path: tuple[str, ...]) -> Any:
    name = key.lower()
    under_personal = any(parent in _PERSONAL_PARENTS for parent in path)
    if "email" in name or name in _ALWAYS_MASKED or (under_personal and name in _NAME_KEYS):
        return mask_value(value)
    if isinstance(value, dict):
        return _mask_children(value, (*path, name))
    if isinstance(value, list):
        return [_mask_children(v, (*path, name)) if isinstance(v, dict) else v for v in value]
    return value


def mask_value(value: Any) -> Any:
    """``jane@example.com`` -> ``j***@example.com``, ``Jane`` -> ``J***``; objects leaf by leaf."""
    if value is None or value == "":
        return value
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if not isinstance(value, str):
        return "***"
    local, at, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if at else f"{value[:1]}***"
