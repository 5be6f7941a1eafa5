"""Before a load: claim a group of files of one pipeline, read and validate them into load files.

Every file, alone or in a batch, goes claim -> same bytes? -> read -> validate -> accept; a file
that fails a step fails alone, with its reason, and the others go on to the load.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from ingest.core.config import Lineage, Pipeline
from ingest.core.drift_columns import with_columns
from ingest.core.errors import PoisonFile
from ingest.core.model import (
    EXTRA_FIELDS_LISTED,
    Claim,
    Duplicate,
    FileRef,
    FileResult,
    Orphaned,
    Status,
    now_iso,
)
from ingest.core.prepare import Prepared, Reading, start_file, validate_files
from ingest.core.prepare_together import finish_together, may_read_together
from ingest.ingestion import memory
from ingest.ingestion.clock import StageClock
from ingest.ingestion.drift import add_drift_columns
from ingest.ingestion.failure import as_ingest_error, fail
from ingest.ingestion.services import Services

log = logging.getLogger(__name__)

# Files read at once: many while they are small (the wait is the GET); one at a time when large,
# since parsing holds the GIL: a second reader made 10k-record PayPal files 16% slower and held
# another chunk of records (about 100 MB) in memory.
READERS_SMALL_FILES = 8
READERS_LARGE_FILES = 1
SMALL_FILE_BYTES = 4 << 20
# Files claimed per ledger request (the DynamoDB ledger's transaction holds 50 files and their
# bytes). The group is claimed a request at a time and each request's files are read at once,
# so reading starts after one claim instead of all of them: a 250-file group's five claims took
# 0.6-0.8 s of its 2.5-3 s on the local stack, the readers idle meanwhile.
CLAIMS_PER_REQUEST = 50


@dataclass
class Staged:
    """A claimed file read, coerced and validated into a Parquet file, ready for its load."""

    claim: Claim
    prepared: Prepared
    quarantine_key: str | None
    extra_fields_key: str | None = None
    """Where the whole list of drift fields is kept, when the ledger names only the first."""

    @property
    def ref(self) -> FileRef:
        return self.claim.ref


@dataclass
class StagedGroup:
    """A load group read and validated, waiting for its load job."""

    staged: list[Staged] = field(default_factory=list)
    ended: list[FileResult] = field(default_factory=list)
    """Files that ended before the load: duplicates, and failures to read or validate."""
    orphans: list[Orphaned] = field(default_factory=list)
    """Files left unclaimed because a worker died holding them: each is loaded later, alone."""
    temporary: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    """Holds the group's temporary files until its load is done."""
    recorded: Future[None] | None = None
    """The suite's results being written, when a recorder was given: the load waits for them."""
    load_file: Future[IO[bytes] | None] | None = None
    """The staged files' rows as their load job takes them, being written before the load (None
    inside: not written, the load writes it)."""
    pipeline: Pipeline | None = None
    """The pipeline the files were read with: under ``schema_drift: add_columns``, the declared
    one and the columns drift added to its table. The load names these columns."""

    def written_load_file(self) -> IO[bytes] | None:
        """Wait for the load file being written ahead; None if it was not."""
        return None if self.load_file is None else self.load_file.result()

    def recording_error(self) -> Exception | None:
        """Wait for the suite's results to be written; what stopped them, if anything did."""
        error = None if self.recorded is None else self.recorded.exception()
        if error is not None and not isinstance(error, Exception):
            raise error  # an interrupt, not a failure to charge to the files
        return error


def stage_group(
    refs: list[FileRef],
    pipeline: Pipeline,
    services: Services,
    clock: StageClock,
    *,
    replay: bool = False,
    read_from: Mapping[FileRef, FileRef] | None = None,
    alone: bool = False,
    recorder: Executor | None = None,
) -> StagedGroup:
    """Claim, read and validate a group of files of one pipeline, ready for one load job.

    Claims go to the ledger many to a request, and the suite runs over many files at once (each
    judged alone). ``replay`` claims FAILED files again; ``read_from`` names, per file, where
    its bytes are read from instead of the lake (the error bucket's copy). A file a dead worker
    left IN_PROGRESS is not claimed with others (it may be what killed the worker) but put in
    ``orphans``; ``alone`` claims such a file, the group's only one. With a ``recorder`` the
    suite's results are written in the background (``StagedGroup.recorded``), while the next
    group is read or the previous one loaded.
    """
    group = StagedGroup(pipeline=pipeline)
    try:
        if pipeline.schema_drift == "add_columns":
            group.pipeline = with_columns(pipeline, services.warehouse.drift_columns(pipeline))
        _stage_into(group, refs, services, clock, replay, read_from or {}, alone, recorder)
    except BaseException:
        group.temporary.close()
        raise
    return group


