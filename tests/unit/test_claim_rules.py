"""The claim rule: when a file's ledger item lets a delivery take it, and the DynamoDB conditions
built from the same parts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ingest.adapters.dynamodb.claim_rules import (
    CLAIMABLE,
    FAILED,
    LEASE_EXPIRED,
    NEVER_CLAIMED,
    REPLAYABLE,
    RETRYABLE_FAILURE,
    ClaimAttempt,
    ClaimPart,
    Condition,
    claim_condition,
    content_free_or_owned_by,
    content_owned_by,
    holds_the_claim,
    may_claim,
    owner_holds_content,
    skipped_as_duplicate_of,
)
from ingest.adapters.dynamodb.ledger import Ledger
from ingest.core.ledger_entry import LedgerEntry
from ingest.core.model import Claim, FileRef, Status

NOW = 1_800_000_000.25
MAX_ATTEMPTS = 5
ATTEMPT = ClaimAttempt(now=NOW, max_attempts=MAX_ATTEMPTS)
PARTS = [NEVER_CLAIMED, LEASE_EXPIRED, RETRYABLE_FAILURE, FAILED]


def file_item(status: Status, **fields: Any) -> LedgerEntry:
    return LedgerEntry.from_item(
        {"pk": "s3://lake/a.json#e1", "sk": "FILE", "status": status.value, **fields}
    )


def in_progress(lease_expires_at: int) -> LedgerEntry:
    return file_item(Status.IN_PROGRESS, attempts=1, lease_expires_at=lease_expires_at)


def failed(retryable: bool, attempts: int) -> LedgerEntry:
    return file_item(Status.FAILED, retryable=retryable, attempts=attempts, lease_expires_at=0)


def placeholders(expression: str) -> set[str]:
    return set(re.findall(r":\w+", expression))


def aliases(expression: str) -> set[str]:
    return set(re.findall(r"#\w+", expression))


# Each part on its own, at its boundary


def test_a_file_the_ledger_has_never_seen_is_never_claimed() -> None:
    assert NEVER_CLAIMED.holds(None, ATTEMPT)
    assert not NEVER_CLAIMED.holds(failed(retryable=True, attempts=1), ATTEMPT)


def test_a_lease_that_ran_out_a_second_ago_has_expired() -> None:
    assert LEASE_EXPIRED.holds(in_progress(lease_expires_at=int(NOW) - 1), ATTEMPT)


def test_a_lease_expiring_this_very_second_still_holds() -> None:
    # DynamoDB compares whole seconds: a lease ending at the current second is not yet over,
    # even a quarter second into it.
    assert not LEASE_EXPIRED.holds(in_progress(lease_expires_at=int(NOW)), ATTEMPT)
    assert not LEASE_EXPIRED.holds(in_progress(lease_expires_at=int(NOW) + 900), ATTEMPT)


def test_only_an_in_progress_claim_has_a_lease_to_expire() -> None:
    loaded_long_ago = file_item(Status.LOADED, attempts=1, lease_expires_at=0)

    assert not LEASE_EXPIRED.holds(loaded_long_ago, ATTEMPT)
    assert not LEASE_EXPIRED.holds(None, ATTEMPT)


def test_a_retryable_failure_with_attempts_left_may_be_retried() -> None:
    assert RETRYABLE_FAILURE.holds(failed(retryable=True, attempts=MAX_ATTEMPTS - 1), ATTEMPT)


def test_a_retryable_failure_that_used_every_attempt_may_not() -> None:
    assert not RETRYABLE_FAILURE.holds(failed(retryable=True, attempts=MAX_ATTEMPTS), ATTEMPT)


def test_a_failure_that_will_not_pass_is_not_retried() -> None:
    assert not RETRYABLE_FAILURE.holds(failed(retryable=False, attempts=1), ATTEMPT)


def test_a_failed_item_without_its_attempts_is_not_retried() -> None:
    # As in DynamoDB, a comparison with an attribute the item lacks is false.
    without_attempts = file_item(Status.FAILED, retryable=True)

    assert not RETRYABLE_FAILURE.holds(without_attempts, ATTEMPT)


def test_replay_takes_any_failure_and_nothing_else() -> None:
    assert FAILED.holds(failed(retryable=False, attempts=MAX_ATTEMPTS), ATTEMPT)
    assert not FAILED.holds(file_item(Status.LOADED), ATTEMPT)
    assert not FAILED.holds(None, ATTEMPT)


# The whole rule


@pytest.mark.parametrize(
    "entry",
    [
        file_item(Status.LOADED, attempts=1, lease_expires_at=0),
        file_item(Status.SKIPPED_DUPLICATE, attempts=1),
        file_item(Status.IGNORED),
        failed(retryable=False, attempts=1),
        failed(retryable=True, attempts=MAX_ATTEMPTS),
        in_progress(lease_expires_at=int(NOW)),
    ],
    ids=["loaded", "same-bytes", "ignored", "terminal-failure", "attempts-spent", "lease-held"],
)
def test_a_delivery_may_not_claim_a_file_that_is_done_or_held(entry: LedgerEntry) -> None:
    assert not may_claim(entry, ATTEMPT)


@pytest.mark.parametrize(
    "entry",
    [None, in_progress(lease_expires_at=int(NOW) - 1), failed(retryable=True, attempts=1)],
    ids=["never-seen", "lease-expired", "retryable-failure"],
)
def test_a_delivery_may_claim_a_new_abandoned_or_retryable_file(entry: LedgerEntry | None) -> None:
    assert may_claim(entry, ATTEMPT)


def test_replay_claims_a_spent_failure_but_not_a_new_file() -> None:
    spent = failed(retryable=True, attempts=MAX_ATTEMPTS)

    assert may_claim(spent, ATTEMPT, REPLAYABLE)
    assert not may_claim(None, ATTEMPT, REPLAYABLE)


def test_the_max_attempts_of_the_attempt_decide_the_retry() -> None:
    third_failure = failed(retryable=True, attempts=3)

    assert may_claim(third_failure, ClaimAttempt(NOW, max_attempts=4))
    assert not may_claim(third_failure, ClaimAttempt(NOW, max_attempts=3))


def test_owners_that_loaded_or_are_loading_keep_their_bytes() -> None:
    assert owner_holds_content(Status.LOADED)
    assert owner_holds_content(Status.IN_PROGRESS)
    assert not owner_holds_content(Status.FAILED)
    assert not owner_holds_content(Status.SKIPPED_DUPLICATE)
    assert not owner_holds_content(None)


# The DynamoDB side of the same parts


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_each_part_gives_a_value_for_exactly_the_placeholders_its_condition_uses(part: ClaimPart) -> None:
    assert set(part.values(ATTEMPT)) == placeholders(part.condition)
    assert set(part.names) == aliases(part.condition)


@pytest.mark.parametrize("parts", [CLAIMABLE, REPLAYABLE], ids=["claim", "replay"])
def test_the_claim_condition_names_exactly_what_it_uses(parts: tuple[ClaimPart, ...]) -> None:
    # DynamoDB refuses a request with a name or value its expressions do not use.
    condition = claim_condition(ATTEMPT, parts)

    assert set(condition.values) == placeholders(condition.expression)
    assert set(condition.names) == aliases(condition.expression)
    assert condition.expression == " OR ".join(part.condition for part in parts)


def test_the_claim_condition_compares_with_this_attempts_time_and_limit() -> None:
    values = claim_condition(ATTEMPT).values

    assert values[":now_epoch"] == int(NOW)
    assert values[":max_attempts"] == MAX_ATTEMPTS
    assert (values[":in_progress"], values[":failed"]) == (Status.IN_PROGRESS, Status.FAILED)


@pytest.mark.parametrize(
    "condition",
    [
        holds_the_claim("t0k3n"),
        content_free_or_owned_by("s3://lake/a#e1"),
        content_owned_by("s3://lake/a#e1"),
        skipped_as_duplicate_of("s3://lake/a#e1"),
    ],
    ids=["claim-token", "content-free-or-ours", "content-still-theirs", "still-a-skipped-copy"],
)
def test_the_later_write_conditions_name_exactly_what_they_use(condition: Condition) -> None:
    assert set(condition.values) == placeholders(condition.expression)
    assert set(condition.names) == aliases(condition.expression)


# The requests the ledger sends, with a client that only records them


class RecordingClient:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return {"Attributes": {"attempts": {"N": "2"}, "status": {"S": "FAILED"}}}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return {}


def assert_names_and_values_all_used(request: dict[str, Any]) -> None:
    used = request["UpdateExpression"] + " " + request["ConditionExpression"]
    assert set(request["ExpressionAttributeNames"]) == aliases(used)
    assert set(request["ExpressionAttributeValues"]) == placeholders(used)


@pytest.mark.parametrize("replay", [False, True], ids=["claim", "replay"])
def test_a_claim_request_names_exactly_what_its_expressions_use(replay: bool) -> None:
    client = RecordingClient()
    ledger = Ledger(client, "ledger")

    ledger.claim(FileRef.of("lake", "a.json", "e1", size=10), "payments", "raw.payments", replay=replay)

    update = client.requests[0]
    assert_names_and_values_all_used(update)
    expected = claim_condition(ATTEMPT, REPLAYABLE if replay else CLAIMABLE).expression
    assert update["ConditionExpression"] == expected


def test_an_outcome_request_is_conditional_on_the_claim_token() -> None:
    client = RecordingClient()
    ledger = Ledger(client, "ledger")
    claim = Claim(ref=FileRef.of("lake", "a.json", "e1"), token="t0k3n", attempt=1, started_at="2026-01-01")

    assert ledger.fail(claim, "SchemaError", "bad row", retryable=False, error_key="errors/a.json")

    (update,) = client.requests
    assert_names_and_values_all_used(update)
    assert update["ExpressionAttributeValues"][":claim_token"] == {"S": "t0k3n"}
