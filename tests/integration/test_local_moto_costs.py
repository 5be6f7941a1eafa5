"""The local stack's moto patches that change what a DynamoDB call costs change nothing it answers.

``ingest_devstack/moto_dynamodb_costs.py`` makes a ``Query`` on a table's key read one partition;
each query here runs against moto as shipped and as patched, in process, and must answer the same
items in the same order, page by page (the SQS ones are held to moto in ``test_local_sqs.py``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _answers() -> list[Any]:
    import boto3
    from moto import mock_aws

    from ingest.adapters.dynamodb.table import table_definition

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definition("ledger"))
        for partition in range(6):
            for item in range(7):
                dynamodb.put_item(
                    TableName="ledger",
                    Item={
                        "pk": {"S": f"loads#table#{partition}"},
                        "sk": {"S": f"job-{(item * 5) % 7}"},
                        "status": {"S": "LOADED" if item % 2 else "FAILED"},
                        "started_at": {"S": f"2026-12-0{1 + item % 3}T00:00:0{item}"},
                    },
                )
        queries = [
            {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "loads#table#3"}},
            },
            {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "no such"}}},
            {
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                "ExpressionAttributeValues": {":p": {"S": "loads#table#2"}, ":s": {"S": "job-"}},
                "ScanIndexForward": False,
            },
            {
                "KeyConditionExpression": "pk = :p AND sk > :s",
                "FilterExpression": "#st = :st",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {
                    ":p": {"S": "loads#table#1"},
                    ":s": {"S": "job-2"},
                    ":st": {"S": "LOADED"},
                },
            },
            {
                "IndexName": "by_status",
                "KeyConditionExpression": "#st = :st",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {":st": {"S": "FAILED"}},
            },
        ]
        answers = []
        for query in queries:
            pages = dynamodb.get_paginator("query").paginate(
                TableName="ledger", **query, PaginationConfig={"PageSize": 3}
            )
            answers.append([(page["Items"], page["Count"], page["ScannedCount"]) for page in pages])
        return answers


def test_a_query_on_the_key_reads_one_partition_and_answers_as_moto_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.dynamodb.models.table import Table

    from ingest_devstack import moto_dynamodb_costs

    # In process: an endpoint left by another test's stack would send these calls to its server.
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    as_shipped = _answers()
    monkeypatch.setattr(Table, "query", Table.query)  # restored afterwards
    moto_dynamodb_costs.cheapen_dynamodb_queries()
    read = []
    all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: read.append(self.name) or all_items(self))
    patched = _answers()

    assert patched == as_shipped
    assert len(as_shipped[0]) > 1 and len(as_shipped[2]) > 1  # pages of three: paging is covered
    assert sum(len(items) for items, _, _ in as_shipped[0]) == 7
    # Only the query on an index, untouched, still reads the whole table (once per page).
    assert len(read) == len(patched[-1])
