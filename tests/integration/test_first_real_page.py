"""`ingest report` on a first real PayPal page, as a new user loads one: a JSON array of Transaction
Search records (a cart whose gross includes shipping, buyers PayPal places elsewhere than our
database does, a reversal alone on its day, PayPal's own balance figures off twice) and the game's
rows as concatenated pretty-printed objects. Every expected figure below was computed by hand
from the records, in the comments beside it; none comes from the code under test."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.helpers import COUNTRIES_CSV, VAT_TSV, isolate_shipped_pipelines
from support.paypal_documented import item, payer, payment_row, reversal, sale

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli

pytestmark = pytest.mark.integration


# One page, August 2021, USD. Ending balances are PayPal's as reported; where they are not the
# previous one plus the record's net, that is PayPal's own figure (no record is missing).
PAGE = [
    # 50.00 = 3 x 15.00 + 5.00 shipping; fee -1.75; 0.00 + 48.25 = 48.25
    sale(
        "8AA00000000000001", "2021-08-02T10:00:00+0000", "50.00", "-1.75", "48.25",
        buyer=payer("BUYERGB1", "GB"), shipping="5.00",
        items=[item("501", "Gem Chest", "45.00", quantity=3, unit_price="15.00")],
    ),
    # 20.00, fee -0.88: 48.25 + 19.12 = 67.37; PayPal says DE, our row says GB
    sale(
        "8AA00000000000002", "2021-08-03T10:00:00+0000", "20.00", "-0.88", "67.37",
        buyer=payer("BUYERDE1", "DE"), items=[item("502", "Gem Pack", "20.00")],
    ),
    # 8.00, fee -0.53: 67.37 + 7.47 = 74.84 expected, PayPal reports 64.84 (-10.00)
    sale(
        "8AA00000000000003", "2021-08-04T10:00:00+0000", "8.00", "-0.53", "64.84",
        buyer=payer("BUYERGB2", "GB"), items=[item("503", "Starter", "8.00")], code="T0007",
    ),
    # 12.00, fee -0.65: 64.84 + 11.35 = 76.19
    sale(
        "8AA00000000000004", "2021-08-06T10:00:00+0000", "12.00", "-0.65", "76.19",
        buyer=payer("BUYERGB3", "GB"), items=[item("504", "Season Pass", "12.00")],
    ),
    # PayPal takes back sale 2: 76.19 - 20.00 = 56.19 expected, PayPal reports 57.00 (+0.81)
    reversal("8RR00000000000002", "2021-08-20T10:00:00+0000", "-20.00", "57.00", sale_id="8AA00000000000002"),
    # 9.00, fee -0.56: 57.00 + 8.44 = 65.44; the game has no row for it
    sale(
        "8AA00000000000006", "2021-08-25T10:00:00+0000", "9.00", "-0.56", "65.44",
        buyer=payer("BUYERGB4", "GB"), items=[item("506", "Remove Ads", "9.00")],
    ),
]  # fmt: skip
PAYMENTS = [
    payment_row(20001, 501, "50.00", "2021-08-02T18:00:00.000Z", country="GB", item_count=3),
    payment_row(20002, 502, "20.00", "2021-08-03T18:00:00.000Z", country="GB"),
    # a day after PayPal booked it, and without a country
    payment_row(20003, 503, "8.00", "2021-08-05T18:00:00.000Z", country=None),
    payment_row(20004, 504, "12.00", "2021-08-06T18:00:00.000Z", country="GB"),
]


@dataclass(frozen=True)
class Report:
    code: int
    stderr: str
    folder: Path

    @property
    def figures(self) -> dict[str, Any]:
        return json.loads((self.folder / "figures.json").read_text(encoding="utf-8"))

    def csv(self, name: str) -> list[dict[str, str]]:
        with (self.folder / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def first_page(stack, tmp_path_factory: pytest.TempPathFactory):
    """The page and the game's rows loaded through `ingest run`'s batch path into pipelines and a
    reconciliation dataset of this module's own; yields a function running `ingest report`."""
    from ingest.core.settings import Settings
    from ingest.ingestion.runs import run_batch
    from ingest.ingestion.services import Services

    prefix = f"p{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("first-page")
    pipelines_dir = root / "pipelines"
    isolate_shipped_pipelines(pipelines_dir, prefix)
    bucket = f"first-page-{prefix}"
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    files = {
        "reference/country_tax_codes/countries.csv": COUNTRIES_CSV.encode(),
        "reference/vat_rates/vat.tsv": VAT_TSV.encode(),
        # As the extractor writes a page: a JSON array, no extension.
        "paypal/transactions/2021/08/31/page-0001": json.dumps(PAGE, indent=1).encode(),
        # As Firehose writes the game's rows: pretty-printed objects back to back.
        "payments/transactions/2021/08/31/stream": "".join(
            json.dumps(r, indent=4) for r in PAYMENTS
        ).encode(),
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
    settings = Settings(pipelines_dir=pipelines_dir, recon_dataset=f"recon_{prefix}")  # type: ignore[arg-type]
    batch = run_batch(Services.from_env(settings), bucket, prefix)
    assert not batch.failed and {r["rows_quarantined"] for r in batch.by_pipeline().values()} == {0}

    def report(start: str) -> Report:
        out = root / "reports"
        stdout, stderr = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
            patch.setenv("INGEST_RECON_DATASET", settings.recon_dataset)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = cli.main(["report", "--start", start, "--out", str(out)])
        (folder,) = [p for p in out.iterdir() if p.is_dir() and p.name.startswith(start)]
        return Report(code, stderr.getvalue(), folder)

    return report


def test_the_month_gives_the_figures_an_accountant_computes(first_page):
    month = first_page("2021-08")

    assert month.code == 0, month.stderr
    figures = month.figures
    assert {k: figures[k] for k in ("currency", "paypal_gross", "paypal_fees", "paypal_net")} == {
        "currency": "USD",
        "paypal_gross": "99.00",  # 50 + 20 + 8 + 12 + 9
        "paypal_fees": "-4.37",  # -1.75 - 0.88 - 0.53 - 0.65 - 0.56
        "paypal_net": "94.63",
    }
    # Ours: four rows, 90.00; all four pair (503 a day late), 501 at PayPal's gross with shipping.
    assert (figures["our_count"], figures["our_total"]) == (4, "90.00")
    assert (figures["matched_count"], figures["matched_amount"]) == (4, "90.00")
    assert figures["reversals"] == "-20.00"
    # Balance 0.00 -> 65.44; activity 94.63 - 20.00 = 74.63; 65.44 - 74.63 = -9.19 = -10.00 + 0.81.
    assert (figures["opening_balance"], figures["closing_balance"]) == ("0.00", "65.44")
    assert (figures["balance_difference"], figures["balance_check"], figures["days_not_balanced"]) == (
        "-9.19",
        False,
        2,
    )
    # VAT per transaction, GB 20%: 50 -> 41.67 + 8.33, 8 -> 6.67 + 1.33, 12 -> 10.00 + 2.00,
    # 9 -> 7.50 + 1.50: net 65.84, VAT 13.16 (one rounding of 79.00 would give 65.83 and 13.17).
    # DE 19%: 20.00 -> 16.81 + 3.19, and the reversal takes back the same: 0.
    assert (figures["revenue"], figures["net_revenue"], figures["vat"]) == ("79.00", "65.84", "13.16")

    exceptions = month.csv("exceptions.csv")
    assert Counter((row["date"], row["kind"], row["item_code"]) for row in exceptions) == Counter(
        {
            ("2021-08-03", "country_mismatch", "502"): 1,  # PayPal DE, ours GB: VAT on DE
            ("2021-08-04", "country_mismatch", "503"): 1,  # PayPal GB, ours empty
            ("2021-08-04", "late", "503"): 1,
            ("2021-08-20", "reversal", "502"): 1,  # linked to sale 2, its item and country
            ("2021-08-25", "missing_ours", "506"): 1,
        }
    )
    (taken_back,) = [row for row in exceptions if row["kind"] == "reversal"]
    assert (taken_back["original_transaction_id"], taken_back["country_code"]) == ("8AA00000000000002", "DE")
    # The shipping is not a price difference: no amount_mismatch anywhere.
    assert not [row for row in exceptions if row["kind"] == "amount_mismatch"]

    export = month.csv("accounting_export.csv")
    assert [(row["Date"], row["VAT code"], row["Net Amount"], row["VAT Amount"]) for row in export] == [
        ("02/08/2021", "T1", "41.67", "8.33"),
        ("03/08/2021", "T44", "16.81", "3.19"),
        ("04/08/2021", "T1", "6.67", "1.33"),
        ("06/08/2021", "T1", "10.00", "2.00"),
        ("20/08/2021", "T44", "-16.81", "-3.19"),
        ("25/08/2021", "T1", "7.50", "1.50"),
    ]

    html = (month.folder / "report.html").read_text(encoding="utf-8")
    # Both breaks located at PayPal's records and put down to PayPal's figures, not to a load.
    for record in ("8AA00000000000003", "8RR00000000000002"):
        assert record in html
    assert "PayPal&#39;s figure" in html or "PayPal's figure" in html
    assert "did not load" not in html.replace("Not loaded", "")
    assert "Alert sent" in month.stderr


def test_a_day_with_only_a_reversal_has_every_figure_and_sends_the_alert(first_page):
    day = first_page("2021-08-20")

    assert day.code == 0, day.stderr
    figures = day.figures
    assert (
        figures["paypal_gross"],
        figures["matched_count"],
        figures["our_count"],
        figures["our_total"],
    ) == (
        "0.00",
        0,
        0,
        "0.00",
    )
    # 76.19 - 20.00 = 56.19 expected; PayPal reports 57.00.
    assert (figures["opening_balance"], figures["closing_balance"], figures["balance_difference"]) == (
        "76.19",
        "57.00",
        "0.81",
    )
    assert [
        (row["kind"], row["paypal_transaction_id"], row["paypal_amount"]) for row in day.csv("exceptions.csv")
    ] == [("reversal", "8RR00000000000002", "-20.00")]
    assert "Alert sent: PayPal reconciliation 2021-08-20 - 2021-08-20: 1 reversal" in " ".join(
        day.stderr.split()
    )


def test_a_period_whose_tables_were_never_loaded_says_which_to_load_in_one_line(stack, tmp_path):
    # GIVEN pipelines whose tables were never loaded (a new project before its first `ingest run`)
    prefix = f"n{uuid.uuid4().hex[:10]}"
    isolate_shipped_pipelines(tmp_path / "pipelines", prefix)
    stdout, stderr = io.StringIO(), io.StringIO()

    # WHEN finance reconciles, then asks for the report
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INGEST_PIPELINES_DIR", str(tmp_path / "pipelines"))
        patch.setenv("INGEST_RECON_DATASET", f"recon_{prefix}")
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            reconciled = cli.main(["reconcile", "--start", "2021-08"])
            reported = cli.main(["report", "--start", "2021-08", "--out", str(tmp_path / "reports")])

    # THEN both stop with exit 2 and one line naming the missing table and what to load
    assert (reconciled, reported) == (2, 2)
    said = " ".join(stderr.getvalue().split())
    assert "does not exist: load PayPal Transaction Search pages under paypal/transactions/" in said
    assert "the report failed: MissingSourceTable:" in said
    assert "Traceback" not in stderr.getvalue() + stdout.getvalue()
