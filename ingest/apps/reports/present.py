"""The look of every HTML report: one stylesheet, human labels, and values that cannot inject markup.

Reports are read by finance, not by engineers, and their values come from the data lake: a
PayPal note or a file name can hold ``<script>`` as easily as an amount. So every cell goes
through one Jinja2 environment with autoescaping on, and tables are declared with a column
spec (label and kind) instead of showing a DataFrame's snake_case columns as they are.

Jinja2 (a dependency of nbconvert) and matplotlib come with the ``notebooks`` extra and are
imported only when used: ``ingest validate --html`` and the report index need Jinja2 alone.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

# "figure": text already written for people ("1,234.50", "12") that reads as a number: a column
# mixing amounts and counts (the headline) is formatted row by row by its maker, aligned here.
Kind = Literal["text", "note", "money", "count", "date", "flag", "percent", "id", "figure"]
KINDS: frozenset[str] = frozenset(get_args(Kind))

# Reports run no scripts and load nothing: images are inline PNGs, styles inline. The attribute
# is spelt in capitals (HTML attribute names are case-insensitive) so that a search of a page
# for "http" finds network references only, as tests/unit/test_validate.py checks.
CSP_META = (
    '<meta HTTP-EQUIV="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
)

# One stylesheet for every report: plain pages (validation, index) and notebook exports alike.
# Selectors repeat with .jp-RenderedHTMLCommon where they must outrank the JupyterLab styles
# nbconvert inlines before this one (every cell right-aligned, fixed layout, striped rows).
REPORT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1d2733;background:#fff;line-height:1.45;max-width:1400px;margin:0 auto;padding:1.5rem 1.5rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .6rem}
h3{font-size:1.05rem;margin:1.4rem 0 .5rem}a{color:#0b5cad}
table,.jp-RenderedHTMLCommon table{border-collapse:collapse;table-layout:auto;font-size:.86rem;
margin:.5rem 0 1.2rem;color:inherit}
table.report{width:100%}table.report.narrow{width:auto;min-width:40%}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3rem 0}
th,td,.jp-RenderedHTMLCommon th,.jp-RenderedHTMLCommon td{padding:.35rem .45rem;text-align:left;
border-bottom:1px solid #e3e8ee;vertical-align:top}
th,.jp-RenderedHTMLCommon th{background:#f3f6f9;font-weight:600}
thead th,.jp-RenderedHTMLCommon thead th{position:sticky;top:0;border-bottom:1px solid #c9d2dc}
.jp-RenderedHTMLCommon tbody tr:nth-child(n){background:transparent}
.jp-RenderedHTMLCommon table.report th,.jp-RenderedHTMLCommon table.report td{text-align:left}
.num,table.report .num,.jp-RenderedHTMLCommon table.report .num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}
td{font-variant-numeric:tabular-nums}
th.num,table.report th.num,.jp-RenderedHTMLCommon table.report th.num{white-space:normal}
table.report td.note{min-width:18rem}table.report .date,table.report .id{white-space:nowrap}
tr.attention,.jp-RenderedHTMLCommon tbody tr.attention{background:#fdecea;font-weight:600}
tr.attention td:first-child{box-shadow:inset 3px 0 #b42318}
p.empty{color:#5b6776;font-style:italic}
nav.contents{border:1px solid #e3e8ee;border-radius:6px;padding:.6rem 1.2rem;margin:1rem 0 1.5rem;
background:#f8fafc}
nav.contents h2{font-size:1rem;margin:.2rem 0 .4rem}nav.contents ol{margin:0;padding-left:1.4rem}
.ok{color:#1a7f37}.bad{color:#b42318}.warn{color:#9a6700}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde3ea;border-radius:6px;
padding:.6rem 1rem;min-width:8rem}.card b{display:block;font-size:1.3rem}
img{max-width:100%;height:auto}
@media print{body{max-width:none;padding:0}a{color:inherit;text-decoration:none}
thead{display:table-header-group}tr{break-inside:avoid}thead th{position:static}
h2,h3{break-after:avoid}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

_NUMERIC_KINDS = frozenset({"money", "count", "percent"})
# "note": a sentence (a reason, what to do), given room so it does not wrap word by word.
_CSS_CLASS = {
    "money": "num",
    "count": "num",
    "percent": "num",
    "figure": "num",
    "date": "date",
    "id": "id",
    "note": "note",
}
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})
# OWASP's CSV injection triggers; a string starting with one is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NEGATIVE = re.compile(r"-\d+(\.\d+)?")
_CENT = Decimal("0.01")
_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+")

_TABLE = """\
{%- if not rows -%}
{% if caption %}<p class="caption"><b>{{ caption }}</b></p>{% endif %}<p class="empty">{{ empty }}</p>
{%- else -%}
<table class="report{% if narrow %} narrow{% endif %}">\
{% if caption %}<caption>{{ caption }}</caption>{% endif %}
<thead><tr>{% for c in columns %}<th class="{{ c.css }}" scope="col">{{ c.label }}</th>{% endfor %}\
</tr></thead>
<tbody>
{% for row in rows %}<tr{% if row.attention %} class="attention"{% endif %}>\
{% for cell, c in zip(row.cells, columns) %}<td class="{{ c.css }}">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{%- endif -%}"""
_CONTENTS = """\
<nav class="contents"><h2>Contents</h2><ol>
{% for id, title in sections %}<li><a href="#{{ id }}">{{ title }}</a></li>
{% endfor %}</ol></nav>"""
_ANCHOR = '<h{{ level }} id="{{ id }}">{{ title }}</h{{ level }}>'


@dataclass(frozen=True)
class Html:
    """A piece of HTML already escaped: ``display()`` shows it, Jinja2 inserts it unescaped."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __html__(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


