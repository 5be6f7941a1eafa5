"""What the commands print: whole tables, one JSON document, an empty run explained, no manifest
in the lake."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ingest.apps.cli import empty_run, rendering
from ingest.apps.cli import main as cli
from ingest.core.ledger_entry import LedgerEntry, summarize
from ingest_devstack import commands as devstack

LONG_PIPELINE = "payment_transactions_from_the_partner_database_export"


def account(**overrides: Any) -> dict[str, Any]:
    """A batch run's account (``BatchRun.to_dict()``) for s3://lake/paypal/."""
    base: dict[str, Any] = {
        "run_id": "2021-07-31-120000-abcdef",
        "bucket": "lake",
        "prefix": "paypal/",
        "since": None,
        "until": "2021-08-01T00:00:00+00:00",
        "pipeline": None,
        "listed": 0,
        "already_done": 0,
        "failed": 0,
        "by_pipeline": {},
        "loads": [],
        "files": [],
        "warnings": [],
    }
    return {**base, **overrides}


def uploaded_today(objects: int = 186) -> empty_run.PrefixListing:
    return empty_run.PrefixListing(
        objects, datetime(2026, 12, 7, 6, 51, tzinfo=UTC), datetime(2026, 12, 7, 6, 53, tzinfo=UTC)
    )


def test_an_empty_run_over_data_uploaded_later_says_it_selects_by_last_modified_time():
    why = empty_run.explain(account(), uploaded_today())

    assert "last modified before 2021-08-01" in why
    assert "not a date in the key" in why
    assert (
        "186 objects under s3://lake/paypal/ were last modified 2026-12-07 06:51 to 2026-12-07 06:53" in why
    )
    assert "cover 2026-12-07" in why


def test_an_empty_run_over_an_empty_prefix_says_there_is_nothing_there():
    why = empty_run.explain(account(), empty_run.PrefixListing(0))

    assert why == "Nothing to ingest: there are no objects under s3://lake/paypal/."


def test_an_empty_run_whose_objects_are_all_loaded_says_so():
    why = empty_run.explain(account(listed=186, already_done=186), uploaded_today())

    assert why.startswith("Nothing new to ingest: all 186 objects")
    assert "in the ledger already" in why


def test_an_empty_run_of_one_pipeline_says_no_key_matched_it():
    why = empty_run.explain(account(listed=186, pipeline="vat_rates"), uploaded_today())

    assert "none of them matches pipeline vat_rates's key pattern" in why


class ListingS3:
    """An S3 client's ``list_objects_v2`` paginator over fixed pages."""

    def __init__(self, *pages: list[datetime]) -> None:
        self.pages = pages

    def get_paginator(self, operation: str) -> ListingS3:
        assert operation == "list_objects_v2"
        return self

    def paginate(self, **kwargs: str) -> list[dict[str, Any]]:
        return [{"Contents": [{"LastModified": t} for t in page]} for page in self.pages]


def test_the_prefix_listing_counts_every_page_and_spans_their_times():
    early, middle, late = (datetime(2026, 12, day, tzinfo=UTC) for day in (1, 5, 9))

    listing = empty_run.list_prefix(ListingS3([middle, late], [early]), "lake", "paypal/")

    assert listing == empty_run.PrefixListing(3, early, late)


def piped_console(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """rendering's console as it is when stdout is a pipe."""
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    monkeypatch.setattr(rendering, "console", rendering._console())
    monkeypatch.setattr(rendering.console, "file", out)
    return out


def test_a_piped_batch_summary_keeps_every_name_and_number_whole(monkeypatch):
    out = piped_console(monkeypatch)
    row = {name: 123_456_789 for name in ("files", "loaded", "skipped", "failed", "rows_in", "rows_loaded")}
    row |= {"rows_quarantined": 123_456_789, "load_jobs": 123_456_789}

    rendering.print_batch_summary(account(by_pipeline={LONG_PIPELINE: row}))

    text = out.getvalue()
    assert "…" not in text
    assert LONG_PIPELINE in text
    assert "rows_quarantined" in text
    assert text.count("123,456,789") == 8


def test_a_terminal_table_folds_long_names_instead_of_cutting_them(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(rendering, "console", Console(file=out, width=60))
    row = dict.fromkeys(("files", "loaded", "skipped", "failed", "rows_in", "rows_loaded"), 1)
    row |= {"rows_quarantined": 1, "load_jobs": 1}

    rendering.print_batch_summary(account(by_pipeline={LONG_PIPELINE: row}))

    assert "…" not in out.getvalue()


def test_ledger_listing_shows_keys_as_data_and_summarises_in_words(monkeypatch):
    out = piped_console(monkeypatch)
    entry = LedgerEntry.from_item(
        {
            "pk": "lake/k/etag",
            "sk": "FILE",
            "status": "FAILED",
            "key": "paypal/[red]evil[/red].json",
            "error_type": "MalformedFile",
            "error_message": "bad [bold]json",
        }
    )
    entries = [entry]

    rendering.print_ledger("ingest-ledger", entries, summarize(entries), limit=50)

    text = out.getvalue()
    assert "paypal/[red]evil[/red].json" in text
    assert "MalformedFile: bad [bold]json" in text
    assert "1 entries (FAILED 1)" in text
    assert "{" not in text  # not a Python dict


class RecordingS3:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803  # boto3's names
        self.keys.append(Key)


def test_generate_to_s3_writes_the_manifest_on_this_machine_not_into_the_lake(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s3 = RecordingS3()

    manifest, path = devstack.generate_month(
        "s3://lake/july/", 2021, 2, seed=7, scale=1, manifest_path=None, s3=s3
    )

    assert not [key for key in s3.keys if key.endswith("manifest.json")]
    assert len(s3.keys) == manifest["totals"]["files"]
    assert path == Path("reports/generated/lake/july/manifest.json")
    assert json.loads(path.read_text()) == manifest


def test_generate_json_is_one_document_naming_the_manifest(tmp_path, capsys):
    out = tmp_path / "month"

    code = cli.main(["generate", "--month", "2021-02", "--out", str(out), "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["manifest"] == str(out / "manifest.json")
    assert printed["totals"]["files"] == len(json.loads((out / "manifest.json").read_text())["files"])


def test_health_prints_a_failed_files_key_as_data_even_one_rich_cannot_parse(monkeypatch):
    """Anyone who can write to the lake names the keys; "[/b]" alone made rich raise MarkupError."""
    from ingest.apps.ops import health

    out = piped_console(monkeypatch)
    hostile = "paypal/x[/b]y[link=https://evil.example]z.json"
    check = health.Check(
        "failed_files",
        health.ALARM,
        1,
        0,
        "1 file(s) failed [/]",
        details={"files": [f"s3://lake/{hostile}"]},
    )

    rendering.print_health([check], healthy=False)

    text = out.getvalue()
    assert f"failed: s3://lake/{hostile}" in text
    assert "1 file(s) failed [/]" in text
