"""Who may take a file: the claim rule, written once as named parts. No I/O.

Lease timeline of a claim (``lease_seconds`` is at least the Lambda timeout)::

    claim ──── IN_PROGRESS (lease_expires_at = now + lease) ───── LOADED | FAILED
                 │ another delivery here: SKIPPED_DUPLICATE
                 └── worker crashes: after lease_expires_at, the next delivery re-claims
                     (attempts + 1); FAILED with a retryable error may be re-claimed too,
                     until max_attempts.

A file may be claimed when one of the parts of ``CLAIMABLE`` holds for its FILE item; ``ingest
replay`` claims by ``REPLAYABLE`` instead. Each part holds its DynamoDB condition and, beside it,
the same test in Python: the conditional write is what takes the file, the Python test lets batch
mode pass over files nobody may claim without a write. The Python test reads as DynamoDB does: a
comparison with an attribute the item lacks is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Status


@dataclass(frozen=True)
class ClaimAttempt:
    """When a claim is tried, and how many attempts a file gets in all."""

    now: float
    """Epoch seconds."""
    max_attempts: int

    @property
    def now_epoch(self) -> int:
        """``now`` in whole seconds, as leases are written and compared."""
        return int(self.now)


@dataclass(frozen=True)
class ClaimPart:
    """One way a file may be claimed: its Python test and its DynamoDB condition."""

    name: str
    holds: Callable[[LedgerEntry | None, ClaimAttempt], bool]
    """Whether the part holds for a FILE item (None: there is none) at this attempt."""
    condition: str
    """The DynamoDB ConditionExpression fragment; ``#name`` aliases the attribute ``name``."""
    values: Callable[[ClaimAttempt], dict[str, Any]]
    """The ``:placeholder`` values the fragment compares with, at this attempt."""

    @property
    def names(self) -> dict[str, str]:
        """The ExpressionAttributeNames the fragment uses."""
        return {f"#{name}": name for name in re.findall(r"#(\w+)", self.condition)}


@dataclass(frozen=True)
class Condition:
    """A whole ConditionExpression with exactly the names and values it uses: DynamoDB refuses
    any it does not."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any]


def _never_claimed(entry: LedgerEntry | None, attempt: ClaimAttempt) -> bool:
    return entry is None


def _lease_expired(entry: LedgerEntry | None, attempt: ClaimAttempt) -> bool:
    return (
        entry is not None
        and entry.status == Status.IN_PROGRESS
        and entry.lease_expires_at is not None
        and entry.lease_expires_at < attempt.now_epoch
    )


def _retryable_failure(entry: LedgerEntry | None, attempt: ClaimAttempt) -> bool:
    return (
        entry is not None
        and entry.status == Status.FAILED
        and entry.retryable is True
        and entry.attempts is not None
        and entry.attempts < attempt.max_attempts
    )


def _failed(entry: LedgerEntry | None, attempt: ClaimAttempt) -> bool:
    return entry is not None and entry.status == Status.FAILED


NEVER_CLAIMED = ClaimPart(
    name="never claimed",
    holds=_never_claimed,
    condition="attribute_not_exists(pk)",
    values=lambda attempt: {},
)
LEASE_EXPIRED = ClaimPart(
    # A worker claimed it and its lease ran out: it crashed or timed out.
    name="lease expired",
    holds=_lease_expired,
    condition="(#status = :in_progress AND #lease_expires_at < :now_epoch)",
    values=lambda attempt: {":in_progress": Status.IN_PROGRESS.value, ":now_epoch": attempt.now_epoch},
)
RETRYABLE_FAILURE = ClaimPart(
    # It failed for a reason that may pass, and has attempts left.
    name="retryable failure",
    holds=_retryable_failure,
    condition="(#status = :failed AND #retryable = :true AND #attempts < :max_attempts)",
    values=lambda attempt: {
        ":failed": Status.FAILED.value,
        ":true": True,
        ":max_attempts": attempt.max_attempts,
    },
)
FAILED = ClaimPart(
    # Whatever the error: someone fixed its cause and asked for the file again.
    name="failed",
    holds=_failed,
    condition="#status = :failed",
    values=lambda attempt: {":failed": Status.FAILED.value},
)

CLAIMABLE = (NEVER_CLAIMED, LEASE_EXPIRED, RETRYABLE_FAILURE)
"""Any delivery may claim a file by one of these."""
CLAIMABLE_UNLESS_ORPHANED = (NEVER_CLAIMED, RETRYABLE_FAILURE)
"""A claim of a file among others: one whose lease ran out is claimed later, alone."""
REPLAYABLE = (FAILED,)
"""``ingest replay`` claims a file by these."""


def may_claim(
    entry: LedgerEntry | None, attempt: ClaimAttempt, parts: tuple[ClaimPart, ...] = CLAIMABLE
) -> bool:
    """Whether a claim at ``attempt`` may take the file whose FILE item is ``entry`` (None: it has
    none), by one of ``parts``."""
    return any(part.holds(entry, attempt) for part in parts)


def claim_condition(attempt: ClaimAttempt, parts: tuple[ClaimPart, ...] = CLAIMABLE) -> Condition:
    """The ConditionExpression that lets a claim at ``attempt`` write when one of ``parts`` holds."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for part in parts:
        names.update(part.names)
        values.update(part.values(attempt))
    return Condition(" OR ".join(part.condition for part in parts), names, values)


def holds_the_claim(token: str) -> Condition:
    """The condition of every write after the claim: the item still carries this claim's token,
    so a worker that lost its lease cannot overwrite the outcome of the worker that took over."""
    return Condition("#claim_token = :claim_token", {"#claim_token": "claim_token"}, {":claim_token": token})


def content_free_or_owned_by(owner: str) -> Condition:
    """The condition of claiming a file's bytes for a table: nobody has, or ``owner`` (a file
    identity) already did."""
    return Condition("attribute_not_exists(pk) OR #file = :owner", {"#file": "file"}, {":owner": owner})


def content_owned_by(owner: str) -> Condition:
    """The condition of taking a content claim over from ``owner``: nobody else did meanwhile."""
    return Condition("#file = :owner", {"#file": "file"}, {":owner": owner})


def skipped_as_duplicate_of(owner: str) -> Condition:
    """The condition of reopening a file skipped for ``owner``'s bytes: it is still that skip."""
    return Condition(
        "#status = :skipped AND #duplicate_of = :owner",
        {"#status": "status", "#duplicate_of": "duplicate_of"},
        {":skipped": Status.SKIPPED_DUPLICATE.value, ":owner": owner},
    )


def owner_holds_content(owner_status: str | None) -> bool:
    """Whether the file owning a content claim keeps its bytes from being loaded again.

    A previous owner that failed or was skipped does not block: its bytes never reached the
    warehouse.
    """
    return owner_status in {Status.LOADED, Status.IN_PROGRESS}
