"""The statements in ``sql/``: one file each, filled in with ``string.Template``.

Placeholders take identifiers only: table paths, which the files write inside backticks, and
column names and lists, checked where they enter (``ingest.core.bigquery_names``) and written
quoted (``quoted``); values are always query parameters (``@name``). A file's leading ``--``
lines document it and are not sent.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@cache
def _template(name: str) -> string.Template:
    lines = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return string.Template("\n".join(lines).strip())


def render(name: str, **identifiers: str) -> str:
    """The statement ``sql/<name>.sql`` with its ``${...}`` placeholders filled in."""
    return _template(name).substitute(identifiers)


def quoted(column: str) -> str:
    """``column`` between backticks, so no name can read as a keyword or as SQL.

    Names were checked at config load; this refuses what could still end the quoting (a backtick,
    a backslash, a newline), in case a name ever comes from elsewhere.
    """
    if not column or any(c in column for c in "`\\\n\r"):
        raise ValueError(f"{column!r} cannot be a quoted column name")
    return f"`{column}`"
