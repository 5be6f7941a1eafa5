"""Idempotent load jobs: the job id is derived from what is loaded, so a retry meets its job.

A retry after a crash between "load done" and "ledger updated" submits the same id, BigQuery
answers that the job already exists, and we take that job's result instead of loading the rows a
second time. Only if that earlier job *failed* do we move on to the next generation of the id.
"""

from __future__ import annotations

import hashlib
from typing import IO, TYPE_CHECKING, Any

from ingest.adapters.bigquery.errors import classify, job_failure
from ingest.adapters.bigquery.tables import schema_fields
from ingest.core.config import Pipeline
from ingest.core.errors import IngestError, LoadFailed
from ingest.ingestion.ports import LoadResult

if TYPE_CHECKING:
    from google.cloud import bigquery

MAX_JOB_GENERATIONS = 5
# BigQuery's fixed limit of modifications (load, copy and query jobs writing to it) per table
# per day; failed jobs count too. It cannot be raised, so batch mode spends it sparingly.
TABLE_OPERATIONS_PER_DAY = 1_500


def load_job_id(load_identity: str, table_id: str, generation: int = 0) -> str:
    """The job id of one load: a file's identity, or a batch's (see ``batch_identity``)."""
    digest = hashlib.sha256(f"{load_identity}|{table_id}".encode()).hexdigest()[:48]
    return f"ingest_{digest}" + (f"_g{generation}" if generation else "")


def batch_identity(file_identities: list[str]) -> str:
    """One identity for the files of a combined load, whatever order they were listed in."""
    if len(file_identities) == 1:
        return file_identities[0]
    joined = "\n".join(sorted(file_identities))
    return f"batch:{len(file_identities)}:{hashlib.sha256(joined.encode()).hexdigest()}"


def run_load_job(
    client: bigquery.Client,
    pipeline: Pipeline,
    parquet: IO[bytes],
    load_identity: str,
    destination_table: str,
    *,
    truncate: bool,
    fresh: bool = False,
) -> LoadResult:
    """Run the load job of ``load_identity`` into ``destination_table``, or find it done.

    The job id is derived from the load identity and the pipeline's table, so a retry meets its
    earlier job. ``fresh`` skips earlier generations that succeeded and loads again.
    """
    from google.cloud import bigquery

    parquet_options = bigquery.ParquetOptions()  # type: ignore[no-untyped-call]
    # Read Parquet lists as REPEATED fields rather than as records wrapping a "list" field.
    parquet_options.enable_list_inference = True
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        parquet_options=parquet_options,
        schema=schema_fields(pipeline),
        write_disposition=(
            bigquery.WriteDisposition.WRITE_TRUNCATE if truncate else bigquery.WriteDisposition.WRITE_APPEND
        ),
    )
    destination = f"{client.project}.{destination_table}"
    last_failure: IngestError | None = None
    for generation in range(MAX_JOB_GENERATIONS):
        job_id = load_job_id(load_identity, pipeline.table_id, generation)
        job, reused = submit_or_find(
            client,
            parquet,
            destination,
            job_id,
            config,
            submitting=f"submitting load job {job_id}",
            waiting=f"waiting for load job {job_id}",
        )
        if job.error_result is None and not (reused and fresh):
            return LoadResult(job_id=job_id, output_rows=int(job.output_rows or 0), reused=reused)
        if job.error_result is not None:
            last_failure = job_failure(job)
            if not reused:
                raise last_failure
        # That id is spent (its job failed, or ``fresh`` wants a new load): next generation.
    raise last_failure or LoadFailed(f"no load job generation left for {load_identity}")


def submit_or_find(
    client: bigquery.Client,
    body: IO[bytes],
    destination: str,
    job_id: str,
    config: bigquery.LoadJobConfig,
    *,
    submitting: str,
    waiting: str,
) -> tuple[Any, bool]:
    """The load job ``job_id`` of ``body``, run to its end: submitted now, or found submitted by an
    earlier attempt (then True beside it). A job that ran and failed comes back with its
    ``error_result``; an error submitting or waiting is raised classified, worded by ``submitting``
    or ``waiting``."""
    from google.api_core import exceptions

    # With its size known, a file under 5 MiB goes up in one multipart request; without, the
    # client opens a resumable upload first (one request more per load).
    size = body.seek(0, 2)
    body.seek(0)
    job: Any
    try:
        job = client.load_table_from_file(body, destination, job_id=job_id, job_config=config, size=size)
        reused = False
    except exceptions.Conflict:
        job = client.get_job(job_id)
        reused = True
    except exceptions.GoogleAPICallError as err:
        raise classify(err, submitting) from err
    try:
        job.result()
    except exceptions.GoogleAPICallError as err:
        if job.error_result is None:
            raise classify(err, waiting) from err
    return job, reused
