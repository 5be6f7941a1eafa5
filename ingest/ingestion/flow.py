"""Ingest one lake object: route, claim, read, coerce, quarantine, load, record. The only orchestrator.

The Lambda handler, the local queue worker and the CLI all call ``ingest_file``; everything
vendor-specific sits behind ``lake``, ``ledger`` and ``warehouse``.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.adapters import bigquery_warehouse as warehouse
from ingest.adapters import s3_lake as lake
from ingest.core.config import Pipeline, route
from ingest.core.errors import IngestError, InternalError, LoadFailed, UnknownPipeline
from ingest.core.model import Claim, Duplicate, FileRef, FileResult, LoadOutcome, LoadRecord, Status, now_iso
from ingest.core.prepare import CHUNK_ROWS, Prepared, prepare_file, validate_files
from ingest.core.validate import Suite
from ingest.ingestion import memory
from ingest.ingestion.services import Services

log = logging.getLogger(__name__)
# Past this share of a table's daily load jobs, event mode warns and batch mode batches harder.
QUOTA_WARNING_SHARE = 0.8


class StageClock:
    """Seconds spent in each stage of ingestion, summed over the threads doing it.

    Stages: ``read`` (get, parse, coerce), ``validate`` (the suite, its results, quarantine
    files), ``load`` (load jobs and MERGEs) and ``ledger`` (claims and outcomes).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed


def ingest_file(
    ref: FileRef, services: Services, *, replay: bool = False, read_from: FileRef | None = None
) -> FileResult:
    """Ingest one object version exactly once; never raises for bad data.

    ``replay`` re-ingests a file the ledger has as FAILED (``ingest replay``); ``read_from``
    reads its bytes from elsewhere, such as the error bucket's copy, when the lake's are gone.
    """
    if ref.key.endswith("/"):
        services.ledger.record_ignored(ref, "folder marker: a key ending in '/' holds no data")
        return FileResult(ref, Status.IGNORED, message="folder marker")
    try:
        pipeline: Pipeline | None = route(ref.key, services.pipelines)
        routing_error: IngestError | None = None
    except UnknownPipeline as err:
        pipeline, routing_error = None, err

    claim = services.ledger.claim(
        ref, pipeline.name if pipeline else "", pipeline.table_id if pipeline else "", replay=replay
    )
    if isinstance(claim, Duplicate):
        log.info("skipped duplicate delivery of %s: %s", ref.uri, claim.reason)
        return FileResult(
            ref, Status.SKIPPED_DUPLICATE, pipeline=pipeline.name if pipeline else None, message=claim.reason
        )

    try:
        if routing_error is not None:
            raise routing_error
        assert pipeline is not None
        if (skipped := _skip_if_same_bytes(claim, pipeline, services)) is not None:
            return skipped
        with contextlib.ExitStack() as temporary:
            staged = _stage(claim, read_from or ref, pipeline, services, temporary)
            _quota_warning(services, pipeline)
            outcome = _write(services, pipeline, [staged], temporary)[0]
    except Exception as err:  # bad data, or a bug or vendor error: kept, retried if it may pass
        return _fail(ref, pipeline, claim, _as_ingest_error(err, ref), services)
    return _complete(claim, outcome, services)


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


def _quota_warning(services: Services, pipeline: Pipeline) -> str | None:
    """A warning, also logged, once the table has had 80% of its daily load jobs; else None."""
    used = services.table_operations_today(pipeline)
    if used < QUOTA_WARNING_SHARE * warehouse.TABLE_OPERATIONS_PER_DAY:
        return None
    warning = (
        f"{pipeline.table_id} has had {used} of its {warehouse.TABLE_OPERATIONS_PER_DAY} load jobs today"
    )
    log.warning("%s: batch files together (ingest run) to stay under", warning)
    return warning


@dataclass
class Staged:
    """A claimed file read, coerced and validated into a Parquet file, ready for its load."""

    claim: Claim
    prepared: Prepared
    quarantine_key: str | None

    @property
    def ref(self) -> FileRef:
        return self.claim.ref


def _read(
    claim: Claim,
    source: FileRef,
    pipeline: Pipeline,
    services: Services,
    temporary: contextlib.ExitStack,
    suite: Suite | None,
) -> Prepared:
    """Stream the file through coercion (and ``suite``, if given) into a Parquet load file.

    Memory holds one chunk of records at a time. Raises what fails the whole file to read.
    """
    ref = claim.ref
    lineage = {"_source_uri": ref.uri, "_source_etag": ref.etag, "_ingested_at": _now()}
    body = lake.open_object(services.s3, source)
    try:
        return prepare_file(
            body,
            pipeline,
            lambda detected: services.coercer(pipeline, empty_is_null=detected.format == "csv"),
            suite,
            lineage,
            temporary,
        )
    finally:
        body.close()


