"""The normalization helpers: vendor times to UTC, human sizes to bytes, credentials out of URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kb_pipeline.normalize import (
    parse_size,
    redact_credentials,
    strip_credentials_in_text,
    strip_url_credentials,
    to_utc,
)

# The pre-signed URLs of the vendors' reference pages: VikingDB task/info and Qianfan DescribeDocuments.
TOS_URL = (
    "https://knowledgebase-video-boe.tos-cn-beijing.volces.com/USER_VIDEO_TEST/2100655893/112294/user_define/"
    "_sys_auto_gen_doc_id-6049498338074484299/_sys_auto_gen_doc_id-6049498338074484299.zip"
    "?X-Tos-Algorithm=TOS4-HMAC-SHA256"
    "&X-Tos-Credential=AKLTM2Y5OTg1OTMwNDEyNGQ1MjhjNzY5Y2EyODNjMGFjOTQ%2F20251215%2Fcn-beijing%2Ftos%2Frequest"
    "&X-Tos-Date=20251215T083624Z&X-Tos-Expires=900&X-Tos-SignedHeaders=host"
    "&X-Tos-Signature=9c6627ebab6138399a437c80e6b4bfc6098b3c84e20fe84741054d40fd4f3d2f"
)
BOS_URL = (
    "https://copilot-engine-bos.bj.bcebos.com/upload_files/549df68c-ff81-4768-a00f-1b34c713a59f/"
    "9523c796-191c-4add-8e.doc?authorization=bce-auth-v1%2FALTAKGa8m4qCUasgoljdEDAzLm%2F2025-04-29T15%3A10%3A17Z"
    "15fa494755a3152fa53c0f3895b4565a20fef8a718876bd968517054752ae6"
)


class TestToUtc:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (1717382344000, datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),  # Lingma: epoch milliseconds
            (1717382344123, datetime(2024, 6, 3, 2, 39, 4, 123000, tzinfo=UTC)),
            (1724747158, datetime(2024, 8, 27, 8, 25, 58, tzinfo=UTC)),  # VikingDB: epoch seconds
            (1724747158.5, datetime(2024, 8, 27, 8, 25, 58, 500000, tzinfo=UTC)),
            ("1724747158", datetime(2024, 8, 27, 8, 25, 58, tzinfo=UTC)),
            ("1717382344000", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),
            ("2024-06-03T02:39:04Z", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),  # Qianfan createdAt
            ("2024-06-03T10:39:04+08:00", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),
            ("2024-06-03T02:39:04.250Z", datetime(2024, 6, 3, 2, 39, 4, 250000, tzinfo=UTC)),
            ("2024-06-03T02:39:04", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),  # naive means UTC
            ("2024-06-03 02:39:04", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),
            ("2023-12-15T17:01:07Z", datetime(2023, 12, 15, 17, 1, 7, tzinfo=UTC)),
            (" 2024-06-03T02:39:04Z ", datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),
            (
                datetime(2024, 6, 3, 10, 39, 4, tzinfo=timezone(timedelta(hours=8))),
                datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC),
            ),
            (datetime(2024, 6, 3, 2, 39, 4), datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC)),
        ],
    )
    def test_values_become_aware_utc(self, value, expected) -> None:
        result = to_utc(value)
        assert result == expected
        assert result.utcoffset() == timedelta(0)

    @pytest.mark.parametrize("empty", [None, "", "   "])
    def test_nothing_gives_none(self, empty) -> None:
        assert to_utc(empty) is None

    @pytest.mark.parametrize("bad", ["yesterday", "2024-13-45T00:00:00Z", "12:00"])
    def test_unreadable_strings_raise_naming_the_value(self, bad) -> None:
        with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(")):
            to_utc(bad)

    @pytest.mark.parametrize("bad", [True, [1], {"t": 1}])
    def test_non_times_raise_type_error(self, bad) -> None:
        with pytest.raises(TypeError):
            to_utc(bad)

    def test_out_of_range_epoch_raises(self) -> None:
        with pytest.raises(ValueError, match="out of range"):
            to_utc(10**20)


class TestParseSize:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("0 B", 0),  # Lingma's empty knowledge base
            ("312 KB", 312 * 1024),
            ("1.5 MB", 1_572_864),
            ("2 GB", 2 * 1024**3),
            ("1.2 TB", round(1.2 * 1024**4)),
            ("1,024 B", 1024),
            ("10MB", 10 * 1024**2),
            ("1.5 MiB", 1_572_864),
            ("512 bytes", 512),
            ("3 k", 3072),
            ("7 kb", 7168),
            ("1 PB", 1024**5),
            (" 42 ", 42),
            (".5 KB", 512),
        ],
    )
    def test_human_strings_in_binary_units(self, text, expected) -> None:
        assert parse_size(text) == expected

    @pytest.mark.parametrize(
        ("value", "expected"), [(760872, 760872), (0, 0), (1024.0, 1024), (None, None), ("", None)]
    )
    def test_numbers_and_nothing(self, value, expected) -> None:
        assert parse_size(value) == expected

    @pytest.mark.parametrize("bad", ["lots", "12 XB", "1.2.3 MB", "MB", "-1 KB", "1 KB extra"])
    def test_unreadable_strings_raise_naming_the_value(self, bad) -> None:
        with pytest.raises(ValueError, match="cannot read a size") as raised:
            parse_size(bad)
        assert repr(bad) in str(raised.value)

    def test_negative_numbers_and_booleans_are_refused(self) -> None:
        with pytest.raises(ValueError):
            parse_size(-5)
        with pytest.raises(TypeError):
            parse_size(True)


class TestStripUrlCredentials:
    def test_tos_presigned_url_keeps_expiry_and_loses_signature_and_credential(self) -> None:
        stripped = strip_url_credentials(TOS_URL)
        assert "X-Tos-Signature" not in stripped and "X-Tos-Credential" not in stripped
        assert "AKLTM2Y5" not in stripped and "9c6627eb" not in stripped
        assert stripped == TOS_URL.split("?")[0] + (
            "?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Date=20251215T083624Z&X-Tos-Expires=900&X-Tos-SignedHeaders=host"
        )

    def test_bos_authorization_is_removed_with_the_now_empty_query(self) -> None:
        assert strip_url_credentials(BOS_URL) == BOS_URL.split("?")[0]

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            (
                "https://b.s3.amazonaws.com/k.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026"
                "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=abc",
                "https://b.s3.amazonaws.com/k.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z"
                "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host",
            ),
            (
                "https://b.oss-cn-hangzhou.aliyuncs.com/k.txt?Expires=1767225600&OSSAccessKeyId=LTAI5t&Signature=x%2By%3D",
                "https://b.oss-cn-hangzhou.aliyuncs.com/k.txt?Expires=1767225600",
            ),
            (
                "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Expires=1&Signature=s&x-amz-security-token=tok",
                "https://b.s3.amazonaws.com/k?Expires=1",
            ),
            ("https://h/p?accesskeyid=a&SIGNATURE=b&keep=1#frag", "https://h/p?keep=1#frag"),
            ("https://h/p?x-tos-signature=lower&X-TOS-CREDENTIAL=upper&v=2", "https://h/p?v=2"),
            ("https://user:secret@h/p?a=1", "https://h/p?a=1"),
        ],
    )
    def test_other_signing_schemes(self, url, expected) -> None:
        assert strip_url_credentials(url) == expected

    @pytest.mark.parametrize(
        "url",
        [
            "https://copilot-engine-bos.bj.bcebos.com/upload_files/a.doc",
            "https://example.com/search?q=signature+of+a+document&page=2",
            "https://example.com/path?sig=keep%20encoded&empty=&flag",
            "oss://bucket/file.txt",
            "not a url",
            "",
        ],
    )
    def test_urls_without_credentials_are_unchanged(self, url) -> None:
        assert strip_url_credentials(url) == url


class TestRedactCredentials:
    def test_walks_nested_records_and_returns_a_new_structure(self) -> None:
        record = {
            "code": 0,
            "data": {"status": "success", "percentage": 100, "attachment_link": TOS_URL},
            "items": [
                {"meta": {"url": BOS_URL, "fileSize": 760872, "tags": [{"key": "k", "values": ["v"]}]}}
            ],
            "note": f"download from {TOS_URL} today",
            "doc_meta": '[{"field_name": "link", "default_val": "' + BOS_URL + '"}]',
            "flags": (True, None, 1.5),
        }
        redacted = redact_credentials(record)
        assert redacted["data"]["attachment_link"] == strip_url_credentials(TOS_URL)
        assert redacted["items"][0]["meta"]["url"] == strip_url_credentials(BOS_URL)
        assert redacted["note"] == f"download from {strip_url_credentials(TOS_URL)} today"
        assert strip_url_credentials(BOS_URL) + '"}]' in redacted["doc_meta"]
        assert redacted["items"][0]["meta"]["tags"] == [{"key": "k", "values": ["v"]}]
        assert redacted["flags"] == (True, None, 1.5) and redacted["code"] == 0
        assert "X-Tos-Signature" in record["data"]["attachment_link"]  # the input is left as it was
        assert redacted is not record and redacted["data"] is not record["data"]

    def test_json_text_is_redacted_in_one_pass(self) -> None:
        text = '{"attachment_link":"' + TOS_URL + '","other":"https://h/p?Signature=s&a=1"}'
        assert strip_credentials_in_text(text) == (
            '{"attachment_link":"' + strip_url_credentials(TOS_URL) + '","other":"https://h/p?a=1"}'
        )
