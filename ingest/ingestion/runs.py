"""Runs over many files: a batch run over a prefix of the lake, and the replay of failed files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ingest.core.errors import ConfigError
from ingest.core.model import FileRef, FileResult, LoadRecord, Status, now_iso
from ingest.ingestion.flow import FILES_PER_LOAD, ingest_file, ingest_files
from ingest.ingestion.services import Services


@dataclass
class BatchRun:
    """What a batch run found, loaded, skipped and failed: the scheduler's and the notebook's view."""

    run_id: str
    bucket: str
    prefix: str
    since: str | None = None
    until: str | None = None
    pipeline: str | None = None
    started_at: str = field(default_factory=now_iso)
    finished_at: str = ""
    listed: int = 0
    """Objects under the prefix in the time window."""
    already_done: int = 0
    """Of those, files the ledger already has (loaded, skipped, failed for good, or in progress)."""
    results: list[FileResult] = field(default_factory=list)
    loads: list[LoadRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Seconds per stage (read, validate, load, ledger), summed over threads (see StageClock)."""

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == Status.FAILED]

    def by_pipeline(self) -> dict[str, dict[str, int]]:
        """Files, rows and load jobs per pipeline ("" for files no pipeline took)."""
        totals: dict[str, dict[str, int]] = {}
        for result in self.results:
            row = totals.setdefault(
                result.pipeline or "",
                dict.fromkeys(
                    ("files", "loaded", "skipped", "failed", "rows_in", "rows_loaded", "rows_quarantined"), 0
                ),
            )
            row["files"] += 1
            row["loaded"] += result.status == Status.LOADED
            row["skipped"] += result.status in {Status.SKIPPED_DUPLICATE, Status.IGNORED}
            row["failed"] += result.status == Status.FAILED
            row["rows_in"] += result.rows_in
            row["rows_loaded"] += result.rows_loaded
            row["rows_quarantined"] += result.rows_quarantined
        for name, row in totals.items():
            row["load_jobs"] = sum(1 for load in self.loads if load.pipeline == name)
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready account of the run."""
        return {
            "run_id": self.run_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "since": self.since,
            "until": self.until,
            "pipeline": self.pipeline,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "listed": self.listed,
            "already_done": self.already_done,
            "failed": len(self.failed),
            "by_pipeline": self.by_pipeline(),
            "loads": [asdict(load) for load in self.loads],
            "files": [
                {
                    "uri": r.ref.uri,
                    "ledger_key": r.ref.identity,
                    "status": r.status.value,
                    "pipeline": r.pipeline,
                    "rows_in": r.rows_in,
                    "rows_loaded": r.rows_loaded,
                    "rows_quarantined": r.rows_quarantined,
                    "load_job_id": r.load_job_id,
                    "error_type": r.error_type,
                    "message": r.message,
                }
                for r in self.results
            ],
            "warnings": self.warnings,
            "stage_seconds": self.stage_seconds,
        }


def run_batch(
    services: Services,
    bucket: str,
    prefix: str = "",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    pipeline: str | None = None,
    max_files_per_load: int = FILES_PER_LOAD,
    run_id: str | None = None,
    on_listed: Callable[[int], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> BatchRun:
    """Ingest every object under ``prefix`` the ledger does not have yet, many files per load job.

    Objects are taken oldest first and loaded by ``ingest_files``, so the newest version of a
    reference table ends up in it. Every file still goes through the ledger's claim, so a batch
    run and the event-driven Lambda can work on the same bucket. ``on_listed`` hears how many
    files there are to do, ``on_file`` each file's result. Never raises for bad data: failures
    are in the returned run.
    """
    import uuid

    run = BatchRun(
        run_id=run_id or f"{now_iso()[:19].replace(':', '')}-{uuid.uuid4().hex[:6]}",
        bucket=bucket,
        prefix=prefix,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        pipeline=pipeline,
    )

    def report(result: FileResult) -> None:
        run.results.append(result)
        if on_file is not None:
            on_file(result)

    refs = services.lake.list_objects(bucket, prefix, since, until)
    run.listed = len(refs)
    if pipeline is not None:
        chosen = next((p for p in services.pipelines if p.name == pipeline), None)
        if chosen is None:
            raise ConfigError(f"no pipeline named {pipeline!r}")
        refs = [ref for ref in refs if chosen.key_pattern.search(ref.key)]
    pending = services.ledger.to_claim(refs)
    run.already_done = len(refs) - len(pending)
    if on_listed is not None:
        on_listed(len(pending))

    done = ingest_files(pending, services, max_files_per_load=max_files_per_load, on_file=report)
    run.loads, run.warnings, run.stage_seconds = done.loads, done.warnings, done.stage_seconds
    run.finished_at = now_iso()
    return run


def replay_failed(
    services: Services,
    *,
    since: str | None = None,
    error_type: str | None = None,
    key_contains: str | None = None,
    dry_run: bool = False,
) -> list[tuple[FileRef, FileResult | None]]:
    """Ingest FAILED files again, after a fix, through the same exactly-once path.

    Bytes come from the lake when the failed version is still there, else from the error
    bucket's copy. The ledger keeps each failure as a REPLAYED history item. ``dry_run``
    only lists what would be replayed (each result None).
    """
    replayed: list[tuple[FileRef, FileResult | None]] = []
    for entry in services.ledger.entries(status=Status.FAILED, since=since):
        if entry.sk != "FILE" or (error_type and entry.error_type != error_type):
            continue
        if key_contains and key_contains not in (entry.key or ""):
            continue
        ref = entry.file_ref()
        if dry_run:
            replayed.append((ref, None))
            continue
        source = services.lake.replay_source(ref)
        replayed.append((ref, ingest_file(ref, services, replay=True, read_from=source)))
    return replayed
