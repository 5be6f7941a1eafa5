"""Run a jupytext notebook with papermill and export it as a no-code HTML report that renders offline.

The executed ``.ipynb`` is always kept, also when a cell raised: it is what a person opens to
see why a scheduled run failed. The HTML holds outputs only (no code, no tracebacks) and loads
nothing from the network, so it can be mailed, archived or opened on a machine without access.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.apps.reports import present

# Cells a reader of the report has no use for: the parameters as written and as papermill
# injected them (inputs only), and papermill's "An Exception was encountered" banners, whose
# links point at execution counts the no-code report does not show.
_HIDDEN_CELL_TAGS = frozenset({"parameters", "injected-parameters", "papermill-error-cell-tag"})

# nbconvert's lab template loads require.js, MathJax and mermaid from a CDN, and widget
# managers when widgets are present; a report read offline needs none of them. In the place
# of require.js goes the Content-Security-Policy that forbids scripts and remote loads, and
# after JupyterLab's styles the reports' own stylesheet (``html_head_css`` comes last in the
# head, so it wins ties). Its PNGs get no alt text (nbconvert then warns on every export):
# here they take the output's ``alt``.
_OFFLINE_TEMPLATE = (
    """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{% raw %}"""
    + present.CSP_META
    + """{% endraw %}{%- endblock html_head_js -%}
{%- block html_head_css -%}{% raw %}<style type="text/css">"""
    + present.REPORT_CSS
    + """</style>{% endraw %}{%- endblock html_head_css -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_png scoped -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" \
alt="{{ (output | get_metadata('alt', 'image/png') or 'image') | escape_html }}">
</div>
{%- endblock data_png -%}
"""
)
_OFFLINE_TEMPLATE_NAME = "ingest_offline.html.j2"


class NotebookToolsMissing(RuntimeError):
    """papermill, jupytext or nbconvert is not installed."""


@dataclass(frozen=True)
class NotebookRun:
    """Where an executed notebook and its report are, and why it failed if it did."""

    executed: Path
    """The executed notebook; absent only when papermill could not start at all."""
    html: Path | None
    """The no-code HTML report; None when there was no executed notebook to export."""
    error: str | None = None
    """``ExceptionType: message`` of the cell or the execution that failed; None on success."""

    @property
    def ok(self) -> bool:
        return self.error is None


def run_notebook(
    source: Path,
    out_dir: Path,
    parameters: dict[str, Any],
    *,
    html_name: str = "report.html",
    title: str | None = None,
) -> NotebookRun:
    """Execute the percent-format notebook ``source`` with ``parameters`` in ``out_dir``.

    Writes ``<out_dir>/<source stem>.ipynb`` (executed, outputs and errors included) and
    ``<out_dir>/<html_name>``. A failing cell does not raise: it is reported in ``error``.
    The kernel runs with ``out_dir`` as its working folder and inherits this process's
    environment (endpoints, settings).
    """
    jupytext, papermill = _import_tools()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{source.stem}.ipynb"
    error: str | None = None
    with tempfile.TemporaryDirectory(prefix="notebook-") as scratch:
        # papermill wants a notebook file to read; the executed copy records the inputs anyway.
        converted = Path(scratch) / f"{source.stem}.ipynb"
        jupytext.write(jupytext.read(source), converted)
        try:
            papermill.execute_notebook(
                str(converted),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                language="python",
                progress_bar=False,
                cwd=str(out_dir),
                config=_kernel_config(),
            )
        except papermill.PapermillExecutionError as err:
            error = f"{err.ename}: {err.evalue}"
        except Exception as err:  # a dead kernel, a timeout, no kernel: still kept for diagnosis
            error = f"{type(err).__name__}: {err}"
    html = None
    if executed.exists():
        html = out_dir / html_name
        html.write_text(to_html(executed, title=title or source.stem), encoding="utf-8")
    return NotebookRun(executed=executed, html=html, error=error)


def _kernel_config() -> Any:
    """Encrypt the kernel's ZeroMQ sockets (CurveZMQ keys made per run by jupyter_client).

    Unencrypted, ipykernel warns "Kernel is running over TCP without encryption" on this
    process's stderr at every run, in the middle of the CLI's output: the warning's own remedy,
    not a filter on it. "auto" provisions keys only for a kernel spec that declares curve
    support (ipykernel's does) and leaves any other kernel as it was. A libzmq without curve
    (no libsodium) would refuse the setting, so that case keeps the plain transport.
    """
    import zmq
    from traitlets.config import Config

    if not zmq.has("curve"):
        return Config()
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def to_html(executed: Path, *, title: str) -> str:
    """The executed notebook as a self-contained page: outputs only, no remote scripts or styles."""
    nbconvert = _import("nbconvert")
    # Both come with nbconvert.
    nbformat = _import("nbformat")
    from jinja2 import DictLoader

    notebook = nbformat.read(executed, as_version=4)
    shown = [cell for cell in notebook.cells if not _HIDDEN_CELL_TAGS & set(_tags(cell))]
    # Cells papermill never reached would show their headings over nothing.
    notebook.cells = [cell for cell in shown if _papermill_status(cell) != "pending"]
    if len(notebook.cells) < len(shown):
        notebook.cells.append(
            nbformat.v4.new_markdown_cell(
                "**The notebook stopped at the error above**; what follows it did not run. "
                f"The executed notebook, `{executed.name}` next to this report, has the traceback."
            )
        )
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                # Tracebacks quote the notebook's code; the report keeps only what went wrong.
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    exporter = nbconvert.HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_OFFLINE_TEMPLATE_NAME: _OFFLINE_TEMPLATE})],
        template_file=_OFFLINE_TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return str(body)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _papermill_status(cell: Any) -> str | None:
    status = cell.get("metadata", {}).get("papermill", {}).get("status")
    return None if status is None else str(status)


def _import_tools() -> tuple[Any, Any]:
    return _import("jupytext"), _import("papermill")


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise NotebookToolsMissing(
            f"{name} is not installed: notebooks need the `notebooks` extra (pip install 'ingest[notebooks]')"
        ) from err
