"""The memory benchmark's tables: peak RSS per file against the target, and each file's outcome."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from benchmarks.bench.peak_memory.measure import Measured, as_mb
from benchmarks.bench.summary import MB


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
