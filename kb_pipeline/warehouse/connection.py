"""Opening the DuckDB file under its single-writer rule.

DuckDB lets one process write a file (and no other process read it meanwhile). A run that finds
the file locked waits, polling, up to a timeout, then fails with `WarehouseBusyError` naming the
file and the process holding it, instead of DuckDB's bare lock error.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import duckdb
import pyarrow

from kb_pipeline.warehouse.errors import WarehouseBusyError, WarehouseNotFoundError

log = logging.getLogger(__name__)
_HOLDER = re.compile(r"held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")


MEMORY_LIMIT = "64MB"
"""DuckDB's own cap (its buffer cache would otherwise grow with the file, up to 80% of RAM); larger
work spills to temporary files. With the tables' ART indexes gone (`migrations`), nothing DuckDB
cannot evict grows with the tables, so a large tenant fits in a small cap. A small tenant never
fills it, so the cap is also part of what a run's memory gains as the tenant grows: 64 MB carries
a 400,000-document run, feeds included (see BENCHMARKS.md, "Memory of a whole run")."""


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
            con = duckdb.connect(str(path), read_only=read_only, config={"memory_limit": MEMORY_LIMIT})
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
