"""``ingest schema diff`` on a table the emulator holds: the fields files brought that the
pipeline does not declare, read back from ``_extra``, and the YAML that declares them."""

from __future__ import annotations

import json

import pytest
from support.helpers import write_orders_pipeline

from ingest.apps.cli import main as cli
from ingest.core.model import FileRef, Status
from ingest.ingestion.flow import ingest_file

pytestmark = pytest.mark.integration


def test_schema_diff_lists_the_fields_in_extra_with_their_files_and_yaml(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch, capsys
):
    write_orders_pipeline(pipelines_dir, prefix)
    name = "orders_" + prefix
    services = make_services()
    files = {
        "a.ndjson": [
            {"order_id": "o-1", "amount": "1.50", "quantity": 1},
            {"order_id": "o-2", "amount": "2.50", "quantity": 2, "coupon": "SUMMER2"},
        ],
        "b.ndjson": [
            {"order_id": "o-3", "amount": "3.50", "quantity": 3, "coupon": "SUMMER3", "gift": True},
        ],
    }
    uris = {}
    for file_name, records in files.items():
        key = f"{prefix}/{file_name}"
        body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        put = services.lake.s3.put_object(Bucket=scratch_bucket, Key=key, Body=body)
        ref = FileRef(scratch_bucket, key, put["ETag"].strip('"'), len(body))
        assert ingest_file(ref, services).status == Status.LOADED
        uris[file_name] = ref.uri
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))

    code = cli.main(["schema", "diff", "--pipeline", name, "--json"])

    assert code == 0
    report = json.loads(capsys.readouterr().out)
    fields = {f["name"]: f for f in report["fields"]}
    assert set(fields) == {"coupon", "gift"}
    assert (fields["coupon"]["rows"], fields["coupon"]["files"]) == (2, 2)
    coupon = fields["coupon"]
    assert (coupon["first_file"], coupon["last_file"]) == (uris["a.ndjson"], uris["b.ndjson"])
    assert (fields["gift"]["rows"], fields["gift"]["type"]) == (1, "BOOL")
    assert report["yaml"] == ["  - {name: coupon, type: STRING}", "  - {name: gift, type: BOOL}"]


def query_rows(services, table: str) -> list[dict]:
    client = services.warehouse.client
    sql = (
        "SELECT order_id, coupon, TO_JSON_STRING(_extra) AS extra "
        f"FROM `{client.project}.{table}` ORDER BY order_id"
    )
    return [dict(row) for row in client.query(sql).result()]


def test_a_column_declared_later_ends_up_the_same_for_files_loaded_before_and_after(
    make_services, pipelines_dir, prefix, scratch_bucket, monkeypatch, capsys
):
    table = write_orders_pipeline(pipelines_dir, prefix)
    name = "orders_" + prefix

    def load(services, file_name: str, records: list[dict]) -> None:
        key = f"{prefix}/{file_name}"
        body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        put = services.lake.s3.put_object(Bucket=scratch_bucket, Key=key, Body=body)
        ref = FileRef(scratch_bucket, key, put["ETag"].strip('"'), len(body))
        assert ingest_file(ref, services).status == Status.LOADED

    # GIVEN a file loaded while the pipeline did not declare coupon (it went to _extra)
    load(
        make_services(),
        "before.ndjson",
        [{"order_id": "o-1", "amount": "1.50", "coupon": "S1", "gift": True}],
    )
    # WHEN schema diff --apply declares coupon (and only coupon is kept: gift is left undeclared),
    # a file is loaded with it, and the earlier rows are backfilled
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(pipelines_dir))
    assert cli.main(["schema", "diff", "--pipeline", name, "--apply", "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    yaml = pipelines_dir / f"{name}.yaml"
    assert applied["applied_to"] == str(yaml)
    assert "  - {name: coupon, type: STRING}\n  - {name: gift, type: BOOL}\n" in yaml.read_text()
    yaml.write_text(yaml.read_text().replace("  - {name: gift, type: BOOL}\n", ""))
    after = make_services()
    load(after, "after.ndjson", [{"order_id": "o-2", "amount": "2.50", "coupon": "S2", "gift": True}])
    code = cli.main(["schema", "backfill", "--pipeline", name, "--column", "coupon", "--json"])
    first = json.loads(capsys.readouterr().out)
    again = cli.main(["schema", "backfill", "--pipeline", name, "--column", "coupon", "--json"])
    second = json.loads(capsys.readouterr().out)
    assert cli.main(["schema", "diff", "--pipeline", name, "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)

    # THEN both rows hold coupon in the column and only the still undeclared field in _extra
    assert (code, first["rows"]) == (0, 1)
    assert (again, second["rows"]) == (0, 0)
    assert query_rows(after, table) == [
        {"order_id": "o-1", "coupon": "S1", "extra": '{"gift":true}'},
        {"order_id": "o-2", "coupon": "S2", "extra": '{"gift":true}'},
    ]
    assert [f["name"] for f in diff["fields"]] == ["gift"] and diff["declared_since"] == {}
