"""Typed errors name where a call failed and what the vendor said, and never leak a secret."""

from __future__ import annotations

import pickle

import pytest

from kb_pipeline.http import (
    ApiError,
    AuthError,
    MalformedResponseError,
    NotFoundError,
    PaginationError,
    ThrottledError,
    TransportError,
)


def test_message_names_stream_endpoint_status_code_and_request_id() -> None:
    error = AuthError(
        "invalid api key",
        source="qianfan",
        stream="qianfan.documents",
        endpoint="DescribeDocuments",
        http_status=401,
        code="UnauthorizedError",
        request_id="abc-123",
    )
    assert str(error) == (
        "qianfan.documents DescribeDocuments: HTTP 401 UnauthorizedError (request id abc-123): "
        "invalid api key"
    )
    assert repr(error) == f"AuthError({str(error)!r})"


def test_message_without_stream_or_status_names_the_source() -> None:
    error = TransportError("ConnectError: connection refused", source="vikingdb", endpoint="collection/list")
    error.attempts = 3
    assert str(error) == (
        "vikingdb collection/list: ConnectError: connection refused (gave up after 3 attempts)"
    )


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (ApiError, False),
        (AuthError, False),
        (NotFoundError, False),
        (PaginationError, False),
        (ThrottledError, True),
        (TransportError, True),
        (MalformedResponseError, True),
    ],
)
def test_default_retryability(kind: type[ApiError], retryable: bool) -> None:
    assert kind("x").retryable is retryable
    assert kind("x", retryable=not retryable).retryable is (not retryable)
    assert issubclass(kind, ApiError)


def test_long_vendor_messages_are_cut_and_flattened() -> None:
    error = ApiError("line one\n" + "x" * 5000)
    assert "\n" not in str(error)
    assert len(str(error)) < 600


def test_survives_pickling_with_its_fields() -> None:
    error = ThrottledError("slow down", source="pai_langstudio", http_status=429, retry_after_s=2.0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ThrottledError
    assert (str(copy), copy.retry_after_s, copy.retryable) == (str(error), 2.0, True)
