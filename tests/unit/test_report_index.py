"""reports/index.html: every report linked, grouped by kind, newest first, names escaped."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from ingest.apps.reports import present
from ingest.apps.reports.report_index import index_path, write_index

DAY = 86_400
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


class Links(HTMLParser):
    """The page's links in order, with the text a reader sees, and every element's name."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.headings: list[str] = []
        self.elements: set[str] = set()
        self.text: list[str] = []
        self._href: str | None = None
        self._in_h2 = False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.elements.add(tag)
        if tag == "a":
            self._href, self._text = dict(attrs)["href"], []
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text)))
            self._href = None
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._href is not None:
            self._text.append(data)
        if self._in_h2:
            self.headings.append(data)

    def report_links(self) -> list[tuple[str, str]]:
        return [(href, text) for href, text in self.links if not href.startswith("#")]


def write(root: Path, relative: str, age_days: float) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    moment = T0 - age_days * DAY
    os.utime(path, (moment, moment))
    return path


def test_index_lists_reports_by_kind_newest_first_with_their_files(tmp_path: Path):
    write(tmp_path, "bench/results.json", 9)
    write(tmp_path, "demo/summary.json", 8)
    write(tmp_path, "validation/page1.html", 7)
    write(tmp_path, "monitoring/2023-11-10T0600/report.html", 4)
    write(tmp_path, "monitoring/2023-11-10T0600/monitoring.json", 4)
    write(tmp_path, "batches/run-old/report.html", 6)
    write(tmp_path, "batches/run-new/report.html", 1)
    write(tmp_path, "reconciliation/2023-09-01_2023-09-30/report.html", 40)
    write(tmp_path, "reconciliation/2023-10-01_2023-10-31/report.html", 10)
    for name in ("accounting_export.csv", "exceptions.csv", "figures.json"):
        write(tmp_path, f"reconciliation/2023-10-01_2023-10-31/{name}", 10)
    write(tmp_path, "reconciliation/2023-09-01_2023-09-30/exceptions.csv", 40)
    write(tmp_path, "reconciliation/not-a-report/notes.txt", 0)  # no report.html: not listed

    path = write_index(tmp_path)

    assert path == index_path(tmp_path) == tmp_path / "index.html"
    page = path.read_text(encoding="utf-8")
    links = Links(page)
    assert links.report_links() == [
        ("reconciliation/2023-10-01_2023-10-31/report.html", "PayPal reconciliation 2023-10-01 – 2023-10-31"),
        ("reconciliation/2023-10-01_2023-10-31/accounting_export.csv", "accounting_export.csv"),
        ("reconciliation/2023-10-01_2023-10-31/exceptions.csv", "exceptions.csv"),
        ("reconciliation/2023-10-01_2023-10-31/figures.json", "figures.json"),
        ("reconciliation/2023-09-01_2023-09-30/report.html", "PayPal reconciliation 2023-09-01 – 2023-09-30"),
        ("reconciliation/2023-09-01_2023-09-30/exceptions.csv", "exceptions.csv"),
        ("batches/run-new/report.html", "Batch run run-new"),
        ("batches/run-old/report.html", "Batch run run-old"),
        ("monitoring/2023-11-10T0600/report.html", "Ingestion monitoring 2023-11-10T0600"),
        ("monitoring/2023-11-10T0600/monitoring.json", "monitoring.json"),
        ("validation/page1.html", "Validation page1"),
        ("demo/summary.json", "Demo summary"),
        ("bench/results.json", "Benchmark results"),
    ]
    # Every link resolves from the index's own folder.
    assert all((tmp_path / unquote(href)).is_file() for href, _ in links.report_links())
    # Each kind has a heading the contents list links to.
    assert [href for href, _ in links.links if href.startswith("#")] == [
        "#kind-reconciliation",
        "#kind-batches",
        "#kind-monitoring",
        "#kind-validation",
        "#kind-demo",
        "#kind-bench",
    ]
    assert "2023-11-13 22:13 UTC" in page  # run-new's modification time, one day before T0
    assert present.CSP_META in page and present.REPORT_CSS in page
    assert "script" not in links.elements


def test_hostile_folder_names_are_escaped_in_titles_and_encoded_in_links(tmp_path: Path):
    hostile = '<script>alert(1)<img src=x onerror=alert(2)>_x" onclick="y'  # no "/": one folder
    write(tmp_path, f"reconciliation/{hostile}/report.html", 1)
    write(tmp_path, "batches/a#b?c/report.html", 1)

    page = write_index(tmp_path).read_text(encoding="utf-8")
    links = Links(page)

    assert "<script" not in page and "<img" not in page and 'onclick="y' not in page
    assert not {"script", "img"} & links.elements
    texts = dict(links.report_links())
    reconciliation = next(href for href in texts if href.startswith("reconciliation/"))
    assert texts[reconciliation] == (
        'PayPal reconciliation <script>alert(1)<img src=x onerror=alert(2)> – x" onclick="y'
    )
    assert unquote(reconciliation) == f"reconciliation/{hostile}/report.html"
    assert "batches/a%23b%3Fc/report.html" in texts  # "#" and "?" would cut the link short
    assert (tmp_path / unquote("batches/a%23b%3Fc/report.html")).is_file()


def test_a_folder_without_reports_gets_a_page_that_says_so(tmp_path: Path):
    root = tmp_path / "reports"  # not created yet
    write(root, "loadtest/result.json", 0)  # not a kind the index lists

    page = write_index(root).read_text(encoding="utf-8")
    links = Links(page)

    assert links.links == [] and "table" not in links.elements
    assert "No reports have been written here yet." in page
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_rewriting_the_index_picks_up_new_reports_and_does_not_list_itself(tmp_path: Path):
    write_index(tmp_path)
    write(tmp_path, "validation/new.html", 0)

    links = Links(write_index(tmp_path).read_text(encoding="utf-8"))

    assert links.report_links() == [("validation/new.html", "Validation new")]
