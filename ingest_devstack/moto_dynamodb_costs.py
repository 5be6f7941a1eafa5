"""moto's DynamoDB ``Query`` on a table's own key at the cost AWS's has: one partition read.

Applied by the local stack's moto launcher (``moto_emulator.py``, point 8). moto answers a
``Query`` on the table's key (no index) by listing every item of the table, sorting them all by
key, and keeping those of the partition asked for, so each query costs the whole ledger. The ledger
is queried per load group (the day's load-job records of a table, ``loads#<table>#<day>``), and by
the 10,000-file load test's end it held over 10,000 items: py-spy put 8% of moto's samples in
``Table.all_items`` under ``Table.query``. Here such a query sees only the items of its partition,
which moto then sorts, filters and pages exactly as before. Queries on an index are untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.table import Table

# Table.query's positional parameters after hash_key, up to index_name (moto 5.x's signature).
_INDEX_NAME_POSITION = 6


def _one_partition(query: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(query)
    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = (
            args[_INDEX_NAME_POSITION] if len(args) > _INDEX_NAME_POSITION else kwargs.get("index_name")
        )
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)  # .get: the table's defaultdict must not grow
        if partition is None:
            items = []
        elif self.range_key_attr:
            items = list(partition.values())
        else:
            items = [partition]
        # moto's query calls self.all_items() for this branch: an attribute of the instance hides
        # the method for this one call. Safe because the launcher runs DynamoDB item operations,
        # queries and scans included, one at a time (point 1).
        self.all_items = lambda: items  # type: ignore[method-assign]
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    return partition_query


def cheapen_dynamodb_queries() -> None:
    """Patch moto's ``Table.query`` as the module's docstring says (in this process)."""
    Table.query = _one_partition(Table.query)  # type: ignore[method-assign]
