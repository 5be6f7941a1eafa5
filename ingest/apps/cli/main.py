"""``ingest ...``: parse arguments, run the command, turn what went wrong into an exit code.

The commands live in ``commands/`` (one module per audience); packages installed beside this one
add theirs through entry points (``plugins``): ``ingest_devstack`` adds ``local``, ``worker``,
``generate`` and ``demo``, and the ``--local`` switch.
"""

from __future__ import annotations

import logging
import sys

from ingest.apps.cli import plugins
from ingest.apps.cli.command import Command, CommandFailed
from ingest.apps.cli.commands import finance, ingestion, operations, tools
from ingest.apps.cli.parser import build_parser
from ingest.apps.cli.rendering import print_error

BUILT_IN: tuple[Command, ...] = (
    *ingestion.COMMANDS,
    *finance.COMMANDS,
    *operations.COMMANDS,
    *tools.COMMANDS,
)


def main(argv: list[str] | None = None) -> int:
    commands = (*BUILT_IN, *plugins.installed_commands())
    parser = build_parser(commands)  # refuses two commands of one name
    args = parser.parse_args(argv)
    command = next(c for c in commands if c.name == args.command)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.local and not command.manages_local_stack:
            use_local_stack = plugins.local_stack_hook()
            if use_local_stack is None:
                parser.error("--local needs the local stack (ingest_devstack), which is not installed")
            use_local_stack()
        return command.run(args)
    except CommandFailed as err:
        print_error(str(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
