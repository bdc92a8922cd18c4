"""One shared async HTTP client, and a per-vendor client that signs, rate-limits, retries and
turns every failure into a typed ApiError."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import httpx
import orjson
from tenacity import RetryCallState

from kb_pipeline.auth import Signer
from kb_pipeline.http.errors import (
    ApiError,
    AuthError,
    MalformedResponseError,
    NotFoundError,
    ThrottledError,
    TransportError,
)
from kb_pipeline.http.pacing import Pacer
from kb_pipeline.http.retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30.0)
DEFAULT_RETRY = RetryPolicy()


def create_http_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one AsyncClient every VendorClient of a run shares (keep-alive pool, timeouts).

    The caller owns it: `async with create_http_client() as http: ...`.
    """
    return httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport, follow_redirects=False)


@dataclass(frozen=True)
class ErrorInfo:
    """What a vendor's error parser read from an answer that is a failure."""

    code: str | None
    message: str | None
    request_id: str | None
    retryable: bool
    retry_after_s: float | None = None
    throttled: bool = False


ErrorParser = Callable[[httpx.Response, Any], ErrorInfo | None]
"""(response, parsed JSON body or None) -> None when the answer is a success."""


RequestKind = Literal["listing", "reread", "poll"]
"""What a request is for: a page of a listing, a re-read of one known record, a poll of one task."""


@dataclass(frozen=True)
class JsonResponse:
    """A successful answer: status, headers, the parsed JSON body and the vendor's request id."""

    status: int
    headers: httpx.Headers
    body: Any
    request_id: str | None


