"""Test data builders shared by unit and integration tests."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample Lambda event from tests/events/<name>.json."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def s3_event(bucket: str, encoded_key: str, etag: str, size: int = 1) -> dict[str, Any]:
    """The sample S3 event, pointed at one object (key already URL-encoded as S3 sends it)."""
    event = load_event("s3_object_created")
    obj = event["Records"][0]["s3"]
    obj["bucket"]["name"] = bucket
    obj["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj["object"].update(key=encoded_key, eTag=etag, size=size)
    return event


def sqs_event(*s3_events: dict[str, Any]) -> dict[str, Any]:
    """The sample SQS event carrying the given S3 events, one message each."""
    template = load_event("sqs_s3_object_created")["Records"][0]
    return {
        "Records": [{**template, "messageId": str(uuid.uuid4()), "body": json.dumps(e)} for e in s3_events]
    }


ORDERS_PIPELINE = """\
name: {name}
description: test pipeline
key_pattern: '^{prefix}/'
table: {dataset}.{table}
format: auto
write_mode: {write_mode}
business_key: [order_id]
columns:
  - {{name: order_id, type: STRING, mode: REQUIRED}}
  - {{name: amount, type: NUMERIC, mode: REQUIRED}}
  - {{name: ordered_at, type: TIMESTAMP}}
  - {{name: quantity, type: INT64}}
"""


def write_orders_pipeline(
    directory: Path, prefix: str, dataset: str = "raw", write_mode: str = "append"
) -> str:
    """A small pipeline (no suite) routing ``<prefix>/...`` to its own table; returns the table id."""
    table = "orders_" + prefix.replace("-", "_").replace("/", "_")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{table}.yaml").write_text(
        ORDERS_PIPELINE.format(name=table, prefix=prefix, dataset=dataset, table=table, write_mode=write_mode)
    )
    return f"{dataset}.{table}"


def orders_ndjson(count: int, bad_rows: tuple[int, ...] = ()) -> bytes:
    """``count`` order records as NDJSON; the 1-based rows in ``bad_rows`` have a bad amount."""
    lines = []
    for number in range(1, count + 1):
        amount = "not-a-number" if number in bad_rows else f"{number}.99"
        record = {
            "order_id": f"o-{number}",
            "amount": amount,
            "ordered_at": "2021-07-01T10:00:00Z",
            "quantity": number % 5,
        }
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


PAYER_EMAIL = "jane.doe@example.com"
PAYER_NAMES = ("Jane", "Doe")
SHIPPING_STREET = "1 Hauptstraße"


def paypal_transaction(
    transaction_id: str = "5TY05013RG002845M", email: str = PAYER_EMAIL, **info: Any
) -> dict[str, Any]:
    """One element of a PayPal Transaction Search ``transaction_details`` list."""
    return {
        "transaction_info": {
            "paypal_account_id": "6STWC2LSUYYYE",
            "transaction_id": transaction_id,
            "transaction_event_code": "T0006",
            "transaction_initiation_date": "2021-07-01T10:02:41+0000",
            "transaction_updated_date": "2021-07-01T10:02:41+0000",
            "transaction_amount": {"currency_code": "EUR", "value": "19.99"},
            "fee_amount": {"currency_code": "EUR", "value": "-0.93"},
            "transaction_status": "S",
            "transaction_subject": "Gem pack x100",
            "ending_balance": {"currency_code": "EUR", "value": "1234.56"},
            "available_balance": {"currency_code": "EUR", "value": "1200.00"},
            "invoice_id": "INV-2021-0001",
            "custom_field": "user:42",
            "protection_eligibility": "01",
            **info,
        },
        "payer_info": {
            "account_id": "6STWC2LSUYYYE",
            "email_address": email,
            "address_status": "Y",
            "payer_status": "Y",
            "payer_name": {"given_name": "Jane", "surname": "Doe", "alternate_full_name": "Jane Doe"},
            "country_code": "DE",
        },
        "shipping_info": {
            "name": "Jane Doe",
            "address": {
                "line1": SHIPPING_STREET,
                "city": "Berlin",
                "country_code": "DE",
                "postal_code": "10115",
            },
        },
        "cart_info": {"item_details": [{"item_code": "gems-100", "item_quantity": "1"}]},
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def write_pinned_orders_pipeline(directory: Path, prefix: str, file_format: str, dataset: str = "raw") -> str:
    """The orders pipeline of ``write_orders_pipeline`` with its ``format`` pinned; returns the table id."""
    table_id = write_orders_pipeline(directory, prefix, dataset)
    path = directory / f"{table_id.split('.', 1)[1]}.yaml"
    path.write_text(path.read_text().replace("format: auto", f"format: {file_format}"))
    return table_id


def payment(number: int, **fields: Any) -> dict[str, Any]:
    """A payment export record the payments suite passes (``fields`` override)."""
    return {
        "transaction_id": number,
        "transaction_item_id": 500_000 + number,
        "total_cost": "4.99",
        "currency_code": "USD",
        "country_code": "GB",
        "payment_date": "2021-07-01T10:00:00.000Z",
        "created_at": "2021-07-01T10:00:03.000Z",
        "transaction_status": "completed",
        **fields,
    }


def order(number: int, **fields: Any) -> dict[str, Any]:
    """One valid order record (as ``orders_ndjson`` writes them), with ``fields`` overriding."""
    record: dict[str, Any] = {
        "order_id": f"o-{number}",
        "amount": f"{number}.99",
        "ordered_at": "2021-07-01T10:00:00Z",
        "quantity": number % 5,
    }
    return {**record, **fields}


def ndjson_lines(*lines: str | dict[str, Any]) -> bytes:
    """NDJSON from records (dicts, serialised) and raw lines (str, written as they are)."""
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return ("\n".join(text) + "\n").encode()


def orders_csv(*rows: str, header: str = "order_id,amount,ordered_at,quantity", newline: str = "\n") -> str:
    """CSV text: ``header`` then ``rows`` (already delimited), each ended by ``newline``."""
    return "".join(line + newline for line in (header, *rows))


def isolate_shipped_pipelines(directory: Path, prefix: str) -> dict[str, str]:
    """Copies of the shipped pipelines that read ``<prefix>/<their keys>`` into tables of their own.

    Returns pipeline name -> table id. The copies keep their suites, transforms and write modes.
    """
    import yaml

    from ingest.core.settings import PACKAGE_DIR

    directory.mkdir(parents=True, exist_ok=True)
    tables = {}
    for path in sorted((PACKAGE_DIR / "pipelines").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["key_pattern"] = f"^{prefix}/" + raw["key_pattern"].removeprefix("^")
        raw["table"] = f"{raw['table']}_{prefix}"
        (directory / path.name).write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        tables[raw["name"]] = raw["table"]
    return tables


class ProcessDied(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the pipeline catches it."""