def _accept(claim: Claim, prepared: Prepared, pipeline: Pipeline, services: Services) -> Staged:
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
        quarantine_key = lake.write_quarantine(
            services.s3, ref, services.settings.error_bucket, prepared.rejected, summary
        )
    return Staged(claim, prepared, quarantine_key)


def _stage(
    claim: Claim, source: FileRef, pipeline: Pipeline, services: Services, temporary: contextlib.ExitStack
) -> Staged:
    """Read, coerce and validate one file on its own, ready for its load."""
    prepared = _read(claim, source, pipeline, services, temporary, services.suite(pipeline))
    if prepared.validation is not None:
        services.record_validations(pipeline, [(claim.ref, prepared.validation)])
    return _accept(claim, prepared, pipeline, services)


def _write(
    services: Services, pipeline: Pipeline, members: list[Staged], temporary: contextlib.ExitStack
) -> list[LoadOutcome]:
    """Load the staged files' rows with one load job; each file's outcome, in order.

    The ledger keeps a record of the job with its member files, which is also how the day's
    load jobs per table are counted.
    """
    services.ensure_table(pipeline)
    parquet = members[0].prepared.parquet if len(members) == 1 else _combine(members, temporary)
    identities = [m.ref.identity for m in members]
    load_identity = warehouse.batch_identity(identities)
    expected = sum(m.prepared.tally.rows_loaded for m in members)
    try:
        result = warehouse.write_rows(
            services.bigquery, pipeline, parquet, load_identity, services.settings.staging_dataset
        )
    except IngestError as err:
        job_id = warehouse.load_job_id(load_identity, pipeline.table_id)
        services.ledger.record_load(pipeline.table_id, job_id, identities, 0, succeeded=False, error=str(err))
        raise
    services.ledger.record_load(pipeline.table_id, result.job_id, identities, result.output_rows, True)
    if result.output_rows != expected:
        raise LoadFailed(f"load job {result.job_id} wrote {result.output_rows} rows, expected {expected}")
    outcomes = []
    for member in members:
        tally, detected = member.prepared.tally, member.prepared.detected
        validation = member.prepared.validation
        outcomes.append(
            LoadOutcome(
                pipeline=pipeline.name,
                table=pipeline.table_id,
                rows_in=tally.rows_in,
                rows_loaded=tally.rows_loaded,
                rows_quarantined=tally.rows_quarantined,
                load_job_id=result.job_id,
                file_format=detected.format + (f"+{detected.compression}" if detected.compression else ""),
                quarantine_key=member.quarantine_key,
                extra_fields=tuple(sorted(tally.extra_fields)),
                validation=validation.summary() if validation else None,
                load_files=len(members),
                rows_inserted=result.inserted,
                rows_updated=result.updated,
            )
        )
    return outcomes


def _combine(members: list[Staged], temporary: contextlib.ExitStack) -> IO[bytes]:
    """One Parquet file holding the rows of every member, for a single load job.

    Small files' rows are gathered into row groups of about ``CHUNK_ROWS`` rather than one
    tiny row group per file.
    """
    combined = temporary.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    pending_rows = 0
    for member in members:
        for batch in member.prepared.batches(CHUNK_ROWS):
            table = pa.Table.from_batches([batch])
            if writer is None:
                writer = pq.ParquetWriter(combined, table.schema, compression="zstd")
            elif table.schema != writer.schema:
                table = table.cast(writer.schema)
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= CHUNK_ROWS:
                writer.write_table(pa.concat_tables(pending))
                pending, pending_rows = [], 0
    if writer is not None:
        if pending:
            writer.write_table(pa.concat_tables(pending))
        writer.close()
    return combined


def _complete(claim: Claim, outcome: LoadOutcome, services: Services) -> FileResult:
    return _loaded_result(claim, outcome, services.ledger.complete(claim, outcome))


