"""Emails and phone numbers inside free text are masked before storage; nothing else is touched.

The masker is conservative on purpose: ids, amounts, dates and timestamps are never changed, so
only text shaped like an email address or an international (or North American) phone number
goes. Both readers mask through the same functions; the Arrow hint that picks which texts go
through Python must agree with Python's own.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ingest.apps.tools.masking import mask_record
from ingest.core.coerce.privacy import (
    CONTACT_HINT,
    CONTACT_HINTS,
    EMAIL_PSEUDONYM_HEX,
    mask_free_text,
    mask_json_text,
    pseudonym,
)
from ingest.core.coerce.rows import RecordCoercer, masked_texts
from ingest.core.config import parse_pipeline
from ingest.core.errors import ConfigError
from ingest.core.formats.parsed_row import ParsedRow

KEY = b"pseudonym-key-of-the-tests"


def marker(email: str) -> str:
    return f"[email:{pseudonym(KEY, email)[:EMAIL_PSEUDONYM_HEX]}]"


# ---------------------------------------------------------------- what is masked

EMAILS = {
    "jane.roe@example.com": "[email]",
    "Gift from Jane Roe <jane.roe@example.com>": "Gift from Jane Roe <[email]>",
    "mailto:JANE.ROE@EXAMPLE.COM.": "mailto:[email].",
    "jane+gems@mail.example.co.uk, bob_1@x-y.io": "[email], [email]",
    "José.Müller@exämple.de": "[email]",
    '"jane@example.com"': '"[email]"',
    "line\njane@example.com\ttab": "line\n[email]\ttab",
}
PHONES = {
    "call +44 20 7946 0958": "call [phone]",
    "+1 (555) 123-4567": "[phone]",
    "(555) 123-4567": "[phone]",
    "US: (555)123-4567!": "US: [phone]!",
    "+44 (0)20 7946 0958 after 6pm": "[phone] after 6pm",
    "+33.1.23.45.67.89": "[phone]",
    "+49-151-1234-5678": "[phone]",
    "tel:+4915112345678": "tel:[phone]",
    "+44 20 7946 0958 - 2 items": "[phone] - 2 items",
}


@pytest.mark.parametrize(("text", "masked"), {**EMAILS, **PHONES}.items())
def test_emails_and_phones_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_free_text(text) == masked


def test_with_a_key_an_email_keeps_twelve_hex_digits_of_the_payers_pseudonym() -> None:
    masked = mask_free_text("From Jane.Roe@Example.com, +44 20 7946 0958", KEY)

    assert masked == f"From {marker('jane.roe@example.com')}, [phone]"
    # The same HMAC as a pseudonymised email column, normalised alike: the note joins the payer.
    kept = re.search(r"\[email:([0-9a-f]+)\]", masked)
    assert kept and len(kept[1]) == EMAIL_PSEUDONYM_HEX
    assert pseudonym(KEY, " jane.roe@example.com ").startswith(kept[1])
    assert mask_free_text("a@b.org", KEY) != mask_free_text("c@b.org", KEY)


def test_masking_is_idempotent_and_markers_hold_nothing_json_escapes() -> None:
    text = "jane@example.com or +44 20 7946 0958 or (555) 123-4567"
    for key in (None, KEY):
        once = mask_free_text(text, key)
        assert mask_free_text(once, key) == once
        assert json.dumps(once)[1:-1] == once


# ---------------------------------------------------------------- what is never touched

UNTOUCHED = [
    "2021-07-01T10:00:00",
    "2021-07-01T10:00:00Z",
    "2021-07-01T10:00:00+0000",
    "2021-07-01T10:00:00+05:30",
    "2021-07-01T10:00:00.123456789+00:00",
    "2021-07-01 10:00:00 +0000",
    "Thu, 01 Jul 2021 10:02:41 +0000",
    "Thu Jul 01 10:00:00 +1000 2021",
    "Thu Jul 01 10:00:00 +0000 2021",
    "2021-07-01",
    "20210701T100241Z",
    "1,234.56",
    "-0.88",
    "+12.50",
    "+1234567.89",
    "(1,234.56)",
    "(123.45)",
    "1234567890123",
    "5TY05013RG002845M",
    "8AA00000000000001",
    "INV-2021-000123",
    "Gem Pack (ID: #502)",
    "user:12345",
    "@jane",
    "jane@localhost",
    "jane at example dot com",
    "+44 20",
    "+0044 20 7946 0958",
    "ID+123456789",
    "5+12345678",
    "555-123-4567",
    "07946 095800",
    "P00012345WXYZ",
    "T0006",
    "",
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ids_amounts_dates_and_timestamps_are_never_touched(text: str) -> None:
    assert mask_free_text(text) == text
    assert mask_free_text(text, KEY) == text


def test_a_long_run_without_an_address_stays_linear() -> None:
    # Tried from every character, the email pattern would be quadratic in the run's length.
    hostile = ["a" * 200_000 + "@", "a" * 200_000 + "@b" + ".c" * 50_000, "+1" + " 2" * 100_000 + "x"]
    started = time.perf_counter()
    for text in hostile:
        mask_free_text(text, KEY)
    assert time.perf_counter() - started < 2


# ---------------------------------------------------------------- kept JSON


# Compact, as written by the row reader; and as nested values of ``_raw`` keep a producer's
# spacing, with spaces after and before the colon.
@pytest.mark.parametrize(
    "separators", [(",", ":"), (", ", ": "), (" , ", " : ")], ids=["compact", "spaced", "spaced both sides"]
)
def test_every_string_value_of_kept_json_is_masked_and_keys_and_numbers_are_not(
    separators: tuple[str, str],
) -> None:
    record = {
        "transaction_info": {
            "custom_field": "Jane <jane@example.com>",
            "transaction_note": 'Call "me" \\ on\n+44 20 7946 0958',
            "transaction_initiation_date": "2021-07-01T10:00:00+0000",
        },
        "jane@example.com": "a key is a field name, not data",
        "numbers": [1, 22345678901, "+44 20 7946 0958"],
        "nested": {"list": [{"note": "(555) 123-4567"}], "ok": True},
    }
    text = json.dumps(record, separators=separators, ensure_ascii=False)

    masked = json.loads(mask_json_text(text, KEY))

    info = masked["transaction_info"]
    assert info["custom_field"] == f"Jane <{marker('jane@example.com')}>"
    assert info["transaction_note"] == 'Call "me" \\ on\n[phone]'
    assert info["transaction_initiation_date"] == "2021-07-01T10:00:00+0000"
    assert masked["jane@example.com"] == record["jane@example.com"]
    assert masked["numbers"] == [1, 22345678901, "[phone]"]
    assert masked["nested"] == {"list": [{"note": "[phone]"}], "ok": True}


def test_an_escape_next_to_an_address_is_never_cut() -> None:
    for value in ("x\njane@example.com", "x\u0001jane@example.com", 'x\\"jane@example.com"', "\\u0040@a.org"):
        text = json.dumps({"note": value}, separators=(",", ":"), ensure_ascii=False)

        masked = json.loads(mask_json_text(text))  # still JSON

        assert masked["note"] == mask_free_text(value)


def test_json_without_contact_details_comes_back_as_the_same_text() -> None:
    text = '{"transaction_subject":"Gem Pack (ID: #502)","at":"2021-07-01T10:00:00+0000","n":1e+30}'
    assert mask_json_text(text, KEY) is text


# ---------------------------------------------------------------- the Arrow hint agrees with Python's


HINT_SAMPLES = [
    *EMAILS,
    *PHONES,
    *UNTOUCHED,
    "+1234567",
    "+12345678",
    "+1 2 3 4 5 6 7 8",
    "(12) 345",
    "(123)",
    "@",
    "é@ü",
    "+١٢٣٤٥٦٧٨٩",  # Arabic-Indic digits: neither engine calls them [0-9]
    "(５５５) 123-4567",
]


def test_arrow_regex_engine_and_python_pick_the_same_texts() -> None:
    """Python tests the hint as one regex; Arrow (``masked_texts``) each alternative on its own."""
    python = [re.search(CONTACT_HINT, text) is not None for text in HINT_SAMPLES]
    samples = pa.array(HINT_SAMPLES)
    arrow = [pc.match_substring_regex(samples, hint).to_pylist() for hint in CONTACT_HINTS]
    assert [any(found) for found in zip(*arrow, strict=True)] == python
    assert any(python) and not all(python)


def test_masked_texts_is_the_mask_applied_to_every_value() -> None:
    values = pa.array([*HINT_SAMPLES, None, "plain"], pa.string())

    masked = masked_texts(values, lambda text: mask_free_text(text, KEY))

    assert masked.to_pylist() == [None if v is None else mask_free_text(v, KEY) for v in values.to_pylist()]
    clean = pa.array(["a", None, "2021-07-01T10:00:00+0000"])
    assert masked_texts(clean, lambda text: "changed") is clean  # nothing to mask: no Python pass


# ---------------------------------------------------------------- pipelines and the row coercer


def pipeline(*columns: dict[str, Any], **options: Any) -> Any:
    raw = {
        "name": "notes",
        "key_pattern": "^notes/",
        "table": "raw.notes",
        "business_key": ["id"],
        "columns": [{"name": "id", "type": "STRING", "mode": "REQUIRED"}, *columns],
        **options,
    }
    return parse_pipeline(raw, "notes.yaml")


def test_a_free_text_column_is_masked_and_unknown_fields_in_extra_too() -> None:
    notes = pipeline(
        {"name": "note", "type": "STRING", "free_text": True},
        {"name": "invoice_id", "type": "STRING"},
        {"name": "email_hash", "type": "STRING", "source": "email", "pseudonymise": True},
    )
    records = [
        {
            "id": "5TY05013RG002845M",
            "note": "ring +44 20 7946 0958",
            "invoice_id": "INV-1",
            "email": "j@x.org",
        },
        {"id": "2", "note": "mail J@X.org", "memo": ["x", {"to": "(555) 123-4567"}], "email": "j@x.org"},
        {"id": "3", "note": 42, "memo": "2021-07-01T10:00:00+0000"},
    ]
    rows = [ParsedRow(number, record) for number, record in enumerate(records, 1)]

    coerced = RecordCoercer(notes, empty_is_null=False, pseudonym_key=KEY).coerce(rows).columns

    assert coerced["id"] == ["5TY05013RG002845M", "2", "3"]
    assert coerced["note"] == ["ring [phone]", f"mail {marker('j@x.org')}", "42"]
    assert coerced["invoice_id"] == ["INV-1", None, None]
    assert coerced["note"][1] == f"mail [email:{coerced['email_hash'][1][:EMAIL_PSEUDONYM_HEX]}]"  # the join
    extras = [None if text is None else json.loads(text) for text in coerced["_extra"]]
    assert extras == [None, {"memo": ["x", {"to": "[phone]"}]}, {"memo": "2021-07-01T10:00:00+0000"}]


def test_without_a_key_an_email_becomes_a_plain_marker() -> None:
    notes = pipeline({"name": "note", "type": "STRING", "free_text": True})
    rows = [ParsedRow(1, {"id": "1", "note": "jane@example.com", "extra": "bob@example.com"})]

    coerced = RecordCoercer(notes, empty_is_null=False).coerce(rows).columns

    assert coerced["note"] == ["[email]"]
    assert json.loads(coerced["_extra"][0]) == {"extra": "[email]"}


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "note", "type": "INT64", "free_text": True},
        {"name": "note", "type": "STRING", "free_text": True, "pseudonymise": True},
        {
            "name": "items",
            "type": "RECORD",
            "fields": [{"name": "note", "type": "STRING", "free_text": True}],
        },
    ],
    ids=["not-text", "pseudonymised", "record-field"],
)
def test_free_text_is_refused_where_it_cannot_apply(spec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="free_text"):
        pipeline(spec)


def test_paypals_custom_field_is_declared_free_text() -> None:
    from ingest.core.config import load_pipelines
    from ingest.core.settings import PACKAGE_DIR

    paypal = next(p for p in load_pipelines(PACKAGE_DIR / "pipelines") if p.name == "paypal_transactions")
    assert [c.name for c in paypal.columns if c.free_text] == ["custom_field"]


# ---------------------------------------------------------------- inspect's sample


def test_inspect_sample_masks_free_text_and_leaves_the_rest() -> None:
    record = {
        "transaction_info": {
            "transaction_id": "5TY05013RG002845M",
            "custom_field": "Gift from Jane Roe <jane.roe@example.com>, call +44 20 7946 0958",
            "transaction_initiation_date": "2021-07-01T10:00:00+0000",
        },
        "notes": ["(555) 123-4567", 7],
        "payer_email": "jane.roe@example.com",
    }

    shown = mask_record(record)

    assert shown["transaction_info"] == {
        "transaction_id": "5TY05013RG002845M",
        "custom_field": "Gift from Jane Roe <[email]>, call [phone]",
        "transaction_initiation_date": "2021-07-01T10:00:00+0000",
    }
    assert shown["notes"] == ["[phone]", 7]
    assert shown["payer_email"] == "j***@example.com"  # whole email fields: masked as before
