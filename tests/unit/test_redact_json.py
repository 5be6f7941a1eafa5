"""``privacy.redact_json_object``: the text-level redaction of NDJSON lines read whole by Arrow.

It parses only the objects on the redacted paths and writes the rest as the spans of text they
were, so each case is checked against ``privacy.redact`` on the fully parsed record: the same JSON
value, with the redacted values gone and every other value kept.
"""

from __future__ import annotations

import json

import msgspec
import pytest

from ingest.core.coerce.privacy import redact, redact_json_lines, redact_json_object, redact_tree

PATHS = [("payer_info", "email_address"), ("payer_info", "payer_name"), ("shipping_info",)]

CASES = {
    "paypal record": '{"transaction_info":{"transaction_id":"9XL"},"payer_info":{"account_id":"A1",'
    '"email_address":"joe@example.com","payer_name":{"given_name":"Joe"},"country_code":"IE"},'
    '"shipping_info":{"name":"Joe Bloggs","address":{"line1":"1 Main St"}},"cart_info":{}}',
    "spaces between tokens": '{ "payer_info" : { "email_address" : "a@b.co" , "x" : [1, 2] } ,'
    ' "shipping_info" : { } , "y" : { "z" : "t" } }',
    "path value not an object": '{"payer_info":"just text","shipping_info":null,"n":1}',
    "path value a list": '{"payer_info":[{"email_address":"a@b.co"}]}',
    "key written twice, last counts": '{"payer_info":{"email_address":"first@b.co"},'
    '"payer_info":{"email_address":"second@b.co","keep":1}}',
    "redacted key nested deeper is kept": '{"other":{"payer_info":{"email_address":"kept@b.co"}}}',
    "no redacted key at all": '{"a":{"b":{"c":[1,{"d":"e"}]}},"big":123456789012345678901234567890}',
    "unicode text": '{"payer_info":{"payer_name":"Zoë Ñúñez","note":"ünïcödé 日本"},"s":"€"}',
    "empty object": "{}",
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_same_json_as_redacting_the_parsed_record(text: str) -> None:
    kept = redact_json_object(text.encode(), redact_tree(PATHS))

    assert json.loads(kept) == redact(json.loads(text), PATHS)


def test_redacted_values_are_gone_from_the_text() -> None:
    kept = redact_json_object(CASES["paypal record"].encode(), redact_tree(PATHS)).decode()

    for gone in ("joe@example.com", "Joe", "Bloggs", "Main St", "email_address", "shipping_info"):
        assert gone not in kept
    assert '"account_id":"A1"' in kept and '"country_code":"IE"' in kept


def test_values_off_the_paths_keep_their_text() -> None:
    """Big integers are written as they were, not rounded through a float."""
    text = b'{"big":123456789012345678901234567890,"payer_info":{"email_address":"a@b.co","n":1.50}}'

    assert (
        redact_json_object(text, redact_tree(PATHS))
        == b'{"big":123456789012345678901234567890,"payer_info":{"n":1.50}}'
    )


def test_lines_are_written_one_after_another_with_their_offsets_and_blank_lines_hold_none() -> None:
    content = b'{"shipping_info":{"a":1},"b":2}\n\n  \r\n{"payer_info":{"payer_name":"x","k":[1, 2]}}\r\n'

    text, ends = redact_json_lines(content, redact_tree(PATHS))

    assert list(ends) == [0, 7, 7 + 27]
    assert bytes(text) == b'{"b":2}{"payer_info":{"k":[1, 2]}}'


def test_a_shorter_path_takes_the_whole_value() -> None:
    assert redact_tree([("a", "b"), ("a",), ("a", "c", "d")]) == {"a": None}
    assert redact_tree([("a", "b"), ("a", "c")]) == {"a": {"b": None, "c": None}}


@pytest.mark.parametrize("text", [b"[1, 2]", b'"text"', b"{", b'{"a":1} {"b":2}'])
def test_text_that_is_not_one_object_raises(text: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        redact_json_object(text, redact_tree(PATHS))


def test_tabs_between_tokens_crlf_ends_and_whitespace_lines_are_read_as_the_row_reader_counts() -> None:
    """A producer writing tabs around separators and CRLF line ends, with whitespace-only lines."""
    record = {"payer_info": {"email_address": "tab@example.org", "account_id": "A1"}, "n": 1}
    line = json.dumps(record, separators=(",\t", ":\t")).encode()
    content = line + b"\r\n   \t \r\n\r\n" + line + b"\r\n"

    text, ends = redact_json_lines(content, redact_tree(PATHS))

    assert len(ends) - 1 == 2
    first = bytes(text[ends[0] : ends[1]])
    assert json.loads(first) == {"payer_info": {"account_id": "A1"}, "n": 1}
    assert b"tab@example.org" not in bytes(text)
