"""Injected faults and per-vendor request-rate limits.

A fault is armed for the next `count` requests of one vendor (optionally one operation or one path
prefix) and applied once per request, first armed first used. Cursor faults only count requests
they can act on: `repeat_cursor` a listing request that carries a cursor (a page after the first),
`insert_while_paging` a listing's first page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from kb_pipeline.sandbox.gateway import Call

FaultKind = Literal[
    "server_error", "throttle", "slow", "truncated", "repeat_cursor", "drop_connection", "insert_while_paging"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


@dataclass(slots=True)
class Fault:
    """What to do to the next `count` matching requests.

    - `server_error`: answer `status` (500/503: the vendor's JSON error; 502/504: a load balancer's
      HTML page).
    - `throttle`: the vendor's own throttling answer, asking to retry after `retry_after` seconds.
    - `slow`: answer normally after `delay` seconds.
    - `truncated`: a 200 whose JSON body is cut in half (Content-Length matches the cut body).
    - `repeat_cursor`: the answer's cursor points back at the page just served.
    - `drop_connection`: close the connection without answering.
    - `insert_while_paging`: after the first page is served, `records` new records are inserted
      ahead of the position the next page reads from.
    """

    vendor: str
    kind: FaultKind
    count: int = 1
    operation: str | None = None
    path: str | None = None
    status: int = 503
    retry_after: float = 1.0
    delay: float = 1.0
    records: int = 3

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {FAULT_KINDS}")
        if self.count < 1:
            raise ValueError(f"fault count must be at least 1, not {self.count}")
        if self.kind == "server_error" and self.status not in (500, 502, 503, 504):
            raise ValueError(f"server_error status must be 500, 502, 503 or 504, not {self.status}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, call: Call, cursor: Callable[[Call], str | None] | None) -> bool:
        if call.vendor != self.vendor or (self.operation and call.operation != self.operation):
            return False
        if self.path and not call.path.startswith(self.path):
            return False
        if self.kind == "repeat_cursor":
            return cursor is not None and cursor(call) is not None
        if self.kind == "insert_while_paging":
            return cursor is not None and cursor(call) is None
        return True


class FaultPlan:
    """The faults armed, consumed as matching requests arrive."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, call: Call, cursor: Callable[[Call], str | None] | None) -> Fault | None:
        """The first armed fault matching `call`, with one use spent; None if none matches."""
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(call, cursor):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class TokenBucket:
    """`rate` requests a second, bursts up to one second's worth."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, not {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Spend a token: 0.0 if one was there, else the seconds until one will be."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class RateLimits:
    """One token bucket per vendor served; a vendor without one is never throttled."""

    def __init__(self, limits: dict[str, float | None]) -> None:
        """`limits`: every vendor served, and its rate (None: unlimited)."""
        self._buckets = {
            vendor: None if rate is None else TokenBucket(rate) for vendor, rate in limits.items()
        }

    def known(self, vendor: str) -> None:
        """Raise ValueError unless `vendor` is served."""
        if vendor not in self._buckets:
            raise ValueError(f"unknown vendor {vendor!r}; known: {tuple(self._buckets)}")

    def set(self, vendor: str, rate: float | None) -> None:
        self.known(vendor)
        self._buckets[vendor] = None if rate is None else TokenBucket(rate)

    def current(self) -> dict[str, float | None]:
        return {vendor: (bucket.rate if bucket else None) for vendor, bucket in self._buckets.items()}

    def take(self, vendor: str) -> float:
        bucket = self._buckets.get(vendor)
        return 0.0 if bucket is None else bucket.take()
