"""The load test's settings (``Config``), what it plants (``Planned``), and the kinds of files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT_DIR = ROOT / "reports" / "loadtest"

PAYPAL = "paypal_transactions"
PAYMENTS = "payment_transactions"
# What each kind of bad file must fail with (docs/formats-and-errors.md, "Error types a user can meet").
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


MODES = ("event", "backfill")


@dataclass
class Config:
    mode: str = "event"
    """event: each file's S3 event sent 1-3 times; backfill: ``ingest backfill``'s code enqueues them."""
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
    rate: float = 0.0
    """Messages sent a second, evenly (files landing on their own clock); 0: ``backlog`` decides."""
    seed: int = 7
    upload_threads: int = 16
    idle_seconds: float = 3.0
    visibility_timeout: int = 900
    retry_delay: int = 5
    """Seconds before a message the handler returned as failed is visible again."""
    timeout: float = 0.0
    """Seconds from the first delivery before the runners are stopped; 0: 600 + 1 per file."""
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
