"""Record transform of the exchange_rates reference pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def exchange_rate_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """An openexchangerates object (base, epoch timestamp, rates map) as one row per currency."""
    base, timestamp, rates = record.get("base"), record.get("timestamp"), record.get("rates")
    if not isinstance(rates, dict) or not rates:
        raise ValueError("no 'rates' object")
    if not isinstance(base, str):
        raise ValueError("no 'base' currency")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise ValueError(f"'timestamp' is {timestamp!r}, not epoch seconds")
    as_of = datetime.fromtimestamp(timestamp, UTC).isoformat()
    return [
        {"base_currency": base, "currency_code": code, "rate": rate, "rates_at": as_of}
        for code, rate in sorted(rates.items())
    ]
