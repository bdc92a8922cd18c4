"""The DuckDB connection: opening the file under its single-writer rule, within a memory cap.

DuckDB lets one process write a file (and no other process read it meanwhile); a writer also
holds ``warehouse.lock`` for its whole life (`WriterLock`). A run that finds either lock held
waits, polling, up to a timeout, then fails with `WarehouseBusyError` naming the file and the
process holding it, instead of DuckDB's bare lock error. DuckDB works within
`MEMORY_LIMIT_MB`, and a statement that needs more is given more (`with_memory_to_grow`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow

from kb_pipeline.warehouse.errors import WarehouseBusyError, WarehouseNotFoundError
from kb_pipeline.warehouse.writer_lock import WriterLock

log = logging.getLogger(__name__)
_HOLDER = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")


MEMORY_LIMIT_MB = 32
"""DuckDB's own cap (its buffer cache would otherwise grow with the file, up to 80% of RAM); larger
work spills to temporary files. With the tables' ART indexes gone (`migrations`), nothing DuckDB
cannot evict grows with the tables, so a large tenant fits in a small cap. A small tenant never
fills it, so the cap is also what a run's memory gains as the tenant grows: a 400,000-document
extraction fills it with rows not yet checkpointed, and took 24 MiB less at 32 MB than at 64 MB
(see BENCHMARKS.md, "Memory of a whole run"). A statement that needs more is tried again with
more (`with_memory_to_grow`)."""
LARGEST_MEMORY_LIMIT_MB = 1024
"""How far `with_memory_to_grow` raises the cap before it lets DuckDB's error through."""

T = TypeVar("T")


class Database:
    """The DuckDB file of a warehouse, open for writing or read-only, and the writer's lock.

    A writer holds ``warehouse.lock`` (`WriterLock`) from before DuckDB opens until `close`, so
    that `renew` can close and reopen DuckDB without another process getting in between. A
    reader takes that lock only while DuckDB opens.
    """

    def __init__(self, path: Path, *, read_only: bool, lock_timeout_s: float, poll_interval_s: float) -> None:
        if read_only and not path.exists():
            raise WarehouseNotFoundError(
                f"no warehouse at {path}: run an extraction first (it creates the file)"
            )
        self.path = path
        self.read_only = read_only
        self._lock_timeout_s = lock_timeout_s
        self._poll_interval_s = poll_interval_s
        self._lock = WriterLock(path.with_suffix(".lock"), shared=read_only)
        waiting = _Waiting(path, lock_timeout_s, poll_interval_s)
        while not self._lock.try_hold():
            waiting.or_give_up(self._lock.holder())
        try:
            self.connection = _connect(path, read_only, waiting)
        except BaseException:
            self._lock.release()
            raise
        if read_only:
            self._lock.release()

    def renew(self) -> None:
        """Close DuckDB and open it again, giving back what it keeps until the database closes."""
        self.connection.close()
        self.connection = _connect(
            self.path, self.read_only, _Waiting(self.path, self._lock_timeout_s, self._poll_interval_s)
        )

    def interrupt(self) -> None:
        """Interrupt the statement under way, if any (from any thread)."""
        with suppress(duckdb.ConnectionException):  # closed: nothing runs
            self.connection.interrupt()

    def close(self) -> None:
        try:
            self.connection.close()
        finally:
            self._lock.release()


class _Waiting:
    """Polling for a lock another process holds: says once that it waits, gives up at the timeout."""

    def __init__(self, path: Path, lock_timeout_s: float, poll_interval_s: float) -> None:
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        self.poll_interval_s = poll_interval_s
        self.deadline = time.monotonic() + lock_timeout_s
        self.said = False

    def or_give_up(self, holder: str | None, error: BaseException | None = None) -> None:
        """Sleep one poll interval, or raise `WarehouseBusyError` (from `error`) past the timeout."""
        if time.monotonic() >= self.deadline:
            raise WarehouseBusyError(self.path, self.lock_timeout_s, holder) from error
        if not self.said:
            self.said = True
            log.warning(
                "waiting up to %g s for the write lock on %s, held by %s",
                self.lock_timeout_s,
                self.path,
                holder or "another process",
            )
        time.sleep(self.poll_interval_s)


def _connect(path: Path, read_only: bool, waiting: _Waiting) -> duckdb.DuckDBPyConnection:
    """A connection to `path` with times in UTC, waiting for DuckDB's lock (held by a process that
    is not a kb-pipeline writer: a reader, the DuckDB shell) to go."""
    while True:
        try:
            # DuckDB's allocator (a jemalloc of its own) keeps freed pages until it reuses them, so
            # a checkpoint's buffers stayed resident long after; its background threads give them
            # back as they age: a run at 400,000 documents peaked about 7 MiB lower on average
            # (five runs against three; BENCHMARKS.md, "Reopening DuckDB, and where the peak stands")
            con = duckdb.connect(
                str(path),
                read_only=read_only,
                config={"memory_limit": f"{MEMORY_LIMIT_MB}MB", "allocator_background_threads": True},
            )
        except duckdb.IOException as error:
            message = str(error)
            if "lock" not in message.lower():
                raise
            match = _HOLDER.search(message)
            waiting.or_give_up(f"PID {match['pid']}, {match['program']}" if match else None, error)
            continue
        con.execute("SET TimeZone = 'UTC'")
        return con


def with_memory_to_grow(con: duckdb.DuckDBPyConnection, action: Callable[[], T], what: str) -> T:
    """`action()`, tried again with DuckDB's cap doubled each time it runs out of memory, up to
    `LARGEST_MEMORY_LIMIT_MB`; the cap is back at `MEMORY_LIMIT_MB` afterwards.

    A query's hash tables take memory per operator and per thread rather than per row, so a view
    with many joins and aggregates (`kb_inventory`) needed 60 to 80 MB at 400,000 documents, however
    few rows it returns, and DuckDB cannot spill all of it. `action` must be safe to
    repeat: a read, or a write whose failure leaves nothing behind.
    """
    limit = MEMORY_LIMIT_MB
    try:
        while True:
            try:
                return action()
            except duckdb.OutOfMemoryException:
                if limit >= LARGEST_MEMORY_LIMIT_MB:
                    raise
                limit *= 2
                log.warning("%s needs more memory than DuckDB had: trying again with %d MB", what, limit)
                con.execute(f"SET memory_limit = '{limit}MB'")
    finally:
        if limit != MEMORY_LIMIT_MB:
            con.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, rows: pyarrow.Table) -> Iterator[None]:
    """`rows` readable as the view `name` for the statements run inside the block. An error in the
    block goes on as it is: an aborted transaction refuses the unregister, and its rollback drops
    the view anyway."""
    con.register(name, rows)
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)
