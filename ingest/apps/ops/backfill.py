"""``ingest backfill``: files already in the lake, handed to the Lambda fleet as the events it takes.

A backfill bigger than one machine should not be loaded by one machine. This lists the files (an
S3 listing, or an S3 Inventory report for buckets too large to list), drops those the ledger
already has, and sends one S3-event-shaped SQS message per file to the ingest queue, ten to a
``SendMessageBatch``. The function then loads them as it loads new files: the same claim in the
ledger, the same error bucket, a batch's files of one table sharing one load job, at the pace its
reserved concurrency allows. Nothing here loads anything.

A rerun is safe: a file loaded meanwhile is skipped, and one enqueued twice (by two runs, or by a
run and S3 itself) loads once; its second delivery is recorded as SKIPPED_DUPLICATE.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import batched
from typing import Any

from ingest.adapters.clients import aws_error_code
from ingest.apps.ops import inventory
from ingest.core.errors import IngestError
from ingest.core.model import FileRef
from ingest.core.s3_events import object_created
from ingest.ingestion.ports import Lake, Ledger

MESSAGES_PER_CALL = 10
"""SendMessageBatch takes at most ten entries."""
LEDGER_CHUNK = 1_000
"""Files looked up in the ledger at a time (ten BatchGetItem calls), so a manifest of millions is
streamed through in constant memory."""
SEND_ATTEMPTS = 5
"""Tries of an entry SQS refused for a reason of its own (botocore already retries whole calls)."""
SENDER = "ingest-backfill"
"""The event's principal and configuration id: a backfill's messages can be told from S3's in the
queue and in the dead-letter queue."""
_NO_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_NO_TABLE = {"ResourceNotFoundException"}


class BackfillError(Exception):
    """The backfill cannot start or go on (no such queue, bucket or table, a bad manifest): one line."""


@dataclass
class Backfill:
    """What one backfill found and sent."""

    source: str
    queue_url: str
    dry_run: bool
    listed: int = 0
    """Current object versions listed (an inventory's delete markers and old versions not included)."""
    noncurrent: int = 0
    """Inventory rows left out: delete markers and versions that are not the current one."""
    already_in_ledger: int = 0
    """Skipped: the ledger has them and no claim could take them now (loaded, failed for good,
    being loaded); ``ingest replay`` is for failed ones."""
    to_enqueue: int = 0
    enqueued: int = 0
    send_calls: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    """Files SQS would not take after every attempt: ``{uri, reason}``."""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one_line(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    message = response.get("Error", {}).get("Message") or str(err)
    return " ".join(str(message).split())


@contextlib.contextmanager
def _aws_errors(failed: str, missing_codes: set[str], missing: str) -> Iterator[None]:
    """botocore's errors as one-line BackfillErrors: ``missing`` for the codes that mean the
    resource does not exist, else ``failed`` with the code and AWS's message."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as err:
        if aws_error_code(err) in missing_codes:
            raise BackfillError(missing) from None
        raise BackfillError(f"{failed}: {aws_error_code(err)}: {_one_line(err)}") from None
    except BotoCoreError as err:
        raise BackfillError(f"{failed}: {_one_line(err)}") from None


def resolve_queue(sqs: Any, queue: str) -> tuple[str, str]:
    """The queue's URL and region, from its name or URL; BackfillError when there is no such queue."""
    with _aws_errors(f"queue {queue}", _NO_QUEUE, f"no such queue: {queue}"):
        url = (
            queue
            if queue.startswith(("https://", "http://"))
            else sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        )
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, str(arn).split(":")[3]


def message_body(ref: FileRef, *, region: str, serial: int) -> str:
    """One file's ObjectCreated notification, as the body S3 would have put on the queue.

    ``eventTime`` is when the object landed (its LastModified), so the function's FileAgeSeconds
    tells how long the file waited, backfill included.
    """
    landed = datetime.fromisoformat(ref.event_time) if ref.event_time else datetime.now(UTC)
    event = object_created(
        ref.bucket,
        ref.key,
        ref.etag,
        ref.size,
        region=region,
        event_time=landed,
        serial=serial,
        principal_id=SENDER,
        configuration_id=SENDER,
    )
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def send_batch(
    sqs: Any,
    queue_url: str,
    bodies: list[tuple[FileRef, str]],
    *,
    attempts: int = SEND_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, list[dict[str, str]], int]:
    """Send up to ten messages; retry the entries SQS refused on its side, not the sender faults.

    Returns (sent, failed ``{uri, reason}``, calls made). A whole call refused after botocore's
    own retries (no such queue, access denied) is a BackfillError: every later call would be too.
    """
    if len(bodies) > MESSAGES_PER_CALL:
        raise ValueError(f"at most {MESSAGES_PER_CALL} messages per call, got {len(bodies)}")
    pending = {str(index): entry for index, entry in enumerate(bodies)}
    reasons: dict[str, str] = {}
    failed: list[dict[str, str]] = []
    calls = 0
    for attempt in range(attempts):
        if attempt:
            sleep(min(0.2 * 2**attempt, 5.0))
        calls += 1
        with _aws_errors(f"sending to {queue_url} failed", _NO_QUEUE, f"no such queue: {queue_url}"):
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, (_, body) in pending.items()],
            )
        retry: dict[str, tuple[FileRef, str]] = {}
        for refused in response.get("Failed", []):
            entry_id = refused["Id"]
            reason = f"{refused.get('Code', '')}: {refused.get('Message', '')}".strip(": ")
            if refused.get("SenderFault"):
                failed.append({"uri": pending[entry_id][0].uri, "reason": reason})
            else:
                retry[entry_id] = pending[entry_id]
                reasons[entry_id] = reason
        pending = retry
        if not pending:
            break
    failed += [
        {"uri": ref.uri, "reason": f"{reasons[entry_id]} (after {attempts} attempts)"}
        for entry_id, (ref, _) in pending.items()
    ]
    return len(bodies) - len(failed), failed, calls


