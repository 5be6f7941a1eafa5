"""deploy/backfill-distributed-map.yaml: a Step Functions Distributed Map over an S3 Inventory that
enqueues the events the ingest function takes. Nothing here deploys or runs it: cfn-lint checks it
against the CloudFormation and Step Functions specs, and the tests below hold its shape and its IAM
to what the package expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.cloudformation import load_template

from ingest.apps.ops import backfill
from ingest.core import s3_events

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "backfill-distributed-map.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def machine(template: dict[str, Any]) -> dict[str, Any]:
    (resource,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return resource["Properties"]


@pytest.fixture(scope="module")
def distributed_map(machine: dict[str, Any]) -> dict[str, Any]:
    definition = machine["Definition"]
    state: dict[str, Any] = definition["States"][definition["StartAt"]]
    return state


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (role,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_template_passes_cfn_lint() -> None:
    # cfn-lint checks resources, properties, the state machine definition's schema, intrinsic
    # functions and references: what a deploy would refuse, found offline.
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))

    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def test_a_distributed_map_reads_the_inventory_manifest(distributed_map: dict[str, Any]) -> None:
    assert distributed_map["Type"] == "Map"
    assert distributed_map["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    reader = distributed_map["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "MANIFEST"}
    assert reader["Arguments"]["Bucket"] == "${InventoryBucket}"


def test_items_are_batched_ten_to_a_send_message_batch(
    machine: dict[str, Any], distributed_map: dict[str, Any]
) -> None:
    assert distributed_map["ItemBatcher"]["MaxItemsPerBatch"] == backfill.MESSAGES_PER_CALL
    states = distributed_map["ItemProcessor"]["States"]
    (send,) = [s for s in states.values() if s.get("Resource", "").endswith(":sqs:sendMessageBatch")]
    assert send["Resource"] == "arn:aws:states:::aws-sdk:sqs:sendMessageBatch"
    assert send["Arguments"]["QueueUrl"] == "${QueueUrl}"
    assert machine["DefinitionSubstitutions"]["QueueUrl"] == {"Ref": "EventQueueUrl"}
    # Entries SQS refused on its side go round again; the loop ends in success or a Fail state.
    assert any(
        s["Type"] == "Wait" and s["Next"] in states and states[s["Next"]] is send for s in states.values()
    )


def test_each_message_is_the_s3_event_the_handler_reads(distributed_map: dict[str, Any]) -> None:
    # The JSONata that builds the bodies, held to the fields ingest.apps.lambda_handler.file_refs
    # reads and to the sender ingest backfill names (its output was checked with a JSONata engine
    # when written; none runs here).
    build = distributed_map["ItemProcessor"]["States"]["BuildEvents"]["Assign"]["entries"]
    for field in (
        "'eventSource': 'aws:s3'",
        f"'eventName': '{s3_events.EVENT_NAME}'",
        f"'principalId': '{backfill.SENDER}'",
        f"'configurationId': '{backfill.SENDER}'",
        "'bucket': {'name': $item.Bucket",
        "'key': $item.Key",
        "'size': $number($item.Size)",
        "'eTag': $item.ETag",
        "'eventTime': $item.LastModifiedDate",
    ):
        assert field in build, field
    assert "$not(IsDeleteMarker = 'true') and $not(IsLatest = 'false')" in build


def test_the_role_may_read_the_inventory_send_to_the_queue_and_run_its_children_only(
    template: dict[str, Any], machine: dict[str, Any]
) -> None:
    granted = {action: s["Resource"] for s in statements(template) for action in as_list(s["Action"])}

    assert set(granted) == {
        "s3:GetObject",
        "sqs:SendMessage",  # also grants SendMessageBatch
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
    }
    assert granted["s3:GetObject"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${InventoryBucketName}/${InventoryPrefix}*"
    }
    assert granted["sqs:SendMessage"] == {"Ref": "EventQueueArn"}
    name = machine["StateMachineName"]["Fn::Sub"]
    assert granted["states:StartExecution"]["Fn::Sub"].endswith(f":stateMachine:{name}")
    assert granted["states:DescribeExecution"]["Fn::Sub"].endswith(f":execution:{name}/*")


def test_no_statement_has_a_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for statement in statements(template):
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"]))
        assert statement["Resource"] != "*"
    (role,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert "ManagedPolicyArns" not in role["Properties"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
