"""Personal data kept out of the warehouse: redacted paths, keyed pseudonyms, and contact details
masked inside free text (a buyer's email and phone number typed into a note or a custom field)."""

from __future__ import annotations

import array
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any

import msgspec

CONTACT_HINTS = ("@", r"\+[0-9][0-9 .()-]{7}", r"\([0-9]{3}\)")
CONTACT_HINT = "|".join(CONTACT_HINTS)
"""Text without a match holds no email or phone shape below. Plain ASCII classes, so Python's ``re``
and Arrow's RE2 (``pc.match_substring_regex``) agree, and both readers mask the same texts; nearly
every text fails it, so the masking regexes run on almost nothing (PayPal's ``+0000`` offsets
and ``(ID: #123)`` item names do not match). Arrow runs each alternative on its own
(``CONTACT_HINTS``): RE2 finds a lone literal's first byte with memchr, the alternation byte by
byte (1-3 ms against 21 over the ``_raw`` of 10,000 PayPal records)."""
_HINT = re.compile(CONTACT_HINT)
# A match starts only where a run of address characters starts (the lookbehind): otherwise a long
# run without a domain after it would be tried from each of its characters, in quadratic time.
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# International numbers: + and a country code (never 0), digit groups split by one space, dot or
# dash, or a bracketed group ("+44 (0)20 7946 0958"). The groups never overlap, so no backtracking.
# Then the North American (NNN) NNN-NNNN. Nothing else: national numbers cannot be told from ids,
# amounts and dates.
_PHONE = re.compile(
    r"(?<![\w+])\+[1-9][0-9]*(?:[ .-]?\([0-9]+\)[ .-]?[0-9]+|[ .-][0-9]+)*"
    r"|(?<![\w(])\([0-9]{3}\) ?[0-9]{3}[ .-][0-9]{4}(?![0-9])"
)
MIN_PHONE_DIGITS = 8
"""Fewer digits after a + is a signed number or an offset, not a phone (E.164 numbers have 8+)."""
# Signed amounts ("+1234567.89") and a UTC offset before a year ("Thu Jul 01 10:00:00 +1000 2021").
_NOT_PHONES = re.compile(r"\+[0-9]+\.[0-9]+|\+[01][0-9][0-5][0-9] [0-9]{4}")
# A JSON string token (escapes included); a key is the token followed by ":" in compact JSON.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_KEY_END = re.compile(r"[ \t\r\n]*:")
PHONE_MARKER = "[phone]"
EMAIL_MARKER = "[email]"
EMAIL_PSEUDONYM_HEX = 12
"""Hex digits of the payer's pseudonym an email in free text keeps: enough to join on."""


