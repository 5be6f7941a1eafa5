"""The benchmark harness: ours end to end against dlt, pandas-gbq and DuckDB's limit, on the local stack.

Run with ``make bench`` (full; about 55 minutes on 2 cores today, of which dlt on the big set
takes 10 a run) or ``make bench-quick`` (small sizes and 2 runs, about 3 minutes), or
``.venv/bin/python benchmarks/bench.py [--quick] [--runs N] [--only SECTION,...]``. Starts its own
local stack in a temporary folder, generates seeded PayPal Transaction Search records (about
1.5 KB each) once, uploads them to the lake bucket (big set and small set under prefixes of their
own) and keeps the same files on local disk for DuckDB. Sections:

  e2e         ours: ``run_batch`` over each set; a fresh ledger table and target dataset per run,
              in one child process (the GX suite built before timing, as in a warm Lambda);
              files/s, rows/s, MB/s, load jobs, the per-stage split, peak RSS of each run.
  dlt         dlt's filesystem source reading the same moto bucket into its DuckDB destination,
              with its parquet loader file format (its best); full mode also runs its default
              (jsonl) on the small set. In a venv of its own (.local/bench-peers-venv).
  pandas      per file: get_object, ``read_json``, ``json_normalize``, ``to_gbq`` into the
              emulator, as a notebook would; on a labelled subset of the files where all of them
              would take too long.
  limit       DuckDB ``read_json`` of the local copies into a table of the same flat columns.
  memory      peak RSS ingesting a 1 GB NDJSON file and a 1 GB CSV file (bench_memory.py's
              machinery; one run each).
  lambda      in a fresh process: ``import ingest.apps.lambda_handler``, Services and the GX suite (the cold
              start), then one direct S3 invocation per new 100-row file (warm per-file overhead).
  validation  the GX suite on 1M typed PayPal rows (bench_validate.py's data).

Every figure is the median of ``--runs`` runs (each run's raw value kept in the JSON). Prints one
table per section and a summary of ratios and targets, and writes ``reports/bench/results.json``.
Exits 0 when targets are missed (this is a measurement) and 1 when a run's row accounting is
wrong or a section could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import bench_summary as summary
import yaml
from bench_summary import MB, RESULT_PREFIX
from rich.console import Console
from rich.table import Table

from ingest.core.settings import PACKAGE_DIR, Settings
from ingest_devstack import local

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
PEERS_DIR = BENCH_DIR / "peers"
PEERS_REQUIREMENTS = PEERS_DIR / "requirements.txt"
REPORT_PATH = ROOT / "reports" / "bench" / "results.json"
SECTIONS = ("e2e", "dlt", "pandas", "limit", "memory", "lambda", "validation")
PIPELINE = "paypal_transactions"
KEY_SPACE = "paypal/transactions"  # the pipeline's key_pattern routes these keys to it
UPLOAD_PART_BYTES = 16 * 1024 * 1024


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


# Full: the sizes. pandas-gbq does one load job per file (about 6 files/s on the
# emulator), so it is timed on the first 200 small files and 20 big ones.
FULL = Sizes(100, 10_000, 2_000, 20, 20, 200, 1_000, 20, 100, 1_000_000, True, 4 * 3600)
# Quick: under 3 minutes, with 2 runs per figure. The fixed costs bound it: a Lambda cold start
# takes 15 s (GX builds its suite in 9 s), so quick mode times one, and dlt (about 2,000 rows/s
# here) bounds the big set. GX runs on 1M rows in both modes: on fewer its fixed cost per run
# would read as a miss of the 5 s target.
QUICK = Sizes(2, 5_000, 100, 20, 2, 20, 10, 2, 100, 1_000_000, False, 1200, lambda_cold_starts=1)
QUICK_RUNS = 2


# --- PayPal records ------------------------------------------------------------------------

BASE_TIME = datetime(2021, 7, 1, tzinfo=UTC)
ACCOUNT = "6STWC2LSUYYYE"
PRODUCTS = (  # product id, name, unit price in USD: the game's store
    (2201, "Handful of Gems", 99),
    (2202, "Gem Pack", 499),
    (2203, "Sack of Gems", 999),
    (2204, "Chest of Gems", 1999),
    (2205, "Vault of Gems", 4999),
    (2206, "Starter Bundle", 299),
    (2207, "Season Pass", 999),
    (2208, "Remove Ads", 399),
)
PRODUCT_WEIGHTS = (20, 25, 15, 8, 3, 15, 10, 4)
COUNTRIES = ("US", "US", "US", "GB", "CA", "AU", "DE", "FR", "ES", "IT", "NL", "IE", "PL", "SE")
GIVEN_NAMES = ("Ava", "Noah", "Mia", "Liam", "Zoë", "Luca", "Emma", "Jonas", "Chloé", "Sean")
SURNAMES = ("Smith", "Müller", "García", "Rossi", "Martin", "de Vries", "Murphy", "Gruber")
TOWNS = ("Riverside", "Fairview", "Millbrook", "Westfield", "Ashford")
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ID_STEP = 61_803_398_874_989_484_820_458_683
REFUND_SHARE = 0.02
PENDING_SHARE = 0.03


def cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def money(value_cents: int) -> dict[str, str]:
    return {"currency_code": "USD", "value": cents(value_cents)}


def transaction_id(number: int) -> str:
    """A 17-character id like PayPal's (``7RK5LUHV4EDT9L83U``), distinct for every number.

    n -> n * step mod 36**17 is a bijection because the step is prime to 36; a step near 36**17
    times the golden ratio scatters consecutive numbers over the whole alphabet.
    """
    value = (number + 1) * ID_STEP % 36**17
    digits = []
    for _ in range(17):
        value, digit = divmod(value, 36)
        digits.append(ID_ALPHABET[digit])
    return "".join(reversed(digits))


def paypal_time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")[:19] + "+0000"


def paypal_record(rng: random.Random, number: int) -> dict[str, Any]:
    """One Transaction Search ``transaction_details[]`` element: a sale, 2% of them refunds.

    Every record passes the PayPal suite (completed sales have a fee, refunds are negative and
    name the sale they refund), so each run must load exactly the rows written.
    """
    started = BASE_TIME + timedelta(seconds=number * 2 + rng.randrange(2))
    product_id, name, unit = rng.choices(PRODUCTS, PRODUCT_WEIGHTS)[0]
    quantity = 1 if rng.random() < 0.9 else rng.randint(2, 3)
    gross = unit * quantity
    user = rng.randrange(60_000)
    given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
    country = rng.choice(COUNTRIES)
    invoice = f"INV-2021-{number:09d}"
    info: dict[str, Any] = {
        "paypal_account_id": ACCOUNT,
        "transaction_id": transaction_id(number),
    }
    if rng.random() < REFUND_SHARE:
        info |= {
            "paypal_reference_id": transaction_id(number + 500_000_000),
            "paypal_reference_id_type": "TXN",
            "transaction_event_code": "T1107",
            "transaction_status": "S",
            "transaction_amount": money(-gross),
            "fee_amount": money(0),
        }
        updated = started
    else:
        pending = rng.random() < PENDING_SHARE
        fee = -((gross * 29 + 500) // 1000 + 30)  # 2.9% + 0.30, rounded half up
        info |= {
            "transaction_event_code": rng.choice(("T0006", "T0007")),
            "transaction_status": "P" if pending else "S",
            "transaction_amount": money(gross),
            "fee_amount": money(fee),
        }
        updated = started if pending else started + timedelta(seconds=3 + rng.randrange(40))
    balance = 1_000_000 + (number * 37) % 500_000
    info |= {
        "transaction_initiation_date": paypal_time(started),
        "transaction_updated_date": paypal_time(updated),
        "transaction_subject": f"{name} x{quantity}",
        "ending_balance": money(balance),
        "available_balance": money(balance - 25_000),
        "invoice_id": invoice,
        "custom_field": f"user:{user}",
        "protection_eligibility": "02",
        "instrument_type": rng.choice(("PAYPAL", "CREDIT_CARD", "DEBIT_CARD")),
    }
    return {
        "transaction_info": info,
        "payer_info": {
            "account_id": f"P{user:08d}WXYZ",
            "email_address": f"player{user}@example.org",
            "address_status": "Y",
            "payer_status": rng.choice("YN"),
            "payer_name": {
                "given_name": given,
                "surname": surname,
                "alternate_full_name": f"{given} {surname}",
            },
            "country_code": country,
        },
        "shipping_info": {
            "name": f"{surname}, {given}",
            "address": {
                "line1": f"{rng.randint(1, 240)} High Street",
                "city": rng.choice(TOWNS),
                "country_code": country,
                "postal_code": str(rng.randint(1000, 99999)),
            },
        },
        "cart_info": {
            "item_details": [
                {
                    "item_code": str(product_id),
                    "item_name": f"{name} (ID: #{product_id})",
                    "item_description": f"{name} for the game",
                    "item_quantity": str(quantity),
                    "item_unit_price": money(unit),
                    "item_amount": money(gross),
                    "total_item_amount": money(gross),
                    "invoice_number": invoice,
                }
            ]
        },
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def paypal_ndjson(seed: str, first_number: int, rows: int) -> bytes:
    rng = random.Random(seed)
    lines = (
        json.dumps(paypal_record(rng, first_number + n), ensure_ascii=False, separators=(",", ":"))
        for n in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


def notebook_columns() -> list[str]:
    """The flattened columns a notebook user's ``json_normalize`` gives: a sale's and a refund's."""
    import pandas as pd

    rng = random.Random("columns")
    records = [paypal_record(rng, n) for n in range(2_000)]
    refund = next(r for r in records if "paypal_reference_id" in r["transaction_info"])
    return list(pd.json_normalize([records[0], refund]).columns)


