"""The SAM template in deploy/ against what the package needs: names, limits and least privilege.

Nothing is deployed: the template is read as data (CloudFormation short-form tags become the
long-form mappings they stand for) and checked against the package's own constants.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.ledger import table_definition
from ingest.settings import ENVIRONMENT_VARIABLES

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy"

# Variables the package reads that the Lambda deliberately leaves at their default.
# Pipelines and suites ship inside the image; the pseudonym key is read from its secret, never
# put in the environment where anyone with lambda:GetFunctionConfiguration could read it; the
# Lambda only loads files, it never reconciles.
NOT_SET_IN_LAMBDA = {
    "INGEST_PIPELINES_DIR",
    "INGEST_EXPECTATIONS_DIR",
    "INGEST_PSEUDONYM_KEY",
    "INGEST_RECON_DATASET",
}
BASIC_EXECUTION_POLICY = "service-role/AWSLambdaBasicExecutionRole"


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that reads ``!Ref x`` as ``{"Ref": "x"}``, ``!Sub s`` as ``{"Fn::Sub": s}``..."""


def _construct_intrinsic(loader: CloudFormationLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((DEPLOY_DIR / "template.yaml").read_text(), Loader=CloudFormationLoader)


# ---------------------------------------------------------------- helpers


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_}


def the_resource(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def referenced_names(value: Any) -> set[str]:
    """Logical ids and parameters a value points at through Ref, GetAtt or Sub."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        if "Fn::Sub" in value:
            text = as_list(value["Fn::Sub"])[0]
            return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
        return set().union(*(referenced_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(referenced_names(v) for v in value))
    return set()


def function(template: dict[str, Any]) -> dict[str, Any]:
    return the_resource(template, "AWS::Serverless::Function")[1]["Properties"]


def function_role(template: dict[str, Any]) -> dict[str, Any]:
    (role_name,) = referenced_names(function(template)["Role"])
    return template["Resources"][role_name]["Properties"]


def function_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in function_role(template).get("Policies", []):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    return statements


def statements_on(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in function_statements(template) if name in referenced_names(s["Resource"])]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in as_list(s["Action"])}


def environment(template: dict[str, Any]) -> dict[str, Any]:
    return function(template)["Environment"]["Variables"]


def queue_properties(template: dict[str, Any], queue_name: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for r in resources_of_type(template, "AWS::SQS::Queue").values()
        if r["Properties"]["QueueName"] == queue_name
    ]
    return props


def sqs_event(template: dict[str, Any]) -> dict[str, Any]:
    (event,) = [e["Properties"] for e in function(template)["Events"].values() if e["Type"] == "SQS"]
    return event


def logical_id_of(template: dict[str, Any], properties: dict[str, Any]) -> str:
    (name,) = [n for n, r in template["Resources"].items() if r.get("Properties") is properties]
    return name


# ---------------------------------------------------------------- template shape


def test_template_passes_cfn_lint():
    # cfn-lint checks every resource, property, intrinsic function and reference against the
    # CloudFormation and SAM specs it ships with: what a deploy would refuse, found offline.
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(DEPLOY_DIR / "template.yaml", config=ManualArgs(regions=["us-east-1", "eu-west-1"]))

    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def test_template_is_sam_with_the_documented_parameters(template):
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    parameters = template["Parameters"]
    assert set(parameters) >= {
        "LakeBucketName",
        "ErrorBucketName",
        "LedgerTableName",
        "BigQueryProject",
        "BigQueryLocation",
        "GcpCredentialsSecretArn",
        "ImageUri",
        "AlertEmail",
    }
    assert parameters["BigQueryLocation"]["Default"] == "US"
    assert parameters["AlertEmail"]["Default"] == ""


def test_function_is_the_container_image_with_one_full_lambda_timeout(template):
    props = function(template)
    assert props["PackageType"] == "Image"
    assert props["ImageUri"] == {"Ref": "ImageUri"}
    assert props["Timeout"] == 900
    assert props["MemorySize"] == 1024
    assert 1 <= props["ReservedConcurrentExecutions"] <= 20


# ---------------------------------------------------------------- IAM


def test_function_policies_grant_no_wildcard_actions(template):
    statements = function_statements(template)
    assert statements
    assert all(s["Effect"] == "Allow" for s in statements)
    wildcard = sorted(a for a in actions(statements) if "*" in a)
    assert wildcard == []


def test_function_role_attaches_no_managed_policy_beyond_basic_execution(template):
    managed = as_list(function_role(template).get("ManagedPolicyArns", []))
    assert all(BASIC_EXECUTION_POLICY in json.dumps(arn) for arn in managed), managed
    assert "Policies" not in function(template), "SAM policy templates would hide the statements"


def test_only_put_metric_data_uses_resource_star_and_it_is_namespace_conditioned(template):
    on_star = [s for s in function_statements(template) if "*" in as_list(s["Resource"])]
    assert [as_list(s["Action"]) for s in on_star] == [["cloudwatch:PutMetricData"]]
    (statement,) = on_star
    namespace = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert namespace == environment(template)["POWERTOOLS_METRICS_NAMESPACE"]


def test_lake_bucket_is_only_read_and_listed(template):
    lake = statements_on(template, "LakeBucketName")
    assert actions(lake) == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}
    for statement in lake:
        (resource,) = as_list(statement["Resource"])
        is_objects = resource["Fn::Sub"].endswith("/*")
        assert is_objects == (statement["Action"] != "s3:ListBucket"), statement["Sid"]


def test_error_bucket_objects_are_read_and_written_never_deleted(template):
    error = statements_on(template, "ErrorBucket")
    assert actions(error) == {"s3:GetObject", "s3:PutObject"}
    assert all(r["Fn::Sub"].endswith("/*") for s in error for r in as_list(s["Resource"]))


def test_ledger_access_is_limited_to_the_table_and_its_status_index(template):
    ledger = statements_on(template, "LedgerTable")
    assert actions(ledger) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
    }
    index_statements = [
        s for s in ledger for r in as_list(s["Resource"]) if "Fn::Sub" in r and "/index/" in r["Fn::Sub"]
    ]
    assert [r["Fn::Sub"] for s in index_statements for r in as_list(s["Resource"])] == [
        "${LedgerTable.Arn}/index/by_status"
    ]
    assert actions(index_statements) == {"dynamodb:Query"}


def test_queue_access_is_limited_to_the_event_queue(template):
    event_queue = logical_id_of(template, queue_properties(template, "payments-lake-events"))
    sqs_statements = [s for s in function_statements(template) if actions([s]) & {"sqs:ReceiveMessage"}]
    for statement in sqs_statements:
        assert referenced_names(statement["Resource"]) == {event_queue}
    assert actions(sqs_statements) >= {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert not any(
        a.startswith("sqs:") for a in actions(function_statements(template)) - actions(sqs_statements)
    )


def test_alerts_and_secrets_are_reached_through_one_resource_each(template):
    topic, _ = the_resource(template, "AWS::SNS::Topic")
    by_action = {a: s for s in function_statements(template) for a in as_list(s["Action"])}
    assert by_action["sns:Publish"]["Resource"] == {"Ref": topic}
    secrets = [
        s["Resource"]
        for s in function_statements(template)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
    ]
    assert secrets == [{"Ref": "GcpCredentialsSecretArn"}, {"Ref": "PseudonymKeySecret"}]
    assert environment(template)["GCP_CREDENTIALS_SECRET_ARN"] == {"Ref": "GcpCredentialsSecretArn"}


# ---------------------------------------------------------------- storage


def test_error_bucket_keeps_every_version_and_blocks_public_access(template):
    name, bucket = the_resource(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["DeletionPolicy"] == "Retain"
    assert environment(template)["INGEST_ERROR_BUCKET"] == {"Ref": name}


def test_error_bucket_refuses_requests_without_tls(template):
    name, _ = the_resource(template, "AWS::S3::Bucket")
    _, policy = the_resource(template, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": name}
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    resources = [r["Fn::Sub"] if "Fn::Sub" in r else r["Fn::GetAtt"] for r in deny["Resource"]]
    assert [name, "Arn"] in resources and "${" + name + ".Arn}/*" in resources


def test_ledger_table_key_and_status_index_match_the_ledger_code(template):
    name, table = the_resource(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    expected = table_definition("any")

    def attributes(definitions):
        return {(a["AttributeName"], a["AttributeType"]) for a in definitions}

    assert attributes(props["AttributeDefinitions"]) == attributes(expected["AttributeDefinitions"])
    assert props["KeySchema"] == expected["KeySchema"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["GlobalSecondaryIndexes"] == expected["GlobalSecondaryIndexes"]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_status"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "started_at"]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert environment(template)["INGEST_LEDGER_TABLE"] == {"Ref": name}


def test_ledger_table_survives_mistakes(template):
    _, table = the_resource(template, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"


# ---------------------------------------------------------------- environment


def test_lambda_environment_uses_the_names_the_package_reads(template):
    env = environment(template)
    ingest_names = {name for name in env if name.startswith("INGEST_")}
    unknown = ingest_names - set(ENVIRONMENT_VARIABLES)
    assert not unknown, f"the package does not read {sorted(unknown)}"
    missing = set(ENVIRONMENT_VARIABLES) - NOT_SET_IN_LAMBDA - ingest_names
    assert not missing, f"production would run on local defaults for {sorted(missing)}"
    assert env["POWERTOOLS_SERVICE_NAME"] == "ingest"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "PaymentsIngest"
    assert env["INGEST_QUEUE_NAME"] == {
        "Fn::GetAtt": [
            logical_id_of(template, queue_properties(template, "payments-lake-events")),
            "QueueName",
        ]
    }


def test_pseudonym_key_is_a_generated_secret_the_function_alone_may_read(template):
    env = environment(template)
    secret_id = env["INGEST_PSEUDONYM_KEY_SECRET"]["Ref"]
    secret = template["Resources"][secret_id]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["DeletionPolicy"] == "Retain"  # losing it breaks every stored pseudonym's joins
    grants = [
        statement
        for statement in function_statements(template)
        if statement["Action"] == "secretsmanager:GetSecretValue"
    ]
    assert {"Ref": secret_id} in [g["Resource"] for g in grants]


def test_claim_lease_lasts_at_least_one_function_timeout(template):
    assert int(environment(template)["INGEST_LEASE_SECONDS"]) >= function(template)["Timeout"]


# ---------------------------------------------------------------- queue and event source


def test_queue_visibility_covers_six_function_timeouts(template):
    queue = queue_properties(template, "payments-lake-events")
    window = sqs_event(template)["MaximumBatchingWindowInSeconds"]
    assert queue["VisibilityTimeout"] >= 6 * function(template)["Timeout"] + window


def test_dead_letter_queue_takes_over_after_five_receives_and_keeps_messages_longest(template):
    queue = queue_properties(template, "payments-lake-events")
    dlq = queue_properties(template, "payments-lake-events-dlq")
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [logical_id_of(template, dlq), "Arn"]}
    assert redrive["maxReceiveCount"] == 5
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["MessageRetentionPeriod"] > queue.get("MessageRetentionPeriod", 4 * 24 * 3600)
    # The ledger gives up on a file when SQS gives up on its message.
    assert int(environment(template)["INGEST_MAX_ATTEMPTS"]) == redrive["maxReceiveCount"]


def test_sqs_event_source_reports_partial_batch_failures(template):
    event = sqs_event(template)
    queue_id = logical_id_of(template, queue_properties(template, "payments-lake-events"))
    assert event["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] == 10
    assert event["MaximumBatchingWindowInSeconds"] == 5
    # More pollers than reserved concurrency would throttle, and throttles count as receives.
    maximum = event.get("ScalingConfig", {}).get("MaximumConcurrency")
    assert maximum is None or maximum <= function(template)["ReservedConcurrentExecutions"]


def test_queue_accepts_messages_only_from_the_lake_bucket(template):
    queue_id = logical_id_of(template, queue_properties(template, "payments-lake-events"))
    _, policy = the_resource(template, "AWS::SQS::QueuePolicy")
    assert policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(allow["Action"]) == ["sqs:SendMessage"]
    assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    conditions = allow["Condition"]
    (source_arn,) = [v["aws:SourceArn"] for v in conditions.values() if "aws:SourceArn" in v]
    assert source_arn == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${LakeBucketName}"}
    assert conditions["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# ---------------------------------------------------------------- alerts and outputs


def test_alert_email_subscription_exists_only_when_an_address_is_given(template):
    topic, _ = the_resource(template, "AWS::SNS::Topic")
    _, subscription = the_resource(template, "AWS::SNS::Subscription")
    condition = template["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}
    assert subscription["Properties"]["TopicArn"] == {"Ref": topic}
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}
    assert environment(template)["INGEST_ALERTS_TOPIC"] == {"Ref": topic}


def test_dead_letters_raise_an_alarm_on_the_alerts_topic(template):
    topic, _ = the_resource(template, "AWS::SNS::Topic")
    dlq_id = logical_id_of(template, queue_properties(template, "payments-lake-events-dlq"))
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    on_dlq = [a["Properties"] for a in alarms if dlq_id in referenced_names(a["Properties"]["Dimensions"])]
    assert on_dlq and all(a["AlarmActions"] == [{"Ref": topic}] for a in on_dlq)


def test_outputs_give_operators_every_name_they_need(template):
    outputs = {name: o["Value"] for name, o in template["Outputs"].items()}
    pointed_at = set().union(*(referenced_names(v) for v in outputs.values()))
    for type_ in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::Serverless::Function"):
        assert the_resource(template, type_)[0] in pointed_at, type_
    queue_id = logical_id_of(template, queue_properties(template, "payments-lake-events"))
    dlq_id = logical_id_of(template, queue_properties(template, "payments-lake-events-dlq"))
    values = list(outputs.values())
    assert {"Ref": queue_id} in values
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in values
    assert {"Fn::GetAtt": [dlq_id, "Arn"]} in values


# ---------------------------------------------------------------- container image


def test_container_image_runs_a_handler_the_package_defines():
    dockerfile = (DEPLOY_DIR / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases and set(bases) == {"public.ecr.aws/lambda/python:3.13"}
    (cmd,) = re.findall(r"^CMD\s+(.+)$", dockerfile, flags=re.MULTILINE)
    (entrypoint,) = json.loads(cmd)
    assert entrypoint == "ingest.handler.handle"
    module, _, name = entrypoint.rpartition(".")
    source = REPO_DIR.joinpath(*module.split(".")).with_suffix(".py")
    defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert name in defined
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and not any("[" in line for line in installs), "no extras (local, dev) in the image"
