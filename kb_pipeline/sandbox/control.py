"""The Python control API: change the data, arm faults, set rate limits and quirks, read the request log.

`SandboxServer.control` is one of these; `/_sandbox/...` exposes the same operations over HTTP.
Everything here is safe to call from the test thread while the server answers on its own.
"""

from __future__ import annotations

from typing import Any

from kb_pipeline.sandbox.faults import Fault, FaultKind
from kb_pipeline.sandbox.gateway import Runtime
from kb_pipeline.sandbox.mutations import Mutations
from kb_pipeline.sandbox.requestlog import Entry


class Control(Mutations):
    """Mutations (inherited: `add_qianfan_documents`, `finish_pai_job`, ...) plus faults, limits and log."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.dataset)
        self._runtime = runtime

    def add_fault(
        self,
        vendor: str,
        kind: FaultKind,
        count: int = 1,
        *,
        operation: str | None = None,
        path: str | None = None,
        status: int = 503,
        retry_after: float = 1.0,
        delay: float = 1.0,
        records: int = 3,
    ) -> Fault:
        """Arm `kind` for the next `count` requests to `vendor` (optionally one operation / path prefix).

        `status` applies to `server_error`, `retry_after` (seconds) to `throttle`, `delay` (seconds)
        to `slow`, `records` to `insert_while_paging`. See `Fault` for what each kind does.
        """
        self._runtime.limits.known(vendor)
        fault = Fault(vendor, kind, count, operation, path, status, retry_after, delay, records)
        return self._runtime.faults.add(fault)

    def pending_faults(self) -> list[Fault]:
        return self._runtime.faults.pending()

    def clear_faults(self) -> None:
        self._runtime.faults.clear()

    def set_qps(self, vendor: str, qps: float | None) -> None:
        """Limit `vendor` to `qps` requests a second (None: unlimited); beyond it, its throttling error."""
        self._runtime.limits.set(vendor, qps)

    def qps(self) -> dict[str, float | None]:
        return self._runtime.limits.current()

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change quirk settings (see `Settings`); returns all current settings."""
        self._runtime.settings.update(**settings)
        return self._runtime.settings.as_dict()

    def settings(self) -> dict[str, Any]:
        return self._runtime.settings.as_dict()

    def requests(self, vendor: str | None = None, operation: str | None = None) -> list[Entry]:
        """Vendor requests answered so far, oldest first (see `requestlog` for the entry fields)."""
        return self._runtime.log.entries(vendor, operation)

    def clear_requests(self) -> None:
        self._runtime.log.clear()

    def summary(self) -> dict[str, Any]:
        return self.dataset.summary()
