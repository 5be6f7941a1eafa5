"""Reading lake objects: format from content, records numbered, broken files named for what they are."""

from __future__ import annotations

import codecs
import gzip
import io
import json
from typing import IO

import pytest

from ingest.core.errors import EmptyFile, MalformedFile, UndecodableFile
from ingest.core.formats.decompress import PEEK_BYTES
from ingest.core.formats.detect import Detected
from ingest.core.formats.parsed_row import ParsedRow
from ingest.core.formats.reader import open_rows, read_rows


def read(data: bytes, pinned_format: str = "auto") -> tuple[Detected, list[ParsedRow]]:
    detected, rows = read_rows(io.BytesIO(data), pinned_format)
    return detected, list(rows)


def records(rows: list[ParsedRow]) -> list[dict | None]:
    return [row.record for row in rows]


def payment(number: int) -> dict:
    return {"transaction_id": number, "total_cost": f"{number}.99", "currency_code": "EUR"}


# ---------------------------------------------------------------- JSON shapes


def test_ndjson_is_read_one_record_per_line() -> None:
    data = b"".join(json.dumps(payment(n)).encode() + b"\n" for n in (1, 2, 3))

    detected, rows = read(data)

    assert detected.format == "ndjson"
    assert detected.compression is None
    assert [r.number for r in rows] == [1, 2, 3]
    assert records(rows) == [payment(1), payment(2), payment(3)]
    assert all(r.error is None for r in rows)


def test_ndjson_blank_lines_do_not_shift_row_numbers() -> None:
    data = b'{"id": 1}\n\n{"id": 2}\n   \n{"id": 3}'

    _, rows = read(data)

    assert [(r.number, r.record) for r in rows] == [(1, {"id": 1}), (2, {"id": 2}), (3, {"id": 3})]


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": 1}\n{"id": 2, "memo": "bad \\udc80 text"}\n{"id": 3, "memo": "\\ud83d\\ude00"}\n',
        b'{"id": 1}{"id": 2, "memo": "bad \\udc80 text"}{"id": 3, "memo": "\\ud83d\\ude00"}',
    ],
    ids=["ndjson", "concatenated"],
)
def test_a_lone_surrogate_escape_is_a_bad_row_kept_verbatim_and_a_pair_is_its_character(data: bytes) -> None:
    # json.loads leaves "\udc80" as a lone surrogate no UTF-8 writer can encode: it must not
    # reach Arrow or the quarantine file as text
    _, rows = read(data)

    assert [(r.number, r.record) for r in rows if r.record] == [(1, {"id": 1}), (3, {"id": 3, "memo": "😀"})]
    (bad,) = [r for r in rows if r.record is None]
    assert bad.number == 2
    assert "lone surrogate" in (bad.error or "")
    assert "\\udc80" in (bad.raw or "")
    (bad.raw or "").encode("utf-8")  # the quarantine line is writable


