"""pyproject.toml, environment.yml and .python-version describe the same environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from ingest.core.settings import ENVIRONMENT_VARIABLES

REPO_DIR = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_DIR / "pyproject.toml"
ENVIRONMENT_YML = REPO_DIR / "environment.yml"
PYTHON_VERSION_FILE = REPO_DIR / ".python-version"
README = REPO_DIR / "README.md"
DOCS_DIR = REPO_DIR / "docs"
EXTRAS_IN_ENVIRONMENT = ("local", "dev", "notebooks")
# conda-forge names that differ from PyPI's for the same distribution: the `-base`/`-core`
# packages are PyPI's; conda-forge's plain names add a Qt backend or pandoc.
PYPI_NAME_OF_CONDA_PACKAGE = {"matplotlib-base": "matplotlib", "nbconvert-core": "nbconvert"}
# Extras a conda-forge package brings by itself (its recipe's run requirements): conda specs
# cannot name extras, so a requirement with extras comes from conda-forge only when listed here.
EXTRAS_IN_CONDA_PACKAGE = {"google-cloud-bigquery": frozenset({"pandas"})}

Normalised = tuple[str, frozenset[str], str, str]


def normalise(requirement: str) -> Normalised:
    """Name per PEP 503 (lowercase, runs of -_. as one -), extras, specifiers and marker."""
    parsed = Requirement(requirement)
    name = re.sub(r"[-_.]+", "-", parsed.name).lower()
    extras = frozenset(re.sub(r"[-_.]+", "-", e).lower() for e in parsed.extras)
    return name, extras, str(parsed.specifier), str(parsed.marker or "")


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def environment() -> dict[str, Any]:
    return yaml.safe_load(ENVIRONMENT_YML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def python_version() -> str:
    return PYTHON_VERSION_FILE.read_text(encoding="utf-8").strip()


def conda_packages(environment: dict[str, Any]) -> list[str]:
    return [d for d in environment["dependencies"] if isinstance(d, str)]


def conda_requirements(environment: dict[str, Any]) -> list[Normalised]:
    """The conda-forge packages that stand for pyproject requirements, named and extended as on PyPI."""
    found = []
    for spec in conda_packages(environment):
        if re.match(r"(python|pip)(?![\w.-])", spec):
            continue  # the interpreter and pip itself, not requirements of the package
        name, extras, specifier, marker = normalise(spec)
        assert not extras, f"{spec}: a conda spec cannot name extras"
        pypi_name = PYPI_NAME_OF_CONDA_PACKAGE.get(name, name)
        found.append((pypi_name, EXTRAS_IN_CONDA_PACKAGE.get(name, frozenset()), specifier, marker))
    return found


def pip_requirements(environment: dict[str, Any]) -> list[str]:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip: list"
    return sections[0]


def test_environment_is_the_named_conda_forge_environment(environment: dict[str, Any]) -> None:
    assert environment["name"] == "payments-ingest"
    assert environment["channels"] == ["conda-forge"]
    assert "pip" in conda_packages(environment)


def test_environment_installs_each_pyproject_requirement_once_from_conda_forge_or_pip(
    project: dict[str, Any], environment: dict[str, Any]
) -> None:
    declared = list(project["dependencies"])
    for extra in EXTRAS_IN_ENVIRONMENT:
        declared += project["optional-dependencies"][extra]
    expected = {normalise(r) for r in declared}
    listed = conda_requirements(environment) + [normalise(r) for r in pip_requirements(environment)]
    names = [name for name, *_ in listed]

    assert set(listed) - expected == set(), "in environment.yml but not in pyproject.toml, or other bounds"
    assert expected - set(listed) == set(), "in pyproject.toml but not in environment.yml, or other bounds"
    assert sorted(n for n in names if names.count(n) > 1) == [], "in both the conda and the pip list"


def test_environment_pip_list_names_each_package_once_and_installs_nothing_editable(
    environment: dict[str, Any],
) -> None:
    requirements = pip_requirements(environment)
    names = [normalise(r)[0] for r in requirements if not r.startswith("-")]

    assert not [r for r in requirements if r.startswith("-")], "no pip options such as -e . in the list"
    assert len(names) == len(set(names))


def test_python_version_is_the_same_everywhere(
    project: dict[str, Any], environment: dict[str, Any], python_version: str
) -> None:
    assert re.fullmatch(r"3\.\d+", python_version), ".python-version should name a minor version"

    requires = SpecifierSet(project["requires-python"])
    assert f"{python_version}.0" in requires
    lower_bounds = [s.version for s in requires if s.operator in (">=", "~=", "==")]
    assert lower_bounds == [python_version], "requires-python should start at .python-version"

    pins = [p for p in conda_packages(environment) if re.match(r"python\b(?!-)", p)]
    assert len(pins) == 1, f"expected one python pin in environment.yml, found {pins}"
    assert re.fullmatch(rf"python\s*=\s*{re.escape(python_version)}(\.\*)?", pins[0])


def test_every_environment_variable_is_documented_in_the_readme() -> None:
    if not README.exists():
        pytest.skip("README.md is not written yet")
    # The README is a quick start; the settings table is in docs/configuration.md.
    text = "\n".join(page.read_text(encoding="utf-8") for page in [README, *sorted(DOCS_DIR.glob("*.md"))])

    undocumented = [name for name in ENVIRONMENT_VARIABLES if name not in text]

    assert undocumented == []
