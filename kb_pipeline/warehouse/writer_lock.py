"""The writer's lock: ``warehouse.lock`` beside the DuckDB file, held for as long as a writer lives.

DuckDB's own lock lasts as long as its database is open, and the writer closes and reopens
DuckDB as it loads (`Warehouse`, `RENEW_EVERY_LOADS`). Between the two, another process waiting
for DuckDB's lock (a second run, a reader) would get in. This lock spans the writer's whole life:
the writer takes it exclusively before DuckDB and keeps it until it closes, and a reader takes it
shared while DuckDB opens, then lets it go (DuckDB's lock keeps writers out from then on). The
writer records who it is in the file, for the message of whoever waits.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path


class WriterLock:
    """The lock file of one warehouse, taken in one mode: `try_hold` until it succeeds, then `release`."""

    def __init__(self, path: Path, *, shared: bool) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    def try_hold(self) -> bool:
        """Take the lock if nobody holds it in the other mode; a writer then records itself.

        A reader finding no lock file goes on without it: no writer has run here yet, and a
        reader may lack the right to create files in the data directory.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY if self.shared else os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            if self.shared:
                return True
            raise
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        if not self.shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"PID {os.getpid()}, {_program()}".encode())
        self._fd = fd
        return True

    def holder(self) -> str | None:
        """Who holds the lock for writing, as that writer recorded it (None if unknown)."""
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        if not self.shared:
            os.ftruncate(self._fd, 0)  # nobody holds it now
        os.close(self._fd)  # closing the descriptor releases its flock
        self._fd = None


def _program() -> str:
    """The running program's name (``kb-pipeline``, ``dagster``), as DuckDB's lock error gives it."""
    script = sys.argv[0] if sys.argv else ""
    return Path(script).name if script and not script.startswith("-") else Path(sys.executable).name
