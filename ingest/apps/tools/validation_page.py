"""The HTML page of ``ingest validate --html``: the verdict first, then each failed expectation
with its offending values next to their row numbers, as GX Data Docs show unexpected values.

It is rendered by the autoescaping Jinja2 environment and stylesheet every report shares
(``ingest.apps.reports.present``): values come from the lake and are data, never markup, and
they were masked (payer emails and names) before they got here (``validate_file``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ingest.apps.reports import present

if TYPE_CHECKING:
    from ingest.apps.tools.validate_file import FileValidation

VALUE_CHARS = 80
"""A value (each column's, for several) is cut to this many characters: a hostile row can hold
megabytes in one field."""
_LISTED_VALUE_SET = 12

# Only what the shared stylesheet has no rule for: values set apart from the words around them.
_PAGE_CSS = (
    "code.value{background:#f3f6f9;border:1px solid #e3e8ee;border-radius:3px;padding:0 .3rem;"
    "white-space:pre-wrap;word-break:break-all}.dim{color:#5b6776}ul.values{margin:0;padding-left:1rem}"
    "td.offending{min-width:24rem}td.check{max-width:22rem}"
    "p.verdict{font-size:1.1rem;font-weight:600}"
)

_PAGE = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8">{{ csp_meta }}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Validation of {{ r.source }}</title><style>{{ report_css }}{{ page_css }}</style></head>
<body class="report"><main>
<h1>Validation: {{ r.source }}</h1>
<p>Pipeline <b>{{ r.pipeline }}</b>, suite <b>{{ r.suite or "none" }}</b>{{ engine }}, \
validated {{ r.validated_at }}. Nothing was loaded.</p>
<p class="verdict {{ verdict_css }}">{{ verdict }}</p>
<div class="cards">{% for label, value in cards %}<div class="card">{{ label }}<b>{{ value }}</b></div>\
{% endfor %}</div>
{{ toc }}
{% for section in sections %}{{ section.heading }}
{% if section.checks %}<table class="report"><thead><tr><th scope="col">Check</th>\
<th scope="col">Expects</th><th scope="col">Column</th>\
<th class="num" scope="col">Rows failing (of checked)</th>\
<th scope="col">Offending values (first rows)</th></tr></thead><tbody>
{% for c in section.checks %}<tr><td class="check"><b class="{{ section.css }}">{{ c.id }}</b>\
{% if c.why %}<br><span class="dim">{{ c.why }}</span>{% endif %}</td>
<td class="note">{{ c.expects }}{% if c.error %}<br><span class="bad">could not run: {{ c.error }}</span>\
{% endif %}</td><td>{{ c.column }}</td>
<td class="num">{{ c.failing }}</td>
<td class="offending">{% if c.offending %}<ul class="values">{% for v in c.offending %}<li>\
{% if v.value is none %}<span class="dim">null</span>\
{% else %}<code class="value">{{ v.value }}</code>{% endif %} \
<span class="dim">row{% if v.rows|length > 1 %}s{% endif %} {{ v.rows|join(", ") }}</span></li>\
{% endfor %}</ul>{% if c.more %}<span class="dim">{{ c.more }}</span>{% endif %}\
{% else %}<span class="dim">{{ c.no_values }}</span>{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ section.empty }}</p>{% endif %}
{% endfor %}{{ headings.quarantined }}
{% if r.quarantined_rows %}<table class="report"><thead><tr><th class="num" scope="col">Row</th>\
<th scope="col">Reason</th></tr></thead><tbody>
{% for q in r.quarantined_rows %}<tr><td class="num">{{ q.row }}</td><td class="note">{{ q.reason }}</td></tr>
{% endfor %}</tbody></table>{% if r.bad > r.quarantined_rows|length %}<p class="dim">The first \
{{ r.quarantined_rows|length }} of {{ "{:,}".format(r.bad) }}; <code>ingest validate --json</code> \
counts them by reason.</p>{% endif %}
{% else %}<p class="empty">No row would be quarantined.</p>{% endif %}
{{ headings.passed }}
{% if r.passed_expectations %}<p>{{ r.passed_expectations|join(", ") }}</p>\
{% else %}<p class="empty">None.</p>{% endif %}
</main></body></html>
"""


def render_page(report: FileValidation) -> str:
    """The report as one self-contained page: inline CSS, no scripts, nothing fetched."""
    from ingest.apps.tools.validate_file import MAX_LISTED_ROWS, engine_text

    if report.file_error:
        verdict, verdict_css = f"The file would fail as a whole: {report.file_error}", "bad"
    elif report.ok:
        verdict, verdict_css = "Every row would load.", "ok"
    else:
        verdict = f"{report.bad:,} of {report.rows:,} rows would be quarantined; the rest would load."
        verdict_css = "warn"
    titles = {
        "failed": "Critical expectations failed",
        "warnings": "Warnings (rows still load)",
        "quarantined": f"Rows that would be quarantined (first {MAX_LISTED_ROWS})",
        "passed": "Expectations passed",
    }
    headings = {key: present.anchor(f"v-{key}", title) for key, title in titles.items()}
    sections = [
        {
            "heading": headings["failed"],
            "checks": [_check_view(c) for c in report.failed_expectations],
            "css": "bad",
            "empty": "No critical expectation failed.",
        },
        {
            "heading": headings["warnings"],
            "checks": [_check_view(c) for c in report.warnings],
            "css": "warn",
            "empty": "No warning.",
        },
    ]
    cards = [
        ("Rows", report.rows),
        ("Would load", report.good),
        ("Quarantined", report.bad),
        ("By type coercion", report.rejected_by_coercion),
        ("By the suite", report.rejected_by_suite),
    ]
    return present.render(
        _PAGE,
        r=report,
        engine=engine_text(report),
        verdict=verdict,
        verdict_css=verdict_css,
        cards=[(label, f"{value:,}") for label, value in cards],
        toc=present.contents([(f"v-{key}", title) for key, title in titles.items()]),
        sections=sections,
        headings=headings,
        page_css=present.Html(_PAGE_CSS),
    )


def _check_view(check: dict[str, Any]) -> dict[str, Any]:
    """A failed check as the page shows it: words for the expectation, values grouped as GX
    groups its ``partial_unexpected_counts`` (one line per distinct value, with its rows)."""
    checked = check["element_count"]
    failing = check["unexpected_count"]
    share = f" ({failing / checked:.1%})" if checked else ""
    grouped: dict[str, dict[str, Any]] = {}
    for item in check["unexpected"]:
        shown = _shown(item["value"])
        grouped.setdefault(json.dumps(shown), {"value": shown, "rows": []})["rows"].append(item["row"])
    listed = len(check["unexpected"])
    more = f"and {failing - listed:,} more rows" if failing > listed and listed else ""
    if check["error"]:
        no_values = "no values: the expectation did not run"
    elif not check["columns"]:
        no_values = "a check of the whole file, not of rows"
    else:
        no_values = "no row numbers were kept"
    return {
        "id": check["id"],
        "why": check.get("why"),
        "expects": expects(check["type"], check.get("kwargs") or {}),
        "error": check["error"],
        "column": ", ".join(check["columns"]) or (check["column"] or ""),
        "failing": f"{failing:,} of {checked:,}{share}" if check["columns"] else "",
        "offending": list(grouped.values()),
        "more": more,
        "no_values": no_values,
    }


def offending_text(check: dict[str, Any]) -> str:
    """The check's offending values on one line for a terminal: ``"X" (rows 2, 7); null (row 9)``."""
    view = _check_view(check)
    parts = [
        f"{'null' if v['value'] is None else v['value'].replace(chr(10), ', ')} "
        f"(row{'s' if len(v['rows']) > 1 else ''} "
        f"{', '.join(map(str, v['rows']))})"
        for v in view["offending"]
    ]
    return "; ".join(parts) + (f"; {view['more']}" if view["more"] else "") if parts else view["no_values"]


def _shown(value: Any) -> str | None:
    """A value as text, cut to ``VALUE_CHARS``; None stays None (shown as null)."""
    if value is None:
        return None
    if isinstance(value, dict):  # several columns: one a line, each cut on its own
        return "\n".join(f"{k} = {'null' if v is None else _shown(v)}" for k, v in value.items())
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if text == "":
        return '""'  # an empty string is a value; shown so, not as a blank cell
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def expects(kind: str, kwargs: dict[str, Any]) -> str:
    """What an expectation requires, in words (the GX type name says it to engineers only)."""
    words = _EXPECTS.get(kind)
    text = words(kwargs) if words else kind
    condition = kwargs.get("row_condition")
    return f"{text}, where {_condition(condition)}" if condition else text


def _between(kwargs: dict[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    parts = []
    if low is not None:
        parts.append(f"{'above' if kwargs.get('strict_min') else 'at least'} {low}")
    if high is not None:
        parts.append(f"{'below' if kwargs.get('strict_max') else 'at most'} {high}")
    return " and ".join(parts) or "any value"


def _in_set(kwargs: dict[str, Any]) -> str:
    values = [str(v) for v in kwargs.get("value_set") or ()]
    shown = ", ".join(values[:_LISTED_VALUE_SET])
    return f"one of {shown}" + (
        f" (and {len(values) - _LISTED_VALUE_SET} more)" if len(values) > _LISTED_VALUE_SET else ""
    )


def _pair(kwargs: dict[str, Any]) -> str:
    sign = "≥" if kwargs.get("or_equal") else ">"
    return f"{kwargs.get('column_A')} {sign} {kwargs.get('column_B')}"


_EXPECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "expect_column_values_to_not_be_null": lambda _: "a value in every row",
    "expect_column_values_to_be_unique": lambda _: "no value twice in the file",
    "expect_compound_columns_to_be_unique": lambda _: "no combination twice in the file",
    "expect_column_values_to_match_regex": lambda k: f"values matching {k.get('regex')}",
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _between,
    "expect_column_pair_values_a_to_be_greater_than_b": _pair,
    "expect_table_row_count_to_be_between": lambda k: f"a row count {_between(k)}",
}


def _condition(condition: Any) -> str:
    """A GX row condition (Condition JSON) in words: ``transaction_event_code in T0006, T0007``."""
    if not isinstance(condition, dict):
        return str(condition)
    if condition.get("type") in {"and", "or"}:
        joiner = f" {condition['type']} "
        return joiner.join(_condition(part) for part in condition.get("conditions") or ())
    column = (condition.get("column") or {}).get("name", "?")
    operator = str(condition.get("operator", "")).lower()
    parameter = condition.get("parameter")
    if isinstance(parameter, list):
        parameter = ", ".join(map(str, parameter))
    return f"{column} {operator} {parameter}"