def _loaded_result(claim: Claim, outcome: LoadOutcome, recorded: bool) -> FileResult:
    ref = claim.ref
    if not recorded:
        log.warning("claim on %s was taken over before completion; its load job is shared", ref.uri)
    log.info(
        "loaded %s into %s: %d rows, %d quarantined",
        ref.uri,
        outcome.table,
        outcome.rows_loaded,
        outcome.rows_quarantined,
    )
    return FileResult(
        ref,
        Status.LOADED,
        pipeline=outcome.pipeline,
        rows_in=outcome.rows_in,
        rows_loaded=outcome.rows_loaded,
        rows_quarantined=outcome.rows_quarantined,
        load_job_id=outcome.load_job_id,
        load_files=outcome.load_files,
        started_at=claim.started_at,
        finished_at=now_iso(),
    )


# Batch mode: files per load job unless the table is past its quota warning share, and a cap on
# the bytes one load reads (its Parquet sits in temporary files until the job has it). Now that
# the next group is read during a load, the last load is the only one not overlapped: at 256 MB
# of source, 1M PayPal rows took six load jobs and 72-75 s end to end on the local stack,
# against three and 74-78 s at 512 MB; 128 MB (twelve jobs) was no faster.
FILES_PER_LOAD = 250
HARDER_BATCHING = 10
MAX_LOAD_BYTES = 256 << 20
# Files read at once: many while they are small (the wait is the GET); one at a time when large,
# since parsing holds the GIL: a second reader made 10k-record PayPal files 16% slower and held
# another chunk of records (about 100 MB) in memory.
READERS_SMALL_FILES = 8
READERS_LARGE_FILES = 1
SMALL_FILE_BYTES = 4 << 20


