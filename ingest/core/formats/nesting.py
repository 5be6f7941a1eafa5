"""How deeply a record's text nests objects and arrays, measured on the text before it is parsed.

Decoders build nested values recursively: past Python's recursion limit they raise, and some
(yajl, Arrow's JSON reader) crash the process or take memory quadratic in the depth. So the depth
is checked on the text first, with string operations that run in C: counting brackets (one pass)
settles nearly every record; only a record with more opening brackets than the limit is
measured, by removing innermost ``[]`` pairs once per level, at most ``limit`` times.
"""

from __future__ import annotations

import re

# A JSON string, escapes included, written so that it cannot backtrack.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Both kinds of bracket read as one: only the depth matters here.
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests objects and arrays more than ``limit`` levels deep.

    Brackets inside strings do not count. Text whose brackets do not balance counts as deeper
    (it will not parse anyway).
    """
    if text.count("{") + text.count("[") <= limit:
        return False
    stripped = _JSON_STRING.sub("", text)
    return not _balanced_within(stripped.encode("utf-8", "surrogatepass"), limit)


def may_be_deeper_than(content: bytes, limit: int) -> bool:
    """A cheap, conservative form of ``deeper_than`` for a whole file of JSON records: False only
    if no record is deeper than ``limit``. Brackets inside strings count, so a string holding
    unbalanced brackets makes it say True; callers then read the file record by record."""
    # A file has more brackets than the limit, so counting them first only adds a pass.
    brackets = content.translate(_BRACKETS_ONLY, _NOT_A_BRACKET)
    return len(brackets) > limit and not _nested_within(brackets, limit)


def _balanced_within(text: bytes, limit: int) -> bool:
    """Whether the brackets of ``text`` balance and nest at most ``limit`` deep."""
    return _nested_within(text.translate(_BRACKETS_ONLY, _NOT_A_BRACKET), limit)


def _nested_within(brackets: bytes, limit: int) -> bool:
    """Whether ``brackets`` (only "[" and "]") balance and nest at most ``limit`` deep.

    Each pass removes every innermost pair, lowering the deepest nesting by exactly one level.
    """
    for _ in range(limit):
        if not brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
    return not brackets
