"""``ingest inspect|validate``: look at one raw file before it is loaded; nothing is written."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.apps.cli import rendering
from ingest.apps.cli.command import Command
from ingest.apps.cli.parser import non_negative
from ingest.apps.cli.rendering import print_error


def inspect(args: argparse.Namespace) -> int:
    from ingest.apps.tools.inspect import inspect_file
    from ingest.apps.tools.targets import InspectError

    try:
        report = inspect_file(args.target, pipeline=args.pipeline, sample=args.sample)
    except InspectError as err:
        print_error(str(err))
        return 2
    if args.json:
        rendering.print_json(report.to_dict(), ensure_ascii=False)
    else:
        rendering.print_inspection(report)
    return 0 if report.ok else 1


def _inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PATH_OR_S3_URI")
    parser.add_argument(
        "--pipeline", metavar="NAME", help="also check it with a pipeline; 'auto' routes by key"
    )
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument("--sample", type=non_negative, default=5, help="rows to show, masked (default 5)")


def validate(args: argparse.Namespace) -> int:
    from ingest.apps.tools.targets import InspectError
    from ingest.apps.tools.validate_file import to_html, validate_file

    try:
        report = validate_file(args.target, pipeline=args.pipeline)
    except InspectError as err:
        print_error(str(err))
        return 2
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(to_html(report), encoding="utf-8")
    if args.json:
        rendering.print_json(report.to_dict(), ensure_ascii=False)
    else:
        rendering.print_validation(report, args.html)
    return 0 if report.ok else 1


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="a local path or s3://bucket/key")
    parser.add_argument("--pipeline", default="auto", help="a pipeline name, or auto to route by the key")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML report to this path")


COMMANDS = (
    Command(
        "inspect",
        help="profile a raw file (path or s3://bucket/key); nothing is loaded",
        run=inspect,
        arguments=_inspect_arguments,
    ),
    Command(
        "validate",
        help="run a pipeline's Great Expectations suite on a local or S3 file, without loading it",
        description="Exit code 0: every row would load; 1: rows would be quarantined or the file "
        "would fail; 2: the file or pipeline cannot be found.",
        run=validate,
        arguments=_validate_arguments,
    ),
)
