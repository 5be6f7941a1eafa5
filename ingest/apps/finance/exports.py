"""The files a report writes for people and tools: the accounting import, the exceptions and the
headline figures of the period.

The scheduler and the accounting import read them, so they are written before the report shows
anything, each whole under a temporary name and then renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.apps.finance.exceptions import exceptions
from ingest.apps.finance.figures import figures
from ingest.apps.finance.models import Tables, read, render
from ingest.apps.finance.money import in_cents
from ingest.apps.finance.period import DEFAULT_OPTIONS, Options, Period
from ingest.apps.reports.present import spreadsheet_safe

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import bigquery

EXPORT_FILE = "accounting_export.csv"
EXCEPTIONS_FILE = "exceptions.csv"
FIGURES_FILE = "figures.json"
# Column headers of the accounting system's import, in its order.
EXPORT_COLUMNS = {
    "account_reference": "Account Reference",
    "nominal_reference": "Nominal A/C Reference",
    "date": "Date",
    "reference": "Reference",
    "narrative": "Narrative",
    "vat_code": "VAT code",
    "net_amount": "Net Amount",
    "vat_amount": "VAT Amount",
}


def accounting_export(
    client: bigquery.Client, tables: Tables, period: Period, options: Options = DEFAULT_OPTIONS
) -> pd.DataFrame:
    """The accounting import for the period: its headers, DD/MM/YYYY dates, amounts as cents."""
    frame = read(client, render("report/accounting_export", tables), period, nominal=options.nominal)
    export = frame[list(EXPORT_COLUMNS)].rename(columns=EXPORT_COLUMNS)
    return in_cents(export, ["Net Amount", "VAT Amount"]).reset_index(drop=True)


@dataclass(frozen=True)
class PeriodFiles:
    """The period's accounting export, exceptions and headline figures, and where they were written."""

    export: pd.DataFrame
    exceptions: pd.DataFrame
    figures: dict[str, Any]
    paths: dict[str, Path]


def write_period_files(
    client: bigquery.Client,
    tables: Tables,
    period: Period,
    options: Options,
    output_dir: Path,
) -> PeriodFiles:
    """Write ``accounting_export.csv``, ``exceptions.csv`` and ``figures.json`` into ``output_dir``.

    Each file is written whole under a temporary name and then renamed, so a reader (a scheduler,
    the accounting import) never sees half a file.
    """
    export = accounting_export(client, tables, period, options)
    found = exceptions(client, tables, period, options)
    found["date"] = found["date"].astype(str)
    headline = figures(client, tables, period, found, options)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        EXPORT_FILE: output_dir / EXPORT_FILE,
        EXCEPTIONS_FILE: output_dir / EXCEPTIONS_FILE,
        FIGURES_FILE: output_dir / FIGURES_FILE,
    }
    # Text from the lake (ids, reasons quoting them) must not run as a formula in a spreadsheet.
    _write_atomically(paths[EXPORT_FILE], spreadsheet_safe(export).to_csv(index=False))
    _write_atomically(paths[EXCEPTIONS_FILE], spreadsheet_safe(found).to_csv(index=False))
    _write_atomically(paths[FIGURES_FILE], json.dumps(headline, indent=2, default=str) + "\n")
    return PeriodFiles(export, found, headline, paths)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
