"""`ingest report`: the reconciliation notebook on the generated July, as finance and a scheduler get it:
the offline HTML report, the accounting export, the exceptions, the figures and the alert."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import html as html_lib
import io
import itertools
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ingest.adapters.clients import aws_client
from ingest.apps.cli import main as cli
from ingest.apps.finance.alerts import AlertTopicNotFound, publish_alert
from ingest_devstack.generate.reference import GIVEN_NAMES, SURNAMES

pytestmark = pytest.mark.integration

FILES = ("report.html", "accounting_export.csv", "exceptions.csv", "figures.json")
EXPORT_HEADERS = [
    "Account Reference",
    "Nominal A/C Reference",
    "Date",
    "Reference",
    "Narrative",
    "VAT code",
    "Net Amount",
    "VAT Amount",
]
SECTIONS = (
    "Headline: 2021-07-01 - 2021-07-31",
    "Balance statement",
    "Exceptions to act on",
    "Revenue and VAT by country",
    "Money taken back and disputes",
    "Daily trend",
    "Data quality",
)


@dataclass(frozen=True)
class ReportRun:
    code: int
    folder: Path
    stdout: str
    stderr: str


@dataclass(frozen=True)
class AlertsQueue:
    sqs: Any
    url: str

    def received(self) -> list[dict[str, str]]:
        """The SNS notifications delivered so far (subject and message), each taken off the queue."""
        found = []
        while True:
            response = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = response.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                found.append({"subject": envelope.get("Subject", ""), "message": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def july_environment(loaded_july) -> Iterator[None]:
    """The month's isolated pipelines and reconciliation dataset, for the CLI and the notebook's
    kernel, which inherits this process's environment."""
    settings = loaded_july.services.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INGEST_PIPELINES_DIR", str(settings.pipelines_dir))
        patch.setenv("INGEST_RECON_DATASET", settings.recon_dataset)
        yield


@pytest.fixture(scope="module")
def alerts(loaded_july) -> Iterator[AlertsQueue]:
    """A queue subscribed to the stack's alerts topic, as an on-call tool would be."""
    sns, sqs = aws_client("sns"), aws_client("sqs")
    name = loaded_july.services.settings.alerts_topic
    topics = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
    (topic,) = [arn for arn in topics if arn.rsplit(":", 1)[-1] == name]
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    yield AlertsQueue(sqs, url)
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def run_report(*args: str) -> ReportRun:
    """``ingest report`` with ``args``; ``--out`` must be among them."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["report", *args])
    out = Path(args[args.index("--out") + 1])
    start = args[args.index("--start") + 1]
    (folder,) = [path for path in out.iterdir() if path.name.startswith(start)]
    return ReportRun(code, folder, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def july_report(july_environment, alerts, tmp_path_factory) -> tuple[ReportRun, list[dict[str, str]]]:
    """The month's report, run once for this module, and the alerts it sent."""
    alerts.received()  # only this report's alerts count
    run = run_report("--start", "2021-07", "--out", str(tmp_path_factory.mktemp("reports")))
    return run, alerts.received()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_month_report_writes_the_report_and_its_files_and_prints_where(july_report):
    run, _ = july_report

    assert run.code == 0, run.stderr
    assert run.folder.name == "2021-07-01_2021-07-31"
    for name in FILES:
        assert (run.folder / name).is_file(), name
        assert f": {run.folder / name}\n" in run.stdout
    assert (run.folder / "reconciliation_report.ipynb").is_file()
    # The headline as `ingest reconcile` prints it.
    printed = " ".join(run.stdout.split())
    assert "Exceptions: 173 (" in printed and "reversal 4, chargeback 4, chargeback_reversal 2," in printed