def redact(record: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of ``record`` without the values at ``paths``; the input is left as it was."""
    result = dict(record)
    for path in paths:
        parent = _copied_parent(result, path)
        if parent is not None:
            parent.pop(path[-1], None)
    return result


def redact_in_place(record: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> None:
    """``redact`` for a record nobody else holds (parsed for this alone): the values at ``paths``
    removed from it, without copying the objects on the way."""
    for path in paths:
        parent: object = record
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)


RedactTree = dict[str, "RedactTree | None"]
"""Redacted paths as a tree of keys: None where the value goes whole, else the keys below it."""


def redact_tree(paths: Iterable[tuple[str, ...]]) -> RedactTree:
    tree: RedactTree = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if child is None:
                break  # a shorter path removes the whole value already
            node = child
        else:
            node[path[-1]] = None
    return tree


_OBJECT_OF_SPANS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENCODER = msgspec.json.Encoder()


def redact_json_object(text: bytes | memoryview | msgspec.Raw, tree: RedactTree) -> bytes:
    """``text``, one JSON object, without the values at ``tree``'s paths, as compact JSON.

    Only the objects on the paths are parsed; every other value is written as the span of
    ``text`` it was, never made into Python objects: for a 1.5 KB PayPal record 6 us, where
    parsing and writing all of it took 20. ``redact_in_place`` answers a value on the path that
    is not an object the same way (nothing below it to remove), a key written twice too (the
    last one counts). Raises ``msgspec.ValidationError`` for JSON that is not an object and
    ``msgspec.DecodeError`` for text that is not JSON.
    """
    return _ENCODER.encode(_without(text, tree))


def redact_json_lines(content: bytes, tree: RedactTree) -> tuple[bytearray, array.array[int]]:
    """Each object of NDJSON ``content`` as ``redact_json_object`` writes it, one after another in
    one buffer, and the offsets where each starts and the last ends: the buffers of an Arrow
    string column. Blank lines hold no object; msgspec parses all the lines in one call."""
    text = bytearray()
    ends = array.array("i", [0])
    for record in _OBJECT_OF_SPANS.decode_lines(content):
        _ENCODER.encode_into(_redacted_spans(record, tree), text, -1)
        ends.append(len(text))
    return text, ends


def _without(text: bytes | memoryview | msgspec.Raw, tree: RedactTree) -> dict[str, msgspec.Raw]:
    return _redacted_spans(_OBJECT_OF_SPANS.decode(text), tree)


def _redacted_spans(record: dict[str, msgspec.Raw], tree: RedactTree) -> dict[str, msgspec.Raw]:
    for key, below in tree.items():
        value = record.pop(key, None) if below is None else record.get(key)
        if value is None or below is None:
            continue
        try:
            redacted = redact_json_object(value, below)
        except msgspec.ValidationError:
            continue  # not an object: nothing below it to remove
        record[key] = msgspec.Raw(redacted)
    return record


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
    keyed = _keyed(key).copy()
    keyed.update(value.strip().lower().encode())
    return keyed.hexdigest()


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """HMAC's state after the key: a copy of it hashes a value in 1.7 us against 2.4 for
    ``hmac.new`` (a page of 10,000 payers: 17 ms against 24)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def mask_free_text(text: str, key: bytes | None = None) -> str:
    """``text`` with email-shaped and phone-shaped substrings replaced by markers.

    With a pseudonym key an email becomes ``[email:<first 12 hex of its pseudonym>]``, the same
    HMAC as a pseudonymised email column, so a note joins its payer; without one ``[email]``.
    Phones become ``[phone]``. Markers hold nothing JSON escapes, and nothing the masks match again.
    """
    if not _HINT.search(text):
        return text
    if "@" in text:
        text = _EMAIL.sub(lambda m: _email_marker(m.group(), key), text)
    return _PHONE.sub(_phone_marker, text)


def _email_marker(email: str, key: bytes | None) -> str:
    if key is None:
        return EMAIL_MARKER
    return f"[email:{pseudonym(key, email)[:EMAIL_PSEUDONYM_HEX]}]"


def _phone_marker(match: re.Match[str]) -> str:
    shape = match.group()
    digits = sum(c.isdigit() for c in shape)
    if digits < MIN_PHONE_DIGITS or _NOT_PHONES.fullmatch(shape):
        return shape
    return PHONE_MARKER


def mask_json_text(text: str, key: bytes | None = None) -> str:
    """JSON ``text`` with ``mask_free_text`` applied to each string value (keys are left: they
    are field names, and two masked alike would collide; a key is a string token followed by
    ":", spaces between them or not, since nested values of ``_raw`` keep the producer's spacing).

    Values are decoded before masking, so an escape next to an address ("\\njane@...") is never
    cut in half; the JSON value is what counts, the other tokens keep their bytes.
    """
    if not _HINT.search(text):
        return text

    def masked(match: re.Match[str]) -> str:
        token = match.group()
        if not _HINT.search(token) or _KEY_END.match(text, match.end()):
            return token
        value = json.loads(token)
        result = mask_free_text(value, key)
        return token if result == value else json.dumps(result, ensure_ascii=False)

    return _JSON_STRING.sub(masked, text)
