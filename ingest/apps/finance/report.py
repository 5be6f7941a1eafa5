"""The reconciliation report: ``notebooks/reconciliation_report.py`` run for a period.

The notebook writes the period's files first (``exports``), then shows what the finance modules
read: the headline (``figures``), the balance statement and breakdowns (``breakdowns``,
``balance_breaks``), the exceptions to act on (``exceptions``) and where the figures come from
(``data_quality``). ``alerts`` tells people about reversals and chargebacks.

Nothing the report reads selects a payer's email hash or any other payer field: the report has
no use for them, so they never reach its tables or files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.apps.finance.exports import EXCEPTIONS_FILE, EXPORT_FILE, FIGURES_FILE
from ingest.apps.finance.period import Options, Period
from ingest.core.settings import NOTEBOOKS_DIR

if TYPE_CHECKING:
    from ingest.apps.reports.notebook_run import NotebookRun

NOTEBOOK = NOTEBOOKS_DIR / "reconciliation_report.py"
REPORT_FILE = "report.html"
OUTPUT_FILES = (REPORT_FILE, EXPORT_FILE, EXCEPTIONS_FILE, FIGURES_FILE)


@dataclass(frozen=True)
class ProducedReport:
    """A report run: its folder, the executed notebook, the figures, and why it failed if it did."""

    out_dir: Path
    notebook: NotebookRun
    figures: dict[str, Any] | None

    @property
    def error(self) -> str | None:
        if self.notebook.error is not None:
            return self.notebook.error
        return None if self.figures is not None else f"no {FIGURES_FILE} written"

    @property
    def report_path(self) -> Path:
        return self.out_dir / REPORT_FILE

    @property
    def files(self) -> dict[str, Path]:
        """The output files that exist, by what they are."""
        labels = {
            REPORT_FILE: "report",
            EXPORT_FILE: "accounting export",
            EXCEPTIONS_FILE: "exceptions",
            FIGURES_FILE: "figures",
        }
        return {
            label: self.out_dir / name for name, label in labels.items() if (self.out_dir / name).is_file()
        }


def produce(period: Period, out_root: Path, options: Options | None = None) -> ProducedReport:
    """Reconcile the period and run the report notebook into ``<out_root>/<start>_<end>/``.

    A failing cell does not raise: it is in ``error``, and the executed notebook is kept.
    """
    from ingest.apps.reports.notebook_run import run_notebook

    if not NOTEBOOK.is_file():
        raise FileNotFoundError(
            f"reconciliation notebook not found: {NOTEBOOK} (reports run from a checkout of the repository)"
        )
    options = options or Options()
    out_dir = (out_root / period.label).resolve()
    # A run that fails before writing its files must not leave an earlier run's passing for its own.
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    parameters = {
        "start_date": period.start.isoformat(),
        "end_date": period.end.isoformat(),
        "late_window_days": options.late_window_days,
        "nominal": options.nominal,
        "vat_basis": options.vat_basis,
        "refresh": True,
        "output_dir": str(out_dir),
    }
    run = run_notebook(NOTEBOOK, out_dir, parameters, title=f"PayPal reconciliation {period}")
    figures_path = out_dir / FIGURES_FILE
    figures = json.loads(figures_path.read_text(encoding="utf-8")) if figures_path.is_file() else None
    return ProducedReport(out_dir, run, figures)
