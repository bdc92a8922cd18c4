"""VendorClient: what is retried and what is not, how long it waits, what it counts, and that
every attempt is signed afresh.

Answers come from an in-process transport; tests/http/test_vendor_client_real_server.py covers a real socket.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import pytest
from tenacity import Future, RetryCallState

from kb_pipeline.auth import Acs3Signer, BearerSigner
from kb_pipeline.http import (
    ApiError,
    AuthError,
    ErrorInfo,
    MalformedResponseError,
    NotFoundError,
    RetryPolicy,
    ThrottledError,
    TransportError,
    http_error_parser,
    parse_retry_after,
)

pytestmark = pytest.mark.anyio


def answers(*responses):
    """A handler that plays `responses` in order (an exception instance is raised), recording requests."""
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    handle.seen = seen
    return handle


def ok(body=None, **kwargs) -> httpx.Response:
    return httpx.Response(200, json={"data": [1], "requestId": "r-ok"} if body is None else body, **kwargs)


async def call(client, **overrides):
    kwargs = {
        "stream": "qianfan.documents",
        "endpoint": "DescribeDocuments",
        "method": "POST",
        "path": "/v2/kb",
    }
    return await client.call(**(kwargs | overrides))


async def test_5xx_dropped_connection_and_timeout_are_retried_until_success(vendor_client) -> None:
    handler = answers(
        httpx.Response(503, json={"code": "ServiceUnavailable"}),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        ok(),
    )
    client = vendor_client(handler)
    response = await call(client)
    assert (response.status, response.body["data"], response.request_id) == (200, [1], "r-ok")
    assert len(handler.seen) == 4
    assert (client.stats.requests, client.stats.retries, client.stats.errors) == (4, 3, 0)


@pytest.mark.parametrize(
    ("status", "kind"), [(401, AuthError), (403, AuthError), (404, NotFoundError), (400, ApiError)]
)
async def test_client_errors_raise_at_once(vendor_client, status: int, kind: type[ApiError]) -> None:
    handler = answers(httpx.Response(status, json={"code": "Nope", "message": "refused", "requestId": "r-1"}))
    client = vendor_client(handler)
    with pytest.raises(kind) as raised:
        await call(client)
    assert type(raised.value) is kind
    assert len(handler.seen) == 1
    assert raised.value.retryable is False
    assert (
        str(raised.value)
        == f"qianfan.documents DescribeDocuments: HTTP {status} Nope (request id r-1): refused"
    )
    assert (client.stats.requests, client.stats.errors) == (1, 1)


async def test_gives_up_after_max_attempts_with_the_last_error(vendor_client) -> None:
    handler = answers(httpx.Response(502, text="<html>bad gateway</html>"))
    client = vendor_client(
        handler, retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.01)
    )
    with pytest.raises(ApiError) as raised:
        await call(client)
    assert len(handler.seen) == 3
    assert raised.value.http_status == 502 and raised.value.attempts == 3
    assert str(raised.value).endswith("(gave up after 3 attempts)")
    assert (client.stats.requests, client.stats.retries, client.stats.errors) == (3, 2, 1)


async def test_truncated_json_is_retried(vendor_client) -> None:
    handler = answers(httpx.Response(200, content=b'{"data": [1, 2'), ok())
    client = vendor_client(handler)
    assert (await call(client)).body["data"] == [1]
    assert len(handler.seen) == 2


async def test_non_json_success_is_an_error_unless_the_call_says_otherwise(vendor_client) -> None:
    handler = answers(httpx.Response(200, text="pong", headers={"content-type": "text/plain"}))
    client = vendor_client(handler, retry=RetryPolicy(max_attempts=2, initial_backoff_s=0.001))
    with pytest.raises(MalformedResponseError, match=r"not JSON .*text/plain"):
        await call(client)
    assert len(handler.seen) == 2
    assert (await call(client, expect_json=False)).body == "pong"


async def test_vendor_parser_reads_an_error_inside_a_200_body(vendor_client) -> None:
    """VikingDB-style: HTTP 200 or 400 with a `code`; 1000029 means throttled."""

    def parse(response: httpx.Response, body) -> ErrorInfo | None:
        if isinstance(body, dict) and body.get("code", 0) != 0:
            throttled = body["code"] == 1000029
            return ErrorInfo(
                str(body["code"]), body.get("message"), body.get("request_id"), throttled, None, throttled
            )
        return None

    handler = answers(
        httpx.Response(200, json={"code": 1000029, "message": "quota", "request_id": "q-1"}),
        httpx.Response(200, json={"code": 0, "data": {"x": 1}, "request_id": "q-2"}),
    )
    client = vendor_client(handler, parse_error=parse)
    response = await call(client)
    assert (response.body["data"], response.request_id) == ({"x": 1}, "q-2")
    assert (client.stats.throttled, client.stats.retries) == (1, 1)

    client = vendor_client(
        answers(
            httpx.Response(400, json={"code": 1000003, "message": "invalid request", "request_id": "q-3"})
        ),
        parse_error=parse,
    )
    with pytest.raises(ApiError, match=r"HTTP 400 1000003 \(request id q-3\): invalid request"):
        await call(client)


async def test_retry_after_is_honoured(vendor_client) -> None:
    """PAI-style: a retry-after header signals throttling whatever the status."""

    def parse(response: httpx.Response, body) -> ErrorInfo | None:
        wait = response.headers.get("x-acs-retry-after")
        if wait:
            return ErrorInfo("Throttling", "slow down", None, True, float(wait), True)
        return None

    handler = answers(httpx.Response(200, json={}, headers={"x-acs-retry-after": "0.3"}), ok())
    client = vendor_client(handler, parse_error=parse)
    started = time.monotonic()
    await call(client)
    assert time.monotonic() - started >= 0.3
    assert client.stats.throttled == 1


async def test_a_retry_after_past_the_time_budget_gives_up_at_once(vendor_client) -> None:
    handler = answers(httpx.Response(429, json={"message": "too many"}, headers={"Retry-After": "30"}))
    client = vendor_client(handler, retry=RetryPolicy(max_attempts=5, max_total_s=2.0))
    started = time.monotonic()
    with pytest.raises(ThrottledError) as raised:
        await call(client)
    assert time.monotonic() - started < 1.0
    assert len(handler.seen) == 1
    assert raised.value.retry_after_s == 30.0


async def test_total_time_bounds_the_retries(vendor_client) -> None:
    handler = answers(httpx.Response(503))
    policy = RetryPolicy(max_attempts=10_000, initial_backoff_s=0.02, max_backoff_s=0.05, max_total_s=0.5)
    client = vendor_client(handler, retry=policy)
    started = time.monotonic()
    with pytest.raises(ApiError):
        await call(client)
    elapsed = time.monotonic() - started
    assert 0.3 < elapsed < 1.0
    assert 3 < len(handler.seen) < 10_000


def test_backoff_is_exponential_with_full_jitter_and_yields_to_retry_after() -> None:
    policy = RetryPolicy(initial_backoff_s=0.2, max_backoff_s=1.0)
    retrying = policy.retrying()

    def waits(attempt: int, error: ApiError) -> list[float]:
        state = RetryCallState(retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.outcome = Future.construct(attempt, error, True)
        return [retrying.wait(state) for _ in range(400)]

    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (6, 1.0)]:
        drawn = waits(attempt, ApiError("x", retryable=True))
        assert all(0 <= wait <= ceiling for wait in drawn)
        assert min(drawn) < ceiling * 0.1 and max(drawn) > ceiling * 0.9
    assert set(waits(2, ThrottledError("x", retry_after_s=3.0))) == {3.0}


async def test_every_attempt_is_signed_afresh(vendor_client) -> None:
    ticks = itertools.count()
    signer = Acs3Signer(
        "AKIDEXAMPLE",
        "SECRETEXAMPLE",
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks)),
    )
    handler = answers(httpx.Response(500), httpx.ReadError("reset"), httpx.Response(503), ok())
    client = vendor_client(handler, signer=signer, headers={"x-acs-action": "ListKnowledgeBases"})
    await call(client, method="GET", path="/api/v1/langstudio/knowledgebases", json=None)
    headers = [request.headers for request in handler.seen]
    for name in ("x-acs-signature-nonce", "x-acs-date", "authorization"):
        values = [h[name] for h in headers]
        assert len(set(values)) == len(values) == 4, name
    assert all(len(h.get_list("authorization")) == 1 for h in headers)


async def test_request_building(vendor_client) -> None:
    handler = answers(ok())
    client = vendor_client(handler, headers={"accept": "application/json", "x-vendor": "a"})
    await call(
        client,
        path="/v2/knowledgeBase?Action=DescribeDocuments",
        params={"keyword": "a b", "marker": None},
        json={"knowledgeBaseId": "kb-1", "名": "知识"},
        headers={"x-vendor": "b"},
    )
    (request,) = handler.seen
    assert request.url.path == "/v2/knowledgeBase"
    assert dict(request.url.params) == {"Action": "DescribeDocuments", "keyword": "a b"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-vendor"] == "b" and request.headers["accept"] == "application/json"
    assert orjson.loads(request.content) == {"knowledgeBaseId": "kb-1", "名": "知识"}
    assert request.headers["authorization"] == "Bearer test-key"


async def test_request_id_from_header_when_the_body_has_none(vendor_client) -> None:
    client = vendor_client(answers(httpx.Response(200, json={"data": []}, headers={"x-request-id": "h-9"})))
    assert (await call(client)).request_id == "h-9"


async def test_stats_per_stream_add_up_to_the_clients(vendor_client) -> None:
    client = vendor_client(answers(httpx.Response(500), ok(), httpx.Response(404)))
    await call(client)
    with pytest.raises(ApiError):
        await call(client, stream="qianfan.knowledge_bases", kind="reread")
    documents, knowledge_bases = (
        client.stream_stats("qianfan.documents"),
        client.stream_stats("qianfan.knowledge_bases"),
    )
    assert (documents.requests, documents.retries, documents.errors) == (2, 1, 0)
    assert (knowledge_bases.requests, knowledge_bases.errors, knowledge_bases.by_kind) == (
        1,
        1,
        {"reread": 1},
    )
    assert (client.stats.requests, client.stats.retries, client.stats.errors) == (3, 1, 1)


async def test_secrets_never_reach_errors_or_logs(vendor_client, caplog) -> None:
    secret = "sk-do-not-print-0123456789"
    caplog.set_level(logging.DEBUG)
    for handler in (
        answers(httpx.Response(401, json={"code": "InvalidApiKey", "message": "invalid api key"})),
        answers(httpx.Response(503), httpx.ConnectError("connection refused")),
    ):
        client = vendor_client(handler, signer=BearerSigner(secret), retry=RetryPolicy(2, 0.001, 0.01, 5))
        with pytest.raises(ApiError) as raised:
            await call(client)
        assert handler.seen[0].headers["authorization"] == f"Bearer {secret}"
        for text in (str(raised.value), repr(raised.value), repr(raised.value.__dict__), repr(client)):
            assert secret not in text
            assert "Bearer" not in text
    assert caplog.records and secret not in caplog.text


async def test_transport_errors_are_typed(vendor_client) -> None:
    client = vendor_client(answers(httpx.ConnectTimeout("connect")), retry=RetryPolicy(2, 0.001, 0.01, 5))
    with pytest.raises(TransportError, match="ConnectTimeout: no answer within the timeout"):
        await call(client)


def test_default_parser_plain_http_semantics() -> None:
    def info(status: int, **kwargs) -> ErrorInfo | None:
        return http_error_parser(httpx.Response(status, **kwargs), None)

    assert info(200) is None and info(302) is None
    assert info(404).retryable is False
    assert info(500).retryable is True and info(408).retryable is True
    throttled = info(429, headers={"Retry-After": "7"})
    assert (throttled.retryable, throttled.throttled, throttled.retry_after_s) == (True, True, 7.0)


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
