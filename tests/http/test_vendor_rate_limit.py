"""`qps` bounds the attempts per second a VendorClient sends, concurrent callers included."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest

from kb_pipeline.http.pacing import Pacer

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


async def test_a_late_wake_up_does_not_push_back_the_requests_after_it() -> None:
    """A busy event loop delays one request; the others keep to their slots, with no burst."""
    interval, n, stall = 0.05, 11, 0.2
    pacer = Pacer(interval)
    sent_at: list[float] = []

    async def request(index: int) -> None:
        await pacer.acquire()
        sent_at.append(time.monotonic())
        if index == 1:
            time.sleep(stall)  # the loop is busy: the requests due meanwhile all wake late

    started = time.monotonic()
    await asyncio.gather(*(request(index) for index in range(n)))
    span = sent_at[-1] - started
    assert span < (n - 1) * interval + 0.1  # a bucket of one would take (n - 1) * interval + stall
    assert sent_at[1] - sent_at[0] >= interval * 0.8  # the first two: spaced, not a burst
    assert sum(1 for at in sent_at if at < started + interval / 2) == 1
