"""What the pipeline tells CloudWatch: one Embedded Metric Format (EMF) document per pipeline and
invocation, printed by the Lambda, which CloudWatch turns into the metrics the alarms in
``deploy/template.yaml`` watch (a test holds the template to the names here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import batched
from typing import Any

import numpy as np

NAMESPACE = "PaymentsIngest"
SERVICE = "ingest"
PIPELINE_DIMENSION = "pipeline"
UNROUTED = "unrouted"
"""The pipeline dimension of files no pipeline takes (their key matches no pattern)."""

# EMF takes at most 100 values per metric in one document.
FILES_PER_DOCUMENT = 99


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def metric_documents(results: Iterable[Any], timestamp: datetime | None = None) -> list[dict[str, Any]]:
    """EMF documents for the files of one invocation: one per pipeline (and per 99 files).

    ``results`` are ``pipeline.FileResult``. Each document is published under two dimension sets,
    ``[service]`` for totals (the failed-file alarm) and ``[service, pipeline]`` (quarantine rate
    and freshness per pipeline).

    - FilesLoaded, FilesFailed (failed for good: no retry will come), FilesRetried,
      DuplicatesSkipped: counts.
    - RowsLoaded, RowsQuarantined: rows of the loaded files.
    - LoadSeconds: claim to outcome, per file. FileAgeSeconds: landed in S3 to loaded, per file.
    """
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    by_pipeline: dict[str, list[Any]] = defaultdict(list)
    for result in results:
        by_pipeline[result.pipeline or UNROUTED].append(result)
    documents: list[dict[str, Any]] = []
    for pipeline, files in sorted(by_pipeline.items()):
        for chunk in batched(files, FILES_PER_DOCUMENT, strict=False):
            metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            metrics.add_dimensions(service=SERVICE, **{PIPELINE_DIMENSION: pipeline})
            counts = _counts(chunk)
            for name, value in counts.items():
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            for result in chunk:
                seconds = _seconds_between(result.started_at, result.finished_at)
                if seconds is not None:
                    metrics.add_metric(name="LoadSeconds", unit=MetricUnit.Seconds, value=seconds)
                age = _seconds_between(result.ref.event_time, result.finished_at)
                if age is not None and result.status == "LOADED":
                    metrics.add_metric(name="FileAgeSeconds", unit=MetricUnit.Seconds, value=age)
            if timestamp is not None:
                metrics.set_timestamp(timestamp)
            documents.append(dict(metrics.serialize_metric_set()))
    return documents


def print_metrics(results: Sequence[Any]) -> int:
    """Print the invocation's EMF documents to stdout, where Lambda's log shipping finds them.

    ``POWERTOOLS_METRICS_DISABLED=true`` prints nothing (the local queue worker sets it).
    Returns the number of documents printed.
    """
    import json

    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled() or not results:
        return 0
    documents = metric_documents(results)
    for document in documents:
        print(json.dumps(document, separators=(",", ":")), flush=True)
    return len(documents)


def _counts(results: Sequence[Any]) -> dict[str, int]:
    loaded = [r for r in results if r.status == "LOADED"]
    return {
        "FilesLoaded": len(loaded),
        "FilesFailed": sum(r.status == "FAILED" and not r.retryable for r in results),
        "FilesRetried": sum(r.status == "FAILED" and r.retryable for r in results),
        "DuplicatesSkipped": sum(r.status == "SKIPPED_DUPLICATE" for r in results),
        "RowsLoaded": sum(r.rows_loaded for r in loaded),
        "RowsQuarantined": sum(r.rows_quarantined for r in loaded),
    }


def latency_percentiles(seconds: Sequence[float], points: Sequence[int] = (50, 90, 99)) -> dict[str, float]:
    """p50/p90/p99 of latencies in seconds, interpolated linearly between the closest ranks.

    numpy's interpolation keeps them in order and within the values: equal latencies give that
    latency at every point (``statistics.quantiles`` gave p90 a rounding step below p50).
    """
    if not seconds:
        return {f"p{p}": float("nan") for p in points}
    cuts = np.percentile(np.asarray(seconds, dtype=float), list(points))
    return {f"p{p}": float(cut) for p, cut in zip(points, cuts, strict=True)}
