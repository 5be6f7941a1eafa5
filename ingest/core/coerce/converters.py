"""One value to one BigQuery type: an explicit rule per type, and the reason when it fails.

Each converter takes what a reader hands over (text from CSV, JSON values, typed Parquet
values) and returns the Python value of the column type, or raises ValueError with a reason
that reads after the value ("is not a boolean", "has a fraction").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

NUMERIC_SCALE = 9
NUMERIC_PRECISION = 38
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMERIC_QUANTUM = Decimal(1).scaleb(-NUMERIC_SCALE)
# The default context holds 28 digits; NUMERIC holds 38 (29 before the point, 9 after).
_NUMERIC_CONTEXT = Context(prec=NUMERIC_PRECISION)
# 1,234,567.89: commas every three digits before an optional dot decimal part.
_GROUPED_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _to_string(value: object) -> str:
    if isinstance(value, dict | list):
        return to_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number_text(text: str) -> str:
    """Strip thousands separators, but only where they cannot be a decimal comma.

    Python's own parsers also take ``1_000``, Arabic-Indic and full-width digits; no producer
    writes numbers that way, so such text is refused rather than read as a number.
    """
    text = text.strip()
    if "_" in text or not text.isascii():
        raise ValueError(f"{text[:40]!r} is not written with plain digits")
    if _GROUPED_THOUSANDS.match(text):
        return text.replace(",", "")
    return text


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("is a boolean, not an integer")
    number: int
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError("has a fraction")
        number = int(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError("has a fraction")
        number = int(value)
    elif isinstance(value, str):
        number = int(_number_text(value))
    elif isinstance(value, int):
        number = value
    else:
        raise ValueError(f"is a {type(value).__name__}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError("is outside INT64")
    return number


def _to_numeric(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"is a {type(value).__name__}")
    try:
        if isinstance(value, Decimal):
            number = value
        else:
            number = Decimal(_number_text(value) if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("is not finite")
    exponent = number.as_tuple().exponent
    # A finite Decimal's exponent is an int (the "n", "N", "F" letters are for NaN and infinity).
    assert isinstance(exponent, int)
    # Trailing zeros past the 9th place ("1.0000000000") lose nothing; other digits would.
    if exponent < -NUMERIC_SCALE and number != number.quantize(_NUMERIC_QUANTUM, context=_NUMERIC_CONTEXT):
        raise ValueError(f"has more than {NUMERIC_SCALE} decimal places")
    try:
        number = number.quantize(_NUMERIC_QUANTUM, context=_NUMERIC_CONTEXT)
    except InvalidOperation:
        raise ValueError("is too large for NUMERIC") from None
    if len(number.as_tuple().digits) > NUMERIC_PRECISION:
        raise ValueError("is too large for NUMERIC")
    return number


def _to_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"is a {type(value).__name__}")
    number = float(_number_text(value) if isinstance(value, str) else value)
    if not math.isfinite(number):
        raise ValueError("is not finite")
    return number


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("is not a boolean")


def _to_timestamp(value: object) -> datetime:
    """ISO-8601 in its common spellings, or RFC 2822 (mail and HTTP headers).

    Slash dates (07/01/2021) are refused: day/month order cannot be known from one value.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                raise ValueError("is not an ISO-8601 or RFC 2822 timestamp") from None
    else:
        raise ValueError(f"is a {type(value).__name__}, not a timestamp")
    # A timestamp without an offset is taken as UTC, which is what every source here writes.
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        # Year 1 at +14:00 is in year 0 in UTC: outside what BigQuery (and Python) holds.
        raise ValueError(
            "is before 0001-01-01 or after 9999-12-31 in UTC, outside BigQuery's range"
        ) from None


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"is a {type(value).__name__}, not an ISO-8601 date")
    return date.fromisoformat(value.strip())


def _json_default(value: object) -> str:
    # Parquet and Avro sources hand over typed values; JSON keeps their canonical text.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        # ISO 8601 duration, exact to the microsecond (Parquet and Arrow durations).
        return f"P{value.days}DT{value.seconds}.{value.microseconds:06d}S"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(value: object) -> str:
    """Lenient JSON for people and quarantine files: typed values as text, NaN kept as NaN."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def to_json(value: object) -> str:
    """Strict JSON for a JSON column: typed values as text, NaN and infinity refused."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    )


Converter = Callable[[object], object]
"""One source value in, the column type's Python value out; ValueError with a reason if not."""

CONVERTERS: dict[str, Converter] = {
    "STRING": _to_string,
    "INT64": _to_int,
    "NUMERIC": _to_numeric,
    "FLOAT64": _to_float,
    "BOOL": _to_bool,
    "TIMESTAMP": _to_timestamp,
    "DATE": _to_date,
    "JSON": to_json,
}


def lookup(record: dict[str, Any], path: tuple[str, ...]) -> object:
    """The value at a dotted source path, None where a step is missing or not an object."""
    value: object = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def failure(value: object, err: Exception) -> str:
    """``'abc' is not a number``: the value (shortened) and why a converter refused it."""
    text = repr(value)
    preview = text if len(text) <= 60 else text[:57] + "..."
    message = str(err)
    if message.startswith(("is ", "has ")):
        return f"{preview} {message}"
    return f"{preview} is not valid: {message}"
