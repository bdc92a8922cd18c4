"""`qps` bounds the attempts per second a VendorClient sends, concurrent callers included."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def test_n_calls_at_q_per_second_take_about_n_over_q(vendor_client) -> None:
    sent_at: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent_at.append(time.monotonic())
        return httpx.Response(200, json={"ok": True})

    n, qps = 12, 20.0
    client = vendor_client(handle, qps=qps)
    started = time.monotonic()
    await asyncio.gather(
        *(client.call(stream="s.x", endpoint="E", method="GET", path="/x") for _ in range(n))
    )
    elapsed = time.monotonic() - started
    assert (n - 1) / qps * 0.9 <= elapsed <= n / qps + 0.3
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert min(gaps) >= 1 / qps * 0.8


async def test_without_qps_calls_are_not_spaced(vendor_client) -> None:
    client = vendor_client(lambda request: httpx.Response(200, json={}))
    started = time.monotonic()
    await asyncio.gather(
        *(client.call(stream="s.x", endpoint="E", method="GET", path="/x") for _ in range(12))
    )
    assert time.monotonic() - started < 0.3


async def test_qps_must_be_positive(vendor_client) -> None:
    with pytest.raises(ValueError, match="qps must be positive"):
        vendor_client(lambda request: httpx.Response(200), qps=0)
