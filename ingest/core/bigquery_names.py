"""BigQuery's naming rules for the identifiers pipelines and settings write into SQL.

Query parameters cannot stand for identifiers, so table paths and column names are written into
SQL text: the MERGE and the staging queries name columns unquoted, and table paths sit between
backticks (``ingest.adapters.bigquery``, the finance and ops ``.sql`` files). Each name
is therefore checked where it enters (a pipeline YAML file, an environment variable), against
the rules under which it is safe unquoted. Where BigQuery takes more (dashes, spaces and other
Unicode in table names, column names that need quoting), we take less: nothing shipped needs it,
and every name stays one a reader can paste into SQL as it is.

Each check returns why a name is refused, or None; the caller names the file and field.
"""

from __future__ import annotations

import re

# Datasets: letters, digits and underscores, at most 1,024 (BigQuery's own rule).
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
# Tables: BigQuery also takes dashes, spaces and Unicode letters; we keep to the dataset rule.
_TABLE = re.compile(r"[A-Za-z0-9_]{1,1024}")
# Columns: an unquoted GoogleSQL identifier, at most 300 characters (BigQuery's column limit).
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,299}")
# Project ids: 6 to 30 lowercase letters, digits and hyphens, from a letter, not ending in a
# hyphen; older projects may be scoped by a domain ("example.com:project").
_PROJECT = re.compile(r"([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
# BigQuery refuses column names with these prefixes, in any case.
RESERVED_COLUMN_PREFIXES = ("_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER")
# GoogleSQL's reserved keywords: a column with one of these names would have to be quoted.
RESERVED_KEYWORDS = frozenset(
    {
        "ALL", "AND", "ANY", "ARRAY", "AS", "ASC", "ASSERT_ROWS_MODIFIED", "AT", "BETWEEN", "BY",
        "CASE", "CAST", "COLLATE", "CONTAINS", "CREATE", "CROSS", "CUBE", "CURRENT", "DEFAULT",
        "DEFINE", "DESC", "DISTINCT", "ELSE", "END", "ENUM", "ESCAPE", "EXCEPT", "EXCLUDE",
        "EXISTS", "EXTRACT", "FALSE", "FETCH", "FOLLOWING", "FOR", "FROM", "FULL", "GROUP",
        "GROUPING", "GROUPS", "HASH", "HAVING", "IF", "IGNORE", "IN", "INNER", "INTERSECT",
        "INTERVAL", "INTO", "IS", "JOIN", "LATERAL", "LEFT", "LIKE", "LIMIT", "LOOKUP", "MERGE",
        "NATURAL", "NEW", "NO", "NOT", "NULL", "NULLS", "OF", "ON", "OR", "ORDER", "OUTER",
        "OVER", "PARTITION", "PRECEDING", "PROTO", "QUALIFY", "RANGE", "RECURSIVE", "RESPECT",
        "RIGHT", "ROLLUP", "ROWS", "SELECT", "SET", "SOME", "STRUCT", "TABLESAMPLE", "THEN",
        "TO", "TREAT", "TRUE", "UNBOUNDED", "UNION", "UNNEST", "USING", "WHEN", "WHERE",
        "WINDOW", "WITH", "WITHIN",
    }
)  # fmt: skip


def dataset_problem(name: object) -> str | None:
    if isinstance(name, str) and _DATASET.fullmatch(name):
        return None
    return f"dataset name {name!r} may hold only letters, digits and underscores (1 to 1,024)"


def table_problem(name: object) -> str | None:
    if isinstance(name, str) and _TABLE.fullmatch(name):
        return None
    return f"table name {name!r} may hold only letters, digits and underscores (1 to 1,024)"


def column_problem(name: object) -> str | None:
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        return (
            f"column name {name!r} must start with a letter or underscore and hold only letters, "
            "digits and underscores (at most 300)"
        )
    if name.upper() in RESERVED_KEYWORDS:
        return f"column name {name!r} is a reserved keyword of BigQuery's SQL"
    if prefix := next((p for p in RESERVED_COLUMN_PREFIXES if name.upper().startswith(p)), None):
        return f"column name {name!r} starts with {prefix}, a prefix BigQuery reserves"
    return None


def project_problem(name: object) -> str | None:
    if isinstance(name, str) and _PROJECT.fullmatch(name):
        return None
    return (
        f"project id {name!r} must be 6 to 30 lowercase letters, digits and hyphens, starting "
        "with a letter (optionally after a domain and a colon)"
    )


def table_id_problem(table_id: object) -> str | None:
    """``project.dataset.table`` with each part by its own rule; the project may hold a domain's dots."""
    if not isinstance(table_id, str) or table_id.count(".") < 2:
        return f"table id {table_id!r} is not project.dataset.table"
    project, dataset, table = table_id.rsplit(".", 2)
    return project_problem(project) or dataset_problem(dataset) or table_problem(table)