@pytest.mark.parametrize("limit", [10, 3 * PEEK_BYTES // 2, 4 * PEEK_BYTES])
def test_an_ndjson_file_is_kept_whole_only_within_the_limit_and_its_rows_read_either_way(limit: int) -> None:
    # Records straddle the 1 MB read steps; the file is a little over 2 MB
    lines = [json.dumps({"id": n, "pad": "x" * (n % 977)}).encode() for n in range(4_300)]
    data = b"\n".join(lines) + b"\n"

    opened = open_rows(io.BytesIO(gzip.compress(data)), keep_ndjson_bytes=limit)

    assert opened.content == (data if len(data) <= limit else None)
    assert [row.record for row in opened.rows] == [json.loads(line) for line in lines]


@pytest.mark.parametrize("limit", [10, 3 * PEEK_BYTES // 2, 4 * PEEK_BYTES])
def test_an_ndjson_file_already_in_memory_is_kept_whole_the_same_way(limit: int) -> None:
    # The native S3 read hands over a BytesIO; the file is taken from it whole, not streamed
    lines = [json.dumps({"id": n, "pad": "x" * (n % 977)}).encode() for n in range(4_300)]
    data = b"\n".join(lines) + b"\n"

    opened = open_rows(io.BytesIO(data), keep_ndjson_bytes=limit)

    assert opened.content == (data if len(data) <= limit else None)
    assert [row.record for row in opened.rows] == [json.loads(line) for line in lines]


def test_an_in_memory_file_is_read_from_where_the_stream_stands() -> None:
    stream = io.BytesIO(b"skipped\n" + b'{"id": 1}\n{"id": 2}\n')
    stream.seek(len(b"skipped\n"))

    opened = open_rows(stream, keep_ndjson_bytes=1 << 20)

    assert opened.content == b'{"id": 1}\n{"id": 2}\n'
    assert [row.record for row in opened.rows] == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "streamed"])
def test_a_nul_byte_past_the_head_fails_the_ndjson_file_naming_its_offset(in_memory: bool) -> None:
    # 2 MB of good lines, then a zero-filled block as a crash leaves; 6 bytes into that line
    good = b'{"id": 1, "pad": "' + b"x" * 100 + b'"}\n'
    data = good * (2 * PEEK_BYTES // len(good)) + b'{"id":\x00\x00\x00}\n'
    offset = data.index(b"\x00")
    stream: IO[bytes] = io.BytesIO(data) if in_memory else io.BufferedReader(io.BytesIO(data))

    with pytest.raises(UndecodableFile, match=f"NUL byte at byte {offset:,} of the text"):
        opened = open_rows(stream, keep_ndjson_bytes=4 * PEEK_BYTES)
        list(opened.rows)


def test_pretty_printed_json_array_is_read_element_by_element() -> None:
    data = json.dumps([payment(1), payment(2)], indent=2).encode()

    detected, rows = read(data)

    assert detected.format == "json_array"
    assert [(r.number, r.record) for r in rows] == [(1, payment(1)), (2, payment(2))]


def test_firehose_compact_objects_without_separator_are_read_one_record_each() -> None:
    data = b'{"id": 1, "note": "a}{b"}{"id": 2}{"id": 3}'

    detected, rows = read(data)

    assert detected.format == "json_concat"
    assert records(rows) == [{"id": 1, "note": "a}{b"}, {"id": 2}, {"id": 3}]
    assert [r.number for r in rows] == [1, 2, 3]


def test_firehose_pretty_printed_objects_without_separator_are_read_one_record_each() -> None:
    data = b"".join(json.dumps(payment(n), indent=2).encode() for n in (1, 2, 3))

    detected, rows = read(data)

    assert detected.format == "json_concat"
    assert records(rows) == [payment(1), payment(2), payment(3)]


def test_concatenated_objects_with_whitespace_between_are_read_one_record_each() -> None:
    data = b"".join(json.dumps(payment(n), indent=4).encode() + b"\n \t\r\n" for n in (1, 2))

    _, rows = read(data)

    assert records(rows) == [payment(1), payment(2)]


def test_compact_objects_on_one_line_followed_by_a_newline_are_read_one_record_each() -> None:
    _, rows = read(b'{"id": 1}{"id": 2}\n')

    assert records(rows) == [{"id": 1}, {"id": 2}]


def test_a_single_pretty_printed_object_is_one_record() -> None:
    data = json.dumps(payment(7), indent=2).encode() + b"\n"

    _, rows = read(data)

    assert [(r.number, r.record) for r in rows] == [(1, payment(7))]


def test_a_concatenated_record_larger_than_the_detection_window_still_parses() -> None:
    # GIVEN a record that starts before and ends after the first PEEK_BYTES of the file
    big = {"id": 2, "blob": "x" * (PEEK_BYTES + PEEK_BYTES // 2)}
    data = json.dumps({"id": 1}).encode() + json.dumps(big, indent=2).encode() + b'{"id": 3}'
    assert len(data) > PEEK_BYTES * 3 // 2

    # WHEN the file is read
    _, rows = read(data)

    # THEN the big record comes out whole, between its neighbours
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[1].record == big
    assert rows[2].record == {"id": 3}


# ---------------------------------------------------------------- CSV shapes


@pytest.mark.parametrize(
    ("delimiter", "data"),
    [
        (",", b"tax_code,vat_rate,name\nDE19,0.19,Germany standard\nFR20,0.20,France standard\n"),
        ("\t", b"tax_code\tvat_rate\tname\nDE19\t0.19\tGermany standard\nFR20\t0.20\tFrance standard\n"),
        (";", b"tax_code;vat_rate;name\nDE19;0.19;Germany standard\nFR20;0.20;France standard\n"),
        ("|", b"tax_code|vat_rate|name\nDE19|0.19|Germany standard\nFR20|0.20|France standard\n"),
    ],
    ids=["comma", "tab", "semicolon", "pipe"],
)
def test_csv_delimiter_is_sniffed_from_the_header(delimiter: str, data: bytes) -> None:
    detected, rows = read(data)

    assert detected.format == "csv"
    assert detected.delimiter == delimiter
    assert detected.header == ("tax_code", "vat_rate", "name")
    assert records(rows) == [
        {"tax_code": "DE19", "vat_rate": "0.19", "name": "Germany standard"},
        {"tax_code": "FR20", "vat_rate": "0.20", "name": "France standard"},
    ]


def test_semicolon_csv_keeps_decimal_commas_inside_values() -> None:
    _, rows = read(b"tax_code;vat_rate\nDE19;0,19\n")

    assert records(rows) == [{"tax_code": "DE19", "vat_rate": "0,19"}]


def test_quoted_newlines_stay_inside_the_csv_field_and_rows_are_counted_as_records() -> None:
    data = b'id,note\n1,"first line\nsecond line"\n2,plain\n'

    _, rows = read(data)

    assert [(r.number, r.record) for r in rows] == [
        (1, {"id": "1", "note": "first line\nsecond line"}),
        (2, {"id": "2", "note": "plain"}),
    ]


def test_crlf_line_endings_leave_no_carriage_returns_in_values() -> None:
    detected, rows = read(b"id,amount\r\n1,2.50\r\n2,3.75\r\n")

    assert detected.header == ("id", "amount")
    assert records(rows) == [{"id": "1", "amount": "2.50"}, {"id": "2", "amount": "3.75"}]


def test_utf8_bom_is_not_part_of_the_first_csv_column_name() -> None:
    detected, rows = read(codecs.BOM_UTF8 + "code,name\nDE,Deutschland é\n".encode())

    assert detected.encoding == "utf-8-sig"
    assert detected.header == ("code", "name")
    assert records(rows) == [{"code": "DE", "name": "Deutschland é"}]


@pytest.mark.parametrize(
    "body",
    [b'[{"id": 1}, {"id": 2}]', b'{"id": 1}\n{"id": 2}\n', b'{\n "id": 1\n}{\n "id": 2\n}'],
    ids=["array", "ndjson", "concatenated"],
)
def test_utf8_bom_before_json_is_skipped(body: bytes) -> None:
    detected, rows = read(codecs.BOM_UTF8 + body)

    assert detected.encoding == "utf-8-sig"
    assert records(rows) == [{"id": 1}, {"id": 2}]


def test_empty_trailing_header_column_of_exports_is_dropped() -> None:
    data = b"iso_2_code,tax_code,country_name,\nDE,DE19,Germany,\nFR,FR20,France,\n"

    detected, rows = read(data)

    assert detected.header == ("iso_2_code", "tax_code", "country_name")
    assert records(rows) == [
        {"iso_2_code": "DE", "tax_code": "DE19", "country_name": "Germany"},
        {"iso_2_code": "FR", "tax_code": "FR20", "country_name": "France"},
    ]
    assert all(r.error is None for r in rows)


def test_ragged_csv_rows_are_row_errors_naming_both_field_counts() -> None:
    data = b"id,amount\n1,2.00\n3\n4,5.00,extra\n6,7.00\n"

    _, rows = read(data)

    assert [r.number for r in rows] == [1, 2, 3, 4]
    assert rows[0].record == {"id": "1", "amount": "2.00"}
    assert rows[3].record == {"id": "6", "amount": "7.00"}
    short, long = rows[1], rows[2]
    assert short.record is None and long.record is None
    assert "1 fields" in short.error and "header has 2" in short.error
    assert "3 fields" in long.error and "header has 2" in long.error
    assert (short.raw, long.raw) == ("3", "4,5.00,extra")


def test_duplicate_csv_header_names_fail_the_file() -> None:
    with pytest.raises(MalformedFile, match="amount"):
        read(b"id,amount,amount\n1,2,3\n")


def test_csv_with_a_header_only_is_empty() -> None:
    with pytest.raises(EmptyFile):
        read(b"tax_code,vat_rate\r\n")


def test_pinned_format_overrides_content_detection() -> None:
    # A CSV export whose first header is bracketed would be sniffed as a JSON array.
    data = b"[code];[rate]\nDE19;0.19\n"
    with pytest.raises(MalformedFile):
        read(data)

    detected, rows = read(data, "csv")

    assert detected.format == "csv"
    assert detected.delimiter == ";"
    assert records(rows) == [{"[code]": "DE19", "[rate]": "0.19"}]


def test_pinned_json_concat_reads_ndjson_looking_content_as_concatenated_objects() -> None:
    detected, rows = read(b'{"id": 1}\n{"id": 2}\n', "json_concat")

    assert detected.format == "json_concat"
    assert records(rows) == [{"id": 1}, {"id": 2}]


# ---------------------------------------------------------------- compression


def test_gzip_is_detected_from_magic_bytes_without_a_file_extension() -> None:
    data = gzip.compress(b'{"id": 1}\n{"id": 2}\n')

    detected, rows = read(data)

    assert detected.compression == "gzip"
    assert detected.format == "ndjson"
    assert records(rows) == [{"id": 1}, {"id": 2}]


def test_gzipped_csv_is_parsed() -> None:
    detected, rows = read(gzip.compress(b"tax_code\tvat_rate\nDE19\t0.19\n"))

    assert (detected.compression, detected.format, detected.delimiter) == ("gzip", "csv", "\t")
    assert records(rows) == [{"tax_code": "DE19", "vat_rate": "0.19"}]


def test_gzip_members_back_to_back_are_read_as_one_stream() -> None:
    data = gzip.compress(b'{"id": 1}') + gzip.compress(b'{"id": 2}')

    _, rows = read(data)

    assert records(rows) == [{"id": 1}, {"id": 2}]


def test_truncated_gzip_is_undecodable() -> None:
    whole = gzip.compress(b"".join(json.dumps(payment(n)).encode() + b"\n" for n in range(2000)))

    with pytest.raises(UndecodableFile, match="gzip"):
        read(whole[: len(whole) // 2])


# ---------------------------------------------------------------- files with nothing in them


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" \r\n\t \n",
        codecs.BOM_UTF8,
        codecs.BOM_UTF8 + b"\n\n",
        gzip.compress(b""),
        gzip.compress(b"\n "),
    ],
    ids=["zero-bytes", "whitespace", "bom-only", "bom-and-newlines", "gzip-of-nothing", "gzip-of-whitespace"],
)
def test_files_without_data_are_empty(data: bytes) -> None:
    with pytest.raises(EmptyFile):
        read(data)


def test_empty_json_array_is_empty() -> None:
    with pytest.raises(EmptyFile):
        read(b"[\n]\n")


# ---------------------------------------------------------------- undecodable bytes


@pytest.mark.parametrize(
    "data",
    [
        "code,name\nDE,Zürich\n".encode("latin-1"),
        b"code,name\nDE,ok\n" + "FR,Besançon\n".encode("latin-1"),
        b'{"id": 1}\n{"id": 2, "city": "' + "Besançon".encode("latin-1") + b'"}\n',
        b'[{"id": 1}, {"city": "' + "Besançon".encode("latin-1") + b'"}]',
        b'{"id": 1}{"city": "' + "Besançon".encode("latin-1") + b'"}',
    ],
    ids=["csv-header", "csv-row", "ndjson", "json-array", "json-concat"],
)
def test_invalid_utf8_is_undecodable(data: bytes) -> None:
    with pytest.raises(UndecodableFile):
        read(data)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_as_excel_exports_it_is_decoded(encoding: str) -> None:
    text = "tax_code\tname\r\nDE19\tMehrwertsteuer 19 % — Köln\r\n"
    bom = {"utf-16": b"", "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding]

    detected, rows = read(bom + text.encode(encoding))

    assert (detected.format, detected.encoding, detected.delimiter) == ("csv", "utf-16", "\t")
    assert records(rows) == [{"tax_code": "DE19", "name": "Mehrwertsteuer 19 % — Köln"}]


def compress(plain: bytes, compression: str) -> bytes:
    if compression == "bzip2":
        import bz2

        return bz2.compress(plain)
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(plain)


@pytest.mark.parametrize("compression", ["bzip2", "zstd"])
def test_bzip2_and_zstd_are_detected_by_their_magic_bytes(compression: str) -> None:
    plain = b"".join(json.dumps(payment(n)).encode() + b"\n" for n in range(1, 4))
    data = compress(plain, compression)

    detected, rows = read(data)

    assert (detected.compression, detected.format) == (compression, "ndjson")
    assert [r["transaction_id"] for r in records(rows)] == [1, 2, 3]


@pytest.mark.parametrize("compression", ["bzip2", "zstd"])
def test_truncated_bzip2_and_zstd_are_undecodable(compression: str) -> None:
    plain = b"".join(json.dumps(payment(n)).encode() + b"\n" for n in range(1, 2000))
    data = compress(plain, compression)

    with pytest.raises(UndecodableFile, match=compression):
        read(data[: len(data) // 2])


def test_parquet_is_detected_by_its_magic_and_read_row_by_row() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"transaction_id": [1, 2, 3], "currency_code": ["EUR", "USD", None]}), buffer)

    detected, rows = read(buffer.getvalue())

    assert detected.format == "parquet"
    assert [r.number for r in rows] == [1, 2, 3]
    assert records(rows)[2] == {"transaction_id": 3, "currency_code": None}


def test_a_corrupt_parquet_file_is_malformed() -> None:
    with pytest.raises(MalformedFile, match="Parquet"):
        read(b"PAR1" + b"not really parquet" * 10)


def test_a_deeply_nested_ndjson_line_is_a_row_error() -> None:
    depth = 100_000
    deep = b'{"a":' * depth + b"1" + b"}" * depth
    data = json.dumps(payment(1)).encode() + b"\n" + deep + b"\n" + json.dumps(payment(3)).encode() + b"\n"

    _, rows = read(data)

    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[1].record is None and "nests deeper than 32 levels" in (rows[1].error or "")
    assert rows[1].raw == deep.decode()  # kept whole in quarantine


def test_binary_garbage_with_nul_bytes_is_undecodable() -> None:
    # The start of a zip archive: printable magic, then NUL bytes.
    data = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4

    with pytest.raises(UndecodableFile):
        read(data)


# ---------------------------------------------------------------- broken structure


def test_truncated_json_array_is_malformed() -> None:
    data = json.dumps([payment(1), payment(2)], indent=2).encode()[:-20]

    with pytest.raises(MalformedFile):
        read(data)


def test_trailing_comma_in_json_array_is_malformed() -> None:
    with pytest.raises(MalformedFile):
        read(b'[{"id": 1}, {"id": 2},]')


def test_truncated_last_concatenated_object_is_malformed() -> None:
    with pytest.raises(MalformedFile, match="record 2"):
        read(b'{"id": 1}{"id": ')


def test_one_bad_ndjson_line_is_a_row_error_and_the_others_keep_their_numbers() -> None:
    data = b'{"id": 1}\n{"id": 2,\n{"id": 3}\n{"id": 4}\n'

    _, rows = read(data)

    assert [r.number for r in rows] == [1, 2, 3, 4]
    assert records(rows) == [{"id": 1}, None, {"id": 3}, {"id": 4}]
    bad = rows[1]
    assert bad.error is not None and "not valid JSON" in bad.error
    assert bad.raw == '{"id": 2,'


def test_ndjson_line_that_is_not_an_object_is_a_row_error_with_its_text() -> None:
    _, rows = read(b'{"id": 1}\n[1, 2]\n{"id": 3}\n')

    assert records(rows) == [{"id": 1}, None, {"id": 3}]
    assert "not an object" in rows[1].error
    assert rows[1].raw == "[1, 2]"


def test_non_objects_in_a_json_array_are_row_errors() -> None:
    data = b'[{"id": 1}, 2, "text", null, [3], {"id": 6}]'

    _, rows = read(data)

    assert [r.number for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].record == {"id": 1} and rows[5].record == {"id": 6}
    for row in rows[1:5]:
        assert row.record is None
        assert "not an object" in row.error
    assert [r.raw for r in rows[1:5]] == ["2", '"text"', "null", "[3]"]


def test_a_broken_first_ndjson_line_is_a_row_error_not_a_failed_file() -> None:
    data = b'{"id": 1, "amount": \n' + b"".join(json.dumps(payment(n)).encode() + b"\n" for n in (2, 3))

    detected, rows = read(data)

    assert detected.format == "ndjson"
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[0].record is None and rows[0].raw == '{"id": 1, "amount": '
    assert [r["transaction_id"] for r in records(rows)[1:]] == [2, 3]


def test_an_unnamed_column_inside_the_header_does_not_misalign_the_rows() -> None:
    # Accounting's tax export: an empty third header name, and data rows that skip it.
    data = b"country_name\ttax_code\t\tvat_rate\tname\r\nAUSTRIA\tT40\t0.2\tMOSS - Austria - 20%\r\n"

    detected, rows = read(data)

    assert detected.header == ("country_name", "tax_code", "vat_rate", "name")
    assert records(rows) == [
        {"country_name": "AUSTRIA", "tax_code": "T40", "vat_rate": "0.2", "name": "MOSS - Austria - 20%"}
    ]


def test_values_under_an_unnamed_header_column_are_kept_under_its_position() -> None:
    _, rows = read(b"a,,b\n1,x,2\n3,,4\n")

    assert records(rows) == [{"a": "1", "column_2": "x", "b": "2"}, {"a": "3", "b": "4"}]
