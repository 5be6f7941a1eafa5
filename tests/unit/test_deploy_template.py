"""The SAM template in deploy/ against what the package needs: names, limits, alarms, least privilege.

Nothing is deployed: the template is read as data (CloudFormation short-form tags become the
long-form mappings they stand for) and checked against the package's own constants, its pipelines
and the metrics the handler prints (``ingest.apps.ops.metrics``).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from support.cloudformation import (
    DEPLOY_DIR,
    REPO_DIR,
    as_list,
    environment,
    function,
    load_template,
    referenced_names,
    resources_of_type,
    the_resource,
)

from ingest.adapters.dynamodb.table import table_definition
from ingest.apps.ops import health, metrics
from ingest.core.config import load_pipelines
from ingest.core.model import FileRef, FileResult, Status
from ingest.core.settings import ENVIRONMENT_VARIABLES, Settings

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
PIPELINES = load_pipelines(Settings().pipelines_dir)
FRESHNESS_MINUTES = {p.name: p.freshness_minutes for p in PIPELINES if p.freshness_minutes}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(DEPLOY_DIR / "template.yaml")


# ---------------------------------------------------------------- helpers


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


def event_queue_id(template: dict[str, Any]) -> str:
    return logical_id_of(template, queue_properties(template, "payments-lake-events"))


def bucket_named_by(template: dict[str, Any], parameter: str) -> tuple[str, dict[str, Any]]:
    """The bucket resource whose BucketName is the given parameter."""
    (found,) = [
        (name, bucket)
        for name, bucket in resources_of_type(template, "AWS::S3::Bucket").items()
        if bucket["Properties"]["BucketName"] == {"Ref": parameter}
    ]
    return found


def bucket_policy_of(template: dict[str, Any], bucket_id: str) -> dict[str, Any]:
    (policy,) = [
        p
        for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return policy


# ---------------------------------------------------------------- alarm helpers


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: r["Properties"] for n, r in resources_of_type(template, "AWS::CloudWatch::Alarm").items()}


def watched_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads, single-metric or metric math, in one shape."""
    if "Metrics" in alarm:
        stats = [(m["Id"], m["MetricStat"]) for m in alarm["Metrics"] if "MetricStat" in m]
        return [
            {
                "Id": id_,
                "Namespace": stat["Metric"]["Namespace"],
                "MetricName": stat["Metric"]["MetricName"],
                "Dimensions": {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])},
                "Period": stat["Period"],
                "Stat": stat["Stat"],
            }
            for id_, stat in stats
        ]
    return [
        {
            "Id": None,
            "Namespace": alarm["Namespace"],
            "MetricName": alarm["MetricName"],
            "Dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            "Period": alarm["Period"],
            "Stat": alarm["Statistic"],
        }
    ]


def alarms_watching_name(template: dict[str, Any], metric_name: str) -> list[dict[str, Any]]:
    return [
        a
        for a in alarms(template).values()
        if any(m["MetricName"] == metric_name for m in watched_metrics(a))
    ]


def alarms_watching(template: dict[str, Any], metric_name: str, pipeline: str | None = None) -> list[dict]:
    return [
        alarm
        for alarm in alarms(template).values()
        if any(
            m["MetricName"] == metric_name and m["Dimensions"].get(metrics.PIPELINE_DIMENSION) == pipeline
            for m in watched_metrics(alarm)
        )
    ]


COMPARISONS = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def breaches(alarm: dict[str, Any], value: float, threshold: float | None = None) -> bool:
    threshold = alarm["Threshold"] if threshold is None else threshold
    return COMPARISONS[alarm["ComparisonOperator"]](value, threshold)


_MATH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_MATH_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le}


def metric_math(expression: str, values: dict[str, float]) -> float:
    """The subset of CloudWatch metric math the alarms use (IF, + - * /, comparisons), on numbers.

    IF evaluates only the branch taken, as CloudWatch's guard against dividing by zero needs.
    """

    def value_of(node: ast.expr) -> float:
        match node:
            case ast.Constant(value=int() | float() as number):
                return float(number)
            case ast.Name(id=name):
                return values[name]
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _MATH:
                return _MATH[type(op)](value_of(left), value_of(right))
            case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in _MATH_COMPARE:
                return float(_MATH_COMPARE[type(op)](value_of(left), value_of(right)))
            case ast.Call(func=ast.Name(id="IF"), args=[condition, then, otherwise]):
                return value_of(then) if value_of(condition) else value_of(otherwise)
        raise AssertionError(f"metric math this test cannot evaluate: {ast.dump(node)}")

    return value_of(ast.parse(expression, mode="eval").body)


