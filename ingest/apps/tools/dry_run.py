"""A file through ingestion's own read, transform, coerce (and suite) steps, with nothing stored.

``ingest inspect --pipeline`` and ``ingest validate`` both answer "what would a load do with this
file?" by calling ``prepare_file``, the function ``ingest_file`` calls, rather than repeating its
steps; only the pseudonym key and the lineage differ, as nothing leaves this process.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from ingest.core.config import Lineage, Pipeline
from ingest.core.settings import Settings

if TYPE_CHECKING:
    from ingest.core.prepare import Prepared
    from ingest.core.validate.suite import Suite


def dry_run(
    stream: IO[bytes],
    pipeline: Pipeline,
    source: str,
    suite: Suite | None,
    temporary: contextlib.ExitStack,
    etag: str | None = None,
) -> Prepared:
    """``prepare_file`` on ``stream``; its temporary files live as long as ``temporary``.

    Raises what fails the whole file while reading it (undecodable, malformed, a missing column);
    ``Prepared.raise_if_file_fails`` raises the rest.
    """
    from ingest.core.coerce.rows import RecordCoercer  # pyarrow: only when a pipeline is checked
    from ingest.core.prepare import prepare_file

    # Nothing is stored, so pseudonyms only need to be consistent within this run.
    key = secrets.token_bytes(32)
    lineage: Lineage = {"_source_uri": source, "_source_etag": etag or "", "_ingested_at": datetime.now(UTC)}
    return prepare_file(
        stream,
        pipeline,
        lambda detected: RecordCoercer(pipeline, empty_is_null=detected.format == "csv", pseudonym_key=key),
        suite,
        lineage,
        temporary,
        Settings.from_env().limits,  # the bounds a load would read the file within
    )


def quarantined_rows(prepared: Prepared) -> Iterator[tuple[int, str]]:
    """(row number, reason) of each row the load would quarantine: those coercion refuses, in row
    order, then those the suite fails."""
    prepared.rejected.seek(0)
    for line in prepared.rejected:
        row = json.loads(line)
        yield row["row"], row["reason"]
