"""What a reconciliation is asked for: the period's days and the options finance may tune."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

VAT_BASES = ("transaction", "line")


@dataclass(frozen=True)
class Options:
    """What finance may tune; the defaults are the studio's."""

    late_window_days: int = 3
    """How many days apart PayPal's booking and our payment row may be and still pair (late)."""
    sale_codes: tuple[str, ...] = ("T0006", "T0007")
    """PayPal event codes of payments received: their completed records are the sales."""
    reference_lookback_days: int = 365
    """How far before the period the payment a refund, reversal or chargeback takes back is sought."""
    balance_lookback_days: int = 35
    """How far back the last balance before the period is sought."""
    nominal: str = "4000"
    """Nominal account the export books sales to."""
    vat_basis: str = "transaction"
    """How VAT is rounded: ``transaction`` (each sale and each refund on its own, as its invoice;
    days and months are exact sums of them) or ``line`` (once per day and country line)."""
    account_currency: str = "USD"
    """The PayPal account's primary currency: the headline's; every other currency has its own figures."""

    def __post_init__(self) -> None:
        for name in ("late_window_days", "reference_lookback_days", "balance_lookback_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not self.sale_codes:
            raise ValueError("sale_codes must name at least one PayPal event code")
        if self.vat_basis not in VAT_BASES:
            raise ValueError(f"vat_basis must be one of {', '.join(VAT_BASES)}, got {self.vat_basis!r}")


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def parse(cls, start: str, end: str | None = None) -> Period:
        """``2021-07-03`` (a day), ``2021-07`` (a month), or a start and an end day."""
        first, last = _bounds(start)
        if end is not None:
            last = _bounds(end)[1]
        return cls(first, last)

    @property
    def days(self) -> list[datetime.date]:
        return [self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def __str__(self) -> str:
        return f"{self.start.isoformat()} - {self.end.isoformat()}"


def _bounds(text: str) -> tuple[datetime.date, datetime.date]:
    try:
        if len(text) == 7:  # YYYY-MM
            first = datetime.date.fromisoformat(f"{text}-01")
            following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            return first, following - datetime.timedelta(days=1)
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a day YYYY-MM-DD or a month YYYY-MM, got {text!r}") from None
    return day, day


DEFAULT_OPTIONS = Options()
"""The studio's options: what a reconciliation uses when it is given none."""