def _within(
    refs: Iterable[FileRef], prefix: str, since: datetime | None, until: datetime | None
) -> Iterator[FileRef]:
    """An inventory's rows under ``prefix`` last modified in [since, until), as a listing gives them."""
    for ref in refs:
        if not ref.key.startswith(prefix):
            continue
        if since or until:
            if ref.event_time is None:
                raise BackfillError("--since/--until need LastModifiedDate in the inventory's fields")
            modified = datetime.fromisoformat(ref.event_time)
            if (since and modified < since) or (until and modified >= until):
                continue
        yield ref


def _source_refs(
    lake: Lake,
    s3: Any,
    *,
    bucket: str | None,
    prefix: str,
    since: datetime | None,
    until: datetime | None,
    manifest_uri: str | None,
    counts: inventory.Counts,
    on_total: Callable[[int | None], None],
) -> Iterator[FileRef]:
    if manifest_uri is None:
        if not bucket:
            raise BackfillError("a bucket is needed: --bucket, or INGEST_LAKE_BUCKET")
        try:
            listed = lake.list_objects(bucket, prefix, since, until)
        except IngestError as err:  # ObjectGone: no such bucket; TransientError: listing failed
            raise BackfillError(str(err)) from None
        on_total(len(listed))
        yield from listed
        return
    try:
        manifest = inventory.read_manifest(s3, manifest_uri)
        if bucket and bucket != manifest.source_bucket:
            raise BackfillError(f"{manifest_uri} lists bucket {manifest.source_bucket}, not {bucket}")
        on_total(None)
        yield from _within(inventory.inventory_refs(s3, manifest, counts), prefix, since, until)
    except inventory.ManifestError as err:
        raise BackfillError(str(err)) from None


def _to_claim(ledger: Ledger, refs: list[FileRef]) -> list[FileRef]:
    with _aws_errors(
        "reading the ledger failed", _NO_TABLE, f"no such ledger table: {getattr(ledger, 'table', '')}"
    ):
        return ledger.to_claim(refs)


def run_backfill(
    *,
    lake: Lake,
    ledger: Ledger,
    sqs: Any,
    s3: Any,
    queue: str,
    bucket: str | None = None,
    prefix: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    manifest_uri: str | None = None,
    dry_run: bool = False,
    on_total: Callable[[int | None], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda files: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Backfill:
    """List (or read the inventory), skip what the ledger has, enqueue the rest; what was done.

    The queue is checked first, so a wrong name fails before any listing. ``on_total`` gets the
    number of files listed (None for an inventory, read as a stream); ``on_progress`` the files
    handled since its last call, skipped or sent.
    """
    started = time.monotonic()
    queue_url, region = resolve_queue(sqs, queue)
    source = manifest_uri or f"s3://{bucket}/{prefix}"
    result = Backfill(source=source, queue_url=queue_url, dry_run=dry_run)
    counts = inventory.Counts()
    refs = _source_refs(
        lake,
        s3,
        bucket=bucket,
        prefix=prefix,
        since=since,
        until=until,
        manifest_uri=manifest_uri,
        counts=counts,
        on_total=on_total,
    )
    serial = 0
    try:
        for chunk in batched(refs, LEDGER_CHUNK, strict=False):
            result.listed += len(chunk)
            new = _to_claim(ledger, list(chunk))
            result.already_in_ledger += len(chunk) - len(new)
            result.to_enqueue += len(new)
            on_progress(len(chunk) - len(new))
            if dry_run:
                on_progress(len(new))
                continue
            for batch in batched(new, MESSAGES_PER_CALL, strict=False):
                bodies = []
                for ref in batch:
                    bodies.append((ref, message_body(ref, region=region, serial=serial)))
                    serial += 1
                sent, failed, calls = send_batch(sqs, queue_url, bodies, sleep=sleep)
                result.enqueued += sent
                result.failed += failed
                result.send_calls += calls
                on_progress(len(batch))
    except BackfillError as err:
        if result.enqueued:
            raise BackfillError(f"{err} ({result.enqueued} files were enqueued before it)") from None
        raise
    result.noncurrent = counts.noncurrent
    result.seconds = round(time.monotonic() - started, 3)
    return result
