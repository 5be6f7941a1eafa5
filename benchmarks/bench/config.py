"""What the harness runs: its sections, the sizes of a full and a quick run, and where things are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = ROOT / "benchmarks" / "peers"
PEERS_REQUIREMENTS = PEERS_DIR / "requirements.txt"
REPORT_PATH = ROOT / "reports" / "bench" / "results.json"
SECTIONS = ("e2e", "dlt", "pandas", "limit", "memory", "lambda", "validation", "loadtest")
PIPELINE = "paypal_transactions"
KEY_SPACE = "paypal/transactions"  # the pipeline's key_pattern routes these keys to it


@dataclass(frozen=True)
class Sizes:
    big_files: int
    big_rows_per_file: int
    small_files: int
    small_rows_per_file: int
    pandas_big_files: int
    """pandas-gbq is timed on the first this many big files (labelled when not all)."""
    pandas_small_files: int
    memory_mb: int
    lambda_warm_files: int
    lambda_rows_per_file: int
    validation_rows: int
    dlt_default_on_small: bool
    child_timeout_seconds: float
    lambda_cold_starts: int | None = None
    """Fresh Lambda processes timed (each one cold start); None: one per run."""
    lambda_batch_files: int = 100
    """Files of the one SQS batch invocation timed after the warm files (the template's BatchSize)."""
    loadtest_files: int = 10_000
    """Files of the event-mode load test and of the backfill (issue 22: 10,000 each)."""


# Full: the sizes. pandas-gbq does one load job per file (about 6 files/s on the
# emulator), so it is timed on the first 200 small files and 20 big ones.
FULL = Sizes(100, 10_000, 2_000, 20, 20, 200, 1_000, 20, 100, 1_000_000, True, 4 * 3600)
# Quick: under 3 minutes, with 2 runs per figure. The fixed costs bound it: a Lambda cold start
# takes 15 s (GX builds its suite in 9 s), so quick mode times one, and dlt (about 2,000 rows/s
# here) bounds the big set. GX runs on 1M rows in both modes: on fewer its fixed cost per run
# would read as a miss of the 5 s target.
QUICK = Sizes(
    2, 5_000, 100, 20, 2, 20, 10, 2, 100, 1_000_000, False, 1200, lambda_cold_starts=1, loadtest_files=1_000
)
QUICK_RUNS = 2
