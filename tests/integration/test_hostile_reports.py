"""What finance opens must be inert (issue 21, items 9 and 10).

A period whose PayPal records, payment export and lake keys carry markup and spreadsheet
formulas goes through the real path on the local stack: ``ingest batch`` loads it (and writes its
batch report), ``ingest report`` reconciles it and writes ``report.html``, ``accounting_export.csv``
and ``exceptions.csv``, and the monitoring notebook reports the same files. Every page is then
read as a browser would (``html.parser``) and every CSV as a spreadsheet import would (``csv``):
the lake's text must be shown as text, never run, and a CSV cell must never start a formula.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.helpers import COUNTRIES_CSV, VAT_TSV, isolate_shipped_pipelines
from support.paypal_documented import item, payer, payment_row, refund, sale

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.apps.ops.monitoring import MONITORING_NOTEBOOK
from ingest.apps.reports.notebook_run import run_notebook

pytestmark = pytest.mark.integration

START, END = "2021-08-02", "2021-08-03"
REFERENCE = f"{START} - {END}"

# -- what the lake holds ---------------------------------------------------------------------------
# Markup, as an attacker who can write a PayPal note, an item name or an S3 key would put it.
SCRIPT_TXN = "\"><script>alert('txn')</script>"  # breaks out of an attribute, then a script
IMG_ITEM_NAME = "<img src=x onerror=alert('item')>"
SVG_COUNTRY = "<svg onload=alert('cc')>"
IMG_KEY_NAME = "\"><img src=x onerror=alert('key')>.json"
SVG_KEY_NAME = "<svg onload=alert('unrouted')>.csv"
# Formulas, one for each character a spreadsheet starts one with (OWASP's list).
EQUALS_TXN = '=HYPERLINK("http://evil.example/","click")'
PLUS_ITEM = "+cmd|' /C calc'!A0"
MINUS_COUNTRY = "-2+3+cmd|' /C calc'!A0"  # in our payment export, not at PayPal
AT_COUNTRY = "@SUM(1+1)"
TAB_TXN = "\tS4-TAB"
CR_TXN = "\rRF-5"
MINUS_SALE = "-5L83719QX"  # an id starting with "-" is text, unlike the amount -9.84

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
AMOUNT = re.compile(r"-?\d+\.\d\d")
CSV_AMOUNT_COLUMNS = {
    "accounting_export.csv": ("Net Amount", "VAT Amount"),
    "exceptions.csv": ("paypal_amount", "our_amount"),
}


# PayPal's page for the two days, opening at 100.00; every ending balance is the one before plus
# gross plus fee. S1 sells an item with a markup name to a buyer in a markup country; S2's id and
# item code are formulas and we have no row for it; S3's buyer has no PayPal country, so ours (a
# formula) is the VAT country; S4's id starts with a tab and its country with "@"; S5 is sold in
# GB and refunded the next day by R5, whose id starts with a carriage return.
PAYPAL_PAGE = [
    sale(SCRIPT_TXN, "2021-08-02T10:00:00+0000", "12.00", "-0.65", "111.35",
         buyer=payer("ACC1", SVG_COUNTRY), items=[item("9001", IMG_ITEM_NAME, "12.00")]),
    sale(EQUALS_TXN, "2021-08-02T11:00:00+0000", "5.00", "-0.45", "115.90",
         buyer=payer("ACC2", "US"), items=[item(PLUS_ITEM, "Gem Pack", "5.00")]),
    sale("3SX11223344556677", "2021-08-02T12:00:00+0000", "6.00", "-0.47", "121.43",
         buyer=payer("ACC3", None), items=[item("9003", "Gem Pack", "6.00")]),
    sale(TAB_TXN, "2021-08-02T13:00:00+0000", "7.00", "-0.50", "127.93",
         buyer=payer("ACC4", AT_COUNTRY), items=[item("9004", "Gem Pack", "7.00")]),
    sale(MINUS_SALE, "2021-08-02T14:00:00+0000", "9.84", "-0.59", "137.18",
         buyer=payer("ACC5", "GB"), items=[item("9005", "Gem Pack", "9.84")]),
    refund(CR_TXN, "2021-08-03T09:00:00+0000", "-9.84", "0.29", "127.63", sale_id=MINUS_SALE),
]  # fmt: skip

# The game's payment export (CSV): every PayPal item but S2's, S3's with a formula for a country.
PAYMENT_ROWS = [
    payment_row(1, 9001, "12.00", "2021-08-02T10:00:05.000Z", country="GB"),
    payment_row(3, 9003, "6.00", "2021-08-02T12:00:05.000Z", country=MINUS_COUNTRY),
    payment_row(4, 9004, "7.00", "2021-08-02T13:00:05.000Z", country="GB"),
    payment_row(5, 9005, "9.84", "2021-08-02T14:00:05.000Z", country="GB"),
]


def payments_export_csv() -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(PAYMENT_ROWS[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(PAYMENT_ROWS)
    return out.getvalue().encode()


# -- the run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reports:
    root: Path
    batch: Path
    reconciliation: Path
    monitoring: Path

    def pages(self) -> dict[str, Path]:
        return {
            "batch": self.batch / "report.html",
            "reconciliation": self.reconciliation / "report.html",
            "monitoring": self.monitoring / "report.html",
            "index": self.root / "index.html",
        }


def quietly(args: list[str]) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(args)
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def reports(stack, tmp_path_factory) -> Iterator[Reports]:
    """The hostile period loaded by ``ingest batch``, reported by ``ingest report`` and monitored,
    once for this module, each report under one reports folder as the CLI lays them out."""
    prefix = f"x{uuid.uuid4().hex[:10]}"
    scratch = tmp_path_factory.mktemp("hostile")
    pipelines_dir = scratch / "pipelines"
    isolate_shipped_pipelines(pipelines_dir, prefix)
    bucket = f"hostile-{prefix}"
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    page = json.dumps(PAYPAL_PAGE)
    files = {
        "reference/country_tax_codes/countries.csv": COUNTRIES_CSV.encode(),
        "reference/vat_rates/vat.tsv": VAT_TSV.encode(),
        "paypal/transactions/2021/08/03/page-1.json": page.encode(),
        "payments/exports/2021/08/03/payments.csv": payments_export_csv(),
        # A page the extractor cut off, under a key holding markup: it fails, and is reported.
        f"paypal/transactions/2021/08/03/{IMG_KEY_NAME}": page[: len(page) // 2].encode(),
        # A key no pipeline takes: its failure message quotes it.
        SVG_KEY_NAME: b"id,amount\n1,2\n",
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)

    root = scratch / "reports"
    with pytest.MonkeyPatch.context() as patch:
        # The notebooks' kernels inherit this process's environment.
        patch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
        patch.setenv("INGEST_RECON_DATASET", f"recon_{prefix}")
        today = datetime.now(UTC).date().isoformat()
        batch_args = ["--date", today, "--bucket", bucket, "--prefix", prefix, "--out", str(root / "batches")]
        code, printed = quietly(["batch", *batch_args])
        (batch,) = (root / "batches").iterdir()
        # Exit 1 for the two files that fail; everything else loads (markup and formulas included).
        assert (code, json.loads((batch / "batch.json").read_text())["failed"]) == (1, 2), printed
        out = root / "reconciliation"
        code, printed = quietly(["report", "--start", START, "--end", END, "--out", str(out), "--no-alert"])
        assert code == 0, printed
        monitoring = root / "monitoring" / "hostile"
        run = run_notebook(MONITORING_NOTEBOOK, monitoring, {"hours": 1.0, "key_prefix": prefix})
        assert run.ok, run.error
        yield Reports(root, batch, out / f"{START}_{END}", monitoring)


# -- reading the pages as a browser does --------------------------------------------------------


class Page(HTMLParser):
    """The elements (with attributes) a browser would build from the markup, and the text it shows."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name.lower(): value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    @property
    def text(self) -> str:
        return "".join(self._text)

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def policy(self) -> dict[str, list[str]] | None:
        """The Content-Security-Policy of its meta tag, directive -> sources; None without one."""
        metas = [
            a for a in self.named("meta") if a.get("http-equiv", "").lower() == "content-security-policy"
        ]
        if not metas:
            return None
        (meta,) = metas
        directives = [d.split() for d in meta["content"].split(";") if d.strip()]
        return {d[0].lower(): d[1:] for d in directives}


