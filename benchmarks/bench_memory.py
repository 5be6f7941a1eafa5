"""Memory benchmark: peak RSS of ``ingest_file`` on large NDJSON and CSV files.

Run with ``.venv/bin/python benchmarks/bench_memory.py [--sizes 100,1000] [--target-mb 600]``.
Starts its own local stack in a temporary folder with two scratch pipelines (NDJSON and CSV,
the same 11 columns, each routed by its own key prefix to its own table), then for each size
and format:

  1. generates the file on disk, streaming and seeded, with a few deliberately bad rows so the
     quarantine path runs too;
  2. uploads it to the lake with a multipart TransferConfig (this process never holds the file);
  3. ingests it in a child process (``Services.from_env`` + ``ingest_file``), so the peak RSS
     measured is the ingest's alone. The child reports its own ``ru_maxrss`` and ``VmHWM``;
     this process samples the child's ``/proc/<pid>/status`` (VmHWM as a cross-check, VmRSS
     every 0.1 s to show when in the ingest the peak happens).

Prints one table (seconds, rows/s, MB/s, peak RSS, RSS relative to the smallest file of the
same format, PASS/FAIL against the target) and one table of outcomes (status, rows_in =
rows_loaded + rows_quarantined, quarantined rows vs the bad rows written). Exits 1 if any
ingest failed, a row count does not add up, or a peak RSS misses the target.

Units: MB is 10^6 bytes throughout (file sizes, RSS and ``--target-mb``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ingest.core.settings import Settings
from ingest_devstack import local

MB = 1_000_000
FORMATS = ("ndjson", "csv")
DATASET = "bench_memory"
COLUMNS = (
    ("order_id", "STRING", "REQUIRED"),
    ("amount", "NUMERIC", "NULLABLE"),
    ("ordered_at", "TIMESTAMP", "NULLABLE"),
    ("quantity", "INT64", "NULLABLE"),
    ("is_gift", "BOOL", "NULLABLE"),
    ("customer_id", "STRING", "NULLABLE"),
    ("country_code", "STRING", "NULLABLE"),
    ("currency_code", "STRING", "NULLABLE"),
    ("channel", "STRING", "NULLABLE"),
    ("sku", "STRING", "NULLABLE"),
    ("note", "STRING", "NULLABLE"),
)
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)
# The data rows of each file (1-based) that may be bad are drawn from this far in, so format
# detection, which looks at the first lines, always sees good ones.
FIRST_BAD_ROW = 1_000
GENERATE_BATCH_ROWS = 20_000
POOL_BITS = 12
UPLOAD_PART_BYTES = 16 * 1024 * 1024

PIPELINE_YAML = """\
name: bench_orders_{fmt}
description: bench_memory scratch pipeline ({fmt})
key_pattern: '^bench-memory/{fmt}/'
table: {dataset}.orders_{fmt}
format: auto
write_mode: append
business_key: [order_id]
columns:
{columns}
"""

# Runs in the child: only the ingest, then its own peak RSS. Argument: the FileRef as JSON.
CHILD_SCRIPT = """\
import json, resource, sys, time

def status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1

from ingest.adapters.s3_lake import FileRef
from ingest.ingestion.flow import Services, ingest_file

