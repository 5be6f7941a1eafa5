"""The statements in ``sql/``: one file each, filled in with ``string.Template``.

Placeholders take identifiers only: table paths, which the files write inside backticks, and
column names and lists, checked where they enter (``ingest.core.bigquery_names``); values are
always query parameters (``@name``). A file's leading ``--`` lines document it and are not sent.
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
