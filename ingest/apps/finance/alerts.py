"""Telling people about reversals and chargebacks: one message per report on the alerts topic (SNS)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.ingestion.services import Services

SUBJECT_LIMIT = 100  # SNS refuses longer subjects


class AlertTopicNotFound(LookupError):
    """The alerts topic named in the settings does not exist."""


def alert_subject(figures: dict[str, Any]) -> str:
    """``PayPal reconciliation 2021-07-01 - 2021-07-31: 2 reversals, 2 chargebacks``."""
    counts = figures.get("exceptions") or {}
    parts = [_plural(int(counts.get(kind, 0)), kind) for kind in ("reversal", "chargeback")]
    subject = f"PayPal reconciliation {figures['start']} - {figures['end']}: {', '.join(parts)}"
    return subject[:SUBJECT_LIMIT]


def alert_message(figures: dict[str, Any], report_path: Path | str) -> str:
    """The alert's text: counts and amounts of the reversals and chargebacks, and where the report is."""
    counts = figures.get("exceptions") or {}
    lines = [f"PayPal reconciliation {figures['start']} - {figures['end']}", ""]
    for kind, amount_key in (("reversal", "reversals"), ("chargeback", "chargebacks")):
        amounts = [
            f"{values[amount_key]} {currency}"
            for currency, values in (figures.get("by_currency") or {}).items()
            if values.get(amount_key) not in (None, "0.00")
        ]
        total = f" totalling {', '.join(amounts)}" if amounts else ""
        lines.append(f"{_plural(int(counts.get(kind, 0)), kind)}{total}")
    lines += [
        "",
        "PayPal took back payments made earlier. The report's section 'Reversals and chargebacks' "
        "lists each with its original payment and buyer country.",
        f"Exceptions in the period: {figures.get('exceptions_total', 0)} "
        f"({', '.join(f'{kind} {n}' for kind, n in counts.items() if n) or 'none'}).",
        "",
        f"Report: {report_path}",
    ]
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def topic_arn(sns: Any, topic: str) -> str:
    """The ARN of the alerts topic, given as an ARN or as a name.

    A name is looked up with ListTopics, never created: production runs with ``sns:Publish``
    only and is configured with the ARN.
    """
    if topic.startswith("arn:"):
        return topic
    for page in sns.get_paginator("list_topics").paginate():
        for found in page.get("Topics", []):
            if found["TopicArn"].rsplit(":", 1)[-1] == topic:
                return str(found["TopicArn"])
    raise AlertTopicNotFound(
        f"the alerts topic {topic!r} does not exist in this account and region: "
        "set INGEST_ALERTS_TOPIC to the topic's ARN, or create it (deploy/template.yaml)"
    )


def publish_alert(services: Services, figures: dict[str, Any], report_path: Path | str) -> str | None:
    """Publish one message about the period's reversals and chargebacks to the alerts topic.

    Returns the SNS message id, or None when the period has neither.
    """
    from ingest.adapters.clients import aws_client

    counts = figures.get("exceptions") or {}
    if int(counts.get("reversal", 0)) + int(counts.get("chargeback", 0)) == 0:
        return None
    sns = aws_client("sns")
    response = sns.publish(
        TopicArn=topic_arn(sns, services.settings.alerts_topic),
        Subject=alert_subject(figures),
        Message=alert_message(figures, report_path),
    )
    return str(response["MessageId"])
