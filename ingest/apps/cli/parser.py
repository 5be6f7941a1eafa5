"""The argparse tree of ``ingest``: the root parser, one subparser per command, shared argument types.

What argparse (3.13) lacks is added here: ``--local`` and ``-v`` are accepted after the command
too, a mistyped command, option or choice gets a "did you mean" from difflib, and each command's
``--help`` ends with its examples and exit codes.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import textwrap
from collections.abc import Iterable, Sequence
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

from ingest.apps.cli.command import Command

DISTRIBUTION = "ingest"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that suggests the closest command, option or choice."""

    commands: dict[str, argparse.ArgumentParser]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = {}

    def parse_args(  # type: ignore[override]  # argparse's overloads; this one returns a Namespace
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # The command's parser reports it: its usage and its options are the relevant ones.
            command = self.commands.get(getattr(parsed, "command", None) or "")
            target = command or self
            options = _option_strings(target) | _option_strings(self)
            target.error(f"unrecognized arguments: {' '.join(extras)}{_suggestion(extras, options)}")
        return parsed

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check, with the closest valid choice named (3.14 has suggest_on_error).
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (choose from {', '.join(names)})"
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        hint = "" if message.endswith("?") else f"; see `{self.prog} --help`"
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _suggestion(extras: Iterable[str], options: set[str]) -> str:
    """ "; did you mean --pipeline?" for the first unknown option close to a known one."""
    for extra in extras:
        if not extra.startswith("-"):
            continue
        close = difflib.get_close_matches(extra.split("=", 1)[0], sorted(options), n=1)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


def installed_version() -> str:
    """The installed distribution's version, from its metadata (pyproject.toml's)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _switches(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--local`` and ``-v``: on the root with their defaults, on every command with SUPPRESS so
    that a command which was not given them does not undo what came before it."""
    parser.add_argument(
        "--local",
        action="store_true",
        default=default,
        help='use the running local stack\'s endpoints (as `eval "$(ingest local env)"` would)',
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log each file (time, level, message) and show the traceback of any failure",
    )


def _width() -> int:
    return max(40, min(shutil.get_terminal_size().columns, 100) - 2)


def epilog(command: Command) -> str:
    """Examples and exit codes, laid out as written (the formatter would join the lines)."""
    lines = ["examples:"]
    lines += [f"  {example}" for example in command.examples]
    lines += ["", "exit codes:"]
    for code, meaning in command.exit_codes:
        lines += textwrap.wrap(
            meaning, _width(), initial_indent=f"  {code}  ", subsequent_indent=" " * (len(str(code)) + 4)
        )
    return "\n".join(lines)


def build_parser(commands: Iterable[Command]) -> Parser:
    parser = Parser(
        prog="ingest",
        description="Land payment files from S3 in BigQuery exactly once; keep what fails.",
        epilog="`ingest COMMAND --help` shows a command's examples and exit codes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    _switches(parser, default=False)
    shared = Parser(add_help=False)
    _switches(shared, default=argparse.SUPPRESS)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        if command.name in parser.commands:
            raise ValueError(f"two commands are named {command.name!r}")
        description = "\n\n".join(
            textwrap.fill(paragraph, _width())
            for paragraph in (command.description or command.help).split("\n\n")
        )
        subparser = subcommands.add_parser(
            command.name,
            help=command.help,
            description=description,
            epilog=epilog(command),
            parents=[shared],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.arguments(subparser)
        parser.commands[command.name] = subparser
    return parser


def day(text: str) -> str:
    """A YYYY-MM-DD argument, as its ISO text."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return int(text)
