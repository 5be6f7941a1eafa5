"""A day's records cut into lake files the way each producer writes them, with the tally of
planted rows and of the rows each table must end up with."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ingest_devstack.generate import defects as planted
from ingest_devstack.generate.balances import Entry
from ingest_devstack.generate.defects import Defect
from ingest_devstack.generate.encode import (
    encode_csv_export,
    encode_json,
    encode_parquet_export,
    export_values,
)
from ingest_devstack.generate.model import PAYMENTS_PIPELINE, PAYPAL_PIPELINE, GeneratedFile


@dataclass(slots=True)
class Row:
    """A game DB row on its way to a delivery."""

    at: datetime  # payment_date
    created_at: datetime
    seq: int
    row: dict[str, Any]
    defect: Defect | None = None


class _Planted(Protocol):
    defect: Defect | None


@dataclass
class Tally:
    """What the files handed out so far promise: planted rows, and rows per table after dedup."""

    defects: list[dict[str, Any]] = field(default_factory=list)
    expected_tables: Counter[str] = field(default_factory=Counter)

    def loading(
        self,
        key: str,
        body: bytes,
        pipeline: str,
        layout: str,
        compression: str | None,
        items: Sequence[_Planted],
    ) -> GeneratedFile:
        """A file expected to load; its planted rows are listed and the critical ones counted."""
        bad = 0
        for number, item in enumerate(items, 1):
            if item.defect is not None:
                self.defects.append(planted.defect_entry(key, pipeline, number, item.defect))
                bad += item.defect.severity == "critical"
        return GeneratedFile(key, body, pipeline, layout, compression, len(items), bad, None)


def payment_files(
    rng: random.Random, day: datetime, rows: list[Row], export: str | None, tally: Tally
) -> Iterator[GeneratedFile]:
    """The game DB's rows of one day: Firehose deliveries, or one export (``csv``/``parquet``)."""
    if not rows:
        return
    if export:
        typed = [export_values(r.row, r.at, r.created_at) for r in rows]
        key = f"payments/exports/{day:%Y/%m/%d}/payments-export-{day:%Y%m%d}.{export}"
        body = encode_csv_export(typed) if export == "csv" else encode_parquet_export(typed)
        yield _counted(tally, tally.loading(key, body, PAYMENTS_PIPELINE, export, None, rows))
        return
    # Firehose: a few buffers a day (more when busy), named by delivery time, no extension.
    parts = min(len(rows), rng.randint(3, 6) + len(rows) // 2000)
    cuts = [0, *sorted(rng.sample(range(1, len(rows)), parts - 1)), len(rows)]
    for start, stop in itertools.pairwise(cuts):
        part = rows[start:stop]
        delivered = part[-1].at + timedelta(seconds=rng.randint(60, 290))
        key = (
            f"payments/transactions/{delivered:%Y/%m/%d/%H}/payments-stream-1-"
            f"{delivered:%Y-%m-%d-%H-%M-%S}-{rng.getrandbits(32):08x}"
        )
        layout = rng.choices(("ndjson", "json_concat_pretty", "json_concat"), (1, 5, 4))[0]
        body, compression = encode_json([r.row for r in part], layout, rng.random() < 0.75)
        # One compact object alone is also one NDJSON line, and readers take it for that.
        seen_as = "ndjson" if layout == "json_concat" and len(part) == 1 else layout.removesuffix("_pretty")
        yield _counted(tally, tally.loading(key, body, PAYMENTS_PIPELINE, seen_as, compression, part))


def _counted(tally: Tally, file: GeneratedFile) -> GeneratedFile:
    tally.expected_tables[PAYMENTS_PIPELINE] += file.rows - file.bad_rows  # ids are unique
    return file


def paypal_pages(
    rng: random.Random,
    day: datetime,
    entries: list[Entry],
    updates: list[Entry],
    page_size: int,
    tally: Tally,
    *,
    broken: bool,
) -> Iterator[GeneratedFile]:
    """The extractor's pages for one day, then pages of the updates to records it first saw
    pending. On the broken day the first page is cut mid-record."""
    layout = "json_array" if broken or rng.random() < 0.7 else "ndjson"
    gzipped = not broken and rng.random() < 0.25
    updates.sort(key=lambda e: (e.moment, e.seq))
    pages = [entries[i : i + page_size] for i in range(0, len(entries), page_size)]
    pages += [updates[i : i + page_size] for i in range(0, len(updates), page_size)]
    folder = f"paypal/transactions/{day:%Y/%m/%d}"
    for number, page in enumerate(pages, 1):
        name = f"page-{number:04d}.json" if layout == "json_array" else f"part-{number:04d}"
        body, compression = encode_json([e.record for e in page], layout, gzipped)
        if broken and number == 1:
            # The extractor died mid-write: the array never closes, so nothing in it parses.
            body = body[: len(body) * 3 // 5]
            yield GeneratedFile(
                f"{folder}/{name}", body, PAYPAL_PIPELINE, layout, None, 0, 0, "MalformedFile"
            )
            continue
        key = f"{folder}/{name}" + (".gz" if compression else "")
        # A completed version replaces its pending one: the key is counted once.
        tally.expected_tables[PAYPAL_PIPELINE] += sum(e.loads and e.category != "repeat" for e in page)
        yield tally.loading(key, body, PAYPAL_PIPELINE, layout, compression, page)
