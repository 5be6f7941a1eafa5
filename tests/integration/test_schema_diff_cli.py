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
