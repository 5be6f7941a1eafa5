"""Load test on the local stack: many files, duplicate deliveries, concurrent runners, exact accounting.

Run with ``make loadtest`` (``LOADTEST_ARGS="--files 1000"`` for a quick one) or
``.venv/bin/python benchmarks/loadtest.py --help``. Starts the local stack if it is not running
(and stops it again afterwards; a running one is reused and left running), then:

1. Plans and uploads ``--files`` files (default 10,000) with a thread pool, seeded and
   reproducible: PayPal Transaction Search pages (JSON array, NDJSON, concatenated JSON compact
   and pretty, some gzipped, some without an extension, some keys with spaces and non-ASCII
   characters) and the game's payments (Firehose streams of concatenated JSON or NDJSON with no
   extension, CSV exports, some gzipped, and Parquet exports), 5 to 50 rows each. A quarter of the
   good files carry one to three planted bad rows, which must be quarantined. 5% of the files are
   bad as a whole, of several kinds (truncated JSON array, truncated gzip, an empty object, a key
   no pipeline matches, a CSV with the wrong delimiter, binary garbage, every row bad, a broken
   concatenated object), each expected to fail with its own error type.
2. Starts ``--runners`` runner processes (default 4), each playing one Lambda container:
   ``ingest_devstack.worker.drain`` feeding ``ingest.apps.lambda_handler.handle`` batches of up to
   ``--batch-size`` messages gathered for up to ``--batching-window`` seconds.
3. Sends every file's S3 event (the real notification shape, key URL-encoded) one to three times,
   shuffled, to a queue of the run's own, keeping up to ``--backlog`` messages waiting (files
   land as fast as they are taken; ``--backlog 0`` sends everything at once), and measures from
   the first delivery until the queue is drained. A file lands when its first event is sent.
4. Checks the accounting against what it planted, from the ledger, BigQuery and the error
   bucket: every file has exactly one ledger FILE item with the expected outcome; per loadable file
   ``rows_in = rows_loaded + rows_quarantined`` with the planted bad rows quarantined and kept in
   the error bucket; BigQuery holds exactly the file's loaded rows under its ``_source_uri``,
   one per business key (duplicates loaded = 0) and no file went into two load jobs; bad files
   failed with their error type and their bytes kept; every delivery is accounted for (a claim,
   or a SKIPPED_DUPLICATE record), and the queue and its dead-letter queue are empty.

Prints throughput (files/s, rows/s), latency percentiles (landed -> loaded, claim -> loaded), the
load jobs used, where the CPU went (runners, moto, BigQuery emulator; the GX suite and the
BigQuery calls in the runners) and the checks, and writes ``reports/loadtest/result.json``.
Exits 0 if every check passes, 1 if not (a run that outlasts ``--timeout`` fails).

Cost, measured on 2 cores: 10,000 files take about 65 minutes, 1,000 about 5. The machine is
CPU-bound: per file, about 0.22 CPU-s of Great Expectations (one suite run per file, whatever its
size), 0.25 CPU-s in moto and 0.11 in the BigQuery emulator (mostly the per-file streaming insert
of validation results), against about 2 s per load job (338 jobs for 10,000 files).

Isolation: the run uses resources of its own, so runs repeat and never touch the demo's data:
a bucket without notifications, a queue and dead-letter queue, a ledger table, and copies of the
shipped pipelines (same key patterns, transforms, suites and write modes) whose tables, and the
validation results, go to a BigQuery dataset of the run. Keys are ``<pipeline key space>/
loadtest-<run id>/...``. All of it is removed afterwards unless ``--keep``. The run's calls to
moto's SQS are serialised (see ``SerializedSQS``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "reports" / "loadtest"

PAYPAL = "paypal_transactions"
PAYMENTS = "payment_transactions"
# What each kind of bad file must fail with (README, "Error types a user can meet").
BAD_KINDS: dict[str, str] = {
    "truncated_json_array": "MalformedFile",
    "truncated_gzip": "UndecodableFile",
    "empty_object": "NoValidRows",
    "unroutable_key": "UnknownPipeline",
    "wrong_delimiter": "MissingColumn",
    "garbage": "UndecodableFile",
    "all_rows_bad": "NoValidRows",
    "broken_concatenation": "MalformedFile",
}
GOOD = "good"
MAX_ROWS = 50
ID_STRIDE = 64  # business keys: file number * ID_STRIDE + row, unique within a run
PAYMENT_ID_BASE = 7_000_000_000
ITEM_ID_BASE = 50_000_000_000
MONTH_START = datetime(2021, 7, 1, tzinfo=UTC)
# Defects that the paypal_transactions pipeline quarantines (coercion, then critical GX checks).
PAYPAL_ROW_DEFECTS = (
    "transaction_id",
    "transaction_initiation_date",
    "gross_amount",
    "paypal.status_known",
    "paypal.currency_iso",
    "paypal.fee_not_positive_on_completed_payments",
)
# (column, value) the payment_transactions pipeline quarantines; Parquet can carry the typed ones.
PAYMENT_ROW_DEFECTS = (
    ("total_cost", "twelve"),
    ("payment_date", "yesterday"),
    ("transaction_id", None),
    ("item_count", "two"),
    ("transaction_status", "bogus"),
    ("total_cost", "-5.00"),
    ("currency_code", "US$"),
)
PARQUET_ROW_DEFECTS = (("transaction_status", "bogus"), ("total_cost", "-5.00"), ("currency_code", "US$"))
EXPORT_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass
class Config:
    files: int = 10_000
    runners: int = 4
    batch_size: int = 500
    batching_window: float = 10.0
    pollers: int = 1
    """Concurrent handler invocations per runner process (Lambda: one per container)."""
    bad_share: float = 0.05
    bad_row_share: float = 0.25
    """Share of good files that carry one to three planted bad rows."""
    max_deliveries: int = 3
    backlog: int = 1_000
    """Messages kept waiting in the queue while sending; 0 sends every delivery at once."""
    seed: int = 7
    upload_threads: int = 16
    idle_seconds: float = 3.0
    visibility_timeout: int = 900
    retry_delay: int = 5
    """Seconds before a message the handler returned as failed is visible again."""
    timeout: float = 0.0
    """Seconds from the first delivery before the runners are stopped; 0: 600 + 1 per file."""
    sqs_lock: bool = True
    """Serialise the run's SQS calls (see ``SerializedSQS``)."""
    keep: bool = False
    out_dir: Path = REPORT_DIR
    run_id: str = ""


@dataclass
class Planned:
    """One file of the run, as planted: what it holds and what must become of it."""

    number: int
    key: str
    pipeline: str
    """The pipeline its key routes to; "" for a key no pipeline matches."""
    kind: str
    layout: str
    rows: int = 0
    """Records in the file (for a good file, the ``rows_in`` the ledger must report)."""
    bad_rows: int = 0
    """Planted rows that must be quarantined."""
    error_type: str | None = None
    copies: int = 1
    etag: str = ""
    size: int = 0

    @property
    def good(self) -> bool:
        return self.kind == GOOD

    @property
    def rows_loaded(self) -> int:
        return self.rows - self.bad_rows if self.good else 0


# ------------------------------------------------------------------------------------ the files


def _players(seed: int) -> list[Any]:
    from ingest_devstack.generate.reference import players

    return players(seed, 300)