NOW = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def file_result(
    pipeline: str | None, status: Status, *, loaded: int = 0, quarantined: int = 0, retryable: bool = False
) -> FileResult:
    return FileResult(
        ref=FileRef.of(
            "lake", f"{pipeline}/file.json", "etag", event_time=(NOW - timedelta(minutes=5)).isoformat()
        ),
        status=status,
        pipeline=pipeline,
        rows_in=loaded + quarantined,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        retryable=retryable,
        started_at=(NOW - timedelta(minutes=1)).isoformat(),
        finished_at=NOW.isoformat(),
    )


def emitted_sums(results: list[FileResult], pipeline: str | None = None) -> dict[str, float]:
    """What CloudWatch would sum per metric from the handler's EMF documents for these results:
    over every pipeline for the ``[service]`` set, or for one pipeline's ``[service, pipeline]``."""
    sums: dict[str, float] = {}
    for document in metrics.metric_documents(results):
        if pipeline is not None and document[metrics.PIPELINE_DIMENSION] != pipeline:
            continue
        for block in document["_aws"]["CloudWatchMetrics"]:
            for metric in block["Metrics"]:
                sums[metric["Name"]] = sums.get(metric["Name"], 0.0) + sum(as_list(document[metric["Name"]]))
    return sums


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
        "CreateLakeBucket",
        "BatchSize",
        "ReservedConcurrency",
        "ProvisionedConcurrency",
        "MemorySize",
        "MaximumBatchingWindowInSeconds",
        "QuarantineRatePercent",
    }
    assert parameters["BigQueryLocation"]["Default"] == "US"
    assert parameters["AlertEmail"]["Default"] == ""
    readme = (DEPLOY_DIR / "README.md").read_text()
    undocumented = [name for name in parameters if f"| `{name}` |" not in readme]
    assert undocumented == [], "deploy/README.md's parameter table misses them"


def test_function_is_the_container_image_with_one_full_lambda_timeout(template):
    props = function(template)
    assert props["PackageType"] == "Image"
    assert props["ImageUri"] == {"Ref": "ImageUri"}
    assert props["Timeout"] == 900
    assert props["MemorySize"] == {"Ref": "MemorySize"}


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


def test_no_statement_grants_on_a_wildcard_resource(template):
    # Every resource is one of the stack's own or a parameter's; only objects inside a named
    # bucket ("<bucket>/*") may end in a wildcard.
    for statement in function_statements(template):
        for resource in as_list(statement["Resource"]):
            text = resource if isinstance(resource, str) else as_list(resource.get("Fn::Sub", ""))[0]
            assert "*" not in text.removesuffix("/*"), statement["Sid"]
            assert referenced_names(resource) - {"AWS::Partition"}, f"{statement['Sid']}: {resource}"


def test_metrics_need_no_cloudwatch_permission(template):
    # The handler prints EMF documents; Lambda ships them with the logs the role may write.
    assert not any(a.startswith("cloudwatch:") for a in actions(function_statements(template)))
    log_group = function(template)["LoggingConfig"]["LogGroup"]
    (log_statement,) = [
        s for s in function_statements(template) if "logs:PutLogEvents" in as_list(s["Action"])
    ]
    assert referenced_names(log_statement["Resource"]) == referenced_names(log_group)
    assert environment(template)["POWERTOOLS_METRICS_NAMESPACE"] == metrics.NAMESPACE
    assert environment(template)["POWERTOOLS_SERVICE_NAME"] == metrics.SERVICE


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


@pytest.mark.parametrize("parameter", ["LakeBucketName", "ErrorBucketName"])
def test_buckets_keep_every_version_and_block_public_access(template, parameter):
    _, bucket = bucket_named_by(template, parameter)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # SSE-S3: copying between the two buckets needs no kms:* permission.
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    # Unfinished uploads are cleaned; nothing else expires (raw files, failed files kept for replay).
    lifecycle = props["LifecycleConfiguration"]["Rules"]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in lifecycle] == [7]
    assert not any(
        key.startswith(("Expiration", "NoncurrentVersionExpiration", "Transition"))
        for r in lifecycle
        for key in r
    )


def test_function_finds_the_error_bucket_by_the_stack_resource(template):
    name, _ = bucket_named_by(template, "ErrorBucketName")
    assert environment(template)["INGEST_ERROR_BUCKET"] == {"Ref": name}


