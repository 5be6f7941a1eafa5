"""Which lake objects the native reader takes, and where it sends their requests."""

from __future__ import annotations

import pytest

from ingest.adapters.native_reads import WHOLE_READ_BYTES, may_read_natively, placement
from ingest.core.model import FileRef


def test_on_aws_the_bucket_goes_in_the_host_name_unless_it_has_dots() -> None:
    endpoint = "https://s3.eu-west-1.amazonaws.com"

    assert placement(endpoint, "eu-west-1", "payments-lake") == {
        "region": "eu-west-1",
        "virtual_hosted_style_request": True,
    }
    assert placement(endpoint, "eu-west-1", "payments.lake")["virtual_hosted_style_request"] is False
    assert "endpoint" not in placement("https://s3.cn-north-1.amazonaws.com.cn", "cn-north-1", "b")


def test_any_other_endpoint_gets_path_style_requests_to_that_endpoint() -> None:
    for endpoint in ("http://127.0.0.1:5000", "https://minio.internal:9000", "https://amazonaws.com.evil"):
        assert placement(endpoint, "us-east-1", "lake") == {
            "region": "us-east-1",
            "endpoint": endpoint,
            "virtual_hosted_style_request": False,
        }


@pytest.mark.parametrize(
    ("key", "size", "native"),
    [
        ("paypal/transactions/2021/07/01/page-0001.json", 145_000, True),
        ("a b/ü+%20#?.json", 10, True),
        ("paypal/transactions/page.json", WHOLE_READ_BYTES, True),
        ("paypal/transactions/page.json", WHOLE_READ_BYTES + 1, False),
        ("paypal/transactions/page.json", None, False),
        ("folder/", 10, False),
        ("/leading", 10, False),
        ("a//b", 10, False),
        ("a/./b", 10, False),
        ("a/../b", 10, False),
        (".", 10, False),
        ("tab\there", 10, False),
        ("del\x7fhere", 10, False),
        ("dir/.hidden", 10, True),
        ("dir/...", 10, True),
    ],
)
def test_only_small_objects_of_known_size_and_faithful_keys_are_read_natively(
    key: str, size: int | None, native: bool
) -> None:
    assert may_read_natively(FileRef.of("lake", key, "etag", size)) is native
