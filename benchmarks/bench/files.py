"""The two sets of PayPal pages every peer reads: written to local disk (for DuckDB) and the lake.

The pages come from ``ingest_devstack.generate.pages``: seeded Transaction Search records of
about 1.5 KB, every one of them loadable, so a run must load exactly the rows written.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bench.config import KEY_SPACE
from benchmarks.bench.summary import MB
from ingest_devstack.generate.pages import ndjson_page, page_records

UPLOAD_PART_BYTES = 16 * 1024 * 1024


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
    name: str, files: int, rows_per_file: int, first_serial: int, s3: Any, bucket: str, data_dir: Path
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
            body = ndjson_page(f"{name}-{index}", first_serial + index * rows_per_file, rows_per_file)
            path = file_set.local_dir / f"part-{index:05d}.json"
            path.write_bytes(body)
            key = f"{file_set.prefix}{path.name}"
            uploads.append(pool.submit(s3.upload_file, str(path), bucket, key, Config=config))
            file_set.keys.append(key)
            file_set.bytes += len(body)
        for upload in uploads:
            upload.result()
    return file_set


def notebook_columns() -> list[str]:
    """The flattened columns a notebook user's ``json_normalize`` gives: a sale's and a refund's."""
    import pandas as pd

    records = page_records("columns", 0, 2_000)
    sale = next(r for r in records if "paypal_reference_id" not in r["transaction_info"])
    refund = next(r for r in records if "paypal_reference_id" in r["transaction_info"])
    return list(pd.json_normalize([sale, refund]).columns)
