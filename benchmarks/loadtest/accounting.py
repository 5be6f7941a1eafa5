"""The checks of a run against what it planted, from the ledger, BigQuery, the error bucket and
the queues, and the run's measures."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.loadtest.config import PAYMENTS, PAYPAL, Config, Planned
from benchmarks.loadtest.queue import queue_counts
from benchmarks.loadtest.report import machine
from benchmarks.loadtest.resources import Resources
from ingest.adapters.s3_lake import failed_key, quarantine_key
from ingest.core.model import FileRef


def check(name: str, passed: bool, detail: str = "") -> dict[str, Any]:
    return {"check": name, "passed": bool(passed), "detail": detail}


def _examples(items: Iterable[str], limit: int = 3) -> str:
    listed = list(items)
    shown = "; ".join(listed[:limit])
    return f"{len(listed)}: {shown}" + (" ..." if len(listed) > limit else "")


def scan_ledger(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    from ingest.adapters.dynamodb.codec import unmarshal

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(unmarshal(item) for item in page["Items"])
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
    from ingest.apps.ops.metrics import latency_percentiles
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
        check(
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
        check(
            "good files LOADED: rows_in = rows_loaded + rows_quarantined, as planted",
            not wrong_good,
            f"{len(good) - len(wrong_good):,}/{len(good):,} match"
            + (f"; {_examples(wrong_good)}" if wrong_good else ""),
        )
    )
    checks.append(
        check(
            "bad files FAILED for good with their expected error type",
            not wrong_bad,
            f"{len(bad) - len(wrong_bad):,}/{len(bad):,} match"
            + (f"; {_examples(wrong_bad)}" if wrong_bad else ""),
        )
    )

    # 3. The error bucket: failed files byte for byte, quarantined rows one line each.
    def kept(p: Planned) -> str | None:
        try:
            head = s3.head_object(
                Bucket=settings.error_bucket, Key=failed_key(FileRef.of(res.bucket, p.key, ""))
            )
        except Exception as err:
            return f"{p.key}: {err}"
        return None if head["ETag"].strip('"') == p.etag else f"{p.key}: ETag {head['ETag']} != {p.etag}"

    def quarantined(p: Planned) -> str | None:
        key = quarantine_key(FileRef.of(res.bucket, p.key, ""))
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
        check(
            "failed files kept byte for byte in the error bucket",
            not not_kept,
            f"{len(bad) - len(not_kept):,}/{len(bad):,}" + (f"; {_examples(not_kept)}" if not_kept else ""),
        )
    )
    checks.append(
        check(
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
        check(
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
        check(
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
        check(
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
    queue, dlq = queue_counts(sqs, res.queue_url), queue_counts(sqs, res.dlq_url)
    checks.append(
        check(
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
        return {k: round(v, 2) for k, v in latency_percentiles(values).items()} | {
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
