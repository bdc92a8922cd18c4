"""The warehouse's errors: each says which file and what to do."""

from __future__ import annotations

from pathlib import Path


class WarehouseError(RuntimeError):
    """A warehouse cannot be opened or used as asked."""


class WarehouseBusyError(WarehouseError):
    """Another process holds the warehouse file (another run is writing it)."""

    def __init__(self, path: Path, waited_s: float, holder: str | None) -> None:
        self.path = path
        self.waited_s = waited_s
        self.holder = holder
        by = f" (held by {holder})" if holder else ""
        super().__init__(
            f"warehouse {path} is locked by another process{by}: another run is writing it. "
            f"Waited {waited_s:g} s. Let that run finish (or stop it) and retry, or raise the lock timeout; "
            "runs that write the warehouse must be serialized (one writer at a time)."
        )


class WarehouseNotFoundError(WarehouseError, FileNotFoundError):
    """A read-only open found no warehouse file."""


class WarehouseSchemaError(WarehouseError):
    """The file's schema is newer than this code, or the file is not a kb-pipeline warehouse."""