@dataclass(frozen=True)
class Col:
    """One column of a report table: the frame's column, its header for people, how to show it."""

    name: str
    label: str = ""
    """Shown as the header; empty: ``name`` in words ("rows_in" -> "Rows in")."""
    kind: Kind = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind {self.kind!r} is not one of {sorted(KINDS)}")
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").strip().capitalize())
        elif "_" in self.label:
            raise ValueError(f"column {self.name!r}: label {self.label!r} is snake_case, write it for people")

    @property
    def css(self) -> str:
        return _CSS_CLASS.get(self.kind, self.kind)


def table(
    frame: pd.DataFrame,
    columns: Sequence[Col],
    *,
    caption: str | None = None,
    highlight: Callable[[pd.Series], bool] | pd.Series | None = None,
    empty: str = "Nothing to show.",
    narrow: bool = False,
) -> Html:
    """``frame``'s ``columns`` as a report table; rows ``highlight`` picks get the class ``attention``.

    Values are read column by column (``tolist``), not row by row, so an int column keeps its
    ints when the frame also has floats. ``highlight`` is a row -> bool callable or a boolean
    Series aligned on the frame's index (rows it lacks are not highlighted). ``narrow``: as wide
    as its cells rather than the page (a short list of figures reads better close together).
    """
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise KeyError(f"columns not in the frame: {missing}")
    values = [frame[c.name].tolist() for c in columns]
    if highlight is None:
        marked = [False] * len(frame)
    elif callable(highlight):
        marked = [bool(highlight(row)) for _, row in frame.iterrows()]
    else:
        aligned = highlight.reindex(frame.index)
        marked = [False if is_gap(flag) else bool(flag) for flag in aligned.tolist()]
    rows = [
        {
            "attention": marked[i],
            "cells": [format_value(v[i], c.kind) for v, c in zip(values, columns, strict=True)],
        }
        for i in range(len(frame))
    ]
    return Html(
        render(_TABLE, columns=columns, rows=rows, caption=caption, empty=empty, zip=zip, narrow=narrow)
    )


def format_value(value: Any, kind: Kind) -> str:
    """``value`` as text for a cell of ``kind``; a gap (None, NaN, NA, NaT) is empty. Not escaped."""
    if is_gap(value):
        return ""
    if kind == "money":
        amount = _decimal(value)
        if amount is None:
            return str(value)
        # Half up, as an accountant rounds; "-0.00" would read as a negative nothing.
        cents = amount.quantize(_CENT, rounding=ROUND_HALF_UP) + 0
        return f"{cents:,.2f}"
    if kind == "count":
        number = _decimal(value)
        if number is None:
            return str(value)
        return f"{int(number):,}" if number == number.to_integral_value() else f"{number.normalize():,f}"
    if kind == "percent":
        if isinstance(value, str):
            return value  # already written for people ("19%", "n/a")
        rate = _decimal(value)
        if rate is None:
            return str(value)
        shown = (rate * 100).quantize(_CENT, rounding=ROUND_HALF_UP).normalize() + 0
        return f"{shown:f}%"
    if kind == "flag":
        return _flag(value)
    if kind == "date":
        return _date(value)
    if kind == "id" and isinstance(value, float) and value.is_integer():
        return str(int(value))  # an integer id column with a gap is float in pandas: no "1234.0"
    return str(value)


