"""Ingest lake objects exactly once: route, claim, read, coerce, quarantine, load, record.

The one orchestrator: the Lambda handler, the local queue worker, the CLI and batch runs all
come here, and a single file is a batch of one. Files are routed to their pipeline; a pipeline's
files are loaded in groups, one load job each (``staging`` claims, reads and validates a group,
``loading`` loads it and records the outcomes, ``failure`` records what failed). Everything
vendor-specific sits behind the ports of ``Services``: lake, ledger, warehouse, validations.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO

from ingest.core.config import Pipeline, route
from ingest.core.errors import UnknownPipeline
from ingest.core.model import Duplicate, FileRef, FileResult, LoadRecord, Orphaned, Status, now_iso
from ingest.ingestion import memory
from ingest.ingestion.clock import StageClock
from ingest.ingestion.failure import as_ingest_error, fail
from ingest.ingestion.loading import fail_each, load_file_of, load_staged
from ingest.ingestion.services import Services
from ingest.ingestion.staging import StagedGroup, stage_group

log = logging.getLogger(__name__)

# Past this share of a table's daily load jobs, event mode warns and batch mode batches harder.
QUOTA_WARNING_SHARE = 0.8
# Batch mode: files per load job unless the table is past its quota warning share, and a cap on
# the bytes one load reads (its Parquet sits in temporary files until the job has it). Now that
# the next group is read during a load, the last load is the only one not overlapped: at 256 MB
# of source, 1M PayPal rows took six load jobs and 72-75 s end to end on the local stack,
# against three and 74-78 s at 512 MB; 128 MB (twelve jobs) was no faster.
FILES_PER_LOAD = 250
HARDER_BATCHING = 10
MAX_LOAD_BYTES = 256 << 20
# The first and last groups' share of MAX_LOAD_BYTES (see _groups).
EDGE_SHARE = 4


@dataclass
class Ingested:
    """What ``ingest_files`` did: each delivery's result, the load jobs it ran, quota warnings."""

    results: list[FileResult] = field(default_factory=list)
    loads: list[LoadRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


def ingest_file(
    ref: FileRef, services: Services, *, replay: bool = False, read_from: FileRef | None = None
) -> FileResult:
    """Ingest one object version exactly once (a batch of one); never raises for bad data.

    ``replay`` re-ingests a file the ledger has as FAILED (``ingest replay``); ``read_from``
    reads its bytes from elsewhere, such as the error bucket's copy, when the lake's are gone.
    """
    sources = {ref: read_from} if read_from is not None else {}
    (result,) = ingest_files([ref], services, replay=replay, read_from=sources).results
    return result


def ingest_files(
    refs: list[FileRef],
    services: Services,
    *,
    max_files_per_load: int = FILES_PER_LOAD,
    on_file: Callable[[FileResult], None] | None = None,
    replay: bool = False,
    read_from: Mapping[FileRef, FileRef] | None = None,
) -> Ingested:
    """Ingest many objects exactly once, files of one pipeline sharing load jobs.

    Files of one merge or append pipeline share load jobs of up to ``max_files_per_load`` files
    (ten times more once the table has spent 80% of its daily load jobs); each replace-pipeline
    file is its own load, in the order given, so the last version ends up in the table. Each file
    still goes through the ledger's claim: a file named twice is loaded once. ``on_file`` hears
    each file's result as it is known; ``replay`` and ``read_from`` are ``ingest_file``'s. Never
    raises for bad data.
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
        if _is_folder_marker(ref):
            report(_ignore_folder_marker(ref, services))
            continue
        try:
            chosen = route(ref.key, services.pipelines)
        except UnknownPipeline as err:
            report(_fail_unroutable(ref, err, services, replay))
            continue
        by_pipeline.setdefault(chosen.name, []).append(ref)

    # The suite's results, and each group's load file, are written by threads of their own while
    # the next group is read: on the local stack, 250 files' results took 0.6-0.9 s of a group's
    # 2.5-3 s of reading. A single file (a warm Lambda's) has nothing to overlap them with, and
    # writes them itself.
    many = len(refs) > 1
    with (
        ThreadPoolExecutor(1, thread_name_prefix="results") if many else contextlib.nullcontext() as recorder,
        ThreadPoolExecutor(1, thread_name_prefix="load-file") if many else contextlib.nullcontext() as writer,
    ):
        for target in services.pipelines:
            refs_of_pipeline = by_pipeline.get(target.name, [])
            if not refs_of_pipeline:
                continue
            per_load = 1 if target.write_mode == "replace" else max_files_per_load
            if (warning := _quota_warning(services, target)) is not None and per_load > 1:
                per_load *= HARDER_BATCHING
                done.warnings.append(f"{warning}: up to {per_load} files per load job in this run")
            groups = _groups(refs_of_pipeline, per_load, MAX_LOAD_BYTES)

            def stage(group: list[FileRef], alone: bool = False, pipeline: Pipeline = target) -> StagedGroup:
                staged = stage_group(
                    group,
                    pipeline,
                    services,
                    clock,
                    replay=replay,
                    read_from=read_from,
                    alone=alone,
                    recorder=recorder,
                )
                # Written beside the next group's reading rather than on the load's path, by a
                # thread of its own, so that the next group's reading starts at once: the reading
                # holds the GIL and is what a run of large files waits on, while Arrow writes the
                # file mostly outside it. 1M PayPal rows in 100 files: 35.8-37.5 s against
                # 38.6-45.0 when each group's 0.65-0.7 s file was written before the next read.
                if staged.staged and writer is not None:
                    staged.load_file = writer.submit(_write_load_file, staged, clock)
                return staged

            _load_groups(groups, stage, target, services, done.loads, report, clock)
    return done


def _write_load_file(staged: StagedGroup, clock: StageClock) -> IO[bytes] | None:
    try:
        with clock("load"):
            return load_file_of(staged.staged, staged.temporary)
    except Exception:  # the load writes it again, and fails the files with why
        log.debug("load file not written ahead", exc_info=True)
        return None


def _is_folder_marker(ref: FileRef) -> bool:
    """The console's "create folder": a key ending in '/' with no bytes. A key ending in '/' that
    holds data is data (some producers write such keys), so it is routed like any other."""
    return ref.key.endswith("/") and not ref.size


def _ignore_folder_marker(ref: FileRef, services: Services) -> FileResult:
    services.ledger.record_ignored(ref, "folder marker: a key ending in '/' holds no data")
    return FileResult(ref, Status.IGNORED, message="folder marker")


def _fail_unroutable(ref: FileRef, error: UnknownPipeline, services: Services, replay: bool) -> FileResult:
    """A key no pipeline takes: claimed like any file (so a redelivery is a duplicate) and failed."""
    claim = services.ledger.claim(ref, "", "", replay=replay)
    assert not isinstance(claim, Orphaned), "a claim that takes over is never Orphaned"
    if isinstance(claim, Duplicate):
        log.info("skipped duplicate delivery of %s: %s", ref.uri, claim.reason)
        return FileResult(ref, Status.SKIPPED_DUPLICATE, message=claim.reason)
    return fail(claim, None, error, services)


def _quota_warning(services: Services, pipeline: Pipeline) -> str | None:
    """A warning, also logged, once the table has had 80% of its daily load jobs; else None."""
    used = services.loads_on(pipeline.table_id, now_iso()[:10])
    limit = services.warehouse.table_operations_per_day
    if used < QUOTA_WARNING_SHARE * limit:
        return None
    warning = f"{pipeline.table_id} has had {used} of its {limit} load jobs today"
    log.warning("%s: batch files together (ingest run) to stay under", warning)
    return warning


def _groups(refs: list[FileRef], files: int, max_bytes: int) -> list[list[FileRef]]:
    """Consecutive groups of at most ``files`` files and (beyond their first file) ``max_bytes``.

    The first and the last group hold at most ``max_bytes // EDGE_SHARE``: nothing overlaps
    the reading of the first group or the load of the last (``_load_groups``), so they are kept
    short. Groups of small files, bounded by ``files``, are not affected.
    """
    edge = max_bytes // EDGE_SHARE
    groups: list[list[FileRef]] = []
    current: list[FileRef] = []
    size = 0
    for ref in refs:
        cap = max_bytes if groups else edge
        if current and (len(current) >= files or size + _size(ref) > cap):
            groups.append(current)
            current, size = [], 0
        current.append(ref)
        size += _size(ref)
    if current:
        groups.append(current)
    if len(groups) > 1 and len(groups[-1]) > 1 and sum(map(_size, groups[-1])) > edge:
        last = groups.pop()
        tail, size = 1, _size(last[-1])
        while tail < len(last) - 1 and size + _size(last[-tail - 1]) <= edge:
            size += _size(last[-tail - 1])
            tail += 1
        groups += [last[:-tail], last[-tail:]]
    return groups


def _size(ref: FileRef) -> int:
    return max(ref.size or 0, 0)


def _load_groups(
    groups: list[list[FileRef]],
    stage: Callable[[list[FileRef], bool], StagedGroup],
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
    buffer beside the file being read). Loads stay in the groups' order, so a replace
    pipeline's last file is the one its table keeps.

    Files a dead worker left IN_PROGRESS (orphans) go last, each claimed and loaded alone, the
    least often orphaned first: if one of them kills this worker too, every other file of the
    run is already loaded, and only that file's attempts grow until it ends FAILED as PoisonFile.
    """
    orphans: list[Orphaned] = []
    with ThreadPoolExecutor(1, thread_name_prefix="next-group") as ahead:
        upcoming = ahead.submit(stage, groups[0], False) if groups else None
        for index in range(len(groups)):
            assert upcoming is not None
            current = upcoming.result()
            if index + 1 < len(groups):
                upcoming = ahead.submit(stage, groups[index + 1], False)
            orphans.extend(current.orphans)
            _load_group(current, pipeline, services, loads, report, clock)
    for orphan in sorted(orphans, key=lambda o: o.attempts):
        _load_group(stage([orphan.ref], True), pipeline, services, loads, report, clock)


def _load_group(
    group: StagedGroup,
    pipeline: Pipeline,
    services: Services,
    loads: list[LoadRecord],
    report: Callable[[FileResult], None],
    clock: StageClock,
) -> None:
    """Report the files that ended early, load the rest with one job, and free the temporaries.

    The files are loaded once their suite's results are written; if those could not be
    written, each file fails with the reason, as when the suite itself fails."""
    pipeline = group.pipeline or pipeline  # with the columns drift added while it was read
    with group.temporary:
        # Waited for first: the file is written into the temporaries this block ends with.
        load_file = group.written_load_file()
        for result in group.ended:
            report(result)
        if group.staged and (error := group.recording_error()) is not None:
            failure = as_ingest_error(error, group.staged[0].ref)
            fail_each(group.staged, pipeline, failure, services, report, clock)
        elif group.staged:
            load_staged(group.staged, pipeline, services, group.temporary, loads, report, clock, load_file)
    memory.hand_back()
