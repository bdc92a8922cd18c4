"""`/_sandbox/...`: the control API over HTTP, one route per `Control` operation.

    GET    /_sandbox/                          endpoint listing (text)
    GET    /_sandbox/dataset/summary           record counts
    GET    /_sandbox/requests[?vendor=&operation=]   request log;  DELETE clears it
    GET    /_sandbox/faults                    armed faults;  POST arms one (JSON: Control.add_fault
                                               arguments);  DELETE disarms all
    GET    /_sandbox/qps                       limits;  PUT {"<vendor>": qps|null, ...} changes them
    GET    /_sandbox/settings                  quirk settings;  PATCH {"<name>": value} changes them
    POST   /_sandbox/mutations/<name>          a Mutations method, JSON body = its keyword arguments

Answers are JSON; a bad argument is 400 `{"error": ...}`, an unknown id 404. These requests are not
logged and never throttled or faulted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kb_pipeline.sandbox.control import Control
from kb_pipeline.sandbox.mutations import MUTATIONS


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, default=_encode), status, media_type="application/json")


def _encode(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot encode {type(value).__name__}")


async def _arguments(request: Request) -> dict[str, Any]:
    body = await request.body()
    arguments = orjson.loads(body) if body else {}
    if not isinstance(arguments, dict):
        raise ValueError("the request body must be a JSON object of named arguments")
    return arguments


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Turn argument and lookup errors into 400/404 answers that say what is wrong."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except KeyError as error:
            return _json({"error": str(error.args[0]) if error.args else "not found"}, 404)
        except (ValueError, TypeError) as error:
            return _json({"error": str(error)}, 400)

    return endpoint


def control_routes(control: Control, listing: Callable[[str], str]) -> list[Route]:
    async def index(request: Request) -> Response:
        return PlainTextResponse(listing(str(request.base_url).rstrip("/")))

    async def summary(request: Request) -> Response:
        return _json(control.summary())

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            control.clear_requests()
            return _json({"cleared": True})
        params = request.query_params
        return _json(control.requests(params.get("vendor"), params.get("operation")))

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            return _json(control.add_fault(**await _arguments(request)), 201)
        if request.method == "DELETE":
            control.clear_faults()
        return _json(control.pending_faults())

    async def qps(request: Request) -> Response:
        if request.method == "PUT":
            for vendor, rate in (await _arguments(request)).items():
                control.set_qps(vendor, rate)
        return _json(control.qps())

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            return _json(control.configure(**await _arguments(request)))
        return _json(control.settings())

    async def mutation(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in MUTATIONS:
            raise KeyError(f"unknown mutation {name!r}; known: {', '.join(MUTATIONS)}")
        return _json({"result": getattr(control, name)(**await _arguments(request))})

    return [
        Route("/", _guarded(index)),
        Route("/dataset/summary", _guarded(summary)),
        Route("/requests", _guarded(requests), methods=["GET", "DELETE"]),
        Route("/faults", _guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/qps", _guarded(qps), methods=["GET", "PUT"]),
        Route("/settings", _guarded(settings), methods=["GET", "PATCH"]),
        Route("/mutations/{name}", _guarded(mutation), methods=["POST"]),
    ]
