"""Cheap commits for Dagster's SQLite run and event storage while `kb-pipeline run` executes.

Dagster stores every event of a run (a check planned, a check evaluated, an output, a log line)
in a transaction of its own, on a connection it opens and closes for that one event. On SQLite's
defaults each such event waits for the disk three times: the commit syncs the write-ahead log,
and closing the database's last connection checkpoints the log into the file and deletes it. A
no-change run stores about 220 events, so at about 20 ms a sync this was the largest cost of the
run after the vendors' own rate limits (see BENCHMARKS.md, "What a scheduled run costs").

Inside `cheap_commits()`, every write-ahead-logged SQLite database this process connects to gets
`synchronous=NORMAL` (the log is synced at checkpoints, not at every commit: a crash of the
process loses nothing, a power cut may lose the last events but never corrupts the file), and one
extra connection to it is held open, so that closing Dagster's own is never the last close and
does not checkpoint. Leaving the context closes the held connections, which checkpoints once.
Databases in another journal mode keep their settings.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class _HeldOpen:
    """One open connection per write-ahead-logged database file, kept until `close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, sqlite3.Connection] = {}

    def on_connect(self, connection: Any, _record: Any) -> None:
        if not isinstance(connection, sqlite3.Connection):
            return
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
        if mode != "wal":
            return
        connection.execute("PRAGMA synchronous=NORMAL")
        path = connection.execute("PRAGMA database_list").fetchone()[2]
        with self._lock:
            if not path or path in self._connections:
                return
            held = sqlite3.connect(path, check_same_thread=False)
            # a connection counts towards "the last one" only once it has read the database
            held.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self._connections[path] = held

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()


@contextmanager
def cheap_commits() -> Iterator[None]:
    """Dagster's SQLite storage commits without waiting for the disk while inside (see module doc)."""
    held = _HeldOpen()
    event.listen(Engine, "connect", held.on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", held.on_connect)
        held.close()
