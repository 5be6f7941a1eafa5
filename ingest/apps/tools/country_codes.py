"""Country codes that are not ISO 3166-1 alpha-2, as ``ingest inspect`` flags them.

PayPal and the VAT tables key countries by ISO 3166-1 alpha-2 (``GB``, ``GR``). Codes that
people write instead pass a two-letter format check and then match nothing: ``UK`` is
exceptionally reserved by ISO for the United Kingdom, whose code is ``GB``, and ``EL`` is the
EU's own code for Greece (VAT numbers), whose ISO code is ``GR``. A country code is not
personal data, so the value itself is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.core.coerce.privacy import mask_free_text

ISO_INSTEAD = {"UK": "GB", "EL": "GR"}
"""Codes in use that ISO 3166-1 alpha-2 does not assign, and the code it does."""
_ALPHA_2 = re.compile(r"[A-Z]{2}")
MAX_FLAGGED = 20
"""Distinct (field, value) pairs flagged; a file with more is wrong in ways these show."""
_SHOWN_CHARS = 40


def is_country_field(path: str) -> bool:
    """A field holding a country code: ``payer_info.country_code``, ``country``, ``iso_2_code``."""
    leaf = path.rsplit(".", 1)[-1].lower()
    return leaf.endswith("country_code") or leaf in {"country", "iso_2_code"}


def iso_problem(value: str) -> str | None:
    """Why ``value`` is not an ISO 3166-1 alpha-2 code, or None (an empty value is no code)."""
    if not value:
        return None
    if value in ISO_INSTEAD:
        return f"ISO 3166-1 says {ISO_INSTEAD[value]}"
    if not _ALPHA_2.fullmatch(value):
        return "not two capital letters (ISO 3166-1 alpha-2)"
    return None


@dataclass(frozen=True)
class CountryCodeIssue:
    field: str
    value: str
    problem: str
    rows: int
    first_row: int


class CountryCodes:
    """Country-code values that are not ISO 3166-1 alpha-2, per field, with their first row."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], list[int]] = {}  # (field, value) -> [rows, first row]
        self._valid: set[str] = set()  # a file has a few dozen countries: judge each once

    def observe(self, field: str, value: str, row: int) -> None:
        if value in self._valid:
            return
        key = (field, value)
        seen = self._seen.get(key)
        if seen is not None:
            seen[0] += 1
        elif iso_problem(value) is None:
            self._valid.add(value)
        elif len(self._seen) < MAX_FLAGGED:
            self._seen[key] = [1, row]

    def issues(self) -> list[CountryCodeIssue]:
        """What was flagged; a value is shown masked and cut short: the field may hold anything."""
        return [
            CountryCodeIssue(
                field, mask_free_text(value)[:_SHOWN_CHARS], iso_problem(value) or "", rows, first
            )
            for (field, value), (rows, first) in self._seen.items()
        ]
