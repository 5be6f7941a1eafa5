"""CloudFormation templates read as data: short-form intrinsic tags become their long forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


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