def test_month_report_html_has_every_section_and_a_chart_and_no_code(july_report):
    run, _ = july_report
    html = (run.folder / "report.html").read_text(encoding="utf-8")

    assert "<title>PayPal reconciliation 2021-07-01 - 2021-07-31</title>" in html
    for heading in SECTIONS:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", html), heading
    by_country, trend = re.findall(r"<img [^>]+>", html)
    assert (
        'src="data:image/png;base64,' in by_country and 'alt="Net revenue and VAT per country' in by_country
    )
    assert 'src="data:image/png;base64,' in trend and 'alt="PayPal gross sales and our payments' in trend
    # The day the PayPal page was cut does not balance: the break is located at the record after
    # the lost ones, with what is missing, and put down to the file that failed.
    assert "does not add up on 7 day(s)" in " ".join(html.split())
    cut = re.search(r"<tr[^>]*>(?:(?!</tr>).)*K2A4O4F6HSYKQRVQH(?:(?!</tr>).)*</tr>", html, re.S)
    assert cut is not None and "215.41" in cut.group(0) and "Not loaded" in cut.group(0)
    assert "PayPal file(s) failed to load and were not replayed" in html
    assert "the period may be incomplete" in html
    assert "paypal/transactions/2021/07/13/page-0001.json" in html and "MalformedFile" in html
    # No code, no traceback, nothing fetched from the network.
    assert "reconcile.run(" not in html and "import pandas" not in html and "Traceback" not in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html)


def test_month_report_shows_no_payer_email_or_name(july_report):
    run, _ = july_report
    executed = (run.folder / "reconciliation_report.ipynb").read_text(encoding="utf-8")
    for text in (html_lib.unescape((run.folder / "report.html").read_text(encoding="utf-8")), executed):
        assert not re.search(r"@example\.(org|com)", text)
        for given, surname in itertools.product(GIVEN_NAMES, SURNAMES):
            assert f"{given} {surname}" not in text
        assert "payer_email_hash" not in text


def test_exceptions_csv_lists_the_planted_discrepancies_with_reasons(july_report, loaded_july):
    run, _ = july_report

    rows = read_csv(run.folder / "exceptions.csv")

    planted = Counter(d["kind"] for d in loaded_july.manifest["discrepancies"])
    assert Counter(row["kind"] for row in rows) == planted
    assert all(len(row["reason"]) > 20 for row in rows)
    amounts = [row[name] for row in rows for name in ("paypal_amount", "our_amount") if row[name]]
    assert amounts and all(re.fullmatch(r"-?\d+\.\d\d", amount) for amount in amounts)


def test_accounting_export_csv_has_the_import_headers_and_amounts_in_cents(july_report):
    run, _ = july_report
    path = run.folder / "accounting_export.csv"

    header = path.read_text(encoding="utf-8").splitlines()[0]
    rows = read_csv(path)

    assert header == ",".join(EXPORT_HEADERS)
    assert {row["Reference"] for row in rows} == {"2021-07-01 - 2021-07-31"}
    assert {row["Account Reference"] for row in rows} == {"PAYPAL"}
    assert {row["Nominal A/C Reference"] for row in rows} == {"4000"}
    for row in rows:
        assert re.fullmatch(r"-?\d+\.\d\d", row["Net Amount"]) and re.fullmatch(
            r"-?\d+\.\d\d", row["VAT Amount"]
        )
    # The export books the period's net revenue and VAT, to the cent.
    figures = json.loads((run.folder / "figures.json").read_text(encoding="utf-8"))
    assert sum(Decimal(row["Net Amount"]) for row in rows) == Decimal(figures["net_revenue"])
    assert sum(Decimal(row["VAT Amount"]) for row in rows) == Decimal(figures["vat"])


def test_figures_json_has_the_headline(july_report, loaded_july):
    run, _ = july_report

    figures = json.loads((run.folder / "figures.json").read_text(encoding="utf-8"))

    assert (figures["start"], figures["end"], figures["currency"]) == ("2021-07-01", "2021-07-31", "USD")
    for key in (
        "paypal_gross",
        "paypal_fees",
        "paypal_net",
        "our_total",
        "matched_count",
        "matched_amount",
        "opening_balance",
        "closing_balance",
        "balance_check",
        "net_revenue",
        "vat",
        "exceptions_total",
    ):
        assert figures[key] is not None, key
    planted = Counter(d["kind"] for d in loaded_july.manifest["discrepancies"])
    assert {kind: n for kind, n in figures["exceptions"].items() if n} == dict(planted)
    assert figures["exceptions_total"] == sum(planted.values())
    assert figures["balance_check"] is False  # the cut page and the quarantined PayPal rows


