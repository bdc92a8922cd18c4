"""Running the sandbox: in-process for tests (`SandboxServer`), or blocking for the CLI (`serve`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import uvicorn

from kb_pipeline.sandbox.app import build_app, endpoint_listing
from kb_pipeline.sandbox.control import Control
from kb_pipeline.sandbox.dataset import ANCHOR, Dataset
from kb_pipeline.sandbox.faults import FaultPlan, RateLimits
from kb_pipeline.sandbox.gateway import Runtime, Vendor
from kb_pipeline.sandbox.requestlog import Entry, RequestLog
from kb_pipeline.sandbox.settings import QpsConfig, Settings, resolve_qps
from kb_pipeline.sandbox.vendors import DEFAULT_QPS, VENDOR_APIS

STARTUP_TIMEOUT_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _uvicorn(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class SandboxServer:
    """The sandbox on a free local port, served from a background thread.

        with SandboxServer(seed=1, scale=0.1, qps=None) as sandbox:
            httpx.post(sandbox.url + "/v2/knowledgeBase?Action=DescribeDocuments", ...)

    `qps`: "default" (DEFAULT_QPS per vendor), None (no limits: raw speed), or a mapping vendor ->
    requests/second (vendors left out are unlimited). `anchor`: the moment generated timestamps
    lead up to. `request_log_size`: most recent vendor requests kept in the log. `settings`: the
    quirk choices of `Settings` (`pai_next_token`, `lingma_last_page`, `qianfan_fields`).
    """

    def __init__(
        self,
        seed: int = 0,
        scale: float = 1.0,
        qps: QpsConfig = "default",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        anchor: int | datetime = ANCHOR,
        request_log_size: int = 100_000,
        **settings: Any,
    ) -> None:
        self.dataset = Dataset.generate(seed, scale, anchor)
        quirks = Settings()
        quirks.update(**settings)
        self._runtime = Runtime(
            self.dataset,
            quirks,
            FaultPlan(),
            RateLimits(resolve_qps(qps, DEFAULT_QPS)),
            RequestLog(request_log_size),
        )
        self.control = Control(self._runtime)
        self.vendors: dict[str, Vendor] = {api.name: api(self.dataset, quirks) for api in VENDOR_APIS}
        """Each vendor's API by name: `holds` gives the records it serves."""
        self.app = build_app(self._runtime, self.control, self.vendors.values())
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[Entry]:
        """The request log so far (see `Control.requests` to filter it)."""
        return self.control.requests()

    def listing(self) -> str:
        return endpoint_listing(self.url)

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"the sandbox is already running at {self.url}")
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = _uvicorn(self.app)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"kb-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8900,
    seed: int = 0,
    scale: float = 1.0,
    qps: QpsConfig = "default",
    announce: Callable[[str], object] | None = None,
    **settings: Any,
) -> None:
    """Serve the sandbox in the foreground until interrupted (Ctrl-C).

    `announce` receives the endpoint listing once the port is bound (e.g. `print`).
    """
    sandbox = SandboxServer(seed=seed, scale=scale, qps=qps, host=host, port=port, **settings)
    sock = _bind(host, port)
    sandbox.port = sock.getsockname()[1]
    if announce is not None:
        announce(sandbox.listing())
    _uvicorn(sandbox.app).run(sockets=[sock])