def _paypal_records(rng: random.Random, number: int, count: int, bad: set[int], players: list) -> list[dict]:
    from ingest_devstack.generate import paypal as gp
    from ingest_devstack.generate.defects import deface_paypal
    from ingest_devstack.generate.reference import PRODUCTS

    records = []
    for row in range(count):
        product_id, product_name, price = rng.choice(PRODUCTS)
        unit, quantity = Decimal(price), rng.choice((1, 1, 1, 2, 3))
        serial = number * ID_STRIDE + row
        invoice = f"LT{number:06d}-{row:02d}"
        started = MONTH_START + timedelta(seconds=rng.randrange(30 * 86_400))
        gross = unit * quantity
        record = gp.payment_record(
            rng,
            account="LOADTEST00001",
            txn_id=gp.transaction_id(serial, 1_234_567),
            event_code=rng.choice(gp.PAYMENT_CODES),
            started=started,
            settled=started + timedelta(seconds=rng.randint(1, 3)),
            pending=False,
            player=rng.choice(players),
            item=gp.cart_item(ITEM_ID_BASE + serial, product_name, product_id, quantity, unit, invoice),
            invoice=invoice,
            gross=gross,
        )
        info = record["transaction_info"]
        info["ending_balance"] = gp.money("1000.00")
        info["available_balance"] = gp.money("1000.00")
        if row in bad:
            deface_paypal(record, rng.choice(PAYPAL_ROW_DEFECTS))
        records.append(record)
    return records


def _payment_rows(
    rng: random.Random, number: int, count: int, bad: set[int], players: list, defects: tuple
) -> list[dict]:
    """Rows of the game's payment table with typed timestamps (``_json_row`` makes strings)."""
    from ingest_devstack.generate.reference import PRODUCTS

    rows = []
    for row in range(count):
        product_id, _, price = rng.choice(PRODUCTS)
        quantity = rng.choice((1, 1, 1, 2, 3))
        serial = number * ID_STRIDE + row
        player = rng.choice(players)
        paid_at = MONTH_START + timedelta(seconds=rng.randrange(30 * 86_400))
        values = {
            "transaction_id": PAYMENT_ID_BASE + serial,
            "payment_merchant_id": 7,
            "merchant_invoice_code": rng.choice(("71001", "71002")),
            "merchant_invoice_code_id": 13_000_000_000 + serial,
            "user_id": player.user_id,
            "total_cost": Decimal(price) * quantity,
            "currency_code": "USD",
            "payer_email": f"player{player.user_id}@example.com",
            "country_code": player.country.iso_2_code if player.country else "",
            "payment_date": paid_at,
            "transaction_status": "completed",
            "ip_address": player.ip_address,
            "created_at": paid_at + timedelta(seconds=rng.randint(1, 6)),
            "transaction_item_id": ITEM_ID_BASE + serial,
            "product_id": product_id,
            "item_count": quantity,
        }
        if row in bad:
            column, value = rng.choice(defects)
            values[column] = Decimal(value) if column == "total_cost" and value == "-5.00" else value
        rows.append(values)
    return rows


def _json_row(values: dict) -> dict:
    """A payment row as Firehose streams it: strings for money and times."""
    out = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            value = value.isoformat(timespec="seconds")[:19] + ".000Z"
        elif isinstance(value, Decimal):
            value = str(value)
        out[name] = value
    return out


def _csv(rows: list[dict], delimiter: str = ",") -> bytes:
    import csv

    from ingest_devstack.generate.encode import PAYMENT_COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    writer.writerow(name for name, _ in PAYMENT_COLUMNS)
    for row in rows:
        writer.writerow(
            row[name].strftime(EXPORT_TIME)
            if isinstance(row[name], datetime)
            else ("" if row[name] is None else row[name])
            for name, _ in PAYMENT_COLUMNS
        )
    return out.getvalue().encode()


def _encode(records: list[dict], layout: str) -> bytes:
    from ingest_devstack.generate.encode import encode_json

    return encode_json(records, layout, compress=False)[0]


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def _bad_rows(rng: random.Random, count: int, share: float) -> set[int]:
    if rng.random() >= share:
        return set()
    return set(rng.sample(range(1, count), rng.randint(1, 3)))


def build_file(
    seed: int, number: int, kind: str, tag: str, players: list, bad_row_share: float = 0.25
) -> tuple[Planned, bytes]:
    """The file ``number`` of a run: its plan and its bytes; the same arguments give the same bytes.

    ``tag`` is the run's folder inside each pipeline's key space (``loadtest-<run id>``).
    """
    rng = random.Random(f"loadtest:{seed}:{number}")
    day = rng.randint(1, 30)
    count = rng.randint(5, MAX_ROWS)
    if kind != GOOD:
        return _bad_file(rng, number, kind, tag, day, count, players)
    paypal_dir = f"paypal/transactions/{tag}/2021/07/{day:02d}"
    if rng.random() < 0.5:
        layout, ext = rng.choice(
            (
                ("json_array", ".json"),
                ("json_array", ".json"),
                ("ndjson", ".ndjson"),
                ("ndjson", ".jsonl"),
                ("json_concat", ""),
                ("json_concat_pretty", ""),
            )
        )
        bad = _bad_rows(rng, count, bad_row_share)
        body = _encode(_paypal_records(rng, number, count, bad, players), layout)
        if rng.random() < 0.25:
            body, layout = _gzip(body), f"{layout}+gzip"
            ext = f"{ext}.gz" if ext else ""
        if rng.random() < 0.15:
            ext = ""  # nothing to go by but the bytes
        name = f"page {number:05d} été+bonus 100%" if rng.random() < 0.05 else f"page-{number:05d}"
        key = f"{paypal_dir}/{name}{ext}"
        return Planned(number, key, PAYPAL, GOOD, f"paypal {layout}", count, len(bad)), body

    layout = rng.choices(("json_concat", "ndjson", "csv", "parquet"), weights=(40, 15, 30, 15))[0]
    if layout == "parquet":
        from ingest_devstack.generate.encode import encode_parquet_export

        bad = _bad_rows(rng, count, bad_row_share)
        body = encode_parquet_export(_payment_rows(rng, number, count, bad, players, PARQUET_ROW_DEFECTS))
        key = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.parquet"
        return Planned(number, key, PAYMENTS, GOOD, "payments parquet", count, len(bad)), body
    bad = _bad_rows(rng, count, bad_row_share)
    rows = _payment_rows(rng, number, count, bad, players, PAYMENT_ROW_DEFECTS)
    compress = rng.random() < 0.25
    if layout == "csv":
        body = _csv(rows)
        key = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.csv"
        if compress:
            body, key = _gzip(body), f"{key}.gz"
    else:
        body = _encode([_json_row(row) for row in rows], layout)
        hour, minute = rng.randrange(24), rng.randrange(60)
        key = (
            f"payments/transactions/{tag}/2021/07/{day:02d}/{hour:02d}/"
            f"payments-stream-1-2021-07-{day:02d}-{hour:02d}-{minute:02d}-00-{number:05d}"
        )
        if compress:
            body = _gzip(body)
    layout = f"{layout}+gzip" if compress else layout
    return Planned(number, key, PAYMENTS, GOOD, f"payments {layout}", count, len(bad)), body


