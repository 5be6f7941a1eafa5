"""``ingest inspect|validate``: look at one raw file before it is loaded; nothing is written."""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("target", metavar="PATH_OR_S3_URI", help="a local file or s3://bucket/key")
    parser.add_argument(
        "--pipeline", metavar="NAME", help="also check it with a pipeline; 'auto' routes by key"
    )
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    parser.add_argument(
        "--sample", type=non_negative, default=5, metavar="N", help="rows to show, masked (default 5)"
    )


def validate(args: argparse.Namespace) -> int:
    from ingest.apps.tools.targets import InspectError
    from ingest.apps.tools.validate_file import to_html, validate_file

    try:
        report = validate_file(args.target, pipeline=args.pipeline, gx_json=args.gx_json is not None)
    except InspectError as err:
        print_error(str(err))
        return 2
    if args.gx_json and report.gx_results is not None:
        from ingest.apps.tools.gx_result import gx_document

        args.gx_json.parent.mkdir(parents=True, exist_ok=True)
        document = json.dumps(gx_document(report.gx_results), indent=2, default=str)
        args.gx_json.write_text(document, encoding="utf-8")
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(to_html(report), encoding="utf-8")
    if args.json:
        rendering.print_json(report.to_dict(), ensure_ascii=False)
    else:
        rendering.print_validation(report, args.html, args.gx_json)
    return 0 if report.ok else 1


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="PATH_OR_S3_URI", help="a local file or s3://bucket/key")
    parser.add_argument(
        "--pipeline", metavar="NAME", default="auto", help="a pipeline name, or 'auto' to route by the key"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--html", type=Path, metavar="PATH", help="also write a self-contained HTML report to this path"
    )
    parser.add_argument(
        "--gx-json",
        type=Path,
        metavar="PATH",
        help="also write GX's own ExpectationSuiteValidationResult as JSON to this path",
    )


COMMANDS = (
    Command(
        "inspect",
        help="profile a raw file (path or s3://bucket/key); nothing is loaded",
        description="Detects the file's format, compression, encoding and delimiter, types its "
        "columns, shows the first row errors and a masked sample, and with --pipeline checks what "
        "the pipeline would load, quarantine or reject. Nothing is written anywhere.",
        examples=(
            "ingest inspect downloads/page-1.json",
            "ingest inspect s3://payments-lake/paypal/transactions/2021/07/01/page-1.json --pipeline auto",
        ),
        exit_codes=(
            (0, "the file reads, and would load if a pipeline was checked (quarantined rows included)"),
            (1, "the file does not read, or the pipeline would fail it (missing columns, no valid row)"),
            (2, "the file or pipeline cannot be found, or the command could not run"),
        ),
        run=inspect,
        arguments=_inspect_arguments,
    ),
    Command(
        "validate",
        help="run a pipeline's Great Expectations suite on a local or S3 file, without loading it",
        description="Reads the file as the pipeline would and runs its Great Expectations suite on "
        "the typed rows, without loading anything: which rows would load, which would be quarantined "
        "and by which expectation. --html writes a report to open in a browser.",
        examples=(
            "ingest validate s3://payments-lake/payments/transactions/2021/07/01/stream-1",
            "ingest validate page-1.json --pipeline paypal_transactions --html reports/validate.html",
        ),
        exit_codes=(
            (0, "every row would load"),
            (1, "rows would be quarantined or the file would fail"),
            (2, "the file or pipeline cannot be found, or the command could not run"),
        ),
        run=validate,
        arguments=_validate_arguments,
    ),
)
