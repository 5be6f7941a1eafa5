"""Error bucket keys: ``failed/<bucket>/<key>`` and ``quarantine/...`` fitted to S3's 1,024 bytes."""

from __future__ import annotations

import hashlib

import pytest

from ingest.adapters.s3_lake import MAX_KEY_BYTES, failed_key, fitted_key, quarantine_key, sidecar_key
from ingest.core.model import FileRef

BUCKET = "acme-payments-lake"


def ref(key: str) -> FileRef:
    return FileRef.of(BUCKET, key, "etag")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize("key", ["payments/2021/07/01/orders.csv", "a/../b", "注文/€ 1.json", "x" * 960])
def test_a_key_that_fits_is_kept_as_it_is(key):
    assert failed_key(ref(key)) == f"failed/{BUCKET}/{key}"
    assert quarantine_key(ref(key)) == f"quarantine/{BUCKET}/{key}.rows.ndjson"


@pytest.mark.parametrize("character", ["x", "ä", "注", "😀"])  # one to four bytes of UTF-8
@pytest.mark.parametrize("length", [1013 - 27, 1000, MAX_KEY_BYTES])
def test_every_kept_key_and_its_sidecar_fit_within_1024_bytes(character, length):
    key = character * (length // utf8_len(character))

    for kept in (failed_key(ref(key)), quarantine_key(ref(key))):
        assert utf8_len(kept) <= MAX_KEY_BYTES
        assert utf8_len(sidecar_key(kept)) <= MAX_KEY_BYTES


@pytest.mark.parametrize("character", ["ä", "注", "😀"])
def test_a_long_key_keeps_a_readable_head_cut_between_characters(character):
    key = "payments/" + character * (1100 // utf8_len(character))

    kept = failed_key(ref(key))

    head, tilde, digest = kept.rpartition("~")
    assert tilde and digest == hashlib.sha256(f"failed/{BUCKET}/{key}".encode()).hexdigest()
    assert f"failed/{BUCKET}/{key}".startswith(head)  # whole characters only
    room = MAX_KEY_BYTES - len(".error.json") - len("~") - 64
    assert room - utf8_len(character) < utf8_len(head) <= room
    assert kept.encode("utf-8").decode("utf-8") == kept


def test_the_key_is_the_same_every_time():
    key = "payments/" + "注" * 400

    assert failed_key(ref(key)) == failed_key(ref(key))
    assert quarantine_key(ref(key)) == quarantine_key(FileRef.of(BUCKET, key, "another-etag"))


def test_long_keys_differing_only_in_their_tail_are_kept_apart():
    start = "payments/" + "注" * 400
    keys = [f"{start}/orders-1.csv", f"{start}/orders-2.csv", f"{start}/orders-1.csv "]

    for area_key in (failed_key, quarantine_key):
        kept = [area_key(ref(key)) for key in keys]
        assert len(set(kept)) == len(keys)
        assert len({k.rpartition("~")[0] for k in kept}) == 1  # same head, different digests


def test_the_same_key_in_two_buckets_is_kept_apart():
    key = "payments/" + "x" * 1000

    assert failed_key(FileRef.of("lake-a", key, "e")) != failed_key(FileRef.of("lake-b", key, "e"))


def test_a_short_key_shaped_like_a_fitted_one_is_fitted_too_and_cannot_take_its_place():
    long_key = "payments/" + "x" * 1000
    fitted = failed_key(ref(long_key))
    impostor = fitted.removeprefix(f"failed/{BUCKET}/")  # a lake key that short is legal

    assert failed_key(ref(impostor)) != fitted
    assert utf8_len(failed_key(ref(impostor))) <= MAX_KEY_BYTES


def test_quarantine_keys_keep_their_suffix_and_room_for_the_summary():
    key = "payments/" + "😀" * 250

    kept = quarantine_key(ref(key))

    assert kept.startswith(f"quarantine/{BUCKET}/payments/") and kept.endswith(".rows.ndjson")
    assert utf8_len(sidecar_key(kept)) <= MAX_KEY_BYTES
    assert fitted_key("quarantine", ref(key), ".rows.ndjson") == kept


def test_a_key_is_fitted_from_the_first_byte_its_sidecar_would_not_fit():
    start = f"failed/{BUCKET}/"
    longest = "x" * (MAX_KEY_BYTES - len(".error.json") - len(start))

    assert failed_key(ref(longest)) == start + longest
    assert "~" in failed_key(ref(longest + "x"))
