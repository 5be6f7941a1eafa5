"""``schema_drift: add_columns`` for a load group: its undeclared fields become columns of the
table (``ingest.core.drift_columns`` decides which, typed how), noted in the ledger and the ops
dataset, before the group is read again into them (``staging``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ingest.core.config import EXTRA_COLUMN, Column
from ingest.core.drift_columns import DriftFile, columns_to_add
from ingest.core.prepare import CHUNK_ROWS, Prepared
from ingest.ingestion.failure import as_ingest_error, fail
from ingest.ingestion.services import Services

if TYPE_CHECKING:
    from ingest.core.model import Claim
    from ingest.ingestion.staging import StagedGroup

log = logging.getLogger(__name__)

# Reasons a drifting field stays in _extra, logged per group (the fields come from the lake).
NAMED_KEPT = 10


def add_drift_columns(
    read_files: list[tuple[Claim, Prepared]], group: StagedGroup, services: Services
) -> tuple[Column, ...]:
    """Under ``schema_drift: add_columns``, the columns the group's undeclared fields became
    (the table's drift columns after the change); none if no field became one.

    A failure to change the table fails every file of the group with the reason (retried if it
    may pass), as a failed load does."""
    assert group.pipeline is not None
    pipeline = group.pipeline
    if pipeline.schema_drift != "add_columns":
        return ()
    drifting = [
        DriftFile(claim.ref.uri, frozenset(p.tally.extra_fields), p.batches(CHUNK_ROWS, [EXTRA_COLUMN]))
        for claim, p in read_files
        if p.tally.extra_fields
    ]
    if not drifting:
        return ()
    new, kept = columns_to_add(pipeline, drifting)
    for reason in kept[:NAMED_KEPT]:
        log.info("%s: a field stays in %s: %s", pipeline.name, EXTRA_COLUMN, reason)
    if not new:
        return ()
    try:
        change = services.warehouse.add_columns(pipeline, new)
        for added in change.added:
            services.ledger.record_schema_change(pipeline.table_id, pipeline.name, added)
    except Exception as err:  # each file fails with the reason, its bytes kept
        error = as_ingest_error(err, read_files[0][0].ref)
        group.ended.extend(fail(claim, pipeline, error, services) for claim, _ in read_files)
        read_files.clear()
        return ()
    for added in change.added:
        log.warning(
            "%s: added column %s %s to %s (schema_drift: add_columns), first in %s",
            pipeline.name,
            added.column.name,
            added.column.type,
            pipeline.table_id,
            added.first_file,
        )
    return change.columns