ref = FileRef.of(**json.loads(sys.argv[1]))
services = Services.from_env()
rss_before_kib = status_kib("VmRSS")
start = time.perf_counter()
result = ingest_file(ref, services)
seconds = time.perf_counter() - start
print(json.dumps({
    "status": str(result.status.value if hasattr(result.status, "value") else result.status),
    "rows_in": result.rows_in,
    "rows_loaded": result.rows_loaded,
    "rows_quarantined": result.rows_quarantined,
    "error_type": result.error_type,
    "message": result.message[:500],
    "seconds": seconds,
    "rss_before_kib": rss_before_kib,
    "vmhwm_kib": status_kib("VmHWM"),
    "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}), flush=True)
"""

COUNTRIES = ("US", "GB", "DE", "FR", "BR", "JP", "IN", "CA")
CURRENCIES = ("USD", "GBP", "EUR", "BRL", "JPY", "INR", "CAD")
CHANNELS = ("web", "ios", "android", "steam", "console")
NOTES = ("", "", "", "first purchase", "gift, wrapped", 'said "thanks"', "promo SUMMER21")
BASE_TIME = datetime(2021, 7, 1, tzinfo=UTC)


@dataclass
class Generated:
    fmt: str
    path: Path
    size_mb: int
    bytes: int = 0
    rows: int = 0
    bad_rows: list[int] = field(default_factory=list)


@dataclass
class Measured:
    generated: Generated
    result: dict[str, Any] | None
    parent_vmhwm_kib: int
    wall_seconds: float
    rss_peak_at: float
    """Seconds after the child started when this process saw its largest VmRSS."""
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the child started, VmRSS KiB), sampled by this process."""
    failure: str = ""

    @property
    def ingest_started_at(self) -> float:
        """About when ``ingest_file`` began, in seconds after the child started (the rest of the
        child's time is imports and ``Services.from_env``)."""
        if self.result is None:
            return 0.0
        return max(self.wall_seconds - self.result["seconds"], 0.0)

    def rss_at(self, fraction: float) -> int:
        """The child's VmRSS at ``fraction`` of the ingest's time (the sample just before)."""
        start = self.ingest_started_at
        moment = start + (self.wall_seconds - start) * fraction
        earlier = [kib for at, kib in self.rss_samples if at <= moment]
        return earlier[-1] if earlier else 0

    @property
    def peak_kib(self) -> int:
        """Peak RSS of the ingest child; the largest of what it and this process saw."""
        if self.result is None:
            return self.parent_vmhwm_kib
        return max(self.result["ru_maxrss_kib"], self.result["vmhwm_kib"], self.parent_vmhwm_kib)


# --- pipelines ---------------------------------------------------------------------------


def write_pipelines(directory: Path) -> None:
    columns = "\n".join(
        f"  - {{name: {name}, type: {kind}" + (", mode: REQUIRED}" if mode == "REQUIRED" else "}")
        for name, kind, mode in COLUMNS
    )
    directory.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        text = PIPELINE_YAML.format(fmt=fmt, dataset=DATASET, columns=columns)
        (directory / f"bench_orders_{fmt}.yaml").write_text(text, encoding="utf-8")


# --- data --------------------------------------------------------------------------------


def timestamp(number: int, jitter: int) -> str:
    """Row ``number``'s order time, about 7 seconds after the previous row's."""
    day, rest = divmod(number * 7 + jitter, 86_400)
    hour, rest = divmod(rest, 3_600)
    minute, second = divmod(rest, 60)
    return f"{_day(day)}T{hour:02d}:{minute:02d}:{second:02d}Z"


@functools.cache
def _day(day: int) -> str:
    return (BASE_TIME + timedelta(days=day)).strftime("%Y-%m-%d")


def good_values(rng: random.Random, number: int) -> tuple[Any, ...]:
    """One valid order, in COLUMNS order (strings, except quantity int and is_gift bool)."""
    return (
        f"o-{number:012d}",
        f"{rng.randrange(1, 100_000) / 100:.2f}",
        timestamp(number, rng.randrange(7)),
        rng.randrange(1, 10),
        rng.random() < 0.1,
        f"c-{rng.randrange(1_000_000):07d}",
        rng.choice(COUNTRIES),
        rng.choice(CURRENCIES),
        rng.choice(CHANNELS),
        f"SKU-{rng.randrange(5_000):05d}",
        rng.choice(NOTES),
    )


def good_row_maker(fmt: str, rng: random.Random) -> Callable[[int], str]:
    """A fast renderer of valid rows: a seeded pool of pre-rendered records, each row with its
    own order id and time (rendering every value per row would make 1 GB take minutes)."""
    line = ndjson_line if fmt == "ndjson" else csv_line
    pool = []
    for _ in range(1 << POOL_BITS):
        values = list(good_values(rng, 0))
        values[0], values[2] = "@@ID@@", "@@TS@@"
        head, rest = line(tuple(values)).split("@@ID@@")
        middle, tail = rest.split("@@TS@@")
        pool.append((head + "o-", middle, tail))
    bits = rng.getrandbits

    def make(number: int) -> str:
        choice = bits(POOL_BITS + 3)
        head, middle, tail = pool[choice >> 3]
        return f"{head}{number:012d}{middle}{timestamp(number, choice & 7)}{tail}"

    return make


def ndjson_line(values: tuple[Any, ...]) -> str:
    record = dict(zip(COLUMN_NAMES, values, strict=True))
    return json.dumps(record, separators=(",", ":"))


def csv_line(values: tuple[Any, ...]) -> str:
    cells = []
    for value in values:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if any(ch in text for ch in ',"\n'):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return ",".join(cells)


def bad_line(fmt: str, rng: random.Random, number: int, kind: int) -> str:
    """A row the pipeline must quarantine; ``kind`` cycles through different reasons."""
    values = list(good_values(rng, number))
    line = ndjson_line if fmt == "ndjson" else csv_line
    match kind % 5:
        case 0:  # not a number
            values[1] = "not-a-number"
        case 1:  # REQUIRED value missing (null in JSON, empty cell in CSV)
            values[0] = None if fmt == "ndjson" else ""
        case 2:  # ambiguous date
            values[2] = "07/01/2021"
        case 3:  # not an integer
            values[3] = "three"
        case _:  # unreadable record: broken JSON line, ragged CSV row
            if fmt == "ndjson":
                return line(tuple(values))[:-20]
            return ",".join(str(v) for v in values[:4])
    return line(tuple(values))


def choose_bad_rows(rng: random.Random, estimated_rows: int, count: int) -> list[int]:
    last = max(estimated_rows - 1, FIRST_BAD_ROW + count)
    return sorted(rng.sample(range(FIRST_BAD_ROW, last), count))


def generate(fmt: str, size_mb: int, directory: Path, seed: int, bad_count: int) -> Generated:
    """Write ``size_mb`` MB (at least) of ``fmt`` rows to disk, a batch of lines at a time."""
    rng = random.Random(f"{seed}-{fmt}-{size_mb}")
    target = size_mb * MB
    make = good_row_maker(fmt, rng)
    sample = sum(len(make(n)) + 1 for n in range(1, 1001)) / 1000
    planned = choose_bad_rows(rng, int(target / sample), bad_count)
    generated = Generated(fmt, directory / f"orders-{size_mb}mb.{fmt}", size_mb)
    pending = iter(planned)
    next_bad = next(pending, None)
    with open(generated.path, "w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            header = ",".join(COLUMN_NAMES) + "\n"
            out.write(header)
            generated.bytes += len(header)
        number = 0
        while generated.bytes < target:
            lines = []
            for _ in range(GENERATE_BATCH_ROWS):
                number += 1
                if number == next_bad:
                    text = bad_line(fmt, rng, number, len(generated.bad_rows))
                    generated.bad_rows.append(number)
                    next_bad = next(pending, None)
                else:
                    text = make(number)
                lines.append(text)
                generated.bytes += len(text) + 1
                if generated.bytes >= target:
                    break
            out.write("\n".join(lines) + "\n")
        generated.rows = number
    actual = generated.path.stat().st_size
    if actual != generated.bytes:
        raise RuntimeError(f"{generated.path}: wrote {actual} bytes, counted {generated.bytes}")
    return generated


# --- S3 ----------------------------------------------------------------------------------


def upload(s3: Any, bucket: str, generated: Generated) -> dict[str, Any]:
    """Upload to the lake in parts; return the FileRef fields of the stored object."""
    from boto3.s3.transfer import TransferConfig

    key = f"bench-memory/{generated.fmt}/orders-{generated.size_mb}mb-{int(time.time())}"
    config = TransferConfig(
        multipart_threshold=UPLOAD_PART_BYTES,
        multipart_chunksize=UPLOAD_PART_BYTES,
        max_concurrency=2,
        use_threads=True,
    )
    s3.upload_file(str(generated.path), bucket, key, Config=config)
    head = s3.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != generated.bytes:
        raise RuntimeError(f"uploaded {head['ContentLength']} bytes of {key}, expected {generated.bytes}")
    return {"bucket": bucket, "key": key, "etag": head["ETag"], "size": head["ContentLength"]}


# --- measuring ---------------------------------------------------------------------------


def proc_status_kib(pid: int, name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(generated: Generated, ref: dict[str, Any], timeout: float, log_dir: Path) -> Measured:
    """Ingest ``ref`` in a child process; its JSON result line and peak RSS."""
    stderr_path = log_dir / f"ingest-{generated.fmt}-{generated.size_mb}mb.stderr"
    peak: dict[str, float] = {"vmhwm": 0, "vmrss": 0, "at": 0.0}
    samples: list[tuple[float, int]] = []
    start = time.perf_counter()
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_SCRIPT, json.dumps(ref)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                hwm, rss = proc_status_kib(child.pid, "VmHWM"), proc_status_kib(child.pid, "VmRSS")
                if hwm is not None:
                    peak["vmhwm"] = max(peak["vmhwm"], hwm)
                if rss is not None:
                    samples.append((time.perf_counter() - start, rss))
                    if rss > peak["vmrss"]:
                        peak["vmrss"], peak["at"] = rss, samples[-1][0]
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            stdout, _ = child.communicate(timeout=timeout)
            failure = ""
        except subprocess.TimeoutExpired:
            child.kill()
            stdout, _ = child.communicate()
            failure = f"timed out after {timeout:.0f}s (child killed)"
        except BaseException:
            child.kill()
            child.wait()
            raise
        finally:
            done.set()
            sampler.join()
    wall = time.perf_counter() - start
    result = None
    lines = [line for line in stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    if lines:
        result = json.loads(lines[-1])
    elif not failure:
        tail = stderr_path.read_text(errors="replace")[-1500:]
        failure = f"child exited {child.returncode} without a result; stderr tail:\n{tail}"
    return Measured(generated, result, int(peak["vmhwm"]), wall, peak["at"], samples, failure)


# --- report ------------------------------------------------------------------------------


def as_mb(kib: int) -> float:
    return kib * 1024 / MB


def rss_timeline(measured: Measured) -> str:
    return " / ".join(f"{as_mb(measured.rss_at(f)):,.0f}" for f in (0.1, 0.5, 0.9))


def problems_of(measured: Measured, target_mb: float) -> list[str]:
    g, r = measured.generated, measured.result
    name = f"{g.fmt} {g.size_mb} MB"
    if r is None:
        return [f"{name}: {measured.failure} (VmHWM seen {as_mb(measured.parent_vmhwm_kib):,.0f} MB)"]
    problems = []
    if r["status"] != "LOADED":
        problems.append(f"{name}: status {r['status']} {r['error_type'] or ''} {r['message']}".rstrip())
    if r["rows_in"] != r["rows_loaded"] + r["rows_quarantined"]:
        problems.append(
            f"{name}: rows_in {r['rows_in']} != rows_loaded {r['rows_loaded']}"
            f" + rows_quarantined {r['rows_quarantined']}"
        )
    if r["status"] == "LOADED" and (r["rows_in"], r["rows_quarantined"]) != (g.rows, len(g.bad_rows)):
        problems.append(
            f"{name}: read {r['rows_in']} rows with {r['rows_quarantined']} quarantined;"
            f" generated {g.rows} with {len(g.bad_rows)} bad"
        )
    if as_mb(measured.peak_kib) >= target_mb:
        problems.append(f"{name}: peak RSS {as_mb(measured.peak_kib):,.0f} MB >= target {target_mb:,.0f} MB")
    return problems


def report(console: Console, results: list[Measured], target_mb: float) -> list[str]:
    smallest: dict[str, Measured] = {}
    for m in results:
        best = smallest.get(m.generated.fmt)
        if m.result and (best is None or m.generated.bytes < best.generated.bytes):
            smallest[m.generated.fmt] = m

    table = Table(title=f"ingest_file peak memory (child process), target < {target_mb:,.0f} MB; MB = 10^6 B")
    for column in (
        "format",
        "file MB",
        "rows",
        "seconds",
        "rows/s",
        "MB/s",
        "RSS pre-ingest MB",
        "peak RSS MB",
        "VmHWM (parent) MB",
        "RSS vs smallest",
        "target",
    ):
        table.add_column(column, justify="left" if column == "format" else "right")
    for m in results:
        g, r = m.generated, m.result
        file_mb = g.bytes / MB
        if r is None:
            table.add_row(
                g.fmt,
                f"{file_mb:,.1f}",
                f"{g.rows:,}",
                *["-"] * 5,
                f"{as_mb(m.parent_vmhwm_kib):,.0f}",
                "-",
                "FAIL",
            )
            continue
        seconds = r["seconds"]
        base = smallest[g.fmt]
        ratio = m.peak_kib / base.peak_kib
        growth = g.bytes / base.generated.bytes
        passed = as_mb(m.peak_kib) < target_mb
        table.add_row(
            g.fmt,
            f"{file_mb:,.1f}",
            f"{r['rows_in']:,}",
            f"{seconds:,.1f}",
            f"{r['rows_in'] / seconds:,.0f}",
            f"{file_mb / seconds:,.2f}",
            f"{as_mb(r['rss_before_kib']):,.0f}",
            f"{as_mb(m.peak_kib):,.0f}",
            f"{as_mb(m.parent_vmhwm_kib):,.0f}",
            f"{ratio:.2f}x (file {growth:.1f}x)",
            "[green]PASS[/]" if passed else "[red]FAIL[/]",
        )
    console.print(table)

    outcomes = Table(title="Outcome per file")
    for column in (
        "format",
        "file MB",
        "status",
        "rows_in",
        "rows_loaded",
        "rows_quarantined",
        "bad written",
        "in = loaded + quar.",
        "child ru_maxrss / VmHWM MB",
        "child wall s",
        "RSS peak, s into ingest",
        "VmRSS MB at 10/50/90% of ingest",
    ):
        outcomes.add_column(column, justify="left" if column in {"format", "status"} else "right")
    for m in results:
        g, r = m.generated, m.result
        if r is None:
            outcomes.add_row(
                g.fmt,
                f"{g.bytes / MB:,.1f}",
                "[red]NO RESULT[/]",
                *["-"] * 3,
                str(len(g.bad_rows)),
                "-",
                "-",
                f"{m.wall_seconds:,.1f}",
                f"{m.rss_peak_at:,.1f}",
                rss_timeline(m),
            )
            continue
        balanced = r["rows_in"] == r["rows_loaded"] + r["rows_quarantined"]
        status = r["status"] if r["status"] == "LOADED" else f"[red]{r['status']} {r['error_type'] or ''}[/]"
        outcomes.add_row(
            g.fmt,
            f"{g.bytes / MB:,.1f}",
            status,
            f"{r['rows_in']:,}",
            f"{r['rows_loaded']:,}",
            f"{r['rows_quarantined']:,}",
            f"{len(g.bad_rows):,}",
            "[green]yes[/]" if balanced else "[red]NO[/]",
            f"{as_mb(r['ru_maxrss_kib']):,.0f} / {as_mb(r['vmhwm_kib']):,.0f}",
            f"{m.wall_seconds:,.1f}",
            f"{m.rss_peak_at - m.ingest_started_at:,.1f} of {r['seconds']:,.1f}",
            rss_timeline(m),
        )
    console.print(outcomes)
    return [problem for m in results for problem in problems_of(m, target_mb)]


# --- main --------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] <= 0:
        raise argparse.ArgumentTypeError("sizes are positive whole MB, such as 100,1000")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[100, 1000], help="file sizes in MB (default 100,1000)"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="ndjson,csv (default both)")
    parser.add_argument(
        "--target-mb", type=float, default=600.0, help="peak RSS limit per ingest (default 600)"
    )
    parser.add_argument("--bad-rows", type=int, default=10, help="bad rows per file (default 10)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per ingest before it is killed"
    )
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats {sorted(unknown)}; choose from {FORMATS}")
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=200)

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-memory-"))
    pipelines_dir, data_dir, state_dir = work / "pipelines", work / "data", work / "stack"
    data_dir.mkdir()
    write_pipelines(pipelines_dir)
    os.environ["INGEST_PIPELINES_DIR"] = str(pipelines_dir)  # inherited by the ingest children
    settings = Settings.from_env()
    try:
        console.log(f"starting the local stack in {state_dir}")
        stack = local.up(settings, state_dir=state_dir)
        local.apply_environment(stack)
        try:
            results = run(args, formats, settings, data_dir, work, console)
        finally:
            local.down(state_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    own_peak = proc_status_kib(os.getpid(), "VmHWM") or 0
    console.log(f"this benchmark process (generate, upload, stack start): peak RSS {as_mb(own_peak):,.0f} MB")
    problems = report(console, results, args.target_mb)
    if problems:
        console.print(f"[red]bench_memory: FAIL ({len(problems)} problem(s))[/]")
        for problem in problems:
            console.print(f"  - {problem}", markup=False)
        return 1
    console.print(
        f"[green]bench_memory: PASS[/] every ingest LOADED, rows add up, peak RSS < {args.target_mb:,.0f} MB"
    )
    return 0


def run(
    args: argparse.Namespace,
    formats: list[str],
    settings: Settings,
    data_dir: Path,
    log_dir: Path,
    console: Console,
) -> list[Measured]:
    from ingest.adapters.clients import aws_client

    s3 = aws_client("s3")
    results = []
    for fmt in formats:
        for size_mb in args.sizes:
            start = time.perf_counter()
            generated = generate(fmt, size_mb, data_dir, args.seed, args.bad_rows)
            console.log(
                f"{fmt} {size_mb} MB: generated {generated.rows:,} rows ({len(generated.bad_rows)} bad)"
                f" in {time.perf_counter() - start:.1f}s"
            )
            start = time.perf_counter()
            ref = upload(s3, settings.lake_bucket, generated)
            generated.path.unlink()
            console.log(
                f"{fmt} {size_mb} MB: uploaded to s3://{ref['bucket']}/{ref['key']}"
                f" in {time.perf_counter() - start:.1f}s"
            )
            measured = measure(generated, ref, args.timeout, log_dir)
            if measured.result:
                r = measured.result
                console.log(
                    f"{fmt} {size_mb} MB: {r['status']} in {r['seconds']:.1f}s, {r['rows_in']:,} rows,"
                    f" peak RSS {as_mb(measured.peak_kib):,.0f} MB"
                )
            else:
                console.log(f"{fmt} {size_mb} MB: {measured.failure}", markup=False)
            results.append(measured)
    return results


if __name__ == "__main__":
    sys.exit(main())