# --- the file sets -------------------------------------------------------------------------


@dataclass
class FileSet:
    name: str
    prefix: str
    """S3 key prefix, ending in '/'."""
    local_dir: Path
    keys: list[str] = field(default_factory=list)
    rows_per_file: int = 0
    bytes: int = 0

    @property
    def files(self) -> int:
        return len(self.keys)

    @property
    def rows(self) -> int:
        return self.files * self.rows_per_file

    @property
    def megabytes(self) -> float:
        return self.bytes / MB


def build_set(
    name: str, files: int, rows_per_file: int, first_number: int, s3: Any, bucket: str, data_dir: Path
) -> FileSet:
    """Write the set's files to local disk one at a time and upload each as it is written.

    Only one file's bytes are in memory at a time; uploads (multipart above 16 MB) overlap the
    writing of the next files.
    """
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=UPLOAD_PART_BYTES, multipart_chunksize=UPLOAD_PART_BYTES, max_concurrency=2
    )
    file_set = FileSet(name, f"{KEY_SPACE}/bench-{name}/", data_dir / name, rows_per_file=rows_per_file)
    file_set.local_dir.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload") as pool:
        uploads = []
        for index in range(files):
            body = paypal_ndjson(f"{name}-{index}", first_number + index * rows_per_file, rows_per_file)
            path = file_set.local_dir / f"part-{index:05d}.json"
            path.write_bytes(body)
            key = f"{file_set.prefix}{path.name}"
            uploads.append(pool.submit(s3.upload_file, str(path), bucket, key, Config=config))
            file_set.keys.append(key)
            file_set.bytes += len(body)
        for upload in uploads:
            upload.result()
    return file_set


