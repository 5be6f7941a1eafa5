"""`ingest` finds the dev stack's commands through entry points, and works without them."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
from support.helpers import orders_ndjson

from ingest.apps.cli import main as cli
from ingest.apps.cli import plugins

DEV_STACK_COMMANDS = {"local", "worker", "generate", "demo"}


def only_these_entry_points(monkeypatch: pytest.MonkeyPatch, *entries: EntryPoint) -> None:
    """The CLI sees only ``entries``, as if they were all the installed packages declare."""
    monkeypatch.setattr(plugins, "entry_points", lambda group: [e for e in entries if e.group == group])


def as_without_the_dev_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lambda image: the distribution declares the dev stack's entry points, its package is absent."""
    only_these_entry_points(
        monkeypatch,
        EntryPoint("local", "absent_devstack.commands:LOCAL", plugins.COMMANDS_GROUP),
        EntryPoint("devstack", "absent_devstack.commands:use_local_stack", plugins.LOCAL_STACK_GROUP),
    )


def test_the_dev_stack_registers_its_commands_and_the_local_switch():
    names = {command.name for command in plugins.installed_commands()}

    assert names == DEV_STACK_COMMANDS
    assert plugins.local_stack_hook() is not None


def test_without_the_dev_stack_its_commands_are_unknown_and_the_rest_work(monkeypatch, tmp_path, capsys):
    as_without_the_dev_stack(monkeypatch)
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(2))

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["local", "up"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'local'" in capsys.readouterr().err

    assert cli.main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2


def test_local_switch_without_the_dev_stack_says_it_is_not_installed(monkeypatch, tmp_path, capsys):
    as_without_the_dev_stack(monkeypatch)
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(1))

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--local", "inspect", str(path)])

    assert exit_info.value.code == 2
    assert (
        "--local needs the local stack (ingest_devstack), which is not installed" in capsys.readouterr().err
    )


def test_local_switch_without_a_running_stack_is_a_message_not_a_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INGEST_LOCAL_DIR", str(tmp_path / "no-stack-here"))
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(1))

    code = cli.main(["--local", "inspect", str(path)])

    captured = capsys.readouterr()
    assert code == 2
    assert "no local stack is running" in captured.err
    assert "ingest local up" in captured.err
    assert captured.out == ""  # the command did not run against whatever the environment pointed at


def test_local_switch_after_the_command_works_the_same(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INGEST_LOCAL_DIR", str(tmp_path / "no-stack-here"))
    path = tmp_path / "orders"
    path.write_bytes(orders_ndjson(1))

    code = cli.main(["inspect", str(path), "--local"])

    assert code == 2
    assert "no local stack is running" in capsys.readouterr().err


def test_local_switch_with_a_stopped_stack_says_it_stopped_in_one_line(monkeypatch, tmp_path, capsys):
    # GIVEN the state file of a stack whose emulators have exited (a reboot, a kill)
    from ingest_devstack.local import STATE_FILE

    state = {"moto_port": 9, "moto_pid": 2**22 + 1, "bigquery_port": 9, "bigquery_grpc_port": 9}
    state |= {"state_dir": str(tmp_path), "bigquery_pid": 2**22 + 2, "bq_project": "local-project"}
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    monkeypatch.setenv("INGEST_LOCAL_DIR", str(tmp_path))

    code = cli.main(["ledger", "--local"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"the local stack in {tmp_path} has stopped (its emulators are not running); "
        "start it again with `ingest local up`"
    ]


def test_local_switch_does_not_apply_to_the_command_that_manages_the_stack(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INGEST_LOCAL_DIR", str(tmp_path / "no-stack-here"))

    code = cli.main(["--local", "local", "status", "--json"])

    assert code == 1
    assert json.loads(capsys.readouterr().out) == {"running": False}


def test_a_plugin_whose_own_dependency_is_missing_fails_loudly(monkeypatch, tmp_path):
    (tmp_path / "half_installed_plugin.py").write_text("import no_such_dependency_of_the_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    only_these_entry_points(
        monkeypatch, EntryPoint("broken", "half_installed_plugin:COMMAND", plugins.COMMANDS_GROUP)
    )

    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_of_the_plugin"):
        plugins.installed_commands()


def test_an_entry_point_that_is_not_a_command_is_refused(monkeypatch):
    only_these_entry_points(monkeypatch, EntryPoint("paths", "os.path:join", plugins.COMMANDS_GROUP))

    with pytest.raises(TypeError, match="is not a Command"):
        plugins.installed_commands()