def read_page(path: Path) -> tuple[str, Page]:
    markup = path.read_text(encoding="utf-8")
    return markup, Page(markup)


# What each page must show as plain text: the hostile values that reach it.
SHOWN = {
    "batch": (IMG_KEY_NAME, SVG_KEY_NAME),
    "reconciliation": (SCRIPT_TXN, IMG_ITEM_NAME, SVG_COUNTRY, IMG_KEY_NAME, EQUALS_TXN, PLUS_ITEM),
    "monitoring": (IMG_KEY_NAME, SVG_KEY_NAME),
    "index": (),
}


@pytest.mark.parametrize("name", list(SHOWN))
def test_every_report_page_shows_the_lakes_markup_as_text_and_runs_nothing(reports, name):
    markup, page = read_page(reports.pages()[name])

    # Nothing from the data became an element or an attribute: no script, no svg, no handler,
    # and the only images are the report's own inline PNG charts.
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags and "svg" not in tags and "iframe" not in tags and "object" not in tags
    handlers = [(tag, a) for tag, attrs in page.elements for a in attrs if a.startswith("on")]
    assert handlers == []
    assert all(img.get("src", "").startswith("data:image/png;base64,") for img in page.named("img"))
    assert not any(v.strip().lower().startswith("javascript:") for _, a in page.elements for v in a.values())
    # The hostile values are there, as the text a reader sees, and their markup escaped.
    for value in SHOWN[name]:
        assert value in page.text, value
        assert "<" not in value or value not in markup, value
    for opening in ("<script", "<img src=x", "<svg"):
        assert opening not in markup
    if name != "index":
        assert "&lt;img src=x onerror=alert(" in markup and "&lt;svg onload=alert(" in markup


