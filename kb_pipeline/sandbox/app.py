"""The one Starlette app serving every vendor (`vendors.VENDOR_APIS`) and the control API on one port."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import groupby
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from kb_pipeline.sandbox.control import Control
from kb_pipeline.sandbox.control_api import control_routes
from kb_pipeline.sandbox.gateway import Endpoint, Runtime, Vendor
from kb_pipeline.sandbox.vendors import VENDOR_APIS

ASGIApp = Callable[[dict, Callable, Callable], Any]


def endpoint_listing(base_url: str) -> str:
    """A short, printable listing of every endpoint served at `base_url` and how it authenticates."""
    lines = [f"Knowledge-base sandbox at {base_url}"]
    for api in VENDOR_APIS:
        lines.append(f"  {api.name}: {api.auth}")
        for op in api.operations:
            query = f"?Action={op.action}" if op.action else ""
            lines.append(f"    {op.method:<5} {op.path}{query}  ({op.name})")
    lines.append(
        "  control (no auth): GET /_sandbox/ for the list; credentials in kb_pipeline.sandbox.credentials"
    )
    return "\n".join(lines)


def build_app(runtime: Runtime, control: Control, vendors: Iterable[Vendor]) -> ASGIApp:
    routes: list[Route | Mount] = []
    for vendor in vendors:
        by_route = sorted(vendor.operations, key=lambda op: (op.path, op.method))
        for (path, method), operations in groupby(by_route, key=lambda op: (op.path, op.method)):
            routes.append(Route(path, Endpoint(vendor, list(operations), runtime), methods=[method]))
    for vendor in vendors:  # after every served route, so they catch only what nothing else serves
        routes.append(Route(vendor.unserved_prefix + "{rest:path}", Endpoint(vendor, [], runtime)))
    routes.append(Mount("/_sandbox", routes=control_routes(control, endpoint_listing)))
    return with_transport(Starlette(routes=routes))


def with_transport(app: ASGIApp) -> ASGIApp:
    """Expose uvicorn's connection transport to the app, so a fault can drop the connection.

    ASGI offers no way to close a connection without answering; uvicorn's `send` is a bound method
    of an object holding the transport. Under another server the key is simply absent.
    """

    async def asgi(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            scope["sandbox.transport"] = getattr(getattr(send, "__self__", None), "transport", None)
        await app(scope, receive, send)

    return asgi
