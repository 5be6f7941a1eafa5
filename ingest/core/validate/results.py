"""What a suite run found: each expectation's check, and a file's validation over its batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SAMPLE_ROWS = 20
"""Row numbers kept per failed expectation in results (the quarantine file has every row)."""


@dataclass(frozen=True)
class Check:
    """One expectation's outcome on one batch of rows."""

    id: str
    type: str
    column: str | None
    severity: str
    success: bool
    row_level: bool
    element_count: int = 0
    unexpected_count: int = 0
    sample_rows: tuple[int, ...] = ()
    error: str | None = None
    """GX's exception when the expectation could not run (treated as a critical file failure)."""

    @property
    def fails_file(self) -> bool:
        if self.success:
            return False
        return self.error is not None or (self.severity == "critical" and not self.row_level)

    def describe(self) -> str:
        target = f" on {self.column}" if self.column else ""
        if self.error:
            return f"{self.id} could not run ({self.type}{target}): {self.error}"
        return f"{self.id} failed ({self.type}{target})"


@dataclass
class Validation:
    """A suite's outcome on a whole file, accumulated over the batches it was run on."""

    suite: str
    rows: int = 0
    bad_rows: int = 0
    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, checks: Sequence[Check], rows: int, bad_rows: int) -> None:
        self.rows += rows
        self.bad_rows += bad_rows
        for check in checks:
            seen = self.checks.get(check.id)
            if seen is None:
                self.checks[check.id] = check
                continue
            self.checks[check.id] = replace(
                seen,
                success=seen.success and check.success,
                element_count=seen.element_count + check.element_count,
                unexpected_count=seen.unexpected_count + check.unexpected_count,
                sample_rows=(seen.sample_rows + check.sample_rows)[:SAMPLE_ROWS],
                error=seen.error or check.error,
            )

    @property
    def file_failures(self) -> list[Check]:
        return [c for c in self.checks.values() if c.fails_file]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks.values() if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks.values() if not c.success and c.severity != "critical"]

    def summary(self) -> dict[str, Any]:
        """Compact form for the ledger: counts per failed expectation id."""
        return {
            "suite": self.suite,
            "rows": self.rows,
            "bad_rows": self.bad_rows,
            "failed": {c.id: c.unexpected_count for c in self.failed},
            "warnings": {c.id: c.unexpected_count for c in self.warnings},
        }


@dataclass(frozen=True)
class BatchOutcome:
    checks: list[Check]
    bad_positions: dict[int, list[str]]
    """Position of each quarantined row in the batch -> ids of the critical checks it failed."""
