"""The DuckDB connection: opening the file under its single-writer rule, within a memory cap.

DuckDB lets one process write a file (and no other process read it meanwhile). A run that finds
the file locked waits, polling, up to a timeout, then fails with `WarehouseBusyError` naming the
file and the process holding it, instead of DuckDB's bare lock error. DuckDB works within
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


# pyarrow's default pool (jemalloc) keeps the memory of every freed batch for reuse, so the writer's
# footprint would follow its largest batch ever; the C library's allocator gives it back.
pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def connect(
    path: Path, *, read_only: bool, lock_timeout_s: float, poll_interval_s: float
) -> duckdb.DuckDBPyConnection:
    """A connection to `path` with times in UTC, waiting for another process's lock to go."""
    if read_only and not path.exists():
        raise WarehouseNotFoundError(f"no warehouse at {path}: run an extraction first (it creates the file)")
    deadline, waiting = time.monotonic() + lock_timeout_s, False
    while True:
        try:
            con = duckdb.connect(
                str(path), read_only=read_only, config={"memory_limit": f"{MEMORY_LIMIT_MB}MB"}
            )
        except duckdb.IOException as error:
            message = str(error)
            if "lock" not in message.lower():
                raise
            match = _HOLDER.search(message)
            holder = f"PID {match['pid']}, {match['program']}" if match else None
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(path, lock_timeout_s, holder) from error
            if not waiting:
                waiting = True
                log.warning(
                    "waiting up to %g s for the write lock on %s, held by %s",
                    lock_timeout_s,
                    path,
                    holder or "another process",
                )
            time.sleep(poll_interval_s)
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
