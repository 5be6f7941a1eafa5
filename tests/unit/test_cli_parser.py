"""What a user types: switches anywhere, suggestions for typos, --version, and help that teaches."""

from __future__ import annotations

import json
import logging
import re
from importlib.metadata import version

import pytest

from ingest.apps.cli import logs
from ingest.apps.cli import main as cli
from ingest.apps.cli.parser import build_parser

COMMANDS = cli.all_commands()


def parse(*argv: str):
    return build_parser(COMMANDS).parse_args(list(argv))


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("--local", "-v", "ledger"),
        ("ledger", "--local", "-v"),
        ("-v", "ledger", "--local"),
        ("--local", "ledger", "--verbose"),
    ],
)
def test_local_and_verbose_are_accepted_before_or_after_the_command(argv):
    args = parse(*argv)

    assert (args.command, args.local, args.verbose) == ("ledger", True, True)


def test_a_command_without_the_switches_does_not_undo_those_given_before_it():
    args = parse("--local", "-v", "ledger", "--json")

    assert (args.local, args.verbose, args.json) == (True, True, True)
    assert (parse("ledger").local, parse("ledger").verbose) == (False, False)


def test_a_mistyped_option_suggests_the_right_one(capsys):
    err = usage_error(capsys, "run", "--pipline", "paypal_transactions")

    assert "unrecognized arguments: --pipline paypal_transactions; did you mean --pipeline?" in err
    assert "usage: ingest run" in err  # the command's usage, where --pipeline is


def test_a_mistyped_switch_after_the_command_suggests_the_switch(capsys):
    assert "did you mean --local?" in usage_error(capsys, "ledger", "--locale")


def test_a_mistyped_command_suggests_the_right_one(capsys):
    assert "invalid choice: 'ledgr'; did you mean 'ledger'?" in usage_error(capsys, "ledgr")


def test_a_mistyped_choice_suggests_the_right_one(capsys):
    assert "invalid choice: 'LOADD'; did you mean 'LOADED'?" in usage_error(
        capsys, "ledger", "--status", "LOADD"
    )


def test_a_wrong_value_with_nothing_close_lists_the_choices(capsys):
    err = usage_error(capsys, "local", "xyzzy")

    assert "invalid choice: 'xyzzy' (choose from up, down, status, env)" in err


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ingest {version('ingest')}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_help_has_a_description_examples_and_exit_codes(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command.name, "--help"])
    text = capsys.readouterr().out

    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8, f"{command.name}: no description"
    examples = text.split("examples:\n", 1)[1].split("\n\n")[0].splitlines()
    assert examples and all(
        f"ingest {command.name}" in e or "ingest --local " in e or "eval" in e for e in examples
    )
    assert any(f"ingest {command.name}" in e or f"--local {command.name}" in e for e in examples)
    codes = text.split("exit codes:\n", 1)[1]
    assert re.search(r"^  0  \S", codes, re.M), f"{command.name}: exit code 0 not explained"
    assert re.search(r"^  2  \S", codes, re.M), f"{command.name}: exit code 2 not explained"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_argument_has_help_text_and_one_name_per_concept(command):
    parser = build_parser(COMMANDS).commands[command.name]
    for action in parser._actions:
        assert action.help, f"ingest {command.name} {action.dest} has no help"
        if "--pipeline" in action.option_strings:
            assert action.metavar == "NAME"
        if action.dest in {"target", "uri"}:
            assert action.metavar in {"PATH_OR_S3_URI", "S3_URI"}
        if action.dest in {"since", "until", "date"}:
            assert action.metavar == "YYYY-MM-DD"
        if action.option_strings and action.nargs != 0 and action.choices is None:
            # argparse's default would be the option's name upper-cased (--sample SAMPLE).
            assert action.metavar, f"ingest {command.name} {action.option_strings[0]} names no metavar"


def test_cli_log_lines_are_time_level_message_not_json(capsys):
    logs.configure(verbose=True)
    try:
        logging.getLogger("ingest.ingestion.flow").info("loaded s3://lake/a (3 rows)")
    finally:
        logs.configure(verbose=False)

    (printed,) = [line for line in capsys.readouterr().err.splitlines() if "s3://lake/a" in line]
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO    loaded s3://lake/a \(3 rows\)", printed)


def test_the_lambda_handlers_json_lines_become_human_lines_in_the_cli(capsys):
    from ingest.apps import lambda_handler

    powertools = logging.getLogger("ingest")
    handlers, propagate = [(h, h.level) for h in powertools.handlers], powertools.propagate
    logs.configure(verbose=True)
    try:
        logs.human_lines_for(powertools)
        lambda_handler.logger.info("file done")
    finally:
        for handler, level in handlers:
            handler.setLevel(level)
        powertools.propagate = propagate
        logs.configure(verbose=False)

    err = capsys.readouterr()
    printed = [line for line in (err.out + err.err).splitlines() if "file done" in line]
    assert len(printed) == 1
    assert not printed[0].lstrip().startswith("{")
    assert "INFO    file done" in printed[0]


def test_local_status_json_parses_and_the_table_is_not_a_dict(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("INGEST_LOCAL_DIR", str(tmp_path))

    assert cli.main(["local", "status", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"running": False}

    assert cli.main(["local", "status"]) == 1
    out = capsys.readouterr().out
    assert "{" not in out
    assert "ingest local up" in out
