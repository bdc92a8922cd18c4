"""Dagster's SQLite event log, with one engine per database file instead of one per event.

Dagster's `SqliteEventLogStorage` builds a SQLAlchemy engine for every statement it runs: each
event a run stores (a check planned, a check evaluated, an output) pays for a new engine, a new
SQLite connection, the dialect's first-connect queries and the compilation of its statements,
and a check event does so three times, one of them only to ask whether a table exists. About 230
events a run made this most of Dagster's own cost in a run whose vendors have nothing new (see
BENCHMARKS.md, "What a scheduled run costs").

`PooledSqliteEventLogStorage` keeps one engine, with its connection pool and compiled-statement
cache, per database: the index and the few most recent runs' shards. Everything else, the files,
their schema, Dagster's lock around each connection and its migrations, is the parent's, so the
UI and `dagster dev`, which keep Dagster's own class, read and write the same files.
`kb_pipeline.instance.open_instance` puts it in place of Dagster's default SQLite event log.

It also makes the index refuse to hand a held pool slot to a second step. Dagster claims a slot
by reading a free one and then writing its step into it, in two statements; in SQLite the read
takes no lock, so two runs that claim at the same moment can both read the same free slot and
both write it, and the pool's limit of one no longer holds. A trigger in the database skips a
write that would replace one step's claim with another's, so the later claim changes nothing and
Dagster sees it as blocked, whichever class or process wrote it (the UI's and a plain `dagster`
command's included, once any `kb-pipeline` command has opened the instance).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

HELD_SLOT_GUARD = "kb_pipeline_held_slot_stays_held"
"""The trigger that keeps a claimed pool slot with its step until Dagster frees it (see module doc)."""
CREATE_HELD_SLOT_GUARD = f"""
CREATE TRIGGER IF NOT EXISTS {HELD_SLOT_GUARD}
BEFORE UPDATE OF step_key ON concurrency_slots
WHEN OLD.step_key IS NOT NULL AND NEW.step_key IS NOT NULL
BEGIN SELECT RAISE(IGNORE); END
"""

RUN_SHARD_ENGINES = 4
"""Run shards whose engines stay open: a process writes one run at a time, the UI reads a few."""


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that reuses an engine per database (see module doc)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data)
        self._guard_held_slots()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made on first use; the least recently used run shard's is closed."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
        self._engines[shard] = engine
        while len(self._engines) > RUN_SHARD_ENGINES + 1:  # + the index, used by every asset event
            oldest = next(shard for shard in self._engines if shard != INDEX_SHARD_NAME)
            self._engines.pop(oldest).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
                engine.dispose()  # connections opened before `_initdb` set WAL mode keep the old mode
            with engine.connect() as connection, connection.begin():
                yield connection

    def _guard_held_slots(self) -> None:
        """Add the held-slot trigger to the index, once (an index older than Dagster's pools has
        no slots to guard)."""
        with self.index_connection() as connection:
            present = {
                name
                for (name,) in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE name IN ('concurrency_slots', ?)",
                    (HELD_SLOT_GUARD,),
                )
            }
            if present == {"concurrency_slots"}:
                connection.exec_driver_sql(CREATE_HELD_SLOT_GUARD)

    def has_table(self, table_name: str) -> bool:
        """Whether the index has `table_name`; asked on every check event, so a table once found is
        remembered (tables are added by migrations, never dropped)."""
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def _close_engines(self) -> None:
        with self._db_lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()

    def wipe(self) -> None:
        self._close_engines()  # the run shards' files are deleted
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
