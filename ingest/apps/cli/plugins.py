"""Commands that other installed packages add to ``ingest``, found through entry points.

A package lists ``Command`` values under the ``ingest.commands`` entry-point group and, if it has
a local stack, one function under ``ingest.local_stack`` that points this process at it (what
``ingest --local`` does). ``ingest_devstack`` adds ``local``, ``worker``, ``generate`` and ``demo``
this way (see pyproject.toml), so the production package never imports it, and where it is not
installed (the Lambda image ships ``ingest/`` alone) the CLI simply has no such commands.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from ingest.apps.cli.command import Command

COMMANDS_GROUP = "ingest.commands"
LOCAL_STACK_GROUP = "ingest.local_stack"


def installed_commands() -> list[Command]:
    """The commands of every installed plugin, in the order their packages declare them."""
    commands = []
    for entry in entry_points(group=COMMANDS_GROUP):
        loaded = _load(entry)
        if loaded is None:
            continue
        if not isinstance(loaded, Command):
            raise TypeError(f"entry point {entry.name} = {entry.value} in {COMMANDS_GROUP} is not a Command")
        commands.append(loaded)
    return commands


def local_stack_hook() -> Callable[[], None] | None:
    """The installed function that points this process at the local stack, if there is one."""
    for entry in entry_points(group=LOCAL_STACK_GROUP):
        loaded = _load(entry)
        if loaded is not None:
            if not callable(loaded):
                raise TypeError(
                    f"entry point {entry.name} = {entry.value} in {LOCAL_STACK_GROUP} is not callable"
                )
            hook: Callable[[], None] = loaded
            return hook
    return None


def _load(entry: EntryPoint) -> object | None:
    """The entry point's object, or None when its module is not installed.

    The Lambda image installs the ``ingest`` distribution, whose metadata declares the dev
    stack's entry points, from ``ingest/`` alone: there they name a package that is absent.
    Any other import error is a broken plugin, and is raised.
    """
    try:
        loaded: object = entry.load()
    except ModuleNotFoundError as err:
        module = entry.module
        if err.name and (module == err.name or module.startswith(f"{err.name}.")):
            return None
        raise
    return loaded
