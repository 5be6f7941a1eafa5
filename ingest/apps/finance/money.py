"""Amounts as finance reads them: Decimals to the cent, gaps as None."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CENT = Decimal("0.01")


def in_cents(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy with the money ``columns`` (those present) as Decimals to the cent; gaps stay None.

    The emulator returns NUMERIC with nine places and pandas may hand back floats; finance reads
    cents, and CSVs keep them exact.
    """
    import pandas as pd

    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            amounts = [cent(value) for value in frame[column]]
            frame[column] = pd.Series(amounts, index=frame.index, dtype=object)
    return frame


def cent(value: Any) -> Decimal | None:
    """An amount as a Decimal to the cent, None for a gap (None, NaN, NA)."""
    import pandas as pd

    if value is None or (not isinstance(value, str | Decimal) and pd.isna(value)):
        return None
    # Adding zero turns a negative zero ("-0.00") into 0.00.
    return Decimal(str(value)).quantize(CENT) + 0


def total(values: Iterable[Any]) -> Decimal | None:
    """The sum to the cent of the amounts among ``values``; None when there are none."""
    amounts = [v for v in (cent(value) for value in values) if v is not None]
    return sum(amounts, Decimal("0.00")) if amounts else None