# --- processes -----------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    """A measured child process exited badly or printed no result."""


def run_child(
    command: list[str],
    log_path: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``command``; its result lines as dicts (other output goes to ``log_path``)."""
    results: list[dict[str, Any]] = []
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, **(env or {})},
            text=True,
        )
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
                else:
                    log.write(line)
            child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
                child.wait()
    if child.returncode != 0 or not results:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2500:]
        raise ChildFailed(f"{Path(command[1]).name} exited {child.returncode}; end of {log_path}:\n{tail}")
    return results


def peers_python(console: Console) -> Path:
    """The peers venv's interpreter (dlt, duckdb), created on first use as the emulator's is."""
    venv = Path(os.environ.get("BENCH_PEERS_VENV", ROOT / ".local" / "bench-peers-venv")).resolve()
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = PEERS_REQUIREMENTS.read_text(encoding="utf-8")
    if marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python
    console.log(f"installing dlt and duckdb into {venv} (first run only)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = ["pip", "install", "--quiet", "--python", str(python), "-r", str(PEERS_REQUIREMENTS)]
    subprocess.run([sys.executable, "-m", "uv", *install], check=True)
    marker.write_text(wanted, encoding="utf-8")
    return python


def peak_rss_figure(measured: list[dict[str, Any]]) -> dict[str, Any]:
    return summary.per_run(measured, lambda r: r["peak_rss_kib"] * 1024 / MB, "MB")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def peer_versions(python: Path) -> dict[str, str | None]:
    script = (
        "import json; from importlib import metadata as m;"
        "print(json.dumps({n: m.version(n) for n in ('dlt', 'duckdb', 's3fs')}))"
    )
    output = subprocess.run([str(python), "-c", script], check=True, capture_output=True, text=True).stdout
    found = json.loads(output)
    return {"dlt": found["dlt"], "duckdb": found["duckdb"], "s3fs (peers)": found["s3fs"]}


def source_revision() -> str | None:
    """The checkout's commit, marked ``+changes`` when files differ from it: what was measured."""
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, check=True, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout, or no git
        return None
    return commit + ("+changes" if changed else "")


def machine_info() -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    meminfo, cpuinfo = read("/proc/meminfo"), read("/proc/cpuinfo")
    return summary.machine(os.cpu_count(), meminfo, cpuinfo, platform.python_version(), platform.platform())


# --- the run -------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    sizes: Sizes
    console: Console
    work: Path
    settings: Settings = field(default_factory=Settings)
    stack: local.Stack | None = None
    sets: dict[str, FileSet] = field(default_factory=dict)
    peers: Path | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return self.args.runs

    @property
    def logs(self) -> Path:
        path = self.work / "logs"
        path.mkdir(exist_ok=True)
        return path

    def wants(self, section: str) -> bool:
        return section in self.args.only

    def log(self, message: str) -> None:
        self.console.log(message, markup=False)

    # --- resources of one run ---

    def fresh_ledger(self, name: str) -> str:
        from ingest.adapters.clients import aws_client
        from ingest.adapters.dynamodb_ledger import table_definition

        dynamodb = aws_client("dynamodb")
        dynamodb.create_table(**table_definition(name))
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        return name

    def fresh_pipelines_dir(self, dataset: str) -> Path:
        """A copy of the PayPal pipeline whose table is in ``dataset`` (suite, transform, merge kept)."""
        directory = self.work / "pipelines" / dataset
        directory.mkdir(parents=True)
        raw = yaml.safe_load((PACKAGE_DIR / "pipelines" / f"{PIPELINE}.yaml").read_text(encoding="utf-8"))
        raw["table"] = f"{dataset}.{raw['table'].split('.', 1)[1]}"
        (directory / f"{PIPELINE}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return directory

    def spec_file(self, name: str, spec: dict[str, Any]) -> Path:
        path = self.work / "specs" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(spec), encoding="utf-8")
        return path

    def child(self, command: str, name: str, spec: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
        script = str(BENCH_DIR / "bench_child.py")
        return run_child(
            [sys.executable, script, command, str(self.spec_file(name, spec))],
            self.logs / f"{name}.log",
            self.sizes.child_timeout_seconds,
            env={"POWERTOOLS_METRICS_DISABLED": "true", **kwargs.pop("env", {})},
            **kwargs,
        )

    def progress(self, label: str, rows_key: str) -> Callable[[dict[str, Any]], None]:
        """A callback logging each run's result line as the child prints it."""

        def heard(result: dict[str, Any]) -> None:
            self.log(f"{label} run {result['run']}: {result['seconds']:,.1f} s, {result[rows_key]:,} rows")

        return heard

    def section(self, name: str, action: Callable[[], None]) -> None:
        """Run one section; a crash is a problem of the run, and the other sections still run."""
        if not self.wants(name):
            return
        start = time.perf_counter()
        self.log(f"section {name}: start")
        try:
            action()
        except Exception as err:
            self.problems.append(f"{name}: {type(err).__name__}: {err}")
            self.console.print(f"[red]section {name} failed[/]")
            self.console.print(traceback.format_exc(), markup=False, highlight=False)
        self.log(f"section {name}: {time.perf_counter() - start:,.1f} s")

    # --- setup ---

    def start_stack(self) -> None:
        state_dir = self.work / "stack"
        self.log(f"starting the local stack in {state_dir}")
        self.stack = local.up(self.settings, state_dir=state_dir)
        local.apply_environment(self.stack)

    def build_sets(self) -> None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
        data = self.work / "data"
        for name, files, rows, first in (
            ("big", self.sizes.big_files, self.sizes.big_rows_per_file, 0),
            ("small", self.sizes.small_files, self.sizes.small_rows_per_file, 100_000_000),
        ):
            start = time.perf_counter()
            file_set = build_set(name, files, rows, first, s3, self.settings.lake_bucket, data)
            self.sets[name] = file_set
            self.log(
                f"{name} set: {file_set.files:,} files, {file_set.rows:,} rows, {file_set.megabytes:,.1f} MB"
                f" written and uploaded in {time.perf_counter() - start:,.1f} s"
            )

    # --- sections ---

    def end_to_end(self) -> None:
        runs = []
        for name in ("big", "small"):
            for run in range(1, self.runs + 1):
                dataset = f"bench_{name}_r{run}"
                runs.append(
                    {
                        "set": name,
                        "run": run,
                        "bucket": self.settings.lake_bucket,
                        "prefix": self.sets[name].prefix,
                        "pipeline": PIPELINE,
                        "ledger_table": self.fresh_ledger(f"bench-ledger-{name}-r{run}"),
                        "pipelines_dir": str(self.fresh_pipelines_dir(dataset)),
                    }
                )

        def heard(result: dict[str, Any]) -> None:
            self.log(
                f"ours {result['set']} run {result['run']}: {result['seconds']:,.1f} s,"
                f" {result['rows_loaded']:,} rows, {result['load_jobs']} load jobs, {result['statuses']}"
            )

        assert self.stack is not None
        emulators = {"moto": self.stack.moto_pid, "bigquery": self.stack.bigquery_pid}
        results = self.child("ours", "ours", {"runs": runs, "emulators": emulators}, on_result=heard)
        section: dict[str, Any] = {}
        for name, file_set in self.sets.items():
            measured = [r for r in results if r["set"] == name]
            for r in measured:
                label = f"ours {name} run {r['run']}"
                if problem := summary.rows_accounting_problem(label, file_set.rows, r["rows_loaded"]):
                    self.problems.append(f"{problem}; {r['statuses']}; {r['failures']}")
                elif r["statuses"] != {"LOADED": file_set.files}:
                    self.problems.append(f"{label}: statuses {r['statuses']} for {file_set.files} files")
            section[name] = self.throughput(file_set, measured, loaded_key="rows_loaded")
            section[name]["load_jobs"] = summary.per_run(measured, lambda r: r["load_jobs"], "jobs")
            section[name]["peak_rss_mb"] = peak_rss_figure(measured)
            stages = sorted({stage for r in measured for stage in r["stage_seconds"]})
            section[name]["stage_seconds"] = {
                stage: summary.per_run(measured, lambda r, s=stage: r["stage_seconds"].get(s, 0.0), "s")
                for stage in stages
            }
            section[name]["cpu_seconds"] = {
                who: summary.per_run(measured, lambda r, w=who: r["cpu_seconds"][w], "s")
                for who in ("ours", "moto", "bigquery")
            }
            section[name]["raw"] = measured
        section["suite_build_seconds"] = results[0]["suite_build_seconds"]
        self.sections["end_to_end"] = section

    def throughput(
        self, file_set: FileSet, measured: list[dict[str, Any]], loaded_key: str
    ) -> dict[str, Any]:
        """Seconds, files/s, rows/s and MB/s of each run over the files it was given, and medians."""
        files = measured[0].get("files_given", file_set.files)
        rows = measured[0].get("rows_given", file_set.rows)
        megabytes = measured[0].get("megabytes_given", file_set.megabytes)
        return {
            "files": files,
            "rows": rows,
            "megabytes": megabytes,
            "seconds": summary.per_run(measured, lambda r: r["seconds"], "s"),
            "files_per_s": summary.per_run(measured, lambda r: summary.rate(files, r["seconds"]), "files/s"),
            "rows_per_s": summary.per_run(
                measured, lambda r: summary.rate(r[loaded_key], r["seconds"]), "rows/s"
            ),
            "mb_per_s": summary.per_run(measured, lambda r: summary.rate(megabytes, r["seconds"]), "MB/s"),
        }

    def dlt(self) -> None:
        assert self.stack is not None and self.peers is not None
        configurations = [("dlt_parquet", "parquet", ("big", "small"))]
        if self.sizes.dlt_default_on_small:
            configurations.append(("dlt_default", "default", ("small",)))
        peers = self.sections.setdefault("peers", {})
        for key, file_format, set_names in configurations:
            for name in set_names:
                file_set = self.sets[name]

                measured = run_child(
                    [
                        str(self.peers),
                        str(PEERS_DIR / "dlt_run.py"),
                        "--bucket-url",
                        f"s3://{self.settings.lake_bucket}/{file_set.prefix.rstrip('/')}",
                        "--endpoint",
                        self.stack.aws_endpoint,
                        "--work-dir",
                        str(self.work / "dlt" / f"{key}-{name}"),
                        "--loader-file-format",
                        file_format,
                        "--runs",
                        str(self.runs),
                    ],
                    self.logs / f"{key}-{name}.log",
                    self.sizes.child_timeout_seconds,
                    on_result=self.progress(f"{key} {name}", "rows"),
                )
                for result in measured:
                    label = f"{key} {name} run {result['run']}"
                    if problem := summary.rows_accounting_problem(label, file_set.rows, result["rows"]):
                        self.problems.append(problem)
                figures = self.throughput(file_set, measured, loaded_key="rows")
                figures["peak_rss_mb"] = peak_rss_figure(measured)
                figures["loader_file_format"] = file_format if file_format != "default" else "default (jsonl)"
                figures["raw"] = measured
                peers.setdefault(key, {})[name] = figures

    def pandas_gbq(self) -> None:
        columns = notebook_columns()
        peers = self.sections.setdefault("peers", {})
        subsets = {"big": self.sizes.pandas_big_files, "small": self.sizes.pandas_small_files}
        for name, file_set in self.sets.items():
            keys = file_set.keys[: subsets[name]]
            paths = sorted(file_set.local_dir.iterdir())[: len(keys)]
            given = {
                "files_given": len(keys),
                "rows_given": len(keys) * file_set.rows_per_file,
                "megabytes_given": sum(path.stat().st_size for path in paths) / MB,
            }
            spec = {
                "bucket": self.settings.lake_bucket,
                "keys": keys,
                "project": self.settings.bq_project,
                "location": self.settings.bq_location,
                "dataset": "bench_pandas",
                "tables": [f"paypal_{name}_r{run}" for run in range(1, self.runs + 1)],
                "columns": columns,
            }

            measured = self.child(
                "pandas", f"pandas-{name}", spec, on_result=self.progress(f"pandas-gbq {name}", "rows")
            )
            for result in measured:
                result |= given
                label = f"pandas-gbq {name} run {result['run']}"
                if problem := summary.rows_accounting_problem(
                    label, given["rows_given"], result["rows_in_table"]
                ):
                    self.problems.append(problem)
            figures = self.throughput(file_set, measured, loaded_key="rows_in_table")
            figures["peak_rss_mb"] = peak_rss_figure(measured)
            if len(keys) < file_set.files:
                figures["measured_on"] = f"measured on the first {len(keys):,} of {file_set.files:,} files"
            figures["raw"] = measured
            peers.setdefault("pandas_gbq", {})[name] = figures

    def limit(self) -> None:
        assert self.peers is not None
        section = self.sections.setdefault("limit", {})
        for schema in ("declared", "detected"):
            for name, file_set in self.sets.items():
                measured = []
                for run in range(1, self.runs + 1):
                    (result,) = run_child(
                        [
                            str(self.peers),
                            str(PEERS_DIR / "duckdb_limit.py"),
                            "--files",
                            str(file_set.local_dir / "*.json"),
                            "--schema",
                            schema,
                        ],
                        self.logs / f"duckdb-{schema}-{name}-r{run}.log",
                        self.sizes.child_timeout_seconds,
                    )
                    result["run"] = run
                    measured.append(result)
                    label = f"DuckDB ({schema}) {name} run {run}"
                    if problem := summary.rows_accounting_problem(label, file_set.rows, result["rows"]):
                        self.problems.append(problem)
                figures = self.throughput(file_set, measured, loaded_key="rows")
                figures["peak_rss_mb"] = peak_rss_figure(measured)
                figures["raw"] = measured
                section.setdefault(f"duckdb_{schema}", {})[name] = figures
                self.log(f"DuckDB {schema} {name}: {figures['seconds']['median']:,.2f} s")
        for name in self.sets:
            schemas = {schema: section[f"duckdb_{schema}"][name] for schema in ("declared", "detected")}
            section.setdefault("duckdb_best", {})[name] = summary.fastest(schemas)

    def memory(self) -> None:
        import bench_memory

        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
        pipelines_dir = self.work / "memory-pipelines"
        bench_memory.write_pipelines(pipelines_dir)
        data = self.work / "memory-data"
        data.mkdir()
        section = self.sections.setdefault("memory", {})
        saved = os.environ.get("INGEST_PIPELINES_DIR")
        os.environ["INGEST_PIPELINES_DIR"] = str(pipelines_dir)  # the ingest child reads it
        try:
            for fmt in bench_memory.FORMATS:
                generated = bench_memory.generate(fmt, self.sizes.memory_mb, data, seed=7, bad_count=10)
                ref = bench_memory.upload(s3, self.settings.lake_bucket, generated)
                generated.path.unlink()
                measured = bench_memory.measure(generated, ref, self.sizes.child_timeout_seconds, self.logs)
                result = measured.result
                if result is None:
                    self.problems.append(f"memory {fmt}: {measured.failure}")
                    continue
                expected = (generated.rows, len(generated.bad_rows), generated.rows - len(generated.bad_rows))
                found = (result["rows_in"], result["rows_quarantined"], result["rows_loaded"])
                if result["status"] != "LOADED" or found != expected:
                    self.problems.append(
                        f"memory {fmt}: {result['status']}, rows in/quarantined/loaded {found},"
                        f" expected {expected}"
                    )
                # Not measured.peak_kib: it includes ru_maxrss, which Linux carries over exec from
                # the forked copy of this (larger) process. VmHWM starts afresh at exec.
                peak_mb = bench_memory.as_mb(max(result["vmhwm_kib"], measured.parent_vmhwm_kib))
                self.log(f"memory {fmt} {generated.bytes / MB:,.0f} MB: peak RSS {peak_mb:,.0f} MB")
                section[fmt] = {
                    "runs_note": "one run (runs=1): a 1 GB ingest per format",
                    "file_mb": generated.bytes / MB,
                    "rows": generated.rows,
                    "bad_rows": len(generated.bad_rows),
                    "peak_rss_mb": summary.figure([peak_mb], "MB"),
                    "seconds": summary.figure([result["seconds"]], "s"),
                    "rows_per_s": summary.figure(
                        [summary.rate(result["rows_in"], result["seconds"])], "rows/s"
                    ),
                    "mb_per_s": summary.figure(
                        [summary.rate(generated.bytes / MB, result["seconds"])], "MB/s"
                    ),
                    "rss_before_ingest_mb": bench_memory.as_mb(result["rss_before_kib"]),
                    "raw": result,
                }
        finally:
            if saved is None:
                os.environ.pop("INGEST_PIPELINES_DIR", None)
            else:
                os.environ["INGEST_PIPELINES_DIR"] = saved

    def lambda_shape(self) -> None:
        from ingest.adapters.clients import aws_client

        s3 = aws_client("s3")
        bucket = self.settings.lake_bucket
        rows = self.sizes.lambda_rows_per_file
        measured = []
        for run in range(1, (self.sizes.lambda_cold_starts or self.runs) + 1):
            dataset = f"bench_lambda_r{run}"
            ledger = self.fresh_ledger(f"bench-ledger-lambda-r{run}")
            pipelines_dir = self.fresh_pipelines_dir(dataset)
            events = []
            for index in range(1 + self.sizes.lambda_warm_files):
                key = f"{KEY_SPACE}/bench-lambda/r{run}/page-{index:03d}.json"
                first = 200_000_000 + (run * 1_000 + index) * rows
                body = paypal_ndjson(f"lambda-{run}-{index}", first, rows)
                put = s3.put_object(Bucket=bucket, Key=key, Body=body)
                events.append(s3_event(bucket, key, put["ETag"], len(body)))
            env = {"INGEST_LEDGER_TABLE": ledger, "INGEST_PIPELINES_DIR": str(pipelines_dir)}
            spec = {"events": events, "pipeline": PIPELINE}
            (result,) = self.child("lambda", f"lambda-r{run}", spec, env=env)
            statuses = [status for invocation in result["invocations"] for status in invocation["statuses"]]
            if statuses != ["LOADED"] * len(events):
                self.problems.append(f"lambda run {run}: statuses {statuses}")
            warm = [invocation["seconds"] for invocation in result["invocations"][1:]]
            result |= {
                "run": run,
                "import_to_ready_seconds": result["import_seconds"]
                + result["services_seconds"]
                + result["suite_build_seconds"],
                "first_file_seconds": result["invocations"][0]["seconds"],
                "warm_median_seconds": summary.median(warm),
                "warm_p90_seconds": summary.percentile(warm, 0.9),
            }
            measured.append(result)
            self.log(
                f"lambda run {run}: import to ready {result['import_to_ready_seconds']:,.2f} s,"
                f" warm per file {result['warm_median_seconds']:,.3f} s"
            )
        figures = {
            key: summary.per_run(measured, lambda r, k=key: r[k], "s")
            for key in (
                "import_seconds",
                "services_seconds",
                "suite_build_seconds",
                "import_to_ready_seconds",
                "first_file_seconds",
                "warm_median_seconds",
                "warm_p90_seconds",
            )
        }
        figures["peak_rss_mb"] = peak_rss_figure(measured)
        figures["rows_per_file"] = rows
        figures["warm_files_per_run"] = self.sizes.lambda_warm_files
        figures["raw"] = measured
        self.sections["lambda"] = figures

    def validation(self) -> None:
        import bench_validate

        from ingest.core.settings import EXPECTATIONS_DIR
        from ingest.core.validate import load_suite, validation_frame

        rows = self.sizes.validation_rows
        start = time.perf_counter()
        suite = load_suite(EXPECTATIONS_DIR / f"{PIPELINE}.json")
        build_seconds = time.perf_counter() - start
        table, defects = bench_validate.paypal_columns(rows)
        expected = set(defects.tolist())
        start = time.perf_counter()
        frame = validation_frame(table, suite.columns())
        frame_seconds = time.perf_counter() - start
        numbers = table.column("_source_row").to_pylist()
        seconds = []
        for run in range(1, self.runs + 1):
            start = time.perf_counter()
            found = set(suite.run(frame, numbers).bad_positions)
            seconds.append(time.perf_counter() - start)
            if found != expected:
                self.problems.append(
                    f"validation run {run}: found {len(found)} failing rows, planted {len(expected)}"
                )
        self.sections["validation"] = {
            "rows": rows,
            "planted_defects": len(expected),
            "seconds": summary.figure(seconds, "s"),
            "rows_per_s": summary.figure([summary.rate(rows, s) for s in seconds], "rows/s"),
            "frame_seconds": frame_seconds,
            "suite_build_seconds_in_process": build_seconds,
        }


def s3_event(bucket: str, key: str, etag: str, size: int) -> dict[str, Any]:
    """A direct S3 ObjectCreated notification for one object, key URL-encoded as S3 sends it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key), "size": size, "eTag": etag.strip('"')},
                },
            }
        ]
    }


# --- report --------------------------------------------------------------------------------


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def med(node: dict[str, Any] | None, key: str) -> float | None:
    if not node or key not in node:
        return None
    value = node[key]
    return value.get("median") if isinstance(value, dict) else value


def new_table(title: str, columns: list[str], caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption, caption_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def print_cpu(bench: Bench, e2e: dict[str, Any], median_of: str) -> None:
    """Who used the machine's cores during our runs: this is what bounds the throughput here."""
    cores = os.cpu_count() or 1
    table = new_table(
        f"End to end, CPU seconds per run on {cores} cores, {median_of}",
        ["set", "seconds", "ours", "moto server", "BigQuery emulator", "all three", "of the cores' time"],
        caption="CPU: user + system time of each process during the run (/proc/PID/stat). 'of the cores'"
        " time': all three over seconds x cores; near 100% no arrangement of the same work can be faster.",
    )
    for name in ("big", "small"):
        if not (node := e2e.get(name)) or "cpu_seconds" not in node:
            continue
        cpu = {who: med(node["cpu_seconds"], who) for who in ("ours", "moto", "bigquery")}
        seconds = med(node, "seconds")
        total = sum(cpu.values())
        table.add_row(
            name,
            number(seconds, 1),
            *[number(cpu[who], 1) for who in ("ours", "moto", "bigquery")],
            number(total, 1),
            f"{total / (seconds * cores):.0%}",
        )
    bench.console.print(table)


def print_report(bench: Bench) -> None:
    console, sections, runs = bench.console, bench.sections, bench.runs
    median_of = f"median of {runs} run{'s' if runs != 1 else ''}"
    if e2e := sections.get("end_to_end"):
        stages = ("read", "validate", "load", "ledger")
        table = new_table(
            f"End to end, ours (run_batch, fresh ledger and table per run), {median_of}",
            ["set", "files", "rows", "MB", "seconds", "files/s", "rows/s", "MB/s", "load jobs"]
            + [f"{stage} s" for stage in stages]
            + ["peak RSS MB"],
            caption="read/validate/load/ledger s: BatchRun.stage_seconds, summed over the staging threads"
            " (so they may add up to more than the wall time); '-' where the run does not report them."
            " Peak RSS: VmHWM of the child, reset before each run.",
        )
        for name in ("big", "small"):
            if not (node := e2e.get(name)):
                continue
            table.add_row(
                name,
                number(node["files"]),
                number(node["rows"]),
                number(node["megabytes"], 1),
                number(med(node, "seconds"), 2),
                number(med(node, "files_per_s"), 1),
                number(med(node, "rows_per_s")),
                number(med(node, "mb_per_s"), 2),
                number(med(node, "load_jobs")),
                *[number(med(node["stage_seconds"], stage), 2) for stage in stages],
                number(med(node, "peak_rss_mb")),
            )
        console.print(table)
        print_cpu(bench, e2e, median_of)

    if peers := sections.get("peers"):
        table = new_table(
            f"Peers on the same files, {median_of}",
            ["peer", "set", "measured on", "seconds", "files/s", "rows/s", "MB/s", "peak RSS MB"],
            caption="The issue measured here at full sizes: dlt 1.31, parquet, 217 s on the big set and 35 s"
            " on the 2,000 small files; DuckDB read_json of the big set 7.5 s.",
        )
        names = {
            "dlt_parquet": "dlt, parquet loader (its best)",
            "dlt_default": "dlt, default loader (jsonl)",
            "pandas_gbq": "pandas read_json + pandas-gbq to_gbq",
        }
        for key, label in names.items():
            for name, node in peers.get(key, {}).items():
                table.add_row(
                    label,
                    name,
                    node.get("measured_on", f"all {node['files']:,} files"),
                    number(med(node, "seconds"), 2),
                    number(med(node, "files_per_s"), 1),
                    number(med(node, "rows_per_s")),
                    number(med(node, "mb_per_s"), 2),
                    number(med(node, "peak_rss_mb")),
                )
        console.print(table)

    if limit := sections.get("limit"):
        table = new_table(
            "The limit: DuckDB read_json from local disk into a table (no validation, ledger or network),"
            f" {median_of}",
            ["DuckDB schema", "set", "seconds", "rows/s", "MB/s", "peak RSS MB", "ours as share"],
        )
        for schema in ("declared", "detected"):
            for name, node in limit.get(f"duckdb_{schema}", {}).items():
                ours = med(sections.get("end_to_end", {}).get(name), "rows_per_s")
                share = summary.ratio(ours, med(node, "rows_per_s"))
                label = f"{schema} (DuckDB's default)" if schema == "detected" else schema
                if limit.get("duckdb_best", {}).get(name, {}).get("schema") == schema:
                    label += ": the limit"
                table.add_row(
                    label,
                    name,
                    number(med(node, "seconds"), 2),
                    number(med(node, "rows_per_s")),
                    number(med(node, "mb_per_s"), 1),
                    number(med(node, "peak_rss_mb")),
                    summary.format_ratio(share, as_share=True),
                )
        console.print(table)

    if memory := sections.get("memory"):
        table = new_table(
            "Memory: peak RSS of one ingest_file (child process), one run per format; MB = 10^6 B",
            ["format", "file MB", "rows", "seconds", "rows/s", "MB/s", "RSS before MB", "peak RSS MB"],
        )
        for fmt, node in memory.items():
            table.add_row(
                fmt,
                number(node["file_mb"], 1),
                number(node["rows"]),
                number(med(node, "seconds"), 1),
                number(med(node, "rows_per_s")),
                number(med(node, "mb_per_s"), 2),
                number(node["rss_before_ingest_mb"]),
                number(med(node, "peak_rss_mb")),
            )
        console.print(table)

    if shape := sections.get("lambda"):
        starts = len(shape["raw"])
        cold_starts = median_of if starts == runs else f"{starts} cold start{'s' if starts != 1 else ''}"
        table = new_table(
            f"Lambda shape: fresh process, {shape['rows_per_file']}-row PayPal files, direct S3 events,"
            f" {shape['warm_files_per_run']} warm files per run, {cold_starts}",
            ["step", "seconds (median)", "each run"],
        )
        lines = (
            ("import ingest.apps.lambda_handler", "import_seconds"),
            ("Services.from_env", "services_seconds"),
            ("GX import + suite build", "suite_build_seconds"),
            ("cold start: import to ready", "import_to_ready_seconds"),
            ("first file (cold invocation)", "first_file_seconds"),
            ("warm per file, median", "warm_median_seconds"),
            ("warm per file, p90", "warm_p90_seconds"),
        )
        for label, key in lines:
            each_run = ", ".join(f"{value:.3f}" for value in shape[key]["runs"])
            table.add_row(label, number(med(shape, key), 3), each_run)
        table.add_row("peak RSS MB", number(med(shape, "peak_rss_mb")), "")
        console.print(table)

    if validation := sections.get("validation"):
        table = new_table(
            f"Validation: PayPal GX suite on {validation['rows']:,} typed rows"
            f" ({validation['planted_defects']:,} planted defects), {median_of}",
            ["line", "seconds", "rows/s", "each run"],
        )
        table.add_row(
            "GX suite, one run over every row",
            number(med(validation, "seconds"), 2),
            number(med(validation, "rows_per_s")),
            ", ".join(f"{v:.2f}" for v in validation["seconds"]["runs"]),
        )
        table.add_row("Arrow -> pandas frame (once)", number(validation["frame_seconds"], 2), "", "")
        console.print(table)

    ratios = new_table(
        "Summary: ours against the peers on the same files (throughput; above 1x ours is faster)",
        ["ours against", "set", "per second", "ours", "peer", "ours / peer", "note"],
    )
    for line in summary.summary_ratios(sections):
        share = line["peer"] == summary.DUCKDB_LIMIT
        ratios.add_row(
            f"{line['peer']}{' (ours as a share of it)' if share else ''}",
            line["set"],
            line["metric"].removesuffix("_per_s"),
            number(line["ours"], 1),
            number(line["peer_value"], 1),
            summary.format_ratio(line["ratio"], as_share=share),
            line["note"] or "",
        )
    console.print(ratios)

    sizes_note = ", quick sizes: smaller than the issue's" if bench.args.quick else ""
    targets = new_table(
        f"Targets ({bench.args.mode} mode{sizes_note})",
        ["target", "bound", "measured", "verdict"],
    )
    for judged in summary.judge(sections):
        colour = {"PASS": "green", "FAIL": "red"}.get(judged["verdict"], "yellow")
        target = summary.Target(**{k: judged[k] for k in ("key", "label", "op", "threshold", "unit")})
        targets.add_row(
            judged["label"],
            target.describe(),
            number(judged["value"], 1),
            f"[{colour}]{judged['verdict']}[/]",
        )
    console.print(targets)


# --- main ----------------------------------------------------------------------------------


def parse_only(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under 3 minutes)")
    parser.add_argument(
        "--runs",
        type=int,
        help=f"runs per figure, the median reported (default 3; {QUICK_RUNS} with --quick)",
    )
    parser.add_argument(
        "--only", type=parse_only, default=list(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}"
    )
    parser.add_argument("--output", type=Path, default=REPORT_PATH, help="results JSON path")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary folder (data, logs)")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = QUICK_RUNS if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.mode = "quick" if args.quick else "full"
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=220)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    bench = Bench(args, QUICK if args.quick else FULL, console, work)
    bench.versions = {
        "ingest": package_version("ingest"),
        "pandas": package_version("pandas"),
        "pandas-gbq": package_version("pandas-gbq"),
        "great-expectations": package_version("great-expectations"),
        "pyarrow": package_version("pyarrow"),
        "google-cloud-bigquery": package_version("google-cloud-bigquery"),
        "moto": package_version("moto"),
        "python": platform.python_version(),
        "source": source_revision(),
    }
    needs_stack = any(bench.wants(s) for s in ("e2e", "dlt", "pandas", "limit", "memory", "lambda"))
    needs_sets = any(bench.wants(s) for s in ("e2e", "dlt", "pandas", "limit"))
    try:
        if bench.wants("dlt") or bench.wants("limit"):
            bench.peers = peers_python(console)
            bench.versions |= peer_versions(bench.peers)
        if needs_stack:
            bench.start_stack()
        if needs_sets:
            bench.build_sets()
        bench.section("e2e", bench.end_to_end)
        bench.section("dlt", bench.dlt)
        bench.section("pandas", bench.pandas_gbq)
        bench.section("limit", bench.limit)
        bench.section("memory", bench.memory)
        bench.section("lambda", bench.lambda_shape)
        bench.section("validation", bench.validation)
    finally:
        if bench.stack is not None:
            local.down(Path(bench.stack.state_dir))
        if args.keep_work:
            console.log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    print_report(bench)
    sizes = asdict(bench.sizes)
    sizes |= {
        name: {"files": s.files, "rows": s.rows, "megabytes": s.megabytes, "prefix": s.prefix}
        for name, s in bench.sets.items()
    }
    document = summary.results_document(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        mode=args.mode,
        runs=args.runs,
        elapsed_seconds=elapsed,
        command=sys.argv,
        machine_info=machine_info(),
        versions=bench.versions,
        sizes=sizes,
        sections=bench.sections,
        problems=bench.problems,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.output}")
    if bench.problems:
        console.print(f"[red]{len(bench.problems)} problem(s): the figures above are not to be trusted[/]")
        for problem in bench.problems:
            console.print(f"  - {problem}", markup=False)
    machine = document["machine"]
    console.print(
        f"machine: {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['cpu_model']},"
        f" Python {machine['python']}; dlt {bench.versions.get('dlt', '-')},"
        f" duckdb {bench.versions.get('duckdb', '-')}; source {bench.versions.get('source') or '-'}"
    )
    console.print(
        f"elapsed {elapsed / 60:,.1f} min ({elapsed:,.0f} s), {args.mode} mode, {args.runs} run(s) per figure"
    )
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
