"""CloudFormation templates read as data: short-form intrinsic tags become their long forms."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy"
"""What ships for deploying: the SAM template, its config, events, Dockerfile and README."""


class IntrinsicsLoader(yaml.SafeLoader):
    """Reads ``!Ref x`` as ``{"Ref": "x"}``, ``!Sub s`` as ``{"Fn::Sub": s}``, ``!GetAtt a.b`` as
    ``{"Fn::GetAtt": ["a", "b"]}``: what CloudFormation itself does before anything else."""


def _intrinsic(loader: IntrinsicsLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


IntrinsicsLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=IntrinsicsLoader)
    return template


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
    """The properties of the template's one AWS::Serverless::Function."""
    return the_resource(template, "AWS::Serverless::Function")[1]["Properties"]


def environment(template: dict[str, Any]) -> dict[str, Any]:
    return function(template)["Environment"]["Variables"]
