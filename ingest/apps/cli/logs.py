"""Log lines for a person at a terminal: time, level, message.

The Lambda handler logs JSON lines through aws-lambda-powertools (CloudWatch Logs Insights
queries them); that stays as it is in Lambda. When the CLI runs the handler itself (``ingest
worker``, ``ingest demo``) its lines are shown in the CLI's format instead.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DATE_FORMAT = "%H:%M:%S"

# Vendor libraries that chat at INFO (credential lookups, connection pools): -v is about our files.
QUIET = ("botocore", "boto3", "urllib3", "google", "s3transfer", "great_expectations", "papermill")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # typeshed's generic stream
    """Writes to whatever ``sys.stderr`` is when a record is logged (a test's capture, a redirect),
    not to the stream that was current when ``main()`` first ran."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(verbose: bool) -> None:
    """INFO with ``-v`` (each file), WARNING otherwise, in the human format, on stderr.

    Other handlers on the root logger (a test's log capture) are left alone; ours is added once.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # google-auth warns of each credential source it fails to use before raising; the CLI then
    # says in one line what to set (``failures``), so the warning only repeats it less usefully.
    logging.getLogger("google.auth").setLevel(logging.INFO if verbose else logging.ERROR)


def human_lines_for(logger: logging.Logger) -> None:
    """Show ``logger``'s records in the CLI's format rather than through its own handlers.

    powertools' handler stays attached (its formatter keeps the Lambda context keys the handler
    appends) but is muted, and the records go on to the root logger's human handler. powertools
    also put a filter on the root's handlers that drops every record of ``logger`` and its
    children (so Lambda does not print them twice): that filter is taken off again, or ``-v``
    would show none of our own lines once the handler is imported.
    """
    for handler in logger.handlers:
        handler.setLevel(logging.CRITICAL + 1)
    logger.propagate = True
    for handler in logging.getLogger().handlers:
        for dropped in [f for f in handler.filters if getattr(f, "logger", None) == logger.name]:
            handler.removeFilter(dropped)
