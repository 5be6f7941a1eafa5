"""The report presentation layer: labels, formats, alignment, escaping, spreadsheet safety, charts."""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.apps.reports import present
from ingest.apps.reports.present import Col

HOSTILE = ["<script>alert(1)</script>", "<b>bold</b>", 'x" onmouseover="alert(1)', "a & b", "<img src=x>"]


class Page(HTMLParser):
    """What a browser would build from the HTML: elements with their attributes, and cell texts."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[dict[str, object]] = []
        self.headers: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self._cell_class = ""
        self._in_th = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "tr":
            self.rows.append({"class": attributes.get("class") or "", "cells": []})
        if tag in ("td", "th"):
            self._cell, self._cell_class, self._in_th = [], attributes.get("class") or "", tag == "th"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            cell = ("".join(self._cell), self._cell_class)
            if self._in_th:
                self.headers.append(cell)
            else:
                self.rows[-1]["cells"].append(cell)  # type: ignore[union-attr]
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def element_names(self) -> set[str]:
        return {tag for tag, _ in self.tags}

    def body_rows(self) -> list[dict[str, object]]:
        return [row for row in self.rows if row["cells"]]

    def column(self, index: int) -> list[str]:
        return [row["cells"][index][0] for row in self.body_rows()]  # type: ignore[index]

    def classes(self, index: int) -> set[str]:
        return {row["cells"][index][1] for row in self.body_rows()}  # type: ignore[index]


def one_column(values: list[object], kind: present.Kind) -> Page:
    frame = pd.DataFrame({"value": pd.Series(values, dtype=object)})
    return Page(present.table(frame, [Col("value", "Value", kind)]).html)


def test_hostile_cells_caption_and_labels_are_shown_as_text_not_markup():
    frame = pd.DataFrame({"note": HOSTILE, "amount": [Decimal("1")] * len(HOSTILE)})
    shown = present.table(
        frame,
        [Col("note", "Note <i>", "text"), Col("amount", 'Amount"', "money")],
        caption='<script>alert("c")</script>',
    )
    page = Page(shown.html)

    assert page.element_names() <= {"table", "caption", "thead", "tbody", "tr", "th", "td"}
    assert page.column(0) == HOSTILE  # the browser shows exactly the original text
    assert [label for label, _ in page.headers] == ["Note <i>", 'Amount"']
    assert "<script" not in shown.html and 'x" onmouseover' not in shown.html
    assert shown._repr_html_() == shown.html == str(shown)


def test_money_has_thousands_separators_two_decimals_and_is_right_aligned():
    values = [
        Decimal("1234.5"),
        "-1234.5",
        1234.5,
        -1234,
        0.1 + 0.2,
        Decimal("2.675"),
        Decimal("-0.001"),
        1e6,
    ]
    page = one_column(values, "money")

    assert page.column(0) == [
        "1,234.50",
        "-1,234.50",
        "1,234.50",
        "-1,234.00",
        "0.30",
        "2.68",  # half up, not to even
        "0.00",  # never "-0.00"
        "1,000,000.00",
    ]
    assert page.classes(0) == {"num"} and page.headers == [("Value", "num")]


def test_counts_are_grouped_right_aligned_and_ids_are_left_alone():
    frame = pd.DataFrame({"rows": [1234567, 0, 12], "txn": [12345678.0, np.nan, 7.0], "who": ["a", "b", "c"]})
    page = Page(present.table(frame, [Col("rows", "Rows", "count"), Col("txn", "Id", "id"), Col("who")]).html)

    assert page.column(0) == ["1,234,567", "0", "12"] and page.classes(0) == {"num"}
    assert page.column(1) == ["12345678", "", "7"] and page.classes(1) == {"id"}
    assert page.classes(2) == {"text"}
    # Only numbers are right-aligned: the classes map to the stylesheet's rules.
    assert re.search(r"\.num[^{]*\{[^}]*text-align:right", present.REPORT_CSS)
    assert re.search(r"\.date[^{]*\{[^}]*white-space:nowrap", present.REPORT_CSS)


def test_flags_read_yes_or_no_and_percentages_come_from_rates_or_as_given():
    assert one_column([True, False, np.bool_(True), "false", "YES", 0, 1], "flag").column(0) == [
        "Yes",
        "No",
        "Yes",
        "No",
        "Yes",
        "No",
        "Yes",
    ]
    assert one_column([0.19, Decimal("0.075"), 1, "19%", 0.123456], "percent").column(0) == [
        "19%",
        "7.5%",
        "100%",
        "19%",
        "12.35%",
    ]


def test_dates_are_iso_days_and_utc_minutes():
    values = [pd.Timestamp("2021-07-01"), pd.Timestamp("2021-07-01 14:30", tz="Europe/Berlin"), "2021-07"]
    page = one_column(values, "date")

    assert page.column(0) == ["2021-07-01", "2021-07-01 12:30 UTC", "2021-07"]
    assert page.classes(0) == {"date"}


@pytest.mark.parametrize("kind", sorted(present.KINDS))
def test_gaps_are_empty_cells_in_every_kind(kind):
    gaps = [None, float("nan"), np.nan, pd.NA, pd.NaT, Decimal("NaN")]
    assert one_column(gaps, kind).column(0) == [""] * len(gaps)


def test_labels_are_for_people_never_snake_case():
    assert Col("rows_quarantined").label == "Rows quarantined"
    with pytest.raises(ValueError, match="snake_case"):
        Col("rows_in", "rows_in")
    with pytest.raises(ValueError, match="kind"):
        Col("x", "X", "currency")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="absent"):
        present.table(pd.DataFrame({"a": [1]}), [Col("absent")])


def test_highlight_marks_rows_by_callable_or_aligned_series():
    frame = pd.DataFrame({"day": ["d1", "d2", "d3"], "balanced": [True, False, True]}, index=[10, 20, 30])
    columns = [Col("day", "Day"), Col("balanced", "Balanced", "flag")]

    by_rule = Page(present.table(frame, columns, highlight=lambda row: not row["balanced"]).html)
    by_series = Page(present.table(frame, columns, highlight=pd.Series([True, False], index=[30, 10])).html)

    assert [row["class"] for row in by_rule.body_rows()] == ["", "attention", ""]
    assert [row["class"] for row in by_series.body_rows()] == ["", "", "attention"]
    assert re.search(r"tr\.attention[^{]*\{[^}]*background", present.REPORT_CSS)


def test_an_empty_frame_says_so_instead_of_an_empty_table():
    shown = present.table(pd.DataFrame({"a": []}), [Col("a", "A")], caption="Chargebacks", empty="<none>")
    page = Page(shown.html)

    assert "table" not in page.element_names()
    assert "&lt;none&gt;" in shown.html and "Chargebacks" in shown.html


def test_spreadsheet_safe_quotes_formulas_but_keeps_numbers():
    text = [
        '=HYPERLINK("http://x")',
        "+1",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "-2+3",
        "-1e5",
        "-5.00",
        "-12",
        "ok",
        None,
    ]
    frame = pd.DataFrame(
        {
            "text": text,
            "decimal": [Decimal("-5.00")] * len(text),
            "int": [-1] * len(text),
            "float": [-2.5] * len(text),
            "category": pd.Categorical(["=1+1"] * len(text)),
        }
    )
    before = frame.copy()

    safe = present.spreadsheet_safe(frame)

    assert safe["text"].tolist()[:-1] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "'-2+3",
        "'-1e5",
        "-5.00",  # a negative amount written as text stays a number
        "-12",
        "ok",
    ]
    assert present.is_gap(safe["text"].iloc[-1])
    assert safe["decimal"].tolist() == [Decimal("-5.00")] * len(text)
    assert safe["int"].tolist() == [-1] * len(text) and safe["float"].tolist() == [-2.5] * len(text)
    assert set(safe["category"]) == {"'=1+1"} and safe["text"].dtype == frame["text"].dtype
    pd.testing.assert_frame_equal(frame, before)  # a copy: the caller's frame is untouched


def test_spreadsheet_safe_covers_columns_sharing_a_name_and_the_index():
    frame = pd.DataFrame([["=a", "@b"]], columns=["x", "x"], index=pd.Index(["+c"]))

    safe = present.spreadsheet_safe(frame)

    assert safe.iloc[0].tolist() == ["'=a", "'@b"] and safe.index.tolist() == ["'+c"]


def test_contents_link_to_anchors_and_both_escape():
    nav = present.contents([("totals", "Totals & fees"), ('x"><script>', "<b>VAT</b>")])
    heading = present.anchor('x"><script>', "<b>VAT</b>", level=3)
    nav_page, heading_page = Page(nav.html), Page(heading.html)

    links = [attrs["href"] for tag, attrs in nav_page.tags if tag == "a"]
    assert links == ["#totals", '#x"><script>']
    assert [(tag, attrs.get("id")) for tag, attrs in heading_page.tags] == [("h3", 'x"><script>')]
    assert "<script" not in nav.html + heading.html and "&lt;b&gt;VAT&lt;/b&gt;" in heading.html
    assert ("nav", {"class": "contents"}) in nav_page.tags
    with pytest.raises(ValueError):
        present.anchor("a b", "spaces break links")
    with pytest.raises(ValueError):
        present.anchor("a", "A", level=7)


def test_bar_chart_is_a_png_at_100_dpi():
    pytest.importorskip("matplotlib")
    png = present.bar_chart_png(
        ["DE", "FR", "NL"],
        {"Revenue": [1200.0, 800.5, None], "VAT": [Decimal("228"), 160.1, math.nan]},
        title="Revenue and VAT by country",
        ylabel="EUR",
    )

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert 300 < width < 1500 and 200 < height < 700
    with pytest.raises(ValueError, match="categories"):
        present.bar_chart_png(["DE"], {"Revenue": [1.0, 2.0]}, title="t", ylabel="y")


def test_the_policy_forbids_scripts_and_the_stylesheet_loads_nothing():
    assert "default-src 'none'" in present.CSP_META and "script-src" not in present.CSP_META
    assert "Content-Security-Policy" in present.CSP_META
    for remote in ("http", "url(", "@import", "{{", "{%"):
        assert remote not in present.REPORT_CSS


def test_render_escapes_values_and_offers_the_page_head():
    page = present.render("{{ csp_meta }}<style>{{ report_css }}</style><p>{{ v }}</p>", v="<script>")

    assert page.startswith(present.CSP_META) and present.REPORT_CSS in page
    assert page.endswith("<p>&lt;script&gt;</p>")


def test_validation_page_uses_the_shared_style_and_policy():
    from ingest.apps.tools.validate_file import FileValidation, to_html

    page = to_html(FileValidation(source="<script>x</script>.json", pipeline="p", suite=None))

    assert present.CSP_META in page and present.REPORT_CSS in page
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt;.json" in page


def test_notebook_reports_carry_the_policy_and_the_stylesheet_after_jupyterlab_s(tmp_path: Path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbconvert")
    from ingest.apps.reports.notebook_run import to_html

    frame = pd.DataFrame({"note": ["<script>alert(1)</script>"], "gross": [Decimal("1234.5")]})
    shown = present.table(frame, [Col("note", "Note"), Col("gross", "Gross", "money")])
    cell = nbformat.v4.new_code_cell("display(table)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": shown.html})]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    executed = tmp_path / "report.ipynb"
    nbformat.write(notebook, executed)

    page = to_html(executed, title="Reconciliation")

    head = page[: page.index("</head>")]
    assert re.search(r"<meta[^>]*content-security-policy", head, re.IGNORECASE)
    assert "default-src 'none'" in head
    assert head.rindex("table.report{width:100%}") > head.index("jp-RenderedHTMLCommon table {")
    assert "<script" not in page and "1,234.50" in page
    assert 'class="num"' in page
