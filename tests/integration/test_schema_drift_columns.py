"""schema_drift: add_columns on the emulators: the table gains typed NULLABLE columns, the values
land in them, the change is in ``ops.schema_changes`` and the DynamoDB ledger, and a worker
started later reads the added columns from the table."""

from __future__ import annotations

import json

import pytest
from support.helpers import write_orders_pipeline

from ingest.adapters.bigquery.schema_changes import SCHEMA_CHANGES_TABLE
from ingest.apps.cli import main as cli
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file

pytestmark = pytest.mark.integration


def test_new_fields_become_typed_columns_noted_in_ops_and_the_ledger(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch, capsys
):
    table = write_orders_pipeline(pipelines_dir, prefix, write_mode="merge")
    path = next(pipelines_dir.glob("*.yaml"))
    path.write_text(path.read_text() + "schema_drift: add_columns\n")

    def put(services, file_name: str, records: list[dict]) -> FileRef:
        key = f"{prefix}/{file_name}"
        body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        response = services.lake.s3.put_object(Bucket=scratch_bucket, Key=key, Body=body)
        return FileRef(scratch_bucket, key, response["ETag"].strip('"'), len(body))

    # GIVEN a first file whose second record brings coupon (text) and points (a whole number)
    services = make_services()
    first = put(
        services,
        "a.ndjson",
        [
            {"order_id": "o-1", "amount": "1.50"},
            {"order_id": "o-2", "amount": "2.50", "coupon": "SUMMER2", "points": 40},
        ],
    )

    # WHEN it loads
    assert ingest_file(first, services).status == Status.LOADED

    # THEN the table has the columns, typed, NULLABLE, holding the values (and _extra nothing)
    client = services.warehouse.client
    schema = {f.name: (f.field_type, f.mode) for f in client.get_table(f"{client.project}.{table}").schema}
    assert schema["coupon"] == ("STRING", "NULLABLE")
    assert schema["points"][0] in {"INTEGER", "INT64"} and schema["points"][1] == "NULLABLE"
    sql = f"SELECT order_id, coupon, points, _extra FROM `{client.project}.{table}` ORDER BY order_id"
    rows = [dict(row) for row in client.query(sql).result()]
    assert rows == [
        {"order_id": "o-1", "coupon": None, "points": None, "_extra": None},
        {"order_id": "o-2", "coupon": "SUMMER2", "points": 40, "_extra": None},
    ]
    # ... and each change is noted once, with the file that brought it
    changes = f"`{client.project}.{services.settings.ops_dataset}.{SCHEMA_CHANGES_TABLE}`"
    noted = client.query(
        f"SELECT column_name, column_type, first_file, change FROM {changes} "
        f"WHERE table_id = '{table}' ORDER BY column_name"
    ).result()
    assert [tuple(row.values()) for row in noted] == [
        ("coupon", "STRING", first.uri, "added"),
        ("points", "INT64", first.uri, "added"),
    ]
    item = services.dynamodb.get_item(
        TableName=services.settings.ledger_table,
        Key={"pk": {"S": f"schema#{table}"}, "sk": {"S": "COLUMN#points"}},
    )["Item"]
    assert (item["column_type"]["S"], item["first_file"]["S"]) == ("INT64", first.uri)

    # GIVEN a worker started later (nothing cached), and a file where points is text in one row
    later = make_services()
    second = put(
        later,
        "b.ndjson",
        [
            {"order_id": "o-3", "amount": "3.50", "points": 7, "coupon": "XMAS"},
            {"order_id": "o-4", "amount": "4.50", "points": "lots"},
        ],
    )

    # WHEN it loads
    result = ingest_file(second, later)

    # THEN the column keeps its type: the text row is quarantined, the other loads into the columns
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (Status.LOADED, 1, 1)
    row = next(
        iter(client.query(f"SELECT coupon, points FROM `{client.project}.{table}` WHERE order_id = 'o-3'"))
    )
    assert (row["coupon"], row["points"]) == ("XMAS", 7)
    count = client.query(f"SELECT COUNT(*) AS n FROM {changes} WHERE table_id = '{table}'").result()
    assert next(iter(count))["n"] == 2  # nothing added the second time

    # AND schema diff names the added columns with the YAML that would pin their types
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    assert cli.main(["schema", "diff", "--pipeline", f"orders_{prefix}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added_columns"] == [
        {"name": "coupon", "type": "STRING"},
        {"name": "points", "type": "INT64"},
    ]
    assert report["quarantined_by_column"] == [{"column": "points", "rows": 1, "files": 1}]
    assert report["yaml"][:2] == [
        "  - {name: coupon, type: STRING, free_text: true}",
        "  - {name: points, type: INT64}",
    ]
