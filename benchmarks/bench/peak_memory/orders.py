"""The memory benchmark's data: two scratch pipelines (NDJSON and CSV, the same 11 order columns,
each routed by its own key prefix to its own table) and files of them of any size.

The files are generated on disk, streaming and seeded, with a few deliberately bad rows so the
quarantine path runs too. They are not PayPal records: a flat table of orders in both formats
measures memory against file size, and a pool of pre-rendered rows writes 1 GB in seconds
(rendering every value per row would take minutes).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench.summary import MB

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
