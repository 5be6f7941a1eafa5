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
    """A command cannot go on and its message says why: printed in red, exit code 1, no traceback.

    For a situation the user can fix before trying again (a missing key, a stopped stack), raise
    ``ingest.apps.cli.failures.ExpectedFailure`` instead: exit code 2, like every expected failure.
    """


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
    """The paragraphs of ``ingest <name> --help``: what it does (blank lines separate paragraphs)."""
    examples: tuple[str, ...] = ()
    """Command lines shown under "examples:" in ``--help``; at least one."""
    exit_codes: tuple[tuple[int, str], ...] = ()
    """(code, meaning) pairs shown under "exit codes:" in ``--help``."""
    manages_local_stack: bool = False
    """The command starts and stops the local stack itself, so ``--local`` (which needs the
    stack running already) does not apply to it."""
    uses_bigquery: bool = False
    """The command talks to BigQuery: an emulator host that nobody answers on is said at once,
    where google's client would retry a refused connection for ten minutes."""


NOT_RUN = (
    2,
    "it could not run: bad arguments, or something it needs is missing or unreachable (the local "
    "stack, a region, credentials, a bucket, key, table or pipeline); one line says what to do",
)
"""The exit code every command shares: an expected failure (``ingest.apps.cli.failures``)."""