def _bad_file(
    rng: random.Random, number: int, kind: str, tag: str, day: int, count: int, players: list
) -> tuple[Planned, bytes]:
    """A file that must fail as a whole, with ``BAD_KINDS[kind]``; its bytes are unique in the run."""
    paypal_key = f"paypal/transactions/{tag}/2021/07/{day:02d}/page-{number:05d}"
    stream_key = f"payments/transactions/{tag}/2021/07/{day:02d}/00/payments-stream-1-bad-{number:05d}"
    pipeline = PAYPAL
    if kind == "truncated_json_array":
        body = _encode(_paypal_records(rng, number, count, set(), players), "json_array")
        key, body = f"{paypal_key}.json", body[: len(body) // 2]
    elif kind == "truncated_gzip":
        body = _gzip(_encode(_paypal_records(rng, number, count, set(), players), "ndjson"))
        key, body = f"{paypal_key}.json.gz", body[: len(body) * 2 // 3]
    elif kind == "empty_object":
        key, body = f"{paypal_key}.json", b"{}" + b"\n" * (1 + number)  # the newlines keep it unique
    elif kind == "unroutable_key":
        rows = _payment_rows(rng, number, count, set(), players, ())
        key, pipeline = f"payments/refunds/{tag}/refunds-{number:05d}.ndjson", ""
        body = _encode([_json_row(row) for row in rows], "ndjson")
    elif kind == "wrong_delimiter":
        body = _csv(_payment_rows(rng, number, count, set(), players, ()), delimiter=":")
        key, pipeline = f"payments/exports/{tag}/payments_2021-07-{day:02d}_{number:05d}.csv", PAYMENTS
    elif kind == "garbage":
        body = b"\x00\xff\xfe" + rng.randbytes(rng.randint(200, 4000))
        key, pipeline = stream_key, PAYMENTS
    elif kind == "all_rows_bad":
        rows = _payment_rows(rng, number, count, set(range(count)), players, (("total_cost", "twelve"),))
        key, pipeline = stream_key, PAYMENTS
        body = _encode([_json_row(row) for row in rows], "json_concat")
    elif kind == "broken_concatenation":
        rows = [_json_row(row) for row in _payment_rows(rng, number, count, set(), players, ())]
        text = _encode(rows, "json_concat").decode()
        cut = text.index("}{", len(text) // 2)
        key, pipeline = stream_key, PAYMENTS
        body = (text[: cut - 5] + text[cut + 1 :]).encode()  # an object loses its end
    else:
        raise ValueError(f"no such bad file kind: {kind}")
    return Planned(number, key, pipeline, kind, kind, count, 0, BAD_KINDS[kind]), body


def plan_kinds(files: int, bad_share: float, seed: int) -> list[str]:
    """The kind of each file: ``bad_share`` of them bad, the bad kinds in turn, spread at random."""
    rng = random.Random(f"loadtest:{seed}:kinds")
    bad = round(files * bad_share)
    kinds = [GOOD] * files
    names = list(BAD_KINDS)
    for turn, number in enumerate(rng.sample(range(files), bad)):
        kinds[number] = names[turn % len(names)]
    return kinds


# ------------------------------------------------------------------------------ the S3 events


def s3_event(bucket: str, planned: Planned, region: str, event_time: datetime) -> dict[str, Any]:
    """The ObjectCreated:Put notification S3 sends for one object (key URL-encoded as S3 does)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": event_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROALOADTEST:loadtest"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                    "x-amz-id-2": uuid.uuid4().hex,
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "loadtest-object-created",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "LOADTEST"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(planned.key, safe="/"),
                        "size": planned.size,
                        "eTag": planned.etag,
                        "sequencer": f"{int(event_time.timestamp() * 1e6):016X}{planned.number:06X}",
                    },
                },
            }
        ]
    }


def event_key(body: str) -> str:
    """The decoded object key of an S3 event message."""
    return unquote_plus(json.loads(body)["Records"][0]["s3"]["object"]["key"])


# ------------------------------------------------------------------------------------- runners


class SerializedSQS:
    """An SQS client whose calls hold one lock shared by every process of the run.

    moto's SQS queue is not safe under concurrent calls: ``Queue.delete_message`` rebuilds the
    message list without the queue's lock, so two deletes at once bring one deleted message back
    (it is received again once its visibility timeout ends) and a send during a delete is lost, and
    two receives at once can both take the same message. Real SQS has none of this; the run
    serialises its own calls (long polls become short polls, with the wait outside the lock) so
    the accounting measures the pipeline, not the emulator. ``--no-sqs-lock`` shows the emulator's
    behaviour.
    """

    def __init__(self, client: Any, lock_path: Path | None) -> None:
        self._client = client
        self._threads = threading.Lock()
        self._file = open(lock_path, "a+b") if lock_path is not None else None  # noqa: SIM115

    def _locked(self, call: Callable[[], Any]) -> Any:
        if self._file is None:
            return call()
        import fcntl

        with self._threads:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                return call()
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if self._file is None:
            return self._client.receive_message(**kwargs)
        deadline = time.monotonic() + kwargs.pop("WaitTimeSeconds", 0)
        while True:
            response = self._locked(lambda: self._client.receive_message(WaitTimeSeconds=0, **kwargs))
            if response.get("Messages") or time.monotonic() >= deadline:
                return response
            time.sleep(0.1)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        return lambda *args, **kwargs: self._locked(lambda: attribute(*args, **kwargs))


def runner_main(control: Path, index: int) -> None:
    """One runner process: drain the queue through the handler until told the run is over."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ingest.adapters.clients import aws_client
    from ingest.apps import lambda_handler as handler
    from ingest_devstack import worker

    handler.logger.setLevel(logging.WARNING)
    config = json.loads((control / "config.json").read_text())
    queue_url = config["queue_url"]
    sqs = SerializedSQS(aws_client("sqs"), control / "sqs.lock" if config["sqs_lock"] else None)

    # Cold start before the clock runs: clients, pipelines, GX suites, pseudonym key.
    services = handler.services()
    for pipeline in services.pipelines:
        if pipeline.name in {PAYPAL, PAYMENTS}:
            services.suite(pipeline)
            services.ensure_table(pipeline)
    services.pseudonym_key()
    spent = _time_stages()
    cpu_at_ready = _cpu_seconds()
    (control / f"ready-{index}").touch()

    received: Counter[str] = Counter()
    batches: list[dict[str, Any]] = []
    lock = threading.Lock()
    totals: Counter[str] = Counter()

    def finish(code: int = 0) -> None:
        with lock:
            result = {
                "index": index,
                "pid": os.getpid(),
                "messages": totals["messages"],
                "failed_messages": totals["failed_messages"],
                "batches": batches,
                "received": dict(received),
                "cpu_seconds": round(_cpu_seconds() - cpu_at_ready, 1),
                "stages": dict(spent),
                "terminated": code != 0,
            }
        (control / f"runner-{index}.json").write_text(json.dumps(result))
        if code:
            os._exit(code)  # stopped mid-batch, like a Lambda timeout: its claims stay IN_PROGRESS

    signal.signal(signal.SIGTERM, lambda *_: finish(3))

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        started = time.time()
        failed: set[str] = set()
        with lock:
            received.update(event_key(r["body"]) for r in records)
        try:
            response = handler.handle(event, context)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            return response
        except Exception:
            logging.getLogger("loadtest").exception("handler raised on a batch of %d", len(records))
            failed = {r["messageId"] for r in records}
            raise
        finally:
            # The messages to retry come back after --retry-delay, not the whole visibility timeout.
            again = [r for r in records if r["messageId"] in failed]
            for start in range(0, len(again), 10):
                sqs.change_message_visibility_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {
                            "Id": str(n),
                            "ReceiptHandle": r["receiptHandle"],
                            "VisibilityTimeout": config["retry_delay"],
                        }
                        for n, r in enumerate(again[start : start + 10])
                    ],
                )
            with lock:
                batches.append(
                    {
                        "at": started,
                        "seconds": time.time() - started,
                        "messages": len(records),
                        "failed": len(failed),
                    }
                )

    while True:
        stats = worker.drain(
            sqs,
            queue_url,
            handle,
            workers=config["pollers"],
            idle_seconds=config["idle_seconds"],
            batch_size=config["batch_size"],
            batching_window=config["batching_window"],
        )
        with lock:
            totals.update(messages=stats.messages, failed_messages=stats.failed_messages)
        if (control / "sent").exists() and _queue_counts(sqs, queue_url)["total"] == 0:
            break
    finish()


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time_stages() -> Counter[str]:
    """Time the handler's costliest steps in this runner process, for the report (seconds, counts).

    The GX suite run is measured in CPU time of its thread (waiting for the suite's lock is not
    work); the BigQuery calls in wall time, as the emulator does their work.
    """
    from ingest.adapters import bigquery_warehouse as warehouse
    from ingest.core import validate
    from ingest.ingestion import flow as pipeline

    spent: Counter[str] = Counter()
    lock = threading.Lock()

    def timed(owner: Any, name: str, label: str, clock: Callable[[], float]) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    spent[f"{label}_seconds"] += clock() - started
                    spent[f"{label}_calls"] += 1

        setattr(owner, name, wrapper)

    timed(validate.Suite, "_gx_run", "gx_suite_cpu", time.thread_time)
    timed(warehouse, "insert_validation_results", "bigquery_validation_insert", time.perf_counter)
    timed(warehouse, "write_rows", "bigquery_load_and_merge", time.perf_counter)
    timed(pipeline, "prepare_file", "prepare_file", time.perf_counter)
    return spent


def _queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    names.append("ApproximateNumberOfMessagesDelayed")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    counts = {
        "visible": int(attributes.get(names[0], 0)),
        "in_flight": int(attributes.get(names[1], 0)),
        "delayed": int(attributes.get(names[2], 0)),
    }
    counts["total"] = sum(counts.values())
    return counts


# ------------------------------------------------------------------------------------ resources


@dataclass
class Resources:
    """What a run creates for itself; ``cleanup`` removes it."""

    run_id: str
    bucket: str
    queue_url: str = ""
    dlq_url: str = ""
    ledger_table: str = ""
    dataset: str = ""
    pipelines_dir: Path | None = None
    control: Path | None = None
    tables: dict[str, str] = field(default_factory=dict)
    """Pipeline name -> its table in the run's dataset."""


def create_resources(res: Resources, settings: Any, config: Config) -> None:
    """Create the run's bucket, queues, ledger, pipeline copies and tables, noting each in ``res``."""
    import yaml

    from ingest.adapters import bigquery_warehouse as warehouse
    from ingest.adapters.clients import aws_client, bigquery_client
    from ingest.adapters.dynamodb_ledger import table_definition
    from ingest.core.config import load_pipelines
    from ingest_devstack.provision import DEAD_LETTER_AFTER_RECEIVES

    name = res.bucket
    res.dataset = f"loadtest_{res.run_id.replace('-', '_')}"
    s3, sqs, dynamodb = aws_client("s3"), aws_client("sqs"), aws_client("dynamodb")
    s3.create_bucket(Bucket=res.bucket)  # no notification: the run sends each event itself
    res.dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=res.dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    res.queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(config.visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": DEAD_LETTER_AFTER_RECEIVES}
            ),
        },
    )["QueueUrl"]
    res.ledger_table = f"ingest-ledger-{name}"
    dynamodb.create_table(**table_definition(res.ledger_table))
    dynamodb.get_waiter("table_exists").wait(TableName=res.ledger_table)

    # The shipped pipelines, unchanged but for their tables, which go to the run's dataset.
    res.pipelines_dir = Path(tempfile.mkdtemp(prefix=f"{name}-pipelines-"))
    for path in sorted((Path(settings.pipelines_dir)).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["table"] = f"{res.dataset}.{raw['table'].rsplit('.', 1)[-1]}"
        (res.pipelines_dir / path.name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    client = bigquery_client(settings.bq_project, settings.bq_location)
    warehouse.ensure_dataset(client, settings.staging_dataset)
    for pipeline in load_pipelines(res.pipelines_dir):
        res.tables[pipeline.name] = pipeline.table_id
        if pipeline.name in {PAYPAL, PAYMENTS}:
            warehouse.ensure_table(client, pipeline)  # here, not by four runners at once
    warehouse.ensure_validation_results_table(client, res.dataset)


def runner_environment(res: Resources, settings: Any) -> dict[str, str]:
    return {
        **os.environ,
        "INGEST_LEDGER_TABLE": res.ledger_table,
        "INGEST_PIPELINES_DIR": str(res.pipelines_dir),
        "INGEST_OPS_DATASET": res.dataset,
        "INGEST_ERROR_BUCKET": settings.error_bucket,
        "INGEST_STAGING_DATASET": settings.staging_dataset,
        "INGEST_BQ_PROJECT": settings.bq_project,
        "INGEST_BQ_LOCATION": settings.bq_location,
        # The handler prints EMF metrics to stdout otherwise, as it should on Lambda.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    }


def cleanup(res: Resources, settings: Any, keep: bool) -> None:
    """Remove the run's queues; unless ``keep``, its bucket, error-bucket objects, ledger, dataset."""
    from ingest.adapters.clients import aws_client, bigquery_client

    sqs = aws_client("sqs")
    for url in (res.queue_url, res.dlq_url):
        if url:
            _quietly(lambda url=url: sqs.delete_queue(QueueUrl=url))
    if res.pipelines_dir is not None:
        shutil.rmtree(res.pipelines_dir, ignore_errors=True)
    if res.control is not None:
        shutil.rmtree(res.control, ignore_errors=True)
    if keep:
        return
    s3 = aws_client("s3")
    _delete_versions(s3, res.bucket, "")
    _quietly(lambda: s3.delete_bucket(Bucket=res.bucket))
    for area in ("failed", "quarantine"):
        _delete_versions(s3, settings.error_bucket, f"{area}/{res.bucket}/")
    if res.ledger_table:
        _quietly(lambda: aws_client("dynamodb").delete_table(TableName=res.ledger_table))
    if res.dataset:
        client = bigquery_client(settings.bq_project, settings.bq_location)
        _quietly(lambda: client.delete_dataset(res.dataset, delete_contents=True, not_found_ok=True))


def _delete_versions(s3: Any, bucket: str, prefix: str) -> None:
    """Delete every version under ``prefix``: the first page again until none is left (moto's
    pagination skips objects when they are deleted between pages)."""
    try:
        previous: list[dict[str, str]] = []
        while True:
            page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
            entries = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if not entries:
                return
            if entries == previous:
                raise RuntimeError(f"{len(entries)} versions would not delete")
            previous = entries
            for start in range(0, len(entries), 1000):
                chunk = entries[start : start + 1000]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
    except Exception as err:
        print(f"cleanup of s3://{bucket}/{prefix}: {err}", file=sys.stderr)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as err:
        print(f"cleanup: {err}", file=sys.stderr)


# ------------------------------------------------------------------------------------ the run


def upload(
    res: Resources, config: Config, on_file: Callable[[], None] | None = None
) -> tuple[list[Planned], float]:
    """Plan, build and upload every file; the plans (with ETag and size) and the seconds it took."""
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    kinds = plan_kinds(config.files, config.bad_share, config.seed)
    players = _players(config.seed)
    tag = f"loadtest-{res.run_id}"
    copies = random.Random(f"loadtest:{config.seed}:copies")
    deliveries = [copies.randint(1, config.max_deliveries) for _ in range(config.files)]

    def put(number: int) -> Planned:
        planned, body = build_file(config.seed, number, kinds[number], tag, players, config.bad_row_share)
        response = s3.put_object(Bucket=res.bucket, Key=planned.key, Body=body)
        planned.etag, planned.size, planned.copies = (
            response["ETag"].strip('"'),
            len(body),
            deliveries[number],
        )
        if on_file is not None:
            on_file()
        return planned

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=config.upload_threads, thread_name_prefix="upload") as pool:
        planned = list(pool.map(put, range(config.files)))
    return planned, time.monotonic() - started


def send_events(
    sqs: Any,
    res: Resources,
    planned: list[Planned],
    seed: int,
    backlog: int = 0,
    on_sent: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Send each file's event ``copies`` times, shuffled; (messages sent, epoch of the first send).

    ``backlog`` > 0 keeps at most that many messages waiting (visible) in the queue, as files
    landing at the rate the runners take them; 0 sends everything at once. A file's event time is
    when its first copy goes out: that is when it "lands" for the pipeline.
    """
    region = sqs.meta.region_name or "us-east-1"
    order = [p.number for p in planned for _ in range(p.copies)]
    random.Random(f"loadtest:{seed}:order").shuffle(order)
    by_number = {p.number: p for p in planned}
    bodies: dict[int, str] = {}
    lock = threading.Lock()
    first_send = time.time()

    def body(number: int) -> str:
        with lock:
            if number not in bodies:
                event = s3_event(res.bucket, by_number[number], region, datetime.now(UTC))
                bodies[number] = json.dumps(event)
            return bodies[number]

    def send(chunk: list[int]) -> int:
        entries = [{"Id": str(n), "MessageBody": body(number)} for n, number in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=res.queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused messages: {response['Failed'][:3]}")
        if on_sent is not None:
            on_sent(len(chunk))
        return len(chunk)

    chunks = [order[start : start + 10] for start in range(0, len(order), 10)]
    if backlog <= 0:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="send") as pool:
            return sum(pool.map(send, chunks)), first_send
    sent = waiting = 0
    for chunk in chunks:
        while waiting >= backlog:
            waiting = _queue_counts(sqs, res.queue_url)["visible"]
            if waiting >= backlog:
                time.sleep(0.5)
        sent += send(chunk)
        waiting += len(chunk)
    return sent, first_send


def start_runners(res: Resources, settings: Any, config: Config) -> list[subprocess.Popen]:
    assert res.control is not None
    (res.control / "config.json").write_text(
        json.dumps(
            {
                "queue_url": res.queue_url,
                "batch_size": config.batch_size,
                "batching_window": config.batching_window,
                "pollers": config.pollers,
                "idle_seconds": config.idle_seconds,
                "retry_delay": config.retry_delay,
                "sqs_lock": config.sqs_lock,
            }
        )
    )
    env = runner_environment(res, settings)
    processes = []
    for index in range(config.runners):
        log = open(res.control / f"runner-{index}.log", "wb")  # noqa: SIM115 - the child owns it
        command = [sys.executable, str(Path(__file__).resolve()), "--runner", str(res.control), str(index)]
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT))
        log.close()
    return processes


def _wait_ready(res: Resources, processes: list[subprocess.Popen], limit: float = 300) -> None:
    assert res.control is not None
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready = sum((res.control / f"ready-{i}").exists() for i in range(len(processes)))
        if ready == len(processes):
            return
        for index, process in enumerate(processes):
            if process.poll() is not None:
                raise RuntimeError(f"runner {index} exited while starting:\n{_log_tail(res, index)}")
        time.sleep(0.2)
    raise RuntimeError(f"runners not ready after {limit:.0f}s")


def _log_tail(res: Resources, index: int, chars: int = 3000) -> str:
    assert res.control is not None
    path = res.control / f"runner-{index}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _stop(processes: list[subprocess.Popen]) -> None:
    """Terminate the runner processes this run started, one by one by their own handle."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_loadtest(config: Config, console: Any = None, stack: Any = None) -> dict[str, Any]:
    """The whole run against the stack the environment points at; returns the result (also written).

    ``stack`` (``ingest_devstack.local.Stack``), when given, lets the result say how much CPU the
    emulators used.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ingest.adapters.clients import aws_client
    from ingest.core.settings import Settings

    console = console or Console()
    settings = Settings.from_env()
    run_id = config.run_id or f"{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:4]}"
    res = Resources(run_id=run_id, bucket=f"loadtest-{run_id}")
    processes: list[subprocess.Popen] = []
    try:
        create_resources(res, settings, config)
        res.control = Path(tempfile.mkdtemp(prefix=f"loadtest-{run_id}-control-"))
        console.print(
            f"Run [bold]{run_id}[/]: {config.files:,} files, {config.runners} runners, batch size "
            f"{config.batch_size}, batching window {config.batching_window:g}s, bucket {res.bucket}, "
            f"dataset {res.dataset}"
        )

        def progress_bar() -> Progress:
            return Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )

        processes = start_runners(res, settings, config)  # their cold start overlaps the upload
        with progress_bar() as progress:
            task = progress.add_task("plan + upload files", total=config.files)
            planned, upload_seconds = upload(res, config, lambda: progress.advance(task))
        _wait_ready(res, processes)

        sqs = SerializedSQS(aws_client("sqs"), res.control / "sqs.lock" if config.sqs_lock else None)
        total = sum(p.copies for p in planned)
        with progress_bar() as progress:
            sending = progress.add_task("send events", total=total)
            done = progress.add_task("deliveries handled", total=total)
            outcome: dict[str, Any] = {}

            def send() -> None:
                try:
                    outcome["sent"], outcome["first_send"] = send_events(
                        sqs, res, planned, config.seed, config.backlog, lambda n: progress.advance(sending, n)
                    )
                except BaseException as err:
                    outcome["error"] = err
                finally:
                    assert res.control is not None
                    (res.control / "sent").touch()

            emulators_before = _emulator_cpu(stack)
            sender = threading.Thread(target=send, name="sender", daemon=True)
            sender.start()
            timeout = config.timeout or 600 + config.files
            deadline = time.monotonic() + timeout
            timed_out = False
            while any(p.poll() is None for p in processes):
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                counts = _queue_counts(sqs, res.queue_url)
                progress.update(done, completed=max(0, progress.tasks[0].completed - counts["total"]))
                time.sleep(1)
            if not timed_out:
                sender.join()
            progress.update(done, completed=total - _queue_counts(sqs, res.queue_url)["total"])
        emulators = {k: round(v - emulators_before.get(k, 0.0), 1) for k, v in _emulator_cpu(stack).items()}
        if "error" in outcome:
            raise outcome["error"]
        stopped_at = None
        if timed_out:
            console.print(f"[red]Timed out after {timeout:.0f}s; stopping the runners mid-batch.")
            stopped_at = time.time()
        _stop(processes)  # a runner stopped mid-batch writes what it saw, then exits
        runners = []
        for index in range(config.runners):
            path = res.control / f"runner-{index}.json"
            if not path.exists():
                raise RuntimeError(f"runner {index} left no result:\n{_log_tail(res, index)}")
            runners.append(json.loads(path.read_text()))
        warnings = _runner_warnings(res, config.runners)

        console.print("Checking the accounting (ledger, BigQuery, error bucket)...")
        sent = outcome.get("sent", sum(p.copies for p in planned))
        first_send = outcome.get("first_send", time.time())
        result = account(res, settings, config, planned, runners, sent, first_send, stopped_at)
        result["upload_seconds"] = round(upload_seconds, 1)
        result["cpu_seconds"] = {
            "runners": round(sum(r["cpu_seconds"] for r in runners), 1),
            **{f"{name}_emulator": seconds for name, seconds in emulators.items()},
        }
        stages: Counter[str] = Counter()
        for runner in runners:
            stages.update(runner["stages"])
        result["runner_stages"] = {
            label: {
                "calls": int(stages[f"{label}_calls"]),
                "seconds": round(stages[f"{label}_seconds"], 1),
                "seconds_per_call": round(stages[f"{label}_seconds"] / max(stages[f"{label}_calls"], 1), 3),
            }
            for label in sorted({key.rsplit("_", 1)[0] for key in stages})
        }
        result["timed_out"] = timed_out
        result["runner_log_warnings"] = warnings
        if timed_out:
            result["checks"].insert(0, _check("finished within --timeout", False, f"{timeout:.0f}s"))
            result["passed"] = False
        write_result(result, config.out_dir)
        print_result(result, console)
        return result
    finally:
        _stop(processes)
        cleanup(res, settings, config.keep)


def _emulator_cpu(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by the local stack's moto server and BigQuery emulator."""
    from ingest_devstack.local import cpu_seconds

    if stack is None:
        return {}
    pids = {"moto": stack.moto_pid, "bigquery": stack.bigquery_pid}
    used = {name: cpu_seconds(pid) for name, pid in pids.items()}
    return {name: seconds for name, seconds in used.items() if seconds is not None}


def _runner_warnings(res: Resources, runners: int) -> dict[str, int]:
    """The runners' warning and error log lines, counted by kind ("failed: <error type>", ...)."""
    import re

    counts: Counter[str] = Counter()
    for index in range(runners):
        for line in _log_tail(res, index, chars=1 << 30).splitlines():
            try:
                record = json.loads(line)  # powertools' JSON lines: the handler's and the pipeline's
                level, message = str(record.get("level")), str(record.get("message"))
            except (ValueError, AttributeError):
                parts = line.split(" ", 4)  # logging.basicConfig's lines
                if len(parts) < 5:
                    continue
                level, message = parts[2], parts[4]
            if level not in {"WARNING", "ERROR", "CRITICAL"}:
                continue
            failed = re.match(r"failed s3://.*?: (\w+): ", message)
            kind = f"failed: {failed.group(1)}" if failed else re.sub(r"s3://\S+|\d+", "#", message)[:80]
            counts[f"{level} {kind}"] += 1
    return dict(counts.most_common())


# ------------------------------------------------------------------------------ the accounting


def _check(name: str, passed: bool, detail: str = "") -> dict[str, Any]:
    return {"check": name, "passed": bool(passed), "detail": detail}


def _examples(items: Iterable[str], limit: int = 3) -> str:
    listed = list(items)
    shown = "; ".join(listed[:limit])
    return f"{len(listed)}: {shown}" + (" ..." if len(listed) > limit else "")


def scan_ledger(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    from ingest.adapters.dynamodb_ledger import _unmarshal

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(_unmarshal(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def warehouse_counts(client: Any, pipelines: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per table: rows per ``_source_uri``, total rows and distinct business keys."""
    found = {}
    for name, pipeline in pipelines.items():
        table = f"`{client.project}.{pipeline.table_id}`"
        keys = list(pipeline.business_key)
        key = (
            keys[0]
            if len(keys) == 1
            else "CONCAT(" + ", '|', ".join(f"CAST({k} AS STRING)" for k in keys) + ")"
        )
        per_uri = {
            row["uri"]: int(row["n"])
            for row in client.query(
                f"SELECT _source_uri AS uri, COUNT(*) AS n FROM {table} GROUP BY _source_uri"
            ).result()
        }
        totals = next(
            iter(client.query(f"SELECT COUNT(*) AS n, COUNT(DISTINCT {key}) AS k FROM {table}").result())
        )
        found[name] = {"per_uri": per_uri, "rows": int(totals["n"]), "keys": int(totals["k"])}
    return found


def account(
    res: Resources,
    settings: Any,
    config: Config,
    planned: list[Planned],
    runners: list[dict[str, Any]],
    sent: int,
    first_send: float,
    stopped_at: float | None = None,
) -> dict[str, Any]:
    """Every check of the run, and its measures; ``stopped_at`` is when a timed-out run was stopped."""
    from ingest.adapters.clients import aws_client, bigquery_client
    from ingest.apps.ops import monitor
    from ingest.core.config import load_pipelines
    from ingest.core.model import Status

    assert res.pipelines_dir is not None
    s3, sqs, dynamodb = aws_client("s3"), aws_client("sqs"), aws_client("dynamodb")
    client = bigquery_client(settings.bq_project, settings.bq_location)
    pipelines = {p.name: p for p in load_pipelines(res.pipelines_dir) if p.name in {PAYPAL, PAYMENTS}}
    uri = {p.number: f"s3://{res.bucket}/{p.key}" for p in planned}
    identity = {p.number: f"{uri[p.number]}#{p.etag}" for p in planned}
    by_identity = {identity[p.number]: p for p in planned}
    checks: list[dict[str, Any]] = []

    items = scan_ledger(dynamodb, res.ledger_table)
    files = defaultdict(list)
    deliveries = Counter()
    loads = []
    for item in items:
        sk = str(item.get("sk", ""))
        if sk == "FILE":
            files[item["pk"]].append(item)
        elif sk.startswith("DELIVERY#"):
            deliveries[item["pk"]] += 1
        elif sk.startswith("LOAD#"):
            loads.append(item)

    # 1. One FILE item per file, no other files.
    missing = [p.key for p in planned if identity[p.number] not in files]
    strangers = [pk for pk in files if pk not in by_identity]
    checks.append(
        _check(
            "every file has exactly one ledger FILE item",
            not missing and not strangers,
            f"{len(files):,} FILE items for {len(planned):,} files"
            + (f"; missing {_examples(missing)}" if missing else "")
            + (f"; unknown {_examples(strangers)}" if strangers else ""),
        )
    )

    # 2. Outcomes: good files LOADED with the planted counts, bad files FAILED with their type.
    wrong_good, wrong_bad = [], []
    for p in planned:
        item = (files.get(identity[p.number]) or [{}])[0]
        if not item:
            continue
        if p.good:
            got = (
                item.get("status"),
                item.get("rows_in"),
                item.get("rows_loaded"),
                item.get("rows_quarantined"),
            )
            want = (Status.LOADED.value, p.rows, p.rows_loaded, p.bad_rows)
            if got != want:
                wrong_good.append(f"{p.key}: {got} != {want} {item.get('error_type') or ''}")
        else:
            got = (item.get("status"), item.get("error_type"), bool(item.get("retryable")))
            if got != (Status.FAILED.value, p.error_type, False):
                wrong_bad.append(f"{p.key} ({p.kind}): {got}, want FAILED {p.error_type}")
    good = [p for p in planned if p.good]
    bad = [p for p in planned if not p.good]
    checks.append(
        _check(
            "good files LOADED: rows_in = rows_loaded + rows_quarantined, as planted",
            not wrong_good,
            f"{len(good) - len(wrong_good):,}/{len(good):,} match"
            + (f"; {_examples(wrong_good)}" if wrong_good else ""),
        )
    )
    checks.append(
        _check(
            "bad files FAILED for good with their expected error type",
            not wrong_bad,
            f"{len(bad) - len(wrong_bad):,}/{len(bad):,} match"
            + (f"; {_examples(wrong_bad)}" if wrong_bad else ""),
        )
    )

    # 3. The error bucket: failed files byte for byte, quarantined rows one line each.
    def kept(p: Planned) -> str | None:
        try:
            head = s3.head_object(Bucket=settings.error_bucket, Key=f"failed/{res.bucket}/{p.key}")
        except Exception as err:
            return f"{p.key}: {err}"
        return None if head["ETag"].strip('"') == p.etag else f"{p.key}: ETag {head['ETag']} != {p.etag}"

    def quarantined(p: Planned) -> str | None:
        key = f"quarantine/{res.bucket}/{p.key}.rows.ndjson"
        try:
            body = s3.get_object(Bucket=settings.error_bucket, Key=key)["Body"].read()
        except Exception as err:
            return f"{p.key}: {err}"
        lines = sum(1 for line in body.splitlines() if line.strip())
        return None if lines == p.bad_rows else f"{p.key}: {lines} quarantined lines != {p.bad_rows}"

    with ThreadPoolExecutor(max_workers=16) as pool:
        not_kept = [e for e in pool.map(kept, bad) if e]
        with_bad_rows = [p for p in good if p.bad_rows]
        not_quarantined = [e for e in pool.map(quarantined, with_bad_rows) if e]
    checks.append(
        _check(
            "failed files kept byte for byte in the error bucket",
            not not_kept,
            f"{len(bad) - len(not_kept):,}/{len(bad):,}" + (f"; {_examples(not_kept)}" if not_kept else ""),
        )
    )
    checks.append(
        _check(
            "quarantined rows in the error bucket = planted bad rows",
            not not_quarantined,
            f"{sum(p.bad_rows for p in with_bad_rows):,} rows of {len(with_bad_rows):,} files"
            + (f"; {_examples(not_quarantined)}" if not_quarantined else ""),
        )
    )

    # 4. BigQuery: each file's rows once under its _source_uri, one row per business key.
    counts = warehouse_counts(client, pipelines)
    wrong_rows, unexpected = [], []
    rows_in_bigquery = 0
    for name, found in counts.items():
        expected = {uri[p.number]: p.rows_loaded for p in good if p.pipeline == name}
        for source, n in found["per_uri"].items():
            rows_in_bigquery += n
            if source not in expected:
                unexpected.append(f"{source}: {n} rows")
            elif n != expected[source]:
                wrong_rows.append(f"{source}: {n} rows, loaded {expected[source]}")
        wrong_rows += [
            f"{s}: no rows, loaded {n}" for s, n in expected.items() if n and s not in found["per_uri"]
        ]
    checks.append(
        _check(
            "BigQuery rows per file (_source_uri) = its rows_loaded; none from bad files",
            not wrong_rows and not unexpected,
            f"{rows_in_bigquery:,} rows"
            + (f"; {_examples(wrong_rows)}" if wrong_rows else "")
            + (f"; unexpected {_examples(unexpected)}" if unexpected else ""),
        )
    )
    duplicate_rows_in_tables = sum(found["rows"] - found["keys"] for found in counts.values())

    succeeded = [load for load in loads if load.get("succeeded")]
    loads_of: Counter[str] = Counter()
    for load in succeeded:
        loads_of.update(set(load.get("members") or []))
    twice = [pk for pk, n in loads_of.items() if n > 1]
    rows_loaded_twice = sum(
        by_identity[pk].rows_loaded * (loads_of[pk] - 1) for pk in twice if pk in by_identity
    )
    not_in_a_load = [p.key for p in good if loads_of[identity[p.number]] != 1]
    duplicates_loaded = duplicate_rows_in_tables + rows_loaded_twice
    checks.append(
        _check(
            "duplicates loaded = 0 (one row per business key; no file in two load jobs)",
            duplicates_loaded == 0 and not not_in_a_load,
            f"{duplicate_rows_in_tables} duplicate rows in the tables, {len(twice)} files in two loads"
            + (f"; good files not in exactly one load: {_examples(not_in_a_load)}" if not_in_a_load else ""),
        )
    )

    rows_in = sum(p.rows for p in good)
    loaded_items = [f[0] for f in files.values() if f[0].get("status") == Status.LOADED.value]
    rows_loaded = sum(int(item.get("rows_loaded") or 0) for item in loaded_items)
    rows_quarantined = sum(int(item.get("rows_quarantined") or 0) for item in loaded_items)
    balanced = rows_in == rows_loaded + rows_quarantined and rows_loaded == rows_in_bigquery
    checks.append(
        _check(
            "every input row loaded or quarantined exactly once",
            balanced and rows_quarantined == sum(p.bad_rows for p in good),
            f"rows_in {rows_in:,} = loaded {rows_loaded:,} (BigQuery {rows_in_bigquery:,}) "
            f"+ quarantined {rows_quarantined:,} (planted {sum(p.bad_rows for p in good):,})",
        )
    )

    # 5. Deliveries: every message received was a claim or a recorded SKIPPED_DUPLICATE.
    received: Counter[str] = Counter()
    for runner in runners:
        received.update(runner["received"])
    unaccounted = []
    for p in planned:
        item = (files.get(identity[p.number]) or [{}])[0]
        attempts = int(item.get("attempts") or 0)
        got = received[p.key]
        if got < p.copies or got != attempts + deliveries[identity[p.number]]:
            unaccounted.append(
                f"{p.key}: sent {p.copies}, received {got}, claims {attempts}, "
                f"skipped {deliveries[identity[p.number]]}"
            )
    messages = sum(r["messages"] for r in runners)
    queue, dlq = _queue_counts(sqs, res.queue_url), _queue_counts(sqs, res.dlq_url)
    checks.append(
        _check(
            "every delivery handled: a claim or a SKIPPED_DUPLICATE record; queue and DLQ empty",
            not unaccounted and queue["total"] == 0 and dlq["total"] == 0 and messages >= sent,
            f"sent {sent:,}, received {messages:,}, SKIPPED_DUPLICATE {sum(deliveries.values()):,}, "
            f"queue {queue['total']}, DLQ {dlq['total']}"
            + (f"; {_examples(unaccounted)}" if unaccounted else ""),
        )
    )

    # Timing: from the first delivery to the last batch of the run.
    batches = [b for r in runners for b in r["batches"]]
    finished = stopped_at or max((b["at"] + b["seconds"] for b in batches), default=time.time())
    wall = max(finished - first_send, 1e-3)
    landed_loaded = [_seconds(i.get("event_time"), i.get("finished_at")) for i in loaded_items]
    claim_loaded = [_seconds(i.get("started_at"), i.get("finished_at")) for i in loaded_items]

    def percentiles(values: list[float]) -> dict[str, float | None]:
        if not values:
            return dict.fromkeys(("p50", "p90", "p99", "max"))
        return {k: round(v, 2) for k, v in monitor.latency_percentiles(values).items()} | {
            "max": round(max(values), 2)
        }

    loads_by_table = Counter(load["table"] for load in succeeded)
    failed_loads = [load for load in loads if not load.get("succeeded")]
    copies = Counter(p.copies for p in planned)
    by_layout = Counter(p.layout for p in planned)
    passed = all(c["passed"] for c in checks)
    return {
        "run_id": res.run_id,
        "passed": passed,
        "files": len(planned),
        "files_good": len(good),
        "files_bad": len(bad),
        "bad_files_by_kind": dict(sorted(Counter(p.kind for p in bad).items())),
        "files_by_layout": dict(sorted(by_layout.items())),
        "files_by_pipeline": dict(sorted(Counter(p.pipeline or "(no pipeline)" for p in planned).items())),
        "deliveries": sent,
        "deliveries_per_file": {str(k): v for k, v in sorted(copies.items())},
        "messages_received": messages,
        "redeliveries": messages - sent,
        "messages_failed": sum(r["failed_messages"] for r in runners),
        "duplicates_skipped": sum(deliveries.values()),
        "retried_claims": sum(max(0, int(f[0].get("attempts") or 0) - 1) for f in files.values()),
        "rows_in": rows_in,
        "rows_loaded": rows_loaded,
        "rows_quarantined": rows_quarantined,
        "rows_in_bigquery": rows_in_bigquery,
        "duplicates_loaded": duplicates_loaded,
        "duplicate_rows_in_tables": duplicate_rows_in_tables,
        "rows_loaded_twice": rows_loaded_twice,
        "wall_seconds": round(wall, 1),
        "files_per_second": round(len(planned) / wall, 2),
        "rows_per_second": round(rows_loaded / wall, 1),
        "deliveries_per_second": round(sent / wall, 2),
        "latency_seconds": {
            "landed_to_loaded": percentiles([s for s in landed_loaded if s is not None]),
            "claim_to_loaded": percentiles([s for s in claim_loaded if s is not None]),
        },
        "load_jobs": len(succeeded),
        "load_jobs_failed": len(failed_loads),
        "load_jobs_by_table": dict(sorted(loads_by_table.items())),
        "files_per_load_job": round(
            sum(int(x.get("files") or 0) for x in succeeded) / max(len(succeeded), 1), 1
        ),
        "load_job_errors": sorted({str(x.get("error", ""))[:200] for x in failed_loads})[:10],
        "handler_batches": len(batches),
        "messages_per_batch": round(sum(b["messages"] for b in batches) / max(len(batches), 1), 1),
        "batch_seconds": percentiles([b["seconds"] for b in batches]),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "resources": {
            "bucket": res.bucket,
            "queue_url": res.queue_url,
            "ledger_table": res.ledger_table,
            "dataset": res.dataset,
            "tables": {name: res.tables[name] for name in pipelines},
            "kept": config.keep,
        },
        "machine": machine(),
        "checks": checks,
    }


def machine() -> dict[str, Any]:
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "result.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    result["result_path"] = str(path)
    return path


def print_result(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    summary = Table(title=f"Load test {result['run_id']}", show_header=False)
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    latency = result["latency_seconds"]

    def spread(values: dict[str, float | None]) -> str:
        return " / ".join(
            "-" if values[k] is None else f"{values[k]:.1f}" for k in ("p50", "p90", "p99", "max")
        )

    per_file = ", ".join(f"{n}x: {count:,}" for n, count in result["deliveries_per_file"].items())
    rows = [
        ("files (good / bad)", f"{result['files']:,} ({result['files_good']:,} / {result['files_bad']:,})"),
        ("deliveries sent (per file)", f"{result['deliveries']:,} ({per_file})"),
        (
            "messages received / failed back",
            f"{result['messages_received']:,} / {result['messages_failed']:,}",
        ),
        ("duplicate deliveries skipped", f"{result['duplicates_skipped']:,}"),
        ("retried claims", f"{result['retried_claims']:,}"),
        ("wall time, first delivery to drained", f"{result['wall_seconds']:,.1f} s"),
        ("files/s", f"{result['files_per_second']:,.1f}"),
        ("rows/s (loaded)", f"{result['rows_per_second']:,.0f}"),
        ("deliveries/s", f"{result['deliveries_per_second']:,.1f}"),
        ("landed -> loaded p50/p90/p99/max", f"{spread(latency['landed_to_loaded'])} s"),
        ("claim -> loaded p50/p90/p99/max", f"{spread(latency['claim_to_loaded'])} s"),
        (
            "handler batches (messages each)",
            f"{result['handler_batches']:,} ({result['messages_per_batch']:g})",
        ),
        ("batch seconds p50/p90/p99/max", spread(result["batch_seconds"])),
        (
            "load jobs (failed) / files per job",
            f"{result['load_jobs']:,} ({result['load_jobs_failed']}) / {result['files_per_load_job']:g}",
        ),
        ("rows_in", f"{result['rows_in']:,}"),
        ("rows_loaded (BigQuery)", f"{result['rows_loaded']:,} ({result['rows_in_bigquery']:,})"),
        ("rows_quarantined", f"{result['rows_quarantined']:,}"),
        ("duplicates_loaded", f"{result['duplicates_loaded']:,}"),
        ("machine", f"{result['machine']['cores']} cores, {result['machine']['memory_gb']} GB"),
    ]
    cpu = result.get("cpu_seconds") or {}
    if cpu:
        rows.append(("CPU seconds: " + " / ".join(cpu), " / ".join(f"{v:,.0f}" for v in cpu.values())))
    for label, stage in (result.get("runner_stages") or {}).items():
        rows.append((f"{label} (s per call, calls)", f"{stage['seconds_per_call']:.3f} ({stage['calls']:,})"))
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)

    checks = Table(title="Accounting checks")
    for column in ("check", "result", "detail"):
        checks.add_column(column)
    for check in result["checks"]:
        verdict = "[green]PASS[/]" if check["passed"] else "[red]FAIL[/]"
        checks.add_row(check["check"], verdict, check["detail"])
    console.print(checks)
    if result.get("load_job_errors"):
        console.print("Failed load jobs (retried):", *result["load_job_errors"], sep="\n  ")
    if result.get("runner_log_warnings"):
        console.print("Runner log warnings:", result["runner_log_warnings"])
    verdict = "[bold green]PASS[/]" if result["passed"] else "[bold red]FAIL[/]"
    console.print(f"Accounting: {verdict}. Result: {result.get('result_path', '')}")


# --------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> Config:
    defaults = Config()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=defaults.files, help="files to upload (default %(default)s)"
    )
    parser.add_argument("--runners", type=int, default=defaults.runners, help="runner processes")
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help="messages per handler call"
    )
    parser.add_argument(
        "--batching-window", type=float, default=defaults.batching_window, help="seconds to fill a batch"
    )
    parser.add_argument(
        "--pollers", type=int, default=defaults.pollers, help="handler calls at once per runner"
    )
    parser.add_argument("--bad-share", type=float, default=defaults.bad_share, help="share of bad files")
    parser.add_argument("--max-deliveries", type=int, default=defaults.max_deliveries)
    parser.add_argument(
        "--backlog",
        type=int,
        default=defaults.backlog,
        help="messages kept waiting in the queue while sending (0: all at once; default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--retry-delay", type=int, default=defaults.retry_delay)
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="seconds before giving up")
    parser.add_argument(
        "--no-sqs-lock",
        dest="sqs_lock",
        action="store_false",
        help="let the runners call moto's SQS concurrently (it loses and resurrects messages)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's bucket, ledger and dataset")
    parser.add_argument("--out", type=Path, default=defaults.out_dir, help="folder of result.json")
    args = parser.parse_args(argv)
    if args.files < 1 or args.runners < 1 or args.batch_size < 1 or args.max_deliveries < 1:
        parser.error("--files, --runners, --batch-size and --max-deliveries must be at least 1")
    return Config(
        files=args.files,
        runners=args.runners,
        batch_size=args.batch_size,
        batching_window=args.batching_window,
        pollers=args.pollers,
        bad_share=args.bad_share,
        max_deliveries=args.max_deliveries,
        backlog=args.backlog,
        seed=args.seed,
        visibility_timeout=args.visibility_timeout,
        retry_delay=args.retry_delay,
        timeout=args.timeout,
        sqs_lock=args.sqs_lock,
        keep=args.keep,
        out_dir=args.out,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--runner"]:
        runner_main(Path(argv[1]), int(argv[2]))
        return 0
    config = parse_args(argv)
    from rich.console import Console

    from ingest.core.settings import Settings
    from ingest_devstack import local

    console = Console()
    was_running = bool(local.status().get("running"))
    stack = local.up(Settings.from_env())
    local.apply_environment(stack)
    console.print(f"Local stack: {'running, reused' if was_running else 'started'} ({stack.state_dir})")
    try:
        result = run_loadtest(config, console, stack)
    finally:
        if not was_running:
            local.down()
            console.print("Local stack stopped, as it was found.")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
