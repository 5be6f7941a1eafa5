"""What the orchestrator needs from the world, and nothing more: the ports its adapters implement.

``ingest.adapters`` implements them on S3, DynamoDB and BigQuery; ``tests/support`` in memory. The
orchestrator (``flow``, ``staging``, ``loading``, ``failure``, ``runs``) calls only these methods,
so a fake that keeps their promises runs it without a cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ingest.core.config import Column, Pipeline
    from ingest.core.drift_columns import ColumnsAdded, NewColumn
    from ingest.core.ledger_entry import LedgerEntry
    from ingest.core.model import Claim, Duplicate, FileRef, LoadJobNote, LoadOutcome, Orphaned, Status
    from ingest.core.validate.results import Validation


@dataclass(frozen=True)
class LoadResult:
    """What one load into a pipeline's table did."""

    job_id: str
    output_rows: int
    """Rows the load job wrote (into staging, in merge mode)."""
    reused: bool
    """True when the job already existed (a retry found the earlier load)."""
    inserted: int | None = None
    """merge mode: business keys new to the table (None where the server does not say)."""
    updated: int | None = None
    """merge mode: rows replaced by a later version."""


class Lake(Protocol):
    """The object store files land in, and the error bucket that keeps what failed."""

    def open(self, ref: FileRef) -> IO[bytes]:
        """A stream of exactly the announced version's bytes; ObjectGone or ObjectChanged if
        that version is no longer there."""
        ...

    def replay_source(self, ref: FileRef) -> FileRef:
        """Where a failed file's bytes are now: the lake if that version is still there, else
        the error bucket's copy."""
        ...

    def keep_failed_file(self, ref: FileRef, reason: dict[str, Any]) -> str:
        """Copy the failed version into the error bucket with ``reason`` beside it; its key."""
        ...

    def write_quarantine(self, ref: FileRef, rows_ndjson: IO[bytes], summary: dict[str, Any]) -> str:
        """Keep a loaded file's rejected rows, and ``summary`` beside them; the rows' key."""
        ...

    def keep_extra_fields(self, ref: FileRef, document: dict[str, Any]) -> str:
        """Keep a loaded file's whole list of drift fields (``document``) beside its other kept
        objects, when the ledger item lists only the first; the key."""
        ...

    def list_objects(
        self, bucket: str, prefix: str = "", since: datetime | None = None, until: datetime | None = None
    ) -> list[FileRef]:
        """Every object under ``prefix`` last modified in [since, until), oldest first."""
        ...


class Ledger(Protocol):
    """Who loads which file, and what came of it: the exactly-once record.

    Every write after a claim holds only while the claim does: a worker that lost its lease
    gets False and must not think its outcome recorded.
    """

    def claim(
        self, ref: FileRef, pipeline: str = "", table: str = "", replay: bool = False, take_over: bool = True
    ) -> Claim | Duplicate | Orphaned:
        """Take the file, or learn (and record) that another delivery has it. ``replay`` takes
        a FAILED file whatever its error; without ``take_over``, a file whose worker died holding
        it is not taken: Orphaned."""
        ...

    def claim_new(self, refs: list[FileRef], pipeline: str, table: str) -> tuple[list[Claim], list[FileRef]]:
        """Claim files never seen before, and their bytes for ``table``, many to a write; the
        claims, and the files left for ``claim`` one by one."""
        ...

    def claim_content(self, claim: Claim, table: str) -> str | None:
        """Register the file's bytes as loading into ``table``; the identity of another file
        with the same bytes loaded or being loaded there, else None."""
        ...

    def release_content(self, claim: Claim, table: str) -> int:
        """Let go of the bytes of a file that failed for good; the files skipped as holding the
        same bytes while it was loading become loadable again. How many did."""
        ...

    def skip_duplicate_content(self, claim: Claim, pipeline: str, duplicate_of: str) -> bool:
        """Record that the file holds the same bytes as ``duplicate_of`` and was not loaded."""
        ...

    def record_ignored(self, ref: FileRef, reason: str) -> None:
        """Note an object that is not data (a folder marker)."""
        ...

    def complete(self, claim: Claim, outcome: LoadOutcome) -> bool:
        """Record LOADED; False when the claim was lost meanwhile."""
        ...

    def complete_many(
        self, outcomes: list[tuple[Claim, LoadOutcome]], load: LoadJobNote | None = None
    ) -> list[bool]:
        """Record LOADED for many claims, and the note of the ``load`` job that loaded them
        (in the same write where it can be); False where a claim was lost."""
        ...

    def fail(self, claim: Claim, error_type: str, message: str, retryable: bool, **details: Any) -> bool:
        """Record FAILED with the reason; False when the claim was lost meanwhile."""
        ...

    def record_load(
        self, table: str, job_id: str, members: list[str], rows: int, succeeded: bool, error: str = ""
    ) -> None:
        """Note one load job into ``table`` with its member files (the day's quota counts them)."""
        ...

    def record_schema_change(self, table: str, pipeline: str, change: NewColumn) -> None:
        """Note a column ``schema_drift: add_columns`` added to ``table``, with the file that brought it."""
        ...

    def loads_on(self, table: str, day: str) -> int:
        """Load jobs into ``table`` on the UTC day ``day`` (YYYY-MM-DD), failed ones included."""
        ...

    def to_claim(self, refs: list[FileRef]) -> list[FileRef]:
        """Of ``refs``, those a claim could take (read only)."""
        ...

    def entries(self, status: Status | None = None, since: str | None = None) -> list[LedgerEntry]:
        """Ledger items, newest first."""
        ...


class Warehouse(Protocol):
    """Where rows land: one table per pipeline, written by idempotent load jobs."""

    @property
    def table_operations_per_day(self) -> int:
        """Load jobs a table may take per day; batch mode batches harder near it."""
        ...

    def ensure_table(self, pipeline: Pipeline) -> None:
        """Create the pipeline's table (and what its write mode needs) if it does not exist."""
        ...

    def write_rows(self, pipeline: Pipeline, parquet: IO[bytes], load_identity: str) -> LoadResult:
        """Put one load's rows into the pipeline's table; a retry with the same
        ``load_identity`` finds the earlier load instead of loading twice."""
        ...

    def drift_columns(self, pipeline: Pipeline) -> tuple[Column, ...]:
        """Columns the pipeline's table has that the pipeline does not declare (added by
        ``schema_drift: add_columns``); none while the table does not exist."""
        ...

    def add_columns(self, pipeline: Pipeline, new: list[NewColumn]) -> ColumnsAdded:
        """Add ``new`` NULLABLE columns to the pipeline's table (created if missing) and note
        each in the ops dataset's schema changes; a column another worker added first keeps
        the type it was given."""
        ...

    def batch_identity(self, file_identities: list[str]) -> str:
        """One identity for the files of a load, whatever order they are listed in."""
        ...

    def load_job_id(self, load_identity: str, table_id: str) -> str:
        """The id of the first load job of ``load_identity`` into ``table_id``."""
        ...


class ValidationSink(Protocol):
    """Where the suite's results of each validated file are kept, for reports."""

    def record(self, pipeline: Pipeline, files: list[tuple[FileRef, Validation]]) -> None:
        """Keep the suite's results of these files."""
        ...
