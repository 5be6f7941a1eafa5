"""What an ``ingest`` subcommand is: the contract between the CLI, its command modules and plugins.

The built-in commands (``ingest.apps.cli.commands``) and those another installed package plugs
in (``ingest.apps.cli.plugins``) are all ``Command`` values: a name, help texts, a function that
declares the arguments and one that runs the command and returns its exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


class CommandFailed(Exception):
    """A command cannot go on and its message says why: printed in red, exit code 1, no traceback."""


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes no arguments of its own."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    """One line in ``ingest --help``."""
    run: Callable[[argparse.Namespace], int]
    """Runs the command on the parsed arguments; returns the exit code."""
    arguments: Callable[[argparse.ArgumentParser], None] = no_arguments
    """Adds the command's arguments to its parser."""
    description: str | None = None
    """The paragraph of ``ingest <name> --help``: what it does and what its exit codes mean."""
    manages_local_stack: bool = False
    """The command starts and stops the local stack itself, so ``--local`` (which needs the
    stack running already) does not apply to it."""