def is_gap(value: Any) -> bool:
    """None, NaN, ``pd.NA``, ``NaT`` and Decimal NaN: a value that is not there."""
    import pandas as pd

    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def masked(text: str | None) -> str:
    """``text`` with anything shaped like an email address replaced: error messages may quote data."""
    return _EMAIL.sub("…@…", text or "")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cannot run as a formula when the CSV is opened in a spreadsheet.

    Every text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``
    (OWASP's CSV injection advice). Numbers (int, float, Decimal) are not text and stay as they
    are. One exception: text that is a plain negative decimal ("-12.50", digits and one optional
    point) is left as it is, because exports write amounts as strings to keep their cents exact
    and a quoted "'-12.50" would stop being a number for accounting. Anything else after a
    minus ("-2+3", "-1e5", "-12.50 EUR") and any "+1" are quoted: our files never write numbers
    that way. The index is treated like a column; column names are ours and are not changed.
    """
    import pandas as pd

    def holds_text(dtype: Any) -> bool:
        return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype | pd.CategoricalDtype)

    safe = frame.copy()
    for position in range(safe.shape[1]):  # by position: two columns may share a name
        column = safe.iloc[:, position]
        if holds_text(column.dtype):
            quoted = column.astype(object).map(_cell_safe)
            # Text columns keep their dtype (pandas 3 "str"); a categorical's quoted values are text.
            keep = not isinstance(column.dtype, pd.CategoricalDtype)
            # Any: pandas takes a Series here, which its stubs do not list.
            replacement: Any = quoted.astype(column.dtype) if keep else quoted
            safe.isetitem(position, replacement)
    if not isinstance(safe.index, pd.MultiIndex) and holds_text(safe.index.dtype):
        safe.index = safe.index.astype(object).map(_cell_safe)
    return safe


def contents(sections: Sequence[tuple[str, str]]) -> Html:
    """A contents list of (anchor id, title) linking to the headings ``anchor`` writes."""
    return Html(render(_CONTENTS, sections=list(sections)))


def anchor(id: str, title: str, level: int = 2) -> Html:
    """A heading ``<h{level} id="{id}">`` that a ``contents`` entry links to."""
    if not 1 <= level <= 6:
        raise ValueError(f"heading level {level} is not 1 to 6")
    if not id or any(ch.isspace() for ch in id):
        raise ValueError(f"anchor id {id!r} must be non-empty and without spaces, or links cannot reach it")
    return Html(render(_ANCHOR, id=id, title=title, level=level))


def bar_chart_png(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | Decimal | None]],
    *,
    title: str,
    ylabel: str,
) -> bytes:
    """A grouped bar chart (one bar per series in each category) as PNG bytes at 100 dpi.

    Built on a ``Figure`` rather than pyplot: no global state, no GUI backend, safe in a kernel
    or a thread. Gaps draw no bar. The y axis has thousands separators, as the tables do.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)} categories")
    groups = max(len(series), 1)
    figure = Figure(figsize=(min(14.0, max(6.0, 0.35 * len(categories) * groups + 2.5)), 4.5))
    axes = figure.add_subplot()
    width = 0.8 / groups
    positions = range(len(categories))
    for n, (name, values) in enumerate(series.items()):
        heights = [math.nan if is_gap(v) else float(v) for v in values]  # type: ignore[arg-type]
        axes.bar([p - 0.4 + width * (n + 0.5) for p in positions], heights, width, label=name)
    axes.set_xticks(list(positions), [str(c) for c in categories], rotation=45 if len(categories) > 8 else 0)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes.grid(axis="y", color="#e3e8ee")
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    if not categories:
        axes.text(0.5, 0.5, "No data", ha="center", va="center", transform=axes.transAxes)
    elif len(series) > 1:
        axes.legend(frameon=False)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return out.getvalue()


def render(source: str, **context: Any) -> str:
    """``source`` rendered by the autoescaping environment every report page shares.

    ``csp_meta`` and ``report_css`` are there as globals, marked safe, for full pages.
    """
    return _template(source).render(**context)


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    env.globals.update(csp_meta=Markup(CSP_META), report_css=Markup(REPORT_CSS))
    return env


@functools.cache
def _template(source: str) -> jinja2.Template:
    return _environment().from_string(source)


def _decimal(value: Any) -> Decimal | None:
    """A number as Decimal (floats through their shortest repr, so 0.1 stays 0.1); None if not one."""
    if isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _flag(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().lower()
        return "Yes" if text in _TRUE else "No" if text in _FALSE else value
    return "Yes" if bool(value) else "No"


def _date(value: Any) -> str:
    """Dates as ISO days; times to the minute, in UTC when the time has a zone."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cell_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NEGATIVE.fullmatch(value):
        return "'" + value
    return value
