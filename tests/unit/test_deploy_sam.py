"""deploy/ as AWS SAM CLI users meet it: `sam build` makes the image, `samconfig.toml` deploys the
stack, `sam local invoke` runs a sample lake event, and the template passes SAM's transform."""

from __future__ import annotations

import json
import re
import tomllib
from types import SimpleNamespace
from typing import Any

import pytest
from support.cloudformation import (
    DEPLOY_DIR,
    REPO_DIR,
    environment,
    load_template,
    referenced_names,
    resources_of_type,
    the_resource,
)

from ingest.core.config import load_pipelines
from ingest.core.model import FileRef, FileResult
from ingest.core.settings import Settings

PIPELINES = load_pipelines(Settings().pipelines_dir)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(DEPLOY_DIR / "template.yaml")


SAMCONFIG = DEPLOY_DIR / "samconfig.toml"
SAMPLE_EVENT = DEPLOY_DIR / "events" / "sqs_paypal_page_created.json"
LOCAL_ENV = DEPLOY_DIR / "events" / "local_env.json"


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))


def parameter_overrides(samconfig: dict[str, Any]) -> dict[str, str]:
    pairs = samconfig["default"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


def accepts(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation takes ``value`` for a String parameter (its pattern must match whole)."""
    pattern = parameter.get("AllowedPattern")
    return pattern is None or re.fullmatch(pattern, value) is not None


def test_sam_build_makes_the_image_from_deploy_dockerfile_with_the_repository_as_context(template):
    (name, resource) = the_resource(template, "AWS::Serverless::Function")
    metadata = resource["Metadata"]
    # SAM resolves DockerContext from the template's folder and Dockerfile from the context.
    context = (DEPLOY_DIR / metadata["DockerContext"]).resolve()
    assert context == REPO_DIR, f"{name}: the image copies files from the repository root"
    assert (context / metadata["Dockerfile"]).resolve() == DEPLOY_DIR / "Dockerfile"
    dockerfile = (DEPLOY_DIR / "Dockerfile").read_text()
    copies = re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", dockerfile, flags=re.MULTILINE)
    sources = [s for line in copies for s in line.split() if not s.endswith("*")]
    assert sources and [s for s in sources if not (context / s).exists()] == []
    assert metadata["DockerTag"]


def test_image_uri_is_left_to_sam_and_still_checked_when_given_by_hand(template):
    parameter = template["Parameters"]["ImageUri"]
    assert parameter["Default"] == ""  # `sam build` sets the function's image itself
    assert accepts(parameter, "")
    assert accepts(parameter, "123456789012.dkr.ecr.eu-west-2.amazonaws.com/payments-ingest:1a2b3c4")
    assert not accepts(parameter, "public.ecr.aws/lambda/python:3.13")
    assert not accepts(parameter, "payments-ingest:latest")


def test_samconfig_is_a_version_0_1_default_profile_that_deploys_the_stack(template, samconfig):
    assert samconfig["version"] == 0.1
    default = samconfig["default"]
    assert default["global"]["parameters"]["stack_name"] == "payments-ingest"
    deploy = default["deploy"]["parameters"]
    assert deploy["resolve_image_repos"] is True  # SAM pushes the image it built
    # The IAM resources have no custom names, so CAPABILITY_IAM suffices (not NAMED_IAM).
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    roles = resources_of_type(template, "AWS::IAM::Role").values()
    assert not [role for role in roles if "RoleName" in role["Properties"]]
    # BuildKit is what reads deploy/Dockerfile.dockerignore; SAM's default builder would send the
    # whole checkout (.venv, .local) as the build context.
    assert default["build"]["parameters"]["use_buildkit"] is True
    assert default["validate"]["parameters"]["lint"] is True


def test_samconfig_overrides_exactly_the_parameters_without_a_default(template, samconfig):
    overrides = parameter_overrides(samconfig)
    parameters = template["Parameters"]

    assert set(overrides) <= set(parameters), "samconfig.toml names parameters the template lacks"
    assert set(overrides) == {name for name, p in parameters.items() if "Default" not in p}


def test_samconfig_placeholders_cannot_deploy_until_replaced(template, samconfig):
    # CloudFormation checks AllowedPattern before it creates anything: an unedited file fails at once.
    for name, value in parameter_overrides(samconfig).items():
        assert value.startswith("<") and value.endswith(">"), name
        assert not accepts(template["Parameters"][name], value), f"{name}={value} would deploy"


def test_samconfig_holds_no_account_id_and_no_secret():
    text = SAMCONFIG.read_text(encoding="utf-8")
    assert re.findall(r"(?<!\d)\d{12}(?!\d)", text) == []
    assert re.findall(r"(?i)(secret_access_key|private_key|BEGIN [A-Z ]*KEY|aws_session_token)", text) == []


def test_sample_event_is_the_sqs_message_s3_sends_for_a_new_paypal_page():
    from ingest.apps.lambda_handler import _s3_event_of_message, file_refs
    from ingest.core.config import route
    from ingest.core.s3_events import object_created

    (message,) = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))["Records"]
    assert message["eventSource"] == "aws:sqs"
    s3_event = _s3_event_of_message(message["body"])

    (ref,) = file_refs(s3_event)
    assert (ref.bucket, ref.key) == ("acme-payments-lake", "paypal/transactions/2026/12/01/page-0001.json")
    assert route(ref.key, PIPELINES).name == "paypal_transactions"
    # Every field S3 writes, as the project's own builder of these notifications writes them
    # (a versioned lake adds versionId).
    (record,) = s3_event["Records"]
    (built,) = object_created(ref.bucket, ref.key, ref.etag, ref.size)["Records"]
    assert set(record) == set(built)
    assert set(record["s3"]) == set(built["s3"])
    assert set(record["s3"]["object"]) == set(built["s3"]["object"]) | {"versionId"}


def test_sample_event_reaches_the_handler_as_one_file_and_no_failed_message(monkeypatch):
    # What `sam local invoke` does with it, short of reading the lake: the handler takes the SQS
    # path, parses the message and hands one file to the flow.
    from ingest.apps import lambda_handler

    handed: list[FileRef] = []

    def ingest(refs: list[FileRef]) -> list[FileResult]:
        handed.extend(refs)
        return []

    monkeypatch.setattr(lambda_handler, "_ingest", ingest)
    context = SimpleNamespace(
        function_name="IngestFunction",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:eu-west-2:123456789012:function:IngestFunction",
        aws_request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
    )

    response = lambda_handler.handle(json.loads(SAMPLE_EVENT.read_text(encoding="utf-8")), context)

    assert response == {"batchItemFailures": []}
    assert [r.uri for r in handed] == [
        "s3://acme-payments-lake/paypal/transactions/2026/12/01/page-0001.json"
    ]


def test_local_invoke_env_file_sets_every_variable_sam_local_cannot_resolve(template, samconfig):
    # SAM CLI applies --env-vars only to variables the template declares, silently dropping the
    # rest; a Ref to a resource or to a parameter without a default has no value locally.
    declared = environment(template)
    parameters = template["Parameters"]
    (overrides,) = json.loads(LOCAL_ENV.read_text(encoding="utf-8")).values()
    unresolvable = {
        name
        for name, value in declared.items()
        if any(n not in parameters or "Default" not in parameters[n] for n in referenced_names(value))
    }

    assert set(overrides) <= set(declared), "sam local ignores variables the template does not declare"
    assert unresolvable <= set(overrides)
    invoke = samconfig["default"]["local_invoke"]["parameters"]
    assert (DEPLOY_DIR / invoke["event"]).resolve() == SAMPLE_EVENT
    assert (DEPLOY_DIR / invoke["env_vars"]).resolve() == LOCAL_ENV


def test_outputs_give_every_value_the_local_env_file_asks_for(template):
    placeholders = re.findall(r"<(\w+) output>", LOCAL_ENV.read_text(encoding="utf-8"))
    assert placeholders and set(placeholders) <= set(template["Outputs"])


def test_template_passes_the_sam_transform_that_sam_validate_runs(template):
    # cfn-lint checks the SAM template against SAM's schemas; the transform itself (what
    # CloudFormation runs at deploy, and `sam validate` before cfn-lint) is aws-sam-translator.
    samtranslator = pytest.importorskip("samtranslator.translator.translator")
    import boto3
    from samtranslator.parser.parser import Parser

    translator = samtranslator.Translator(
        managed_policy_map=None, sam_parser=Parser(), boto_session=boto3.Session(region_name="eu-west-2")
    )
    pseudo = {"AWS::Region": "eu-west-2", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    translated = translator.translate(json.loads(json.dumps(template)), pseudo, get_managed_policy_map=dict)

    types = {r["Type"] for r in translated["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::Lambda::Alias", "AWS::Lambda::EventSourceMapping"} <= types
