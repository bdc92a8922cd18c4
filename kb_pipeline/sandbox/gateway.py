"""What every vendor request goes through, in the order a vendor's gateway applies it.

rate limit -> authentication -> injected fault -> the operation -> request log. Authentication
comes before faults on purpose: an Alibaba nonce is spent even when the answer is a 5xx, which is
what breaks a retry that resends the same signed request.

Each operation is a raw ASGI endpoint (no per-request Request/Response objects), because the
sandbox has to serve 1,000+ pages a second on two cores.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

import orjson

from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sandbox.faults import Fault, FaultPlan, RateLimits
from kb_pipeline.sandbox.requestlog import RequestLog
from kb_pipeline.sandbox.settings import Settings

Headers = list[tuple[str, str]]


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    headers: Headers = field(default_factory=list)
    content_type: str = "application/json;charset=utf-8"


class Refusal(Exception):
    """A vendor error answer raised anywhere along the gateway; the vendor renders its envelope."""

    def __init__(self, status: int, code: str | int, message: str, headers: Headers | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass(slots=True)
class Call:
    """One vendor request as the operation sees it."""

    vendor: str
    operation: str
    method: str
    path: str
    raw_path: str
    path_params: dict[str, str]
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    request_id: str
    fault: Fault | None = None
    _json: Any = None

    def arg(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> Any:
        """The body parsed as JSON (None when empty); raises ValueError when it is not JSON."""
        if self._json is None and self.body:
            self._json = orjson.loads(self.body)
        return self._json


@dataclass(frozen=True, slots=True)
class Operation:
    """One endpoint of a vendor, declared as data.

    `handler` names the vendor method that answers it. `cursor` marks a listing: it returns the
    paging cursor a request carries (None on a first page), which cursor faults key on. `action`
    is the `Action` query value that selects this operation on a path shared with others (Qianfan).
    """

    name: str
    method: str
    path: str
    handler: str
    cursor: Callable[[Call], str | None] | None = None
    action: str | None = None


class Vendor(ABC):
    """One vendor's API: its operations, envelopes, credentials check and request ids."""

    name: str = ""
    auth: str = ""
    """How requests authenticate, for the endpoint listing."""
    operations: Sequence[Operation] = ()
    unserved_prefix: str = ""
    """The path prefix of the vendor's other operations: answered with its own JSON error, not a
    plain-text 404, so an official SDK calling one reports the vendor's error."""
    default_qps: float = 10.0
    """Requests per second answered before the throttling error (no vendor documents one)."""
    credentials: Mapping[str, tuple[str, str]] = MappingProxyType({})
    """The fake credentials a client presents here: its settings key -> (environment variable, value)."""

    @classmethod
    def environment(cls) -> dict[str, str]:
        """The credentials' values under the environment variables `client_settings` refers to."""
        return dict(cls.credentials.values())

    @classmethod
    def client_settings(cls, url: str, dataset: Dataset) -> dict[str, Any]:
        """What a client must be told to reach this vendor at `url`: the endpoint, `scope`, and the
        credentials as `${NAME}` references to `environment`."""
        references = {key: f"${{{variable}}}" for key, (variable, _) in cls.credentials.items()}
        return {"endpoint": url, **cls.scope(dataset), "credentials": references}

    @classmethod
    def scope(cls, dataset: Dataset) -> dict[str, Any]:
        """The rest of a client's settings: its region, the ids `dataset` holds that it must name."""
        return {}

    @abstractmethod
    def holds(self, operation: str) -> Mapping[str, Sequence[Any]]:
        """Every record a complete listing of `operation` answers, by the scope it is asked for (a
        workspace, a knowledge base, an organization; `""` when unscoped; a task id for a record
        read by id, which it then carries): the ground truth a client's full scan must equal.
        Empty for an operation that lists nothing."""

    def __init__(self, dataset: Dataset, settings: Settings) -> None:
        self.dataset = dataset
        self.settings = settings

    @abstractmethod
    def new_request_id(self) -> str: ...

    @abstractmethod
    def request_id_headers(self, request_id: str) -> Headers: ...

    @abstractmethod
    def authenticate(self, call: Call) -> None:
        """Raise Refusal unless the request carries valid credentials."""

    @abstractmethod
    def render(self, call: Call, refusal: Refusal) -> Answer:
        """The vendor's error envelope for `refusal`."""

    @abstractmethod
    def throttling(self, retry_after: float) -> Refusal: ...

    @abstractmethod
    def server_failure(self, status: int) -> Refusal: ...

    @abstractmethod
    def insert_records(self, call: Call, count: int) -> None:
        """Add `count` records to the listing `call` just read, ahead of where its next page starts."""

    def unknown_action(self, action: str) -> Refusal:
        """The answer to an `Action` that no operation sharing a path declares (Qianfan overrides it)."""
        return Refusal(404, "NotFound", f"unknown action {action!r}")

    def requested_operation(self, call: Call) -> str:
        """What an unserved request asks for, for the request log: its path unless the vendor names it."""
        return call.path

    @abstractmethod
    def unserved(self, call: Call) -> Refusal:
        """The vendor's error for an operation under `unserved_prefix` that the sandbox does not serve."""


