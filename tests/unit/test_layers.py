"""The layers the tree shows are the layers the imports keep.

core        pure: imports nothing else of ours
ingestion   the orchestrator: core only, behind its ports; services.py alone wires in the adapters
adapters    S3, DynamoDB, BigQuery: core and the ports they implement, never an application
apps        Lambda, CLI, finance, operations, tools: anything of the package
ingest_devstack  the local stack: may use the package; the package never imports it (the Lambda
            image does not have it)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
WIRING = "ingest.ingestion.services"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_at_run_time(path: Path) -> set[str]:
    """Our modules ``path`` imports, leaving out imports only a type checker runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(child) for child in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in {"ingest", "ingest_devstack"}}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] != "ingest" or len(parts) < 2 else f"ingest.{parts[1]}"


# What each layer may import of ours, besides itself.
ALLOWED = {
    "ingest.core": set(),
    "ingest.ingestion": {"ingest.core"},
    "ingest.adapters": {"ingest.core", "ingest.ingestion"},
    "ingest.apps": {"ingest.core", "ingest.ingestion", "ingest.adapters"},
}


def package_modules() -> list[tuple[str, Path]]:
    return [(module_name(path), path) for path in sorted((REPO_DIR / "ingest").rglob("*.py"))]


@pytest.mark.parametrize("layer_name", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer_name: str) -> None:
    crossing = []
    for module, path in package_modules():
        if layer(module) != layer_name or module == WIRING:
            continue
        for imported in imports_at_run_time(path):
            target = layer(imported)
            if target not in {layer_name, "ingest"} | ALLOWED[layer_name]:
                crossing.append(f"{module} -> {imported}")
    assert crossing == []


def test_adapters_reach_the_orchestrator_only_through_its_ports() -> None:
    crossing = [
        f"{module} -> {imported}"
        for module, path in package_modules()
        if layer(module) == "ingest.adapters"
        for imported in imports_at_run_time(path)
        if layer(imported) == "ingest.ingestion" and not imported.startswith("ingest.ingestion.ports")
    ]
    assert crossing == []


def test_the_wiring_is_the_only_place_the_orchestrator_meets_the_adapters() -> None:
    wired = imports_at_run_time(REPO_DIR / "ingest" / "ingestion" / "services.py")
    assert {layer(name) for name in wired} <= {"ingest.core", "ingest.ingestion", "ingest.adapters"}


def test_no_module_of_the_package_imports_the_dev_stack() -> None:
    offending = [
        f"{module} -> {imported}"
        for module, path in package_modules()
        for imported in imports_at_run_time(path) | type_checking_imports(path)
        if imported.split(".")[0] == "ingest_devstack"
    ]
    assert offending == []


def type_checking_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    }
