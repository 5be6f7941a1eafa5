"""Personal data kept out of the warehouse: redacted paths and keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any


def redact(record: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``record`` without the values at ``paths``; the input is left as it was."""
    result = dict(record)
    for path in paths:
        parent = _copied_parent(result, path)
        if parent is not None:
            parent.pop(path[-1], None)
    return result


def _copied_parent(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """The object holding the last step of ``path``, each object on the way copied into
    ``record`` first (so the caller's input is never changed); None where a step is not an object."""
    parent = record
    for part in path[:-1]:
        child = parent.get(part)
        if not isinstance(child, dict):
            return None
        parent[part] = child = dict(child)
        parent = child
    return parent


def pseudonym(key: bytes, value: str) -> str:
    """Keyed hash of an identifier (HMAC-SHA256, hex): equal inputs give equal pseudonyms, and
    without the key nobody can test a guessed email against it."""
    normalised = value.strip().lower().encode()
    return hmac.new(key, normalised, hashlib.sha256).hexdigest()