@pytest.mark.parametrize("name", list(SHOWN))
def test_every_report_page_has_a_policy_that_forbids_scripts(reports, name):
    _, page = read_page(reports.pages()[name])

    policy = page.policy()

    assert page.named("script") == []  # no page needs a script, so each must forbid them
    assert policy is not None, "no Content-Security-Policy meta tag"
    assert policy.get("default-src") == ["'none'"]
    assert policy.get("script-src", ["'none'"]) == ["'none'"]
    assert policy.get("script-src-elem", ["'none'"]) == ["'none'"]
    assert policy.get("script-src-attr", ["'none'"]) == ["'none'"]


# -- reading the CSVs as a spreadsheet import does ---------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", list(CSV_AMOUNT_COLUMNS))
def test_no_csv_cell_starts_a_formula_and_amounts_stay_numbers(reports, name):
    rows = read_csv(reports.reconciliation / name)
    amounts = CSV_AMOUNT_COLUMNS[name]

    assert rows
    for row in rows:
        for column, value in row.items():
            if column in amounts:
                # Amounts are numbers a spreadsheet reads as numbers, negatives included.
                assert value == "" or AMOUNT.fullmatch(value), (column, value)
            else:
                assert not value.startswith(FORMULA_START), (column, value)
    assert any(row[column].startswith("-") for row in rows for column in amounts)


def test_accounting_export_quotes_formula_narratives_and_keeps_every_amount(reports):
    rows = read_csv(reports.reconciliation / "accounting_export.csv")

    # By hand: one line per day and VAT country. Countries without a tax code are booked without
    # VAT; GB at 20%: 9.84 = 8.20 + 1.64, and the refund the next day takes exactly that back.
    lines = sorted((r["Date"], r["Narrative"], r["VAT code"], r["Net Amount"], r["VAT Amount"]) for r in rows)
    assert lines == sorted(
        [
            ("02/08/2021", f"{SVG_COUNTRY} - 2021-08-02", "", "12.00", "0.00"),
            ("02/08/2021", "UNITED STATES - 2021-08-02", "T0", "5.00", "0.00"),
            ("02/08/2021", f"'{MINUS_COUNTRY} - 2021-08-02", "", "6.00", "0.00"),
            ("02/08/2021", f"'{AT_COUNTRY} - 2021-08-02", "", "7.00", "0.00"),
            ("02/08/2021", "UNITED KINGDOM - 2021-08-02", "T1", "8.20", "1.64"),
            ("03/08/2021", "UNITED KINGDOM - 2021-08-03", "T1", "-8.20", "-1.64"),
        ]
    )
    assert {(r["Account Reference"], r["Nominal A/C Reference"], r["Reference"]) for r in rows} == {
        ("PAYPAL", "4000", REFERENCE)
    }
    assert sum(Decimal(r["Net Amount"]) for r in rows) == Decimal("30.00")
    assert sum(Decimal(r["VAT Amount"]) for r in rows) == Decimal("0.00")


def test_exceptions_csv_quotes_formula_ids_items_and_countries_and_keeps_every_amount(reports):
    rows = read_csv(reports.reconciliation / "exceptions.csv")
    columns = (
        "date", "kind", "paypal_transaction_id", "item_code", "payment_transaction_id",
        "paypal_amount", "our_amount", "original_transaction_id", "country_code",
    )  # fmt: skip

    found = sorted(tuple(r[c] for c in columns) for r in rows)

    d2, d3 = START, END
    assert found == sorted(
        [
            # S1: PayPal's country is markup (text in a CSV, not a formula), ours GB.
            (d2, "country_mismatch", SCRIPT_TXN, "9001", "1", "12.00", "12.00", "", SVG_COUNTRY),
            # S3: PayPal gives no country, ours (a formula) is the VAT country.
            (
                d2,
                "country_mismatch",
                "3SX11223344556677",
                "9003",
                "3",
                "6.00",
                "6.00",
                "",
                f"'{MINUS_COUNTRY}",
            ),
            (d2, "country_mismatch", f"'{TAB_TXN}", "9004", "4", "7.00", "7.00", "", f"'{AT_COUNTRY}"),
            (d2, "missing_ours", f"'{EQUALS_TXN}", f"'{PLUS_ITEM}", "", "5.00", "", "", "US"),
            (d2, "no_tax_code", "", "", "", "12.00", "", "", SVG_COUNTRY),
            (d2, "no_tax_code", "", "", "", "6.00", "", "", f"'{MINUS_COUNTRY}"),
            (d2, "no_tax_code", "", "", "", "7.00", "", "", f"'{AT_COUNTRY}"),
            (d3, "refund", f"'{CR_TXN}", "9005", "5", "-9.84", "", f"'{MINUS_SALE}", "GB"),
        ]
    )