@pytest.mark.parametrize("parameter", ["LakeBucketName", "ErrorBucketName"])
def test_buckets_refuse_requests_without_tls(template, parameter):
    name, bucket = bucket_named_by(template, parameter)
    policy = bucket_policy_of(template, name)
    assert policy.get("Condition") == bucket.get("Condition")
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


def test_lake_bucket_is_created_by_default_and_notifies_the_event_queue(template):
    _, bucket = bucket_named_by(template, "LakeBucketName")
    parameter = template["Parameters"]["CreateLakeBucket"]
    assert parameter["AllowedValues"] == ["true", "false"] and parameter["Default"] == "true"
    assert template["Conditions"][bucket["Condition"]] == {
        "Fn::Equals": [{"Ref": "CreateLakeBucket"}, "true"]
    }
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": [event_queue_id(template), "Arn"]}
    # Every key: a file no pipeline takes must still reach the ledger (as unrouted).
    assert "Filter" not in notification
    # S3 refuses to save a notification to a queue that does not let it send yet.
    queue_policy_id, _ = the_resource(template, "AWS::SQS::QueuePolicy")
    assert queue_policy_id in as_list(bucket["DependsOn"])


def test_everything_names_the_lake_bucket_by_parameter_so_an_existing_bucket_works_alike(template):
    # Only the bucket's own policy points at the (conditional) bucket resource: the role, the
    # queue policy and the environment name it through the parameter, which also holds for an
    # existing bucket and keeps the queue policy out of a dependency loop with the bucket.
    name, _ = bucket_named_by(template, "LakeBucketName")
    pointing = sorted(rid for rid, r in template["Resources"].items() if name in referenced_names(r))
    assert pointing == [logical_id_of(template, bucket_policy_of(template, name)["Properties"])]
    _, queue_policy = the_resource(template, "AWS::SQS::QueuePolicy")
    assert "LakeBucketName" in referenced_names(queue_policy["Properties"])
    assert environment(template)["INGEST_LAKE_BUCKET"] == {"Ref": "LakeBucketName"}
    assert statements_on(template, "LakeBucketName")


def test_existing_lake_bucket_gets_the_notification_to_set_by_hand(template):
    output = template["Outputs"]["LakeNotificationConfiguration"]
    assert template["Conditions"][output["Condition"]] == {
        "Fn::Equals": [{"Ref": "CreateLakeBucket"}, "false"]
    }
    text = output["Value"]["Fn::Sub"]
    (configuration,) = json.loads(text.replace("${" + event_queue_id(template) + ".Arn}", "ARN"))[
        "QueueConfigurations"
    ]
    assert configuration["QueueArn"] == "ARN"
    assert configuration["Events"] == ["s3:ObjectCreated:*"]


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


