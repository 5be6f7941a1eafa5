"""The monitoring report's charts, drawn with matplotlib as PNG (the HTML report embeds them).

Each chart is a figure of its own, rendered to PNG here: no pyplot state or backend. matplotlib
comes with the ``notebooks`` extra; without it ``available`` is false and the report goes on
without its charts.
"""

from __future__ import annotations

import importlib
import io
import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ingest.apps.ops.health import ALARM

FAILED_COLOUR = "#c62828"
PASSED_COLOUR = "#2e7d32"
_MEASURE_TITLES = {"landed_to_loaded": "landed to loaded", "claim_to_outcome": "claim to outcome"}


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out.getvalue()


def throughput_png(throughput: pd.DataFrame, start: datetime, end: datetime, label: str) -> bytes:
    """Files and rows loaded per hour as bars stacked by pipeline, files failed as crosses; hours
    without any file are zero."""
    from matplotlib.figure import Figure

    # Any: matplotlib.dates is untyped, so its locator and formatter are called through Any.
    dates: Any = importlib.import_module("matplotlib.dates")

    first, last = (pd.Timestamp(t).tz_convert(None).floor("h") for t in (start, end))
    hours_axis = pd.date_range(first, last, freq="h")
    per_hour = throughput.assign(hour=throughput["hour"].dt.tz_convert(None))

    def hourly(column: str) -> pd.DataFrame:
        """Hours by pipelines, zero where nothing happened; pipelines with nothing at all left out."""
        table = per_hour.pivot_table(index="hour", columns="pipeline", values=column, aggfunc="sum")
        table = table.reindex(hours_axis).fillna(0)
        return table.loc[:, table.sum() > 0]

    figure = Figure(figsize=(10, 6))
    files_axes, rows_axes = figure.subplots(2, 1, sharex=True)
    width = 0.8 / 24  # days, the unit of matplotlib's date axis: 80% of an hour
    for axes, column, ylabel in (
        (files_axes, "files_loaded", "files loaded"),
        (rows_axes, "rows_loaded", "rows loaded"),
    ):
        table = hourly(column)
        bottom = pd.Series(0.0, index=hours_axis)
        for pipeline in table.columns:
            axes.bar(hours_axis, table[pipeline], bottom=bottom, width=width, align="edge", label=pipeline)
            bottom = bottom + table[pipeline]
        axes.set_ylabel(ylabel)
        axes.grid(axis="y", alpha=0.3)
    failed_per_hour = hourly("files_failed").sum(axis=1)
    failed_per_hour = failed_per_hour[failed_per_hour > 0]
    if not failed_per_hour.empty:
        files_axes.plot(
            pd.DatetimeIndex(failed_per_hour.index) + pd.Timedelta(minutes=24),
            failed_per_hour,
            linestyle="none",
            marker="x",
            color=FAILED_COLOUR,
            label="files failed (all pipelines)",
        )
    files_axes.set_title(f"Files and rows loaded per hour, {label}")
    files_axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    rows_axes.set_xlabel("hour (UTC)")
    rows_axes.set_xlim(hours_axis[0], hours_axis[-1] + pd.Timedelta(hours=1))
    rows_axes.xaxis.set_major_locator(dates.HourLocator(interval=max(1, math.ceil(len(hours_axis) / 12))))
    rows_axes.xaxis.set_major_formatter(dates.DateFormatter("%m-%d %H:%M"))
    figure.autofmt_xdate()
    return png(figure)


def latency_png(latencies: dict[str, pd.DataFrame]) -> bytes:
    """Histograms of each latency measure's seconds per file, one outline per pipeline."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4))
    measure_axes = figure.subplots(1, 2)
    for axes, (measure, seconds) in zip(measure_axes, latencies.items(), strict=True):
        axes.set_title(_MEASURE_TITLES[measure])
        axes.set_xlabel("seconds")
        axes.set_ylabel("files")
        if seconds.empty:
            axes.text(0.5, 0.5, "no files", ha="center", va="center", transform=axes.transAxes)
            continue
        low, high = max(float(seconds["seconds"].min()), 0.01), max(float(seconds["seconds"].max()), 0.02)
        # Latencies spread over orders of magnitude: log-spaced bins when they do.
        wide = high / low > 50
        bins = np.geomspace(low, high * 1.05, 30) if wide else np.linspace(0, high * 1.05, 30)
        for pipeline, group in seconds.groupby("pipeline"):
            axes.hist(
                group["seconds"].clip(lower=low), bins=bins, histtype="step", linewidth=1.5, label=pipeline
            )
        if wide:
            axes.set_xscale("log")
        axes.legend(frameon=False, fontsize="small")
    return png(figure)


def quarantine_png(quarantine: pd.DataFrame, threshold: float, label: str) -> bytes:
    """The quarantine rate per pipeline as horizontal bars, with the threshold as a dashed line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 0.5 * len(quarantine) + 1.5))
    axes = figure.subplots()
    colours = [FAILED_COLOUR if state == ALARM else PASSED_COLOUR for state in quarantine["state"]]
    axes.barh(quarantine["pipeline"], quarantine["rate_percent"], height=0.6, color=colours)
    axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}%")
    axes.invert_yaxis()
    axes.set_xlabel("rows quarantined, % of rows read")
    axes.set_xlim(left=0, right=max(threshold, float(quarantine["rate_percent"].max())) * 1.15)
    axes.set_title(f"Quarantine rate per pipeline, {label}")
    axes.legend(loc="lower right", frameon=False)
    return png(figure)
