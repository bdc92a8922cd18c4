"""The log of vendor requests the sandbox answered, so tests can assert what a client sent.

Each entry: `at` (epoch seconds), `vendor`, `operation`, `method`, `path`, `query` (decoded, one
value per name), `body` (the JSON object sent, or None), `status` (0 for a dropped connection),
`fault` (the injected fault kind, or None) and `request_id`. Credentials are never recorded.
Control requests (`/_sandbox/...`) are not logged.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

Entry = dict[str, Any]


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, entry: Entry) -> None:
        self._entries.append(entry)

    def entries(self, vendor: str | None = None, operation: str | None = None) -> list[Entry]:
        """Entries oldest first, optionally only one vendor's and/or one operation's."""
        with self._lock:
            snapshot = list(self._entries)
        return [
            e
            for e in snapshot
            if (vendor is None or e["vendor"] == vendor)
            and (operation is None or e["operation"] == operation)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
