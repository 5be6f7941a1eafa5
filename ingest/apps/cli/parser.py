"""The argparse tree of ``ingest``: the root parser, one subparser per command, shared argument types."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import date

from ingest.apps.cli.command import Command


def build_parser(commands: Iterable[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest",
        description="Land payment files from S3 in BigQuery exactly once; keep what fails.",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help='use the running local stack\'s endpoints (as `eval "$(ingest local env)"` would)',
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each file")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        subparser = subcommands.add_parser(command.name, help=command.help, description=command.description)
        command.arguments(subparser)
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
