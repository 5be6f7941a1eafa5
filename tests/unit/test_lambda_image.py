"""The Lambda image holds the production package and nothing of the local dev stack.

deploy/Dockerfile builds the image's wheel from what its COPY lines bring into the build stage.
This test builds the same wheel from the same files (offline, no build isolation) and reads it:
what it lists is what `pip install --target /opt/app .` puts in the image.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_DIR / "deploy" / "Dockerfile"
# Only the local stack and the tests use these; the image installs none of them.
DEV_ONLY_IMPORTS = {"ingest_devstack", "moto", "waitress", "pytest"}


def build_stage_copies() -> list[str]:
    """The sources of the COPY lines of the Dockerfile's build stage (its first FROM to its second)."""
    build_stage = re.split(r"^FROM ", DOCKERFILE.read_text(encoding="utf-8"), flags=re.MULTILINE)[1]
    sources: list[str] = []
    for line in build_stage.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    return sources


@pytest.fixture(scope="module")
def image_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    context = tmp_path_factory.mktemp("context")
    for source in build_stage_copies():
        for path in REPO_DIR.glob(source.rstrip("/")):
            target = context / path.relative_to(REPO_DIR)
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(path, target)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            ".",
        ],
        cwd=context,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_the_build_stage_copies_the_package_and_not_the_dev_stack() -> None:
    copies = build_stage_copies()
    assert "ingest/" in copies
    assert not any(
        source.startswith(("ingest_devstack", "tests", "benchmarks", "notebooks")) for source in copies
    )


def test_the_image_has_the_handler_the_pipelines_and_the_finance_sql(image_wheel: zipfile.ZipFile) -> None:
    names = set(image_wheel.namelist())
    assert "ingest/apps/lambda_handler.py" in names
    assert any(re.fullmatch(r"ingest/pipelines/[^/]+\.yaml", n) for n in names)
    assert any(re.fullmatch(r"ingest/apps/finance/sql/[^/]+\.sql", n) for n in names)


def test_the_image_has_no_dev_stack_code(image_wheel: zipfile.ZipFile) -> None:
    packages = {name.split("/")[0] for name in image_wheel.namelist() if not name.endswith(".dist-info/")}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"ingest"}


def test_no_module_in_the_image_imports_dev_only_packages(image_wheel: zipfile.ZipFile) -> None:
    offending: list[str] = []
    for name in image_wheel.namelist():
        if not name.endswith(".py"):
            continue
        tree = ast.parse(image_wheel.read(name), filename=name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            offending += [f"{name}: {m}" for m in modules if m.split(".")[0] in DEV_ONLY_IMPORTS]
    assert offending == [], "the Lambda image would import what it does not install"