def _stage_into(
    group: StagedGroup,
    refs: list[FileRef],
    services: Services,
    clock: StageClock,
    replay: bool,
    read_from: Mapping[FileRef, FileRef],
    alone: bool,
    recorder: Executor | None,
) -> None:
    assert group.pipeline is not None
    pipeline = group.pipeline
    mean_size = sum(max(ref.size or 0, 0) for ref in refs) / max(len(refs), 1)
    readers = READERS_SMALL_FILES if mean_size <= SMALL_FILE_BYTES else READERS_LARGE_FILES
    temporary = group.temporary

    # Small NDJSON files of a group wait to be read by Arrow together (prepare_together).
    together = len(refs) > 1

    with ThreadPoolExecutor(readers, thread_name_prefix="stage") as pool:

        def read_one(claim: Claim, pipeline: Pipeline) -> tuple[Claim, Prepared | Reading] | FileResult:
            try:
                with clock("read"):
                    body = services.lake.open(read_from.get(claim.ref, claim.ref))
                    try:
                        reading = open_file(claim, body, pipeline, services, temporary, together)
                        if together and may_read_together(reading):
                            return claim, reading  # its whole text is in memory
                        reading.finish_alone(temporary)
                        return claim, reading.prepared
                    finally:
                        body.close()
            except Exception as err:  # recorded in the ledger with its type
                return fail(claim, pipeline, as_ingest_error(err, claim.ref), services)

        reads: list[Future[tuple[Claim, Prepared | Reading] | FileResult]] = []
        for start in range(0, len(refs), CLAIMS_PER_REQUEST):
            with clock("ledger"):
                claims = claim_group(
                    refs[start : start + CLAIMS_PER_REQUEST],
                    pipeline,
                    services,
                    group.ended.append,
                    replay=replay,
                    take_over=alone,
                    orphans=group.orphans,
                )
            reads.extend(pool.submit(read_one, claim, pipeline) for claim in claims)
        read_files = _read_files(reads, group, pipeline, services, clock)

        if added := add_drift_columns(read_files, group, services):
            # The group is read again with its new columns, which the load will name: its files
            # only, once per column added (later groups read them as declared ones).
            pipeline = group.pipeline = with_columns(pipeline, added)
            reads = [pool.submit(read_one, claim, pipeline) for claim, _ in read_files]
            read_files = _read_files(reads, group, pipeline, services, clock)
        if not read_files:
            return
        try:
            with clock("validate"):
                group.recorded = _validate(read_files, pipeline, services, temporary, recorder)
        except Exception as err:  # e.g. the results table unreachable: each file fails with the reason
            error = as_ingest_error(err, read_files[0][0].ref)
            group.ended.extend(fail(claim, pipeline, error, services) for claim, _ in read_files)
            return

        def accept_one(member: tuple[Claim, Prepared]) -> Staged | FileResult:
            claim, prepared = member
            try:
                with clock("validate"):
                    return accept(claim, prepared, pipeline, services)
            except Exception as err:  # recorded in the ledger with its type
                return fail(claim, pipeline, as_ingest_error(err, claim.ref), services)

        for accepted in pool.map(accept_one, read_files):
            if isinstance(accepted, FileResult):
                group.ended.append(accepted)
            else:
                group.staged.append(accepted)


def _read_files(
    reads: list[Future[tuple[Claim, Prepared | Reading] | FileResult]],
    group: StagedGroup,
    pipeline: Pipeline,
    services: Services,
    clock: StageClock,
) -> list[tuple[Claim, Prepared]]:
    """The files read, those held for Arrow read together now; the others end in ``group``."""
    read_files: list[tuple[Claim, Prepared]] = []
    waiting: list[tuple[Claim, Reading]] = []
    for outcome in (read.result() for read in reads):
        if isinstance(outcome, FileResult):
            group.ended.append(outcome)
        elif isinstance(outcome[1], Reading):
            waiting.append((outcome[0], outcome[1]))
        else:
            read_files.append((outcome[0], outcome[1]))
    if waiting:
        with clock("read"):
            errors = finish_together([reading for _, reading in waiting], group.temporary)
        for (claim, reading), error in zip(waiting, errors, strict=True):
            if error is None:
                read_files.append((claim, reading.prepared))
            else:
                group.ended.append(fail(claim, pipeline, as_ingest_error(error, claim.ref), services))
    return read_files


