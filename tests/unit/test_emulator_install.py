"""The BigQuery emulator's venv is installed once, however many stacks start at the same time
(each test worker starts one: two installing into one folder at once broke both)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ingest_devstack import local


def test_concurrent_first_uses_install_the_emulator_once(tmp_path, monkeypatch):
    installs: list[Path] = []

    def slow_install(venv: Path, python: Path, requirements: Path) -> None:
        installs.append(venv)
        time.sleep(0.3)  # long enough for the other caller to arrive meanwhile
        venv.mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(local, "_install_emulator", slow_install)
    venv = tmp_path / ".local" / "bigquery-venv"
    results: list[Path] = []
    callers = [threading.Thread(target=lambda: results.append(local.emulator_python(venv))) for _ in range(3)]

    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    assert installs == [venv]
    assert results == [venv / "bin" / "python"] * 3


def test_a_changed_requirements_file_reinstalls(tmp_path, monkeypatch):
    installs: list[Path] = []

    def install(venv: Path, *_: Path) -> None:
        installs.append(venv)
        venv.mkdir(exist_ok=True)

    monkeypatch.setattr(local, "_install_emulator", install)
    venv = tmp_path / "bigquery-venv"
    local.emulator_python(venv)
    (venv / ".installed").write_text("an older requirements file")

    local.emulator_python(venv)
    local.emulator_python(venv)

    assert len(installs) == 2
