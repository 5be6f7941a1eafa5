"""The BigQuery type that holds a value as the pipeline would coerce it: ``ingest inspect``'s
column types, ``ingest schema diff``'s suggestions and the columns ``schema_drift: add_columns``
adds are the same inference.

JSON numbers, booleans and arrays keep their JSON type, and Parquet's timestamps, dates and
decimals theirs; text (every CSV field, every JSON string) is typed by its content, so
``"19.99"`` is NUMERIC and ``"2021-07-01T10:00:00Z"`` a TIMESTAMP. The shape of the text decides
which types to try, and stays narrower than what the pipeline accepts ("007" is a code, not a
number; "yes" is text, not a boolean); whether the value fits the type (INT64's range, NUMERIC's
29 digits and 9 decimal places, a real date) is decided by the pipeline's own converters, so a
column typed here coerces there.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ingest.core.coerce.converters import CONVERTERS

_NUMBERS = {"INT64", "NUMERIC", "FLOAT64"}
_INTEGER = re.compile(r"[+-]?(0|[1-9]\d*)")  # no leading zeros: "007" is a code, not a number
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _converts(bq_type: str, value: Any) -> bool:
    """The pipeline's converter for ``bq_type`` takes ``value``."""
    try:
        CONVERTERS[bq_type](value)
    except (ValueError, TypeError, ArithmeticError):
        return False
    return True


def _decimal_type(text: str) -> str:
    return "NUMERIC" if _converts("NUMERIC", text) else "FLOAT64"


def text_type(text: str) -> str:
    """The narrowest BigQuery type that holds this text as the pipeline would coerce it."""
    value = text.strip()
    if value.lower() in {"true", "false"}:
        return "BOOL"
    if _INTEGER.fullmatch(value):
        return "INT64" if _converts("INT64", value) else _decimal_type(value)
    if _DECIMAL.fullmatch(value):
        return _decimal_type(value)
    if _FLOAT.fullmatch(value):
        return "FLOAT64"
    if _DATE.fullmatch(value) and _converts("DATE", value):
        return "DATE"
    if _TIMESTAMP.match(value) and _converts("TIMESTAMP", value):
        return "TIMESTAMP"
    return "STRING"


def value_type(value: Any) -> str | None:
    """BigQuery type of one JSON, CSV or Parquet value; None for null and empty text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64" if _converts("INT64", value) else "NUMERIC"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, str):
        return text_type(value)
    # Parquet's typed values (datetime before date: it is a subclass of it).
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, Decimal):
        return "NUMERIC" if _converts("NUMERIC", value) else "FLOAT64"
    if is_records(value):
        return "RECORD"
    return "JSON"


def is_records(value: Any) -> bool:
    """An array of objects, at least one of them, and nothing else: a REPEATED RECORD."""
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def merge_types(seen: str | None, new: str) -> str:
    """The type that holds values of both types (a small lattice; STRING holds anything)."""
    if seen is None or seen == new:
        return new
    pair = {seen, new}
    if pair <= _NUMBERS:
        return "FLOAT64" if "FLOAT64" in pair else "NUMERIC"
    if pair == {"DATE", "TIMESTAMP"}:
        return "TIMESTAMP"
    # An object in some rows and a scalar in others is only held whole, as JSON.
    return "JSON" if pair & {"JSON", "RECORD"} else "STRING"