def claim_group(
    refs: list[FileRef],
    pipeline: Pipeline,
    services: Services,
    report: Callable[[FileResult], None],
    *,
    replay: bool = False,
    take_over: bool = True,
    orphans: list[Orphaned] | None = None,
) -> list[Claim]:
    """Claims on the files (and their bytes) this run may load; the others reported skipped.

    Files never seen before are claimed many to a transaction, each with its bytes: one
    request where the one-by-one claim makes two per file (a warm Lambda file's usual case). A
    file the transaction cannot take goes through the one-by-one claim, which knows
    redeliveries, retries, expired leases, replays and files with the same bytes. Without
    ``take_over``, a file whose worker died holding it is added to ``orphans`` instead of being
    claimed.
    """
    if replay:
        claims: list[Claim] = []
        one_by_one = refs
    else:
        claims, one_by_one = services.ledger.claim_new(refs, pipeline.name, pipeline.table_id)
    for ref in one_by_one:
        claim = services.ledger.claim(
            ref, pipeline.name, pipeline.table_id, replay=replay, take_over=take_over
        )
        if isinstance(claim, Orphaned):
            log.warning("%s was left in progress by a worker that died: it is loaded last, alone", ref.uri)
            if orphans is None:
                raise AssertionError("a claim that does not take over needs a list for orphans")
            orphans.append(claim)
            continue
        if isinstance(claim, Duplicate):
            log.info("skipped duplicate delivery of %s: %s", ref.uri, claim.reason)
            report(FileResult(ref, Status.SKIPPED_DUPLICATE, pipeline=pipeline.name, message=claim.reason))
            continue
        if not replay and claim.attempt > services.settings.max_attempts:
            report(fail(claim, pipeline, _poison(claim), services))
            continue
        try:
            skipped = _skip_if_same_bytes(claim, pipeline, services)
        except Exception as err:  # the claimed file fails, with its reason
            skipped = fail(claim, pipeline, as_ingest_error(err, ref), services)
        if skipped is not None:
            report(skipped)
            continue
        claims.append(claim)
    return claims


def _poison(claim: Claim) -> PoisonFile:
    """Only a claim whose lease ran out is taken past the last attempt (a failure that may pass
    is retried only while attempts are left): every earlier worker died holding this file."""
    return PoisonFile(
        f"{claim.attempt - 1} attempts ended without an outcome (each worker died reading or "
        "loading it: out of memory or a crash); kept without reading it again"
    )


def _skip_if_same_bytes(claim: Claim, pipeline: Pipeline, services: Services) -> FileResult | None:
    """SKIPPED_DUPLICATE if a file with the same bytes is loaded or being loaded, else None."""
    same_bytes_as = services.ledger.claim_content(claim, pipeline.table_id)
    if same_bytes_as is None:
        return None
    services.ledger.skip_duplicate_content(claim, pipeline.name, same_bytes_as)
    message = f"same bytes as {same_bytes_as.rsplit('#', 1)[0]}"
    log.info("skipped %s: %s", claim.ref.uri, message)
    return FileResult(
        claim.ref,
        Status.SKIPPED_DUPLICATE,
        pipeline=pipeline.name,
        message=message,
        started_at=claim.started_at,
        finished_at=now_iso(),
    )


def open_file(
    claim: Claim,
    body: IO[bytes],
    pipeline: Pipeline,
    services: Services,
    temporary: contextlib.ExitStack,
    with_others: bool = False,
) -> Reading:
    """Open the file's bytes for reading: detected, and its whole text kept when it is NDJSON
    small enough for Arrow; ``Reading.finish`` reads the rows (from ``body`` unless kept).
    ``with_others``: the file is loaded with others, so its rows are spilled as Arrow IPC."""
    ref = claim.ref
    lineage: Lineage = {"_source_uri": ref.uri, "_source_etag": ref.etag, "_ingested_at": datetime.now(UTC)}
    return start_file(
        body,
        pipeline,
        lambda detected: services.coercer(pipeline, empty_is_null=detected.format == "csv"),
        lineage,
        temporary,
        services.settings.limits,
        spill_format="arrow" if with_others else "parquet",
    )


def _validate(
    read_files: list[tuple[Claim, Prepared]],
    pipeline: Pipeline,
    services: Services,
    temporary: contextlib.ExitStack,
    recorder: Executor | None,
) -> Future[None] | None:
    """Run the pipeline's suite (if it has one) over the files at once, and keep its results:
    now, or by the ``recorder`` (the returned writing)."""
    suite = services.suite(pipeline)
    if suite is None:
        return None
    validate_files([prepared for _, prepared in read_files], suite, temporary)
    memory.hand_back()  # GX's frames of the group
    results = [(c.ref, p.validation) for c, p in read_files if p.validation is not None]
    if recorder is not None:
        return recorder.submit(services.validations.record, pipeline, results)
    services.validations.record(pipeline, results)
    return None


def accept(claim: Claim, prepared: Prepared, pipeline: Pipeline, services: Services) -> Staged:
    """The validated file ready for its load, its quarantined rows in the error bucket.

    Raises what fails the whole file: a failed table-level check, or no row left to load.
    """
    ref = claim.ref
    prepared.raise_if_file_fails()
    tally = prepared.tally
    quarantine_key = None
    if tally.rows_quarantined:
        summary = {
            "ledger_key": ref.identity,
            "pipeline": pipeline.name,
            "rows_in": tally.rows_in,
            "rows_quarantined": tally.rows_quarantined,
            "reasons": dict(tally.reasons.most_common()),
        }
        quarantine_key = services.lake.write_quarantine(ref, prepared.rejected, summary)
    extra_fields_key = None
    if len(tally.extra_fields) > EXTRA_FIELDS_LISTED:
        document = {
            "ledger_key": ref.identity,
            "pipeline": pipeline.name,
            "extra_fields": sorted(tally.extra_fields),
        }
        extra_fields_key = services.lake.keep_extra_fields(ref, document)
    return Staged(claim, prepared, quarantine_key, extra_fields_key)