@dataclass
class ClientStats:
    """Cumulative counters of one VendorClient's calls for one stream (or, added up, for all).

    `requests` counts attempts sent, `by_kind` the same attempts by what they were for (a
    listing page, a re-read of one record, a poll of one task), `retries` the waits before
    another attempt, `throttled` the answers that asked to slow down, `errors` the calls that
    finally raised.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: ClientStats) -> ClientStats:
        return ClientStats(
            self.requests + other.requests,
            self.retries + other.retries,
            self.throttled + other.throttled,
            self.errors + other.errors,
            self.by_kind + other.by_kind,
        )


def http_error_parser(response: httpx.Response, body: Any) -> ErrorInfo | None:
    """Plain HTTP semantics: status >= 400 is an error; 408, 429 and 5xx are retryable.

    Honours a `Retry-After` header; reads `code`/`message` (either case) from a JSON object body.
    """
    status = response.status_code
    if status < 400:
        return None
    fields_ = body if isinstance(body, dict) else {}
    code = fields_.get("code", fields_.get("Code"))
    message = fields_.get("message", fields_.get("Message"))
    return ErrorInfo(
        code=None if code is None else str(code),
        message=None if message is None else str(message),
        request_id=None,
        retryable=status in (408, 429) or status >= 500,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        throttled=status == 429,
    )


def default_request_id(response: httpx.Response, body: Any) -> str | None:
    """`RequestId`/`requestId`/`request_id` of a JSON object body, else the `x-request-id` header."""
    if isinstance(body, dict):
        for key in ("RequestId", "requestId", "request_id"):
            if body.get(key):
                return str(body[key])
    return response.headers.get("x-request-id")


class VendorClient:
    """Calls one vendor's API: sign (afresh per attempt), rate-limit, send, parse, retry.

    Retryable failures (network errors, dropped connections, timeouts, 5xx, throttling,
    truncated JSON) are retried under `retry`; the others raise at once. `qps` bounds the
    attempts per second of this client (None = unlimited). `headers` go on every request.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        signer: Signer,
        parse_error: ErrorParser = http_error_parser,
        http: httpx.AsyncClient,
        qps: float | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if qps is not None and qps <= 0:
            raise ValueError(f"{source}: qps must be positive, got {qps}")
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._stats: defaultdict[str, ClientStats] = defaultdict(ClientStats)
        self._signer = signer
        self._parse_error = parse_error
        self._http = http
        # one attempt every 1/qps seconds on a fixed timeline: no burst, and no drift (pacing.py)
        self._pacer = Pacer(1 / qps) if qps else None
        self._retry = retry
        self._headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"VendorClient(source={self.source!r}, base_url={self.base_url!r})"

    def stream_stats(self, stream: str) -> ClientStats:
        """What the calls made for `stream` cost; a source's streams share the client at once."""
        return self._stats[stream]

    @property
    def stats(self) -> ClientStats:
        """What every call of this client cost, all streams together."""
        return sum(self._stats.values(), ClientStats())

    async def call(
        self,
        *,
        stream: str,
        endpoint: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        expect_json: bool = True,
        kind: RequestKind = "listing",
    ) -> JsonResponse:
        """One API call, retried as the policy allows; every attempt is counted under `kind`.

        `path` is appended to the base URL as given (path parameters already encoded, see
        `expand_path`); it may carry a query of its own, which `params` extend. Params whose
        value is None are left out. `json` is sent as compact UTF-8 JSON. With
        `expect_json=False` a body that is not JSON comes back as text instead of failing.

        Raises ApiError (a subclass saying what went wrong) once the call cannot succeed.
        """
        url = httpx.URL(self.base_url + path).copy_merge_params(
            {key: value for key, value in (params or {}).items() if value is not None}
        )
        request_headers = {**self._headers, **(headers or {})}
        content = None
        if json is not None:
            content = orjson.dumps(json)
            if not any(name.lower() == "content-type" for name in request_headers):
                request_headers["Content-Type"] = "application/json"
        where = {"source": self.source, "stream": stream, "endpoint": endpoint}
        retrying = self._retry.retrying(before_sleep=partial(self._note_retry, self._stats[stream]))
        try:
            return await retrying(
                self._attempt, where, kind, method.upper(), url, request_headers, content, expect_json
            )
        except ApiError as error:
            error.attempts = retrying.statistics.get("attempt_number", 1)
            self._stats[stream].errors += 1
            raise

    async def _attempt(
        self,
        where: dict[str, str],
        kind: RequestKind,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        expect_json: bool,
    ) -> JsonResponse:
        if self._pacer:
            await self._pacer.acquire()
        request = self._http.build_request(method, url, headers=headers, content=content)
        self._signer.sign(request)  # after the limiter wait, so the signed date is fresh
        stats = self._stats[where["stream"]]
        stats.requests += 1
        stats.by_kind[kind] += 1
        try:
            response = await self._http.send(request)
        except httpx.TimeoutException as exc:
            raise TransportError(f"{type(exc).__name__}: no answer within the timeout", **where) from exc
        except httpx.TransportError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", **where) from exc
        except httpx.DecodingError as exc:
            raise MalformedResponseError(f"undecodable body: {exc}", **where) from exc

        body, json_error = _parse_json(response.content)
        info = self._parse_error(response, None if json_error else body)
        request_id = (info.request_id if info else None) or default_request_id(response, body)
        if info is not None:
            throttled = info.throttled or response.status_code == 429
            if throttled:
                stats.throttled += 1
            raise _error_class(response.status_code, throttled)(
                info.message or response.reason_phrase or "request failed",
                **where,
                http_status=response.status_code,
                code=info.code,
                request_id=request_id,
                retryable=info.retryable or throttled,
                retry_after_s=info.retry_after_s,
            )
        if json_error and response.status_code != 204:
            if expect_json:
                raise MalformedResponseError(
                    f"answer is not JSON ({len(response.content)} bytes, content-type "
                    f"{response.headers.get('content-type', 'none')}): {json_error}",
                    **where,
                    http_status=response.status_code,
                    request_id=request_id,
                )
            body = response.text
        return JsonResponse(response.status_code, response.headers, body, request_id)

    def _note_retry(self, stats: ClientStats, state: RetryCallState) -> None:
        stats.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s; attempt %d, retrying in %.2fs", error, state.attempt_number, state.upcoming_sleep)


def _parse_json(content: bytes) -> tuple[Any, str | None]:
    """(parsed body, None) or (None, why it is not JSON)."""
    if not content.strip():
        return None, "empty body"
    try:
        return orjson.loads(content), None
    except orjson.JSONDecodeError as exc:
        return None, str(exc)


def _error_class(status: int, throttled: bool) -> type[ApiError]:
    if throttled:
        return ThrottledError
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    return ApiError
