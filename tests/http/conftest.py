"""Fixtures of the HTTP layer's tests: vendor clients over an in-process transport, fast retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from kb_pipeline.auth import BearerSigner
from kb_pipeline.http import RetryPolicy, VendorClient

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff_s=0.001, max_backoff_s=0.01, max_total_s=5.0)

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def vendor_client() -> AsyncIterator[Callable[..., VendorClient]]:
    """Factory: `vendor_client(handler, **VendorClient kwargs)` answering through `handler`."""
    opened: list[httpx.AsyncClient] = []

    def make(handler: Handler, **kwargs) -> VendorClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        opened.append(http)
        kwargs.setdefault("source", "qianfan")
        kwargs.setdefault("base_url", "https://api.example.test")
        kwargs.setdefault("signer", BearerSigner("test-key"))
        kwargs.setdefault("retry", FAST_RETRY)
        return VendorClient(http=http, **kwargs)

    yield make
    for http in opened:
        await http.aclose()