def test_queue_visibility_covers_six_function_timeouts_and_the_batching_window(template):
    queue = queue_properties(template, "payments-lake-events")
    assert sqs_event(template)["MaximumBatchingWindowInSeconds"] == {"Ref": "MaximumBatchingWindowInSeconds"}
    # The queue cannot add the parameter to 6 x Timeout, so it covers the largest window allowed.
    window = template["Parameters"]["MaximumBatchingWindowInSeconds"]
    assert 0 < window["MinValue"] <= window["Default"] <= window["MaxValue"] <= 300  # Lambda's range
    assert 6 * function(template)["Timeout"] + window["MaxValue"] <= queue["VisibilityTimeout"] <= 43200


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
    assert event["Queue"] == {"Fn::GetAtt": [event_queue_id(template), "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_batch_size_is_a_parameter_of_the_event_source(template):
    parameter = template["Parameters"]["BatchSize"]
    assert parameter["Type"] == "Number"
    assert (parameter["MinValue"], parameter["Default"], parameter["MaxValue"]) == (1, 100, 10000)
    event = sqs_event(template)
    assert event["BatchSize"] == {"Ref": "BatchSize"}
    # Lambda takes more than 10 messages a batch only with a batching window of 1 s or more.
    assert template["Parameters"]["MaximumBatchingWindowInSeconds"]["MinValue"] >= 1


def test_reserved_concurrency_is_a_parameter_that_also_caps_the_event_source(template):
    parameter = template["Parameters"]["ReservedConcurrency"]
    assert parameter["Type"] == "Number"
    # ScalingConfig.MaximumConcurrency accepts 2 to 1000.
    assert parameter["MinValue"] >= 2 and parameter.get("MaxValue", 1000) <= 1000
    assert 2 <= parameter["Default"] <= 20, "modest: load jobs are limited per table per day"
    assert function(template)["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    # More pollers than reserved concurrency would throttle, and throttles count as receives.
    assert sqs_event(template)["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ReservedConcurrency"}


def test_provisioned_concurrency_is_off_by_default_and_set_on_the_alias_only_when_asked(template):
    parameter = template["Parameters"]["ProvisionedConcurrency"]
    assert parameter["Type"] == "Number"
    assert (parameter["MinValue"], parameter["Default"]) == (0, 0), "billed while configured: opt in"
    assert parameter["MaxValue"] <= template["Parameters"]["ReservedConcurrency"]["MaxValue"]
    props = function(template)
    # Provisioned concurrency lives on an alias; the event source invokes the alias SAM makes.
    assert props["AutoPublishAlias"] == "live"
    condition, when_set, otherwise = props["ProvisionedConcurrencyConfig"]["Fn::If"]
    assert template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ProvisionedConcurrency"}, "0"]}]
    }
    assert when_set == {"ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}}
    assert otherwise == {"Ref": "AWS::NoValue"}


def condition_holds(condition: Any, parameters: dict[str, str]) -> bool:
    """The Fn::Not / Fn::Equals conditions of this template, for parameter values as strings
    (CloudFormation hands every parameter value to a condition as a string)."""
    if "Fn::Not" in condition:
        return not condition_holds(condition["Fn::Not"][0], parameters)
    left, right = (parameters[v["Ref"]] if isinstance(v, dict) else v for v in condition["Fn::Equals"])
    return left == right


@pytest.mark.parametrize(("value", "provisioned"), [("0", False), ("1", True), ("5", True)])
def test_zero_provisioned_concurrency_means_no_provisioned_concurrency_config(template, value, provisioned):
    condition = function(template)["ProvisionedConcurrencyConfig"]["Fn::If"][0]
    assert (
        condition_holds(template["Conditions"][condition], {"ProvisionedConcurrency": value}) is provisioned
    )


# Function properties a published version does not keep: they belong to the function, its alias
# or its event source, or are the version's own description.
NOT_IN_A_VERSION = {
    "Events",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrencyConfig",
    "VersionDescription",
}


def test_every_parameter_in_the_function_configuration_publishes_a_new_version(template):
    # The alias runs a published version, which keeps the configuration it was published with.
    # SAM publishes one when the properties as written change, not when a parameter's value
    # does; the version's description (fixed at creation) names each such value instead.
    props = function(template)
    configuration = {key: value for key, value in props.items() if key not in NOT_IN_A_VERSION}
    parameters = set(template["Parameters"])
    named = referenced_names(configuration)
    # A resource the environment names is named from a parameter (bucket, table).
    for name in referenced_names(props["Environment"]) - parameters:
        named |= referenced_names(template["Resources"][name].get("Properties", {})) & parameters
    needed = (named & parameters) - {"ImageUri"}  # a new image publishes a version by itself
    assert props["AutoPublishAliasAllProperties"] is True  # template edits publish too
    assert needed <= referenced_names(props["VersionDescription"])
    assert {"MemorySize", "BigQueryProject", "ErrorBucketName", "LedgerTableName"} <= needed


def test_version_description_fits_lambdas_256_characters_with_the_documented_values(template):
    readme = (DEPLOY_DIR / "README.md").read_text()
    examples = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)`", readme, flags=re.MULTILINE))
    text = function(template)["VersionDescription"]["Fn::Sub"]
    described = re.sub(r"\$\{(\w+)\}", lambda m: examples[m.group(1)], text)
    assert len(described) <= 256, described


def test_memory_size_is_a_parameter_no_lower_than_the_measured_peaks_allow(template):
    parameter = template["Parameters"]["MemorySize"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 1024
    # deploy/README.md, "Levers": a batch of large files peaked at ~700 MB (make bench, big set).
    assert parameter["MinValue"] >= 1024 and parameter["MaxValue"] == 10240


def test_outputs_name_the_alias_the_event_source_invokes(template):
    assert {"Ref": "IngestFunction.Alias"} in [o["Value"] for o in template["Outputs"].values()]


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
    on_dlq = [a for a in alarms(template).values() if dlq_id in referenced_names(a.get("Dimensions", []))]
    assert on_dlq and all(a["AlarmActions"] == [{"Ref": topic}] for a in on_dlq)
    (not_empty,) = on_dlq
    assert not_empty["Threshold"] == 0 and not breaches(not_empty, 0) and breaches(not_empty, 1)


def test_outputs_give_operators_every_name_they_need(template):
    outputs = {name: o["Value"] for name, o in template["Outputs"].items()}
    pointed_at = set().union(*(referenced_names(v) for v in outputs.values()))
    for type_ in ("AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::Serverless::Function"):
        assert the_resource(template, type_)[0] in pointed_at, type_
    assert bucket_named_by(template, "ErrorBucketName")[0] in pointed_at
    assert "LakeBucketName" in pointed_at
    queue_id = logical_id_of(template, queue_properties(template, "payments-lake-events"))
    dlq_id = logical_id_of(template, queue_properties(template, "payments-lake-events-dlq"))
    values = list(outputs.values())
    assert {"Ref": queue_id} in values
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in values
    assert {"Fn::GetAtt": [dlq_id, "Arn"]} in values


# ---------------------------------------------------------------- alarms on the ingest metrics


def test_every_alarm_notifies_the_alerts_topic(template):
    topic, _ = the_resource(template, "AWS::SNS::Topic")
    found = alarms(template)
    assert {"FailedFilesAlarm", "DeadLetterQueueAlarm", "EventBacklogAlarm"} <= set(found)
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
        assert alarm.get("OKActions", [{"Ref": topic}]) == [{"Ref": topic}], name
        assert alarm.get("ActionsEnabled", True) is True, name


def test_alarms_watch_only_metrics_the_handler_emits(template):
    results = [
        file_result("paypal_transactions", Status.LOADED, loaded=9, quarantined=1),
        file_result("payment_transactions", Status.FAILED, retryable=True),
        file_result(None, Status.FAILED),
        file_result("vat_rates", Status.SKIPPED_DUPLICATE),
    ]
    documents = metrics.metric_documents(results)
    blocks = [block for d in documents for block in d["_aws"]["CloudWatchMetrics"]]
    emitted = {m["Name"] for block in blocks for m in block["Metrics"]}
    dimension_sets = {frozenset(names) for block in blocks for names in block["Dimensions"]}
    assert {block["Namespace"] for block in blocks} == {metrics.NAMESPACE}
    pipelines = {p.name for p in PIPELINES}
    custom = [m for a in alarms(template).values() for m in watched_metrics(a) if m["Namespace"] != "AWS/SQS"]
    assert custom
    for metric in custom:
        assert metric["Namespace"] == metrics.NAMESPACE
        assert metric["MetricName"] in emitted
        # CloudWatch matches the exact dimension set a metric was published with.
        assert frozenset(metric["Dimensions"]) in dimension_sets, metric
        assert metric["Dimensions"]["service"] == metrics.SERVICE
        assert metric["Dimensions"].get(metrics.PIPELINE_DIMENSION, next(iter(pipelines))) in pipelines


def test_failed_files_alarm_fires_on_one_file_failed_for_good_and_not_on_a_retry(template):
    (alarm,) = alarms_watching(template, "FilesFailed")
    (metric,) = watched_metrics(alarm)
    assert metric["Namespace"] == metrics.NAMESPACE
    assert metric["Dimensions"] == {"service": metrics.SERVICE}
    assert metric["Stat"] == "Sum" and alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    failed = emitted_sums([file_result("vat_rates", Status.FAILED), file_result(None, Status.LOADED)])
    assert breaches(alarm, failed["FilesFailed"])
    retried = emitted_sums([file_result("vat_rates", Status.FAILED, retryable=True)])
    assert not breaches(alarm, retried["FilesFailed"])


def test_backlog_alarm_fires_when_the_oldest_event_waits_longer_than_ingest_health_allows(template):
    (alarm,) = [
        a for a in alarms(template).values() if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
    ]
    assert alarm["Namespace"] == "AWS/SQS"
    assert referenced_names(alarm["Dimensions"]) == {event_queue_id(template)}
    assert alarm["Threshold"] == health.OLDEST_MESSAGE_SECONDS
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Statistic"] == "Maximum"
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= health.OLDEST_MESSAGE_SECONDS


def test_quarantine_rate_threshold_parameter_defaults_to_the_monitor_rule(template):
    parameter = template["Parameters"]["QuarantineRatePercent"]
    assert parameter["Type"] == "Number"
    assert float(parameter["Default"]) == health.QUARANTINE_RATE_PERCENT
    assert (parameter["MinValue"], parameter["MaxValue"]) == (0, 100)


@pytest.mark.parametrize("pipeline", [p.name for p in PIPELINES])
def test_every_pipeline_has_a_quarantine_rate_alarm(template, pipeline):
    (alarm,) = alarms_watching(template, "RowsQuarantined", pipeline)
    assert alarm["Threshold"] == {"Ref": "QuarantineRatePercent"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["EvaluationPeriods"] == 1
    by_name = {m["MetricName"]: m for m in watched_metrics(alarm)}
    assert set(by_name) == {"RowsQuarantined", "RowsLoaded"}
    for metric in by_name.values():
        assert metric["Dimensions"] == {"service": metrics.SERVICE, metrics.PIPELINE_DIMENSION: pipeline}
        assert metric["Stat"] == "Sum"
        # The window `ingest health` sums quarantined rows over.
        assert metric["Period"] == health.WINDOW.total_seconds()
    (returned,) = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    assert "Expression" in returned


@pytest.mark.parametrize(("loaded", "quarantined"), [(0, 0), (100, 0), (95, 5), (94, 6), (0, 3)])
def test_quarantine_rate_alarm_fires_exactly_when_ingest_health_does(template, loaded, quarantined):
    pipeline = "paypal_transactions"
    (alarm,) = alarms_watching(template, "RowsQuarantined", pipeline)
    sums = emitted_sums(
        [file_result(pipeline, Status.LOADED, loaded=loaded, quarantined=quarantined)], pipeline
    )
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    rate = metric_math(expression, {m["Id"]: sums[m["MetricName"]] for m in watched_metrics(alarm)})
    threshold = float(template["Parameters"]["QuarantineRatePercent"]["Default"])

    entry = SimpleNamespace(
        status="LOADED",
        pipeline=pipeline,
        rows_in=loaded + quarantined,
        rows_quarantined=quarantined,
        finished_at=NOW.isoformat(),
    )
    queue = health.QueueState(visible=0, in_flight=0, dead_letters=0, oldest_message_seconds=None)
    checks = health.evaluate([entry], queue, [pipeline], health.Rules(), now=NOW)
    (check,) = [c for c in checks if c.rule == "quarantine_rate" and c.pipeline == pipeline]
    assert rate == pytest.approx(check.value)
    assert breaches(alarm, rate, threshold) == (check.state == health.ALARM)


def test_freshness_alarms_exist_exactly_for_pipelines_with_an_expected_interval(template):
    assert FRESHNESS_MINUTES, "no pipeline declares freshness_minutes"
    watched = {
        m["Dimensions"].get(metrics.PIPELINE_DIMENSION)
        for a in alarms_watching_name(template, "FilesLoaded")
        for m in watched_metrics(a)
    }
    assert watched == set(FRESHNESS_MINUTES)


@pytest.mark.parametrize("pipeline", sorted(FRESHNESS_MINUTES))
def test_freshness_alarm_fires_when_no_file_loaded_within_the_interval(template, pipeline):
    (alarm,) = alarms_watching(template, "FilesLoaded", pipeline)
    (metric,) = watched_metrics(alarm)
    assert metric["Namespace"] == metrics.NAMESPACE
    assert metric["Dimensions"] == {"service": metrics.SERVICE, metrics.PIPELINE_DIMENSION: pipeline}
    assert metric["Stat"] == "Sum"
    assert metric["Period"] == FRESHNESS_MINUTES[pipeline] * 60
    assert alarm["EvaluationPeriods"] == 1
    # Silence is the very thing to catch.
    assert alarm["TreatMissingData"] == "breaching"
    assert not breaches(alarm, emitted_sums([file_result(pipeline, Status.LOADED)], pipeline)["FilesLoaded"])
    assert breaches(alarm, emitted_sums([file_result(pipeline, Status.FAILED)], pipeline)["FilesLoaded"])


# ---------------------------------------------------------------- container image


def test_container_image_runs_a_handler_the_package_defines():
    dockerfile = (DEPLOY_DIR / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases and set(bases) == {"public.ecr.aws/lambda/python:3.13"}
    (cmd,) = re.findall(r"^CMD\s+(.+)$", dockerfile, flags=re.MULTILINE)
    (entrypoint,) = json.loads(cmd)
    assert entrypoint == "ingest.apps.lambda_handler.handle"
    module, _, name = entrypoint.rpartition(".")
    source = REPO_DIR.joinpath(*module.split(".")).with_suffix(".py")
    defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert name in defined
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and not any("[" in line for line in installs), "no extras (local, dev) in the image"