def json_answer(payload: Any, status: int = 200, headers: Headers | None = None) -> Answer:
    return Answer(status, orjson.dumps(payload), headers or [])


_GATEWAY_PAGES = {
    status: (
        f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    for status, title in ((502, "Bad Gateway"), (504, "Gateway Time-out"))
}
"""What a load balancer in front of the vendor answers when the service behind it is down."""


@dataclass(slots=True)
class Runtime:
    """The shared, mutable state every endpoint consults."""

    dataset: Dataset
    settings: Settings
    faults: FaultPlan
    limits: RateLimits
    log: RequestLog


class Endpoint:
    """The ASGI app behind one vendor path: the operation(s) served there, through the gateway."""

    def __init__(self, vendor: Vendor, operations: Sequence[Operation], runtime: Runtime) -> None:
        self.vendor = vendor
        self.unserved = not operations
        """Behind `vendor.unserved_prefix`: every request is one the sandbox does not serve."""
        self.by_action = {op.action: op for op in operations}
        self.handlers = {op.action: getattr(vendor, op.handler) for op in operations}
        self.runtime = runtime

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        action = None if None in self.by_action else next((v for k, v in query if k == "Action"), "")
        operation = self.by_action.get(action)
        call = Call(
            vendor=self.vendor.name,
            operation=operation.name if operation else action or "",
            method=scope["method"],
            path=scope["path"],
            raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            path_params=scope.get("path_params", {}),
            query=query,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=await _read_body(receive),
            request_id=self.vendor.new_request_id(),
        )
        if self.unserved:
            call.operation = self.vendor.requested_operation(call)
        answer = await self._answer(call, operation)
        self._log(call, answer)
        if answer is None:
            await _drop_connection(scope, receive)
            return
        await _send(send, answer, self.vendor.request_id_headers(call.request_id))

    async def _answer(self, call: Call, operation: Operation | None) -> Answer | None:
        try:
            wait = self.runtime.limits.take(self.vendor.name)
            if wait:
                raise self.vendor.throttling(wait)
            self.vendor.authenticate(call)
            if self.unserved:
                raise self.vendor.unserved(call)
            if operation is None:
                raise self.vendor.unknown_action(call.operation)
            fault = call.fault = self.runtime.faults.take(call, operation.cursor)
            if fault is not None:
                if fault.kind == "drop_connection":
                    return None
                if fault.kind == "server_error":
                    if fault.status in _GATEWAY_PAGES:
                        return Answer(fault.status, _GATEWAY_PAGES[fault.status], content_type="text/html")
                    raise self.vendor.server_failure(fault.status)
                if fault.kind == "throttle":
                    raise self.vendor.throttling(fault.retry_after)
                if fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
            with self.runtime.dataset.lock:
                answer = self.handlers[operation.action](call)
                if fault is not None and fault.kind == "insert_while_paging":
                    self.vendor.insert_records(call, fault.records)
            if fault is not None and fault.kind == "truncated":
                answer.body = answer.body[: len(answer.body) // 2]
            return answer
        except Refusal as refusal:
            answer = self.vendor.render(call, refusal)
            answer.headers.extend(refusal.headers)
            return answer

    def _log(self, call: Call, answer: Answer | None) -> None:
        try:
            body = call.json()
        except ValueError:
            body = None
        self.runtime.log.add(
            {
                "at": time.time(),
                "vendor": call.vendor,
                "operation": call.operation,
                "method": call.method,
                "path": call.path,
                "query": dict(call.query),
                "body": body if isinstance(body, dict) else None,
                "status": 0 if answer is None else answer.status,
                "fault": call.fault.kind if call.fault else None,
                "request_id": call.request_id,
            }
        )


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Callable, answer: Answer, id_headers: Headers) -> None:
    headers = [
        (b"content-type", answer.content_type.encode()),
        (b"content-length", str(len(answer.body)).encode()),
    ]
    headers += [(k.encode(), v.encode()) for k, v in id_headers + answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _drop_connection(scope: dict, receive: Callable) -> None:
    """Close the TCP connection without a response, as a crashed upstream does.

    ASGI has no verb for this; the server's transport is reached through the `send` callable
    uvicorn hands the app (see `app.with_transport`). Without it, fail the request instead.
    """
    transport = scope.get("sandbox.transport")
    if transport is None:
        raise ConnectionAbortedError("dropped connection requested but the server transport is not reachable")
    transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass
