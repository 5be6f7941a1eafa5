"""``ingest ...``: parse arguments, run the command, turn what went wrong into an exit code.

The commands live in ``commands/`` (one module per audience); packages installed beside this one
add theirs through entry points (``plugins``): ``ingest_devstack`` adds ``local``, ``worker``,
``generate`` and ``demo``, and the ``--local`` switch.

Exit codes: what the command returns (0 done, 1 some files or checks failed); 1 for a
``CommandFailed``; 2 for bad arguments and for every expected failure (``failures``: one line
saying what to do, the traceback only with ``-v``); an unexpected error keeps its traceback.
"""

from __future__ import annotations

import sys
import traceback

from ingest.apps.cli import failures, logs, plugins
from ingest.apps.cli.command import Command, CommandFailed
from ingest.apps.cli.commands import finance, ingestion, ledger, operations, schema, tools
from ingest.apps.cli.parser import build_parser
from ingest.apps.cli.rendering import print_error

BUILT_IN: tuple[Command, ...] = (
    *ingestion.COMMANDS,
    *ledger.COMMANDS,
    *finance.COMMANDS,
    *operations.COMMANDS,
    *tools.COMMANDS,
    *schema.COMMANDS,
)

INTERRUPTED = 130
"""As a shell reports a process ended by Ctrl-C (128 + SIGINT)."""


def all_commands() -> tuple[Command, ...]:
    return (*BUILT_IN, *plugins.installed_commands())


def main(argv: list[str] | None = None) -> int:
    commands = all_commands()
    parser = build_parser(commands)  # refuses two commands of one name
    args = parser.parse_args(argv)
    command = next(c for c in commands if c.name == args.command)
    logs.configure(args.verbose)
    try:
        if args.local and not command.manages_local_stack:
            use_local_stack = plugins.local_stack_hook()
            if use_local_stack is None:
                parser.error("--local needs the local stack (ingest_devstack), which is not installed")
            use_local_stack()
        if command.uses_bigquery:
            failures.check_bigquery_emulator()
        return command.run(args)
    except CommandFailed as err:
        if args.verbose:
            traceback.print_exc()
        print_error(str(err))
        return 1
    except KeyboardInterrupt:
        print_error("interrupted")
        return INTERRUPTED
    except Exception as err:
        explanation = failures.explain(err)
        if explanation is None:
            raise  # a bug or a situation nobody classified: the traceback is what helps
        if args.verbose:
            traceback.print_exc()
        print_error(explanation.line())
        return failures.EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