def dying_before_ledger_update(services: Any) -> Any:
    """The same services, in a process that dies after its load, before the ledger says LOADED."""
    import dataclasses

    from ingest.adapters.dynamodb.ledger import Ledger

    class LedgerThatDiesBeforeRecording(Ledger):
        def complete(self, claim, outcome):
            raise ProcessDied

        def complete_many(self, outcomes, load=None):
            raise ProcessDied

    ledger = LedgerThatDiesBeforeRecording(services.dynamodb, services.settings.ledger_table, 1)
    return dataclasses.replace(services, ledger=ledger)


# Small tax tables the finance tests load, in the reference pipelines' shapes (CSV; TSV with CRLF).
COUNTRIES_CSV = (
    "geoname_id,continent_code,continent_name,is_in_european_union,iso_2_code,iso_3_code,country_name,tax_code\n"
    "6252001,NA,North America,0,US,USA,UNITED STATES,T0\n"
    "2635167,EU,Europe,0,GB,GBR,UNITED KINGDOM,T1\n"
    "2921044,EU,Europe,1,DE,DEU,GERMANY,T44\n"
)
VAT_TSV = (
    "country_name\ttax_code\tvat_rate\tname\tiso_2_code\r\n"
    "UNITED STATES\tT0\t0\tNo VAT (export)\tUS\r\n"
    "UNITED KINGDOM\tT1\t0.2\t20% (VAT on Income)\tGB\r\n"
    "GERMANY\tT44\t0.19\tMOSS - Germany - 19%\tDE\r\n"
)