@dataclass
class Ingested:
    """What ``ingest_files`` did: each delivery's result, the load jobs it ran, quota warnings."""

    results: list[FileResult] = field(default_factory=list)
    loads: list[LoadRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


def ingest_files(
    refs: list[FileRef],
    services: Services,
    *,
    max_files_per_load: int = FILES_PER_LOAD,
    on_file: Callable[[FileResult], None] | None = None,
) -> Ingested:
    """Ingest many objects exactly once, files of one pipeline sharing load jobs.

    Files of one merge or append pipeline share load jobs of up to ``max_files_per_load`` files
    (ten times more once the table has spent 80% of its daily load jobs); each replace-pipeline
    file is its own load, in the order given, so the last version ends up in the table. Each file
    still goes through the ledger's claim: a file named twice is loaded once. ``on_file`` hears
    each file's result as it is known. Never raises for bad data.
    """
    done = Ingested()
    clock = StageClock()
    done.stage_seconds = clock.seconds

    def report(result: FileResult) -> None:
        done.results.append(result)
        if on_file is not None:
            on_file(result)

    by_pipeline: dict[str, list[FileRef]] = {}
    for ref in refs:
        try:
            chosen = route(ref.key, services.pipelines) if not ref.key.endswith("/") else None
        except UnknownPipeline:
            chosen = None
        if chosen is None:
            report(ingest_file(ref, services))  # folder markers and unroutable keys: recorded one by one
        else:
            by_pipeline.setdefault(chosen.name, []).append(ref)

    for target in services.pipelines:
        refs_of_pipeline = by_pipeline.get(target.name, [])
        if not refs_of_pipeline:
            continue
        if target.write_mode == "replace":
            for ref in refs_of_pipeline:
                result = ingest_file(ref, services)
                if result.load_job_id:
                    done.loads.append(
                        LoadRecord(target.name, target.table_id, result.load_job_id, 1, result.rows_loaded)
                    )
                report(result)
            continue
        per_load = max_files_per_load
        if (warning := _quota_warning(services, target)) is not None:
            per_load *= HARDER_BATCHING
            done.warnings.append(f"{warning}: up to {per_load} files per load job in this run")
        _load_groups(
            _groups(refs_of_pipeline, per_load, MAX_LOAD_BYTES), target, services, done.loads, report, clock
        )
    return done


def _groups(refs: list[FileRef], files: int, max_bytes: int) -> list[list[FileRef]]:
    """Consecutive groups of at most ``files`` files and (beyond their first file) ``max_bytes``."""
    groups: list[list[FileRef]] = []
    current: list[FileRef] = []
    size = 0
    for ref in refs:
        ref_size = max(ref.size or 0, 0)
        if current and (len(current) >= files or size + ref_size > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(ref)
        size += ref_size
    if current:
        groups.append(current)
    return groups


@dataclass
class _StagedGroup:
    """A load group read and validated, waiting for its load job."""

    staged: list[Staged]
    ended: list[FileResult]
    """Files that ended before the load: duplicates, and failures to read or validate."""
    temporary: contextlib.ExitStack
    """Holds the group's temporary files until its load is done."""


def _stage_group(
    refs: list[FileRef], pipeline: Pipeline, services: Services, clock: StageClock
) -> _StagedGroup:
    """Claim, read and validate a group of files of one pipeline, ready for one load job.

    Claims go to the ledger many to a request, and the suite runs over many files at once (each
    judged alone). A file that fails to stage fails alone.
    """
    group = _StagedGroup([], [], contextlib.ExitStack())
    try:
        _stage_into(group, refs, pipeline, services, clock)
    except BaseException:
        group.temporary.close()
        raise
    return group


def _stage_into(
    group: _StagedGroup, refs: list[FileRef], pipeline: Pipeline, services: Services, clock: StageClock
) -> None:
    with clock("ledger"):
        claims = _claim_group(refs, pipeline, services, group.ended.append)
    if not claims:
        return
    mean_size = sum(max(c.ref.size or 0, 0) for c in claims) / len(claims)
    readers = READERS_SMALL_FILES if mean_size <= SMALL_FILE_BYTES else READERS_LARGE_FILES
    temporary = group.temporary

    with ThreadPoolExecutor(readers, thread_name_prefix="stage") as pool:

        def read(claim: Claim) -> tuple[Claim, Prepared] | FileResult:
            try:
                with clock("read"):
                    return claim, _read(claim, claim.ref, pipeline, services, temporary, suite=None)
            except Exception as err:  # recorded in the ledger with its type
                return _fail(claim.ref, pipeline, claim, _as_ingest_error(err, claim.ref), services)

        read_files: list[tuple[Claim, Prepared]] = []
        for outcome in pool.map(read, claims):
            if isinstance(outcome, FileResult):
                group.ended.append(outcome)
            else:
                read_files.append(outcome)
        if not read_files:
            return
        try:
            with clock("validate"):
                suite = services.suite(pipeline)
                if suite is not None:
                    validate_files([prepared for _, prepared in read_files], suite, temporary)
                    memory.hand_back()  # GX's frames of the group
                    services.record_validations(
                        pipeline, [(c.ref, p.validation) for c, p in read_files if p.validation is not None]
                    )
        except Exception as err:  # e.g. the results table unreachable: each file fails with the reason
            error = _as_ingest_error(err, read_files[0][0].ref)
            group.ended.extend(_fail(claim.ref, pipeline, claim, error, services) for claim, _ in read_files)
            return

        def accept(member: tuple[Claim, Prepared]) -> Staged | FileResult:
            claim, prepared = member
            try:
                with clock("validate"):
                    return _accept(claim, prepared, pipeline, services)
            except Exception as err:  # recorded in the ledger with its type
                return _fail(claim.ref, pipeline, claim, _as_ingest_error(err, claim.ref), services)

        for outcome in pool.map(accept, read_files):
            if isinstance(outcome, FileResult):
                group.ended.append(outcome)
            else:
                group.staged.append(outcome)


def _load_groups(
    groups: list[list[FileRef]],
    pipeline: Pipeline,
    services: Services,
    loads: list[LoadRecord],
    report: Callable[[FileResult], None],
    clock: StageClock,
) -> None:
    """Stage and load each group with one load job, the next group staged during this one's load.

    The load job and the MERGE wait on BigQuery, the ledger writes on DynamoDB: meanwhile the
    next group is read and validated. At most two groups are in flight: small files' rows in
    memory, large files' spilled to disk. Large files used to load group after group; reading
    during the load took 1M PayPal rows in 100 files from 88-95 s to 72-75 s on the local
    stack, and the peak RSS of those runs from 560-621 MB to 619-698 MB (the load's upload
    buffer beside the file being read).
    """
    with ThreadPoolExecutor(1, thread_name_prefix="next-group") as ahead:
        upcoming = ahead.submit(_stage_group, groups[0], pipeline, services, clock) if groups else None
        for index in range(len(groups)):
            assert upcoming is not None
            current = upcoming.result()
            if index + 1 < len(groups):
                upcoming = ahead.submit(_stage_group, groups[index + 1], pipeline, services, clock)
            _load_group(current, pipeline, services, loads, report, clock)


def _load_group(
    group: _StagedGroup,
    pipeline: Pipeline,
    services: Services,
    loads: list[LoadRecord],
    report: Callable[[FileResult], None],
    clock: StageClock,
) -> None:
    """Report the files that ended early, load the rest with one job, and free the temporaries."""
    with group.temporary:
        for result in group.ended:
            report(result)
        if group.staged:
            _load_staged(group.staged, pipeline, services, group.temporary, loads, report, clock)
    memory.hand_back()


def _claim_group(
    refs: list[FileRef], pipeline: Pipeline, services: Services, report: Callable[[FileResult], None]
) -> list[Claim]:
    """Claims on the files (and their bytes) this run may load; the others reported skipped.

    New files are claimed many to a transaction; any other goes through the one-by-one claim,
    which knows redeliveries, retries, expired leases and files with the same bytes.
    """
    claims, one_by_one = services.ledger.claim_new(refs, pipeline.name, pipeline.table_id)
    for ref in one_by_one:
        claim = services.ledger.claim(ref, pipeline.name, pipeline.table_id)
        if isinstance(claim, Duplicate):
            report(FileResult(ref, Status.SKIPPED_DUPLICATE, pipeline=pipeline.name, message=claim.reason))
            continue
        try:
            skipped = _skip_if_same_bytes(claim, pipeline, services)
        except Exception as err:  # as in ingest_file: the claimed file fails, with its reason
            skipped = _fail(ref, pipeline, claim, _as_ingest_error(err, ref), services)
        if skipped is not None:
            report(skipped)
            continue
        claims.append(claim)
    return claims


def _load_staged(
    staged: list[Staged],
    pipeline: Pipeline,
    services: Services,
    temporary: contextlib.ExitStack,
    loads: list[LoadRecord],
    report: Callable[[FileResult], None],
    clock: StageClock,
) -> None:
    try:
        with clock("load"):
            outcomes = _write(services, pipeline, staged, temporary)
    except Exception as err:  # recorded in the ledger with its type
        error = _as_ingest_error(err, staged[0].ref)
        if len(staged) > 1 and not error.retryable:
            log.warning("load of %d files failed (%s); loading them one by one", len(staged), error)
            for member in staged:
                _load_staged([member], pipeline, services, temporary, loads, report, clock)
            return
        with clock("ledger"):
            for member in staged:
                report(_fail(member.ref, pipeline, member.claim, error, services))
        return
    first = outcomes[0]
    assert first.load_job_id is not None
    loads.append(
        LoadRecord(
            pipeline.name,
            pipeline.table_id,
            first.load_job_id,
            len(staged),
            sum(o.rows_loaded for o in outcomes),
            first.rows_inserted,
            first.rows_updated,
        )
    )
    with clock("ledger"):
        recorded = services.ledger.complete_many(
            [(m.claim, o) for m, o in zip(staged, outcomes, strict=True)]
        )
    for member, outcome, ok in zip(staged, outcomes, recorded, strict=True):
        report(_loaded_result(member.claim, outcome, ok))


def _as_ingest_error(err: Exception, ref: FileRef) -> IngestError:
    if isinstance(err, IngestError):
        return err
    log.exception("unexpected error ingesting %s", ref.uri)
    return InternalError(f"{type(err).__name__}: {err}")


def _fail(
    ref: FileRef, pipeline: Pipeline | None, claim: Claim, err: IngestError, services: Services
) -> FileResult:
    pipeline_name = pipeline.name if pipeline else None
    retries_left = err.retryable and claim.attempt < services.settings.max_attempts
    retryable = err.retryable
    error_key = None
    # A retryable failure is not the file's fault; its bytes are kept once retries run out.
    if not retries_left:
        sidecar = {
            "ledger_key": ref.identity,
            "source": ref.uri,
            "etag": ref.etag,
            "pipeline": pipeline_name,
            "error_type": err.error_type,
            "message": str(err),
            "attempt": claim.attempt,
            "failed_at": now_iso(),
        }
        try:
            error_key = lake.keep_failed_file(services.s3, ref, services.settings.error_bucket, sidecar)
        except Exception:
            log.exception("could not copy %s to the error bucket; leaving it retryable", ref.uri)
            retries_left = retryable = True
    services.ledger.fail(claim, err.error_type, str(err), retryable=retryable, error_key=error_key)
    log.warning("failed %s: %s: %s", ref.uri, err.error_type, err)
    return FileResult(
        ref,
        Status.FAILED,
        pipeline=pipeline_name,
        error_type=err.error_type,
        message=str(err),
        retryable=retries_left,
        started_at=claim.started_at,
        finished_at=now_iso(),
    )


def _now() -> Any:
    from datetime import UTC

    return datetime.now(UTC)
