"""Against a real HTTP server on 127.0.0.1 (uvicorn): a dropped connection and a timeout are
retried, every attempt carries a fresh signature, and the shared client keeps connections alive.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kb_pipeline.auth import Acs3Signer
from kb_pipeline.http import RetryPolicy, TransportError, VendorClient, create_http_client

pytestmark = pytest.mark.anyio

ATTEMPTS: defaultdict[str, list[dict[str, str]]] = defaultdict(list)


async def flaky(request: Request):
    """Misbehaves on the first `times` requests for a key (`drop` or `stall`), then answers."""
    key, mode = request.path_params["key"], request.path_params["mode"]
    ATTEMPTS[key].append(
        {name: request.headers.get(name, "") for name in ("x-acs-signature-nonce", "x-acs-date")}
    )
    ATTEMPTS[key][-1]["client_port"] = str(request.client.port)
    if len(ATTEMPTS[key]) <= int(request.query_params.get("times", "1")):
        if mode == "stall":
            await asyncio.sleep(0.6)
        if mode == "drop":
            return DropMidBody()
    return JSONResponse({"key": key, "attempt": len(ATTEMPTS[key]), "RequestId": f"{key}-ok"})


class DropMidBody:
    """Promises 100 bytes, sends 10, then fails: the server closes the connection mid-answer."""

    async def __call__(self, scope, receive, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial"', "more_body": True})
        raise RuntimeError("connection dropped on purpose")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{mode}/{key}", flaky)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pai_client(http: httpx.AsyncClient, base_url: str, **kwargs) -> VendorClient:
    return VendorClient(
        source="pai_langstudio",
        base_url=base_url,
        signer=Acs3Signer("AKIDEXAMPLE", "SECRETEXAMPLE"),
        http=http,
        headers={"x-acs-action": "ListKnowledgeBases", "x-acs-version": "2024-07-10"},
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, max_total_s=10),
        **kwargs,
    )


async def get(client: VendorClient, path: str):
    return await client.call(
        stream="pai.knowledge_bases", endpoint="ListKnowledgeBases", method="GET", path=path
    )


async def test_dropped_connection_is_retried_with_a_fresh_signature(server_url: str) -> None:
    async with create_http_client() as http:
        response = await get(pai_client(http, server_url), "/drop/dropped?times=2")
    assert response.body == {"key": "dropped", "attempt": 3, "RequestId": "dropped-ok"}
    assert response.request_id == "dropped-ok"
    nonces = [attempt["x-acs-signature-nonce"] for attempt in ATTEMPTS["dropped"]]
    assert len(set(nonces)) == 3 and all(nonces)


async def test_timeout_is_retried(server_url: str) -> None:
    async with create_http_client(timeout=httpx.Timeout(0.3)) as http:
        client = pai_client(http, server_url)
        started = time.monotonic()
        response = await get(client, "/stall/stalled?times=1")
    assert response.body["attempt"] == 2
    assert 0.3 <= time.monotonic() - started < 1.5
    assert (client.stats.requests, client.stats.retries) == (2, 1)


async def test_a_server_that_keeps_failing_ends_in_a_transport_error(server_url: str) -> None:
    async with create_http_client(timeout=httpx.Timeout(0.2)) as http:
        with pytest.raises(TransportError) as raised:
            await get(pai_client(http, server_url), "/stall/hopeless?times=99")
    assert raised.value.attempts == 3
    assert str(raised.value).startswith("pai.knowledge_bases ListKnowledgeBases: ReadTimeout")
    assert "SECRETEXAMPLE" not in str(raised.value)


async def test_a_closed_port_is_a_transport_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with create_http_client() as http:
        client = pai_client(http, f"http://127.0.0.1:{port}")
        with pytest.raises(TransportError, match="ConnectError"):
            await get(client, "/ok/closed")


async def test_shared_client_reuses_connections(server_url: str) -> None:
    async with create_http_client() as http:
        client = pai_client(http, server_url)
        for n in range(3):
            await get(client, f"/ok/keepalive-{n}?times=0")
    ports = {ATTEMPTS[f"keepalive-{n}"][0]["client_port"] for n in range(3)}
    assert len(ports) == 1