def test_month_with_reversals_and_chargebacks_sends_one_alert(july_report):
    run, received = july_report

    (alert,) = received
    assert alert["subject"] == "PayPal reconciliation 2021-07-01 - 2021-07-31: 4 reversals, 4 chargebacks"
    assert "4 reversals totalling -43.96 USD" in alert["message"]
    assert "4 chargebacks totalling -39.94 USD" in alert["message"]
    assert str(run.folder / "report.html") in alert["message"]
    assert "Alert sent" in run.stderr


def test_one_day_report_is_the_months_lines_of_that_day_and_sends_no_alert(
    july_report, july_environment, alerts, tmp_path
):
    month, _ = july_report

    day = run_report("--start", "2021-07-13", "--out", str(tmp_path))

    assert day.code == 0, day.stderr
    assert day.folder.name == "2021-07-13_2021-07-13"
    for name in FILES:
        assert (day.folder / name).is_file(), name
    lines = ["Date", "Narrative", "VAT code", "Net Amount", "VAT Amount"]
    day_export = read_csv(day.folder / "accounting_export.csv")
    month_export = read_csv(month.folder / "accounting_export.csv")
    assert day_export and {row["Reference"] for row in day_export} == {"2021-07-13 - 2021-07-13"}
    assert [[row[n] for n in lines] for row in day_export] == [
        [row[n] for n in lines] for row in month_export if row["Date"] == "13/07/2021"
    ]
    # The day of the cut PayPal page: our payments PayPal's lost records held show as missing there.
    assert Counter(row["kind"] for row in read_csv(day.folder / "exceptions.csv")) == {
        "missing_paypal": 26,
        "country_mismatch": 1,
    }
    assert alerts.received() == []


def test_report_exits_2_and_keeps_the_notebook_when_it_cannot_run(july_environment, tmp_path, monkeypatch):
    # GIVEN pipelines without the PayPal and payment tables, and a previous run's figures
    empty = tmp_path / "no-pipelines"
    empty.mkdir()
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(empty))
    folder = tmp_path / "reports" / "2021-07-02_2021-07-02"
    folder.mkdir(parents=True)
    (folder / "figures.json").write_text('{"stale": true}', encoding="utf-8")

    # WHEN the report runs
    run = run_report("--start", "2021-07-02", "--out", str(tmp_path / "reports"))

    # THEN it exits 2, says why, and keeps the executed notebook; no stale figures pass for its own
    assert run.code == 2
    assert "the report failed: ConfigError" in run.stderr
    assert (run.folder / "reconciliation_report.ipynb").is_file()
    assert not (run.folder / "figures.json").exists()
    assert "The notebook stopped at the error above" in (run.folder / "report.html").read_text(
        encoding="utf-8"
    )


def test_alert_names_a_missing_topic_and_is_not_sent_without_reversals_or_chargebacks(
    july_report, loaded_july
):
    run, _ = july_report
    figures = json.loads((run.folder / "figures.json").read_text(encoding="utf-8"))
    services = loaded_july.services
    missing = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, alerts_topic=f"missing-{uuid.uuid4().hex[:8]}"),
    )

    with pytest.raises(AlertTopicNotFound, match="set INGEST_ALERTS_TOPIC to the topic's ARN"):
        publish_alert(missing, figures, run.folder / "report.html")
    quiet = {**figures, "exceptions": {**figures["exceptions"], "reversal": 0, "chargeback": 0}}
    assert publish_alert(missing, quiet, run.folder / "report.html") is None
