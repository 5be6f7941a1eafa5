"""``reports/index.html``: one page linking every report the project has written, newest first.

Finance opens one file instead of browsing folders named by period or run id. Links are
relative, so the folder can be copied, archived or served as it is; names come from folders
anyone with write access to the reports could create, so they go through the autoescaping
environment of ``ingest.apps.reports.present`` like every other value on a report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from ingest.apps.reports import present

INDEX_NAME = "index.html"


@dataclass(frozen=True)
class _Kind:
    key: str
    heading: str
    pattern: str
    """Glob under the reports root that finds the kind's main files."""
    extras: tuple[str, ...] = ()
    """Files next to the main file, linked when present."""


# In the order the page shows them.
_KINDS = (
    _Kind(
        "reconciliation",
        "PayPal reconciliation",
        "reconciliation/*/report.html",
        ("accounting_export.csv", "exceptions.csv", "figures.json"),
    ),
    _Kind("batches", "Batch runs", "batches/*/report.html", ("batch.json",)),
    _Kind("monitoring", "Ingestion monitoring", "monitoring/*/report.html", ("monitoring.json",)),
    _Kind("validation", "File validations", "validation/*.html"),
    _Kind("demo", "Demo", "demo/summary.json", ("manifest.json",)),
    _Kind("bench", "Benchmarks", "bench/results.json"),
)


@dataclass(frozen=True)
class _Entry:
    title: str
    href: str
    written: datetime
    extras: tuple[tuple[str, str], ...]
    """(file name, relative link) of the files next to the report."""


# The same column widths in every kind's table, so the report names line up down the page.
_PAGE = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">{{ csp_meta }}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reports</title><style>{{ report_css }}</style></head>
<body class="report"><main>
<h1>Reports</h1>
<p>Every report written under this folder, newest first within each kind. Index written {{ now }}.</p>
{% if groups %}{{ toc }}
{% for kind, entries in groups %}{{ headings[kind.key] }}
<table class="report"><colgroup><col style="width:45%"><col style="width:12rem"><col></colgroup>
<thead><tr><th scope="col">Report</th><th class="date" scope="col">Written</th>\
<th scope="col">Files</th></tr></thead><tbody>
{% for e in entries %}<tr><td><a href="{{ e.href }}">{{ e.title }}</a></td>\
<td class="date">{{ e.written.strftime("%Y-%m-%d %H:%M UTC") }}</td>\
<td>{% for name, href in e.extras %}<a href="{{ href }}">{{ name }}</a>{% if not loop.last %}, \
{% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
{% endfor %}{% else %}<p class="empty">No reports have been written here yet.</p>
{% endif %}</main></body></html>
"""


def index_path(reports_root: Path) -> Path:
    """Where ``write_index`` writes the index of ``reports_root``."""
    return reports_root / INDEX_NAME


def write_index(reports_root: Path) -> Path:
    """Write ``<reports_root>/index.html`` listing the reports found there now; return its path.

    Written to a temporary file and renamed, so a reader never opens half a page.
    """
    groups = [(kind, entries) for kind in _KINDS if (entries := _entries(reports_root, kind))]
    page = present.render(
        _PAGE,
        groups=groups,
        toc=present.contents([(f"kind-{kind.key}", kind.heading) for kind, _ in groups]),
        headings={kind.key: present.anchor(f"kind-{kind.key}", kind.heading) for kind, _ in groups},
        now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    path = index_path(reports_root)
    reports_root.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{INDEX_NAME}.{os.getpid()}.tmp")
    scratch.write_text(page, encoding="utf-8")
    scratch.replace(path)
    return path


def _entries(root: Path, kind: _Kind) -> list[_Entry]:
    found = []
    for main in root.glob(kind.pattern):
        if not main.is_file():
            continue
        found.append(
            _Entry(
                title=_title(kind, main),
                href=_href(root, main),
                written=datetime.fromtimestamp(main.stat().st_mtime, UTC),
                extras=tuple(
                    (name, _href(root, main.parent / name))
                    for name in kind.extras
                    if (main.parent / name).is_file()
                ),
            )
        )
    return sorted(found, key=lambda e: (e.written, e.title), reverse=True)


def _title(kind: _Kind, main: Path) -> str:
    folder = main.parent.name
    if kind.key == "reconciliation":
        start, sep, end = folder.partition("_")
        return f"PayPal reconciliation {start} – {end}" if sep else f"PayPal reconciliation {folder}"
    if kind.key == "batches":
        return f"Batch run {folder}"
    if kind.key == "monitoring":
        return f"Ingestion monitoring {folder}"
    if kind.key == "validation":
        return f"Validation {main.stem}"
    if kind.key == "demo":
        return "Demo summary"
    return "Benchmark results"


def _href(root: Path, target: Path) -> str:
    """``target`` relative to the index, percent-encoded: a folder named "a#b" or "x?y" still links."""
    return quote(target.relative_to(root).as_posix())
