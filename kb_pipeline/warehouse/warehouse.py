"""`Warehouse`: one data directory (``warehouse.duckdb``, ``raw/``, ``feeds/``) and its single writer.

Pages go in with `load_pages` (or `load_page` for one): each lands raw first, then the rows of all
of them are validated, quarantined or merged, their scan ends applied and their stream cursors
saved, all in one DuckDB transaction. If any step fails the transaction rolls back and the raw
files of the load are removed, so the warehouse (raw included) holds exactly the pages it
committed, and a rebuild from raw gives the same tables. Loading many pages at once pays the
fixed costs of a transaction and of each merge statement once instead of once per page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import pyarrow

from kb_pipeline.pages import NormalizedPage, Page, TableRows
from kb_pipeline.warehouse import state
from kb_pipeline.warehouse.connection import Database, with_memory_to_grow
from kb_pipeline.warehouse.errors import WarehouseSchemaError
from kb_pipeline.warehouse.feeds import Feed, export, mark_reloaded
from kb_pipeline.warehouse.loads import prepare_load
from kb_pipeline.warehouse.merge_plan import merge_load
from kb_pipeline.warehouse.migrations import migrate, schema_version
from kb_pipeline.warehouse.raw_landing import iter_raw_pages, page_path, remove_page, write_page
from kb_pipeline.warehouse.stats import LoadStats, LoadTotals
from kb_pipeline.warehouse.tables import TABLES

DATABASE_FILE = "warehouse.duckdb"
Query = Callable[[str, list[Any]], pyarrow.Table]
"""SQL and its parameters -> the result, as `Warehouse.query` answers on the caller's connection."""
REBUILD_PAGES_PER_LOAD = 50
RENEW_EVERY_LOADS = 50
"""The writer closes and reopens DuckDB after this many loads. DuckDB (2.0) keeps a few KB of its
heap for every join statement it has run until the database closes, and a load runs several
joins, so at 400,000 documents the extraction's memory grew by some 45 MiB by its end. Reopening
costs a checkpoint, which the close does anyway (see BENCHMARKS.md)."""


class Warehouse:
    """The warehouse of one data directory, opened for writing (the default) or read-only.

    Opening for write applies pending migrations and holds the writer's lock (``warehouse.lock``,
    across the reopenings of DuckDB every `RENEW_EVERY_LOADS` loads) until `close` (or the end of
    a ``with`` block); a second process that opens it waits up to `lock_timeout_s`, polling every
    `poll_interval_s`, then raises `WarehouseBusyError`. Use one instance from one thread at a
    time, but for `query_while_loading`.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        read_only: bool = False,
        lock_timeout_s: float = 60.0,
        poll_interval_s: float = 0.5,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.read_only = read_only
        self._taking_turns = threading.Lock()
        """Held by a load and by each `query_while_loading`: they share DuckDB's memory cap,
        which two at once would split (and `with_memory_to_grow` would raise for both)."""
        if not read_only:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self._db = Database(
            self.db_path, read_only=read_only, lock_timeout_s=lock_timeout_s, poll_interval_s=poll_interval_s
        )
        self._loads = 0
        try:
            if read_only:
                if schema_version(self.connection) == 0:
                    raise WarehouseSchemaError(
                        f"{self.db_path} is not a kb-pipeline warehouse (no _kb schema)"
                    )
                self._seq = 0
            else:
                self._fold_in_left_wal()
                migrate(self.connection, label=str(self.db_path))
                self._seq = state.last_page_seq(self.connection)
        except BaseException:
            self._db.close()
            raise

    def _fold_in_left_wal(self) -> None:
        """Checkpoint at once when a writer that did not close (a killed run) left its WAL behind.

        DuckDB 2.0 replays such a WAL on open but neither checkpoints it then nor, in some cases,
        on close: this session's commits are appended to it, and the next open replays both
        sessions' entries and drops some of this session's column updates (a finished job kept
        its new status but lost its attachment_url). Checkpointing first writes the replayed
        state to the file, so the WAL only ever holds one session's commits.
        """
        if self.wal_path.exists():
            self.connection.execute("CHECKPOINT").fetchall()

    @classmethod
    def reader(
        cls, data_dir: str | Path, *, lock_timeout_s: float = 60.0, poll_interval_s: float = 0.5
    ) -> Self:
        """A read-only warehouse for ad-hoc SQL, counts and feeds (several readers may coexist)."""
        return cls(data_dir, read_only=True, lock_timeout_s=lock_timeout_s, poll_interval_s=poll_interval_s)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log: commits not yet checkpointed into `db_path`."""
        return self.data_dir / f"{DATABASE_FILE}.wal"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def feeds_dir(self) -> Path:
        return self.data_dir / "feeds"

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection, for work this class does not wrap (creating mart views).

        A load may replace it (`RENEW_EVERY_LOADS`): ask again after loading rather than keep it.
        """
        return self._db.connection

    def interrupt(self) -> None:
        """Interrupt the statement under way on the connection (a stop request, from any thread)."""
        self._db.interrupt()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        return schema_version(self.connection)

    # -- loading -------------------------------------------------------------------------------

    def load_page(self, page: Page, rows: TableRows, *, land_raw: bool = True) -> LoadStats:
        """Land `page` raw, then validate and merge `rows`, apply its scan end and save its cursor.

        `rows` maps table names to the payload rows the normalizer made of the page (`raw` as a
        dict). Rows that fail validation go to `_kb.quarantine`; the rest load. A parent row of
        a child table (a document for document_tags, a job for job_files) replaces all its
        stored children, so a parent given without children loses them. `page.cursor` None
        leaves the stored cursor as it is. Everything but the raw file happens in one
        transaction; on failure nothing changes and the raw file is removed.
        `land_raw=False` skips raw landing (for pages read back from raw).
        """
        return self.load_pages([NormalizedPage(page, rows)], land_raw=land_raw)[0]

    def load_pages(self, items: Sequence[NormalizedPage], *, land_raw: bool = True) -> list[LoadStats]:
        """Load several pages, in the order given, in one transaction; returns each page's figures.

        The tables end as if each page had gone through `load_page` in turn: for a key given by
        several pages the last page's row wins (a key twice on ONE page is still quarantined),
        first_seen_at and last_seen_at come from the fetch times of the key's first and last
        page, a parent keeps the children of its last page, a scan end applies after its page
        and the pages before it, each job status change is observed at its page's fetch time,
        and each (stream, partition) keeps the cursor of its last page that has one. Pages may
        come from any streams and partitions. Every page lands raw first and gets its own page
        log entry and figures (see `TableStats` for how they split between pages). If anything
        fails, nothing of the load is committed and all its raw files are removed; so a load that
        runs out of DuckDB's memory is tried again with more (`with_memory_to_grow`).
        """
        self._require_writer()
        with self._taking_turns:
            stats = with_memory_to_grow(
                self.connection, lambda: self._load_pages(items, land_raw), f"a load of {len(items)} pages"
            )
            self._loads += 1
            if self._loads % RENEW_EVERY_LOADS == 0:
                self._db.renew()
            return stats

    def _load_pages(self, items: Sequence[NormalizedPage], land_raw: bool) -> list[LoadStats]:
        load = prepare_load(items)
        if not load.pages:
            return []
        seqs: list[int] = []
        raw_paths: list[Path | None] = []
        try:
            for page in load.pages:
                seq, raw_path = self._land(page, land_raw)
                seqs.append(seq)
                raw_paths.append(raw_path)
            with self._transaction():
                figures = merge_load(self.connection, load)
                state.quarantine(self.connection, load.pages, seqs, list(load.batches.values()))
                saved = load.stored_cursors()
                state.set_cursors(
                    self.connection,
                    [(load.pages[i].stream, load.pages[i].partition, load.pages[i].cursor) for i in saved],
                )
                stats = [
                    LoadStats(
                        stream=page.stream,
                        partition=page.partition,
                        seq=seq,
                        raw_path=raw_path,
                        tables=tables,
                        cursor_saved=position in saved,
                    )
                    for position, (page, seq, raw_path, tables) in enumerate(
                        zip(load.pages, seqs, raw_paths, figures, strict=True)
                    )
                ]
                state.log_pages(
                    self.connection,
                    load.pages,
                    seqs,
                    [None if path is None else str(path) for path in raw_paths],
                    [page_stats.as_dict() for page_stats in stats],
                )
        except BaseException:
            for raw_path in raw_paths:
                if raw_path is not None:
                    remove_page(self.raw_dir, raw_path)
            raise
        return stats

    def _land(self, page: Page, land_raw: bool) -> tuple[int, Path | None]:
        """The page's sequence number, and where it landed raw (None when `land_raw` is off)."""
        self._seq += 1
        if not land_raw:
            return self._seq, None
        raw_path = page_path(self.raw_dir, page, self._seq)
        while raw_path.exists():
            self._seq += 1
            raw_path = page_path(self.raw_dir, page, self._seq)
        write_page(raw_path, page, self._seq)
        return self._seq, raw_path

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException:
            # a COMMIT that fails (out of memory, say) leaves the transaction aborted: roll it back
            # too, or every later load on this connection fails with "transaction is aborted"
            self.connection.execute("ROLLBACK")
            raise

    def _require_writer(self) -> None:
        if self.read_only:
            raise PermissionError(f"warehouse {self.db_path} is open read-only; open it for writing to load")

    # -- rebuild -------------------------------------------------------------------------------

    def iter_raw_pages(self) -> Iterator[Page]:
        """The landed pages, in the order they were fetched (fetched_at, then page sequence)."""
        return iter_raw_pages(self.raw_dir)

    def rebuild(
        self,
        pages: Iterable[NormalizedPage],
        *,
        land_raw: bool = False,
        pages_per_load: int = REBUILD_PAGES_PER_LOAD,
    ) -> LoadTotals:
        """Empty the tables and the derived bookkeeping, then load `pages` in the order given.

        Meant for pages read back with `iter_raw_pages` and normalized again: stream cursors,
        deletions and job status history come back as they were. Raw files are not written again
        unless `land_raw` (set it when rebuilding into another data directory). The run log is
        kept. Pages commit `pages_per_load` at a time (`load_pages` gives the same tables as
        one by one): after a failure, run the rebuild again.
        """
        self._require_writer()
        with self._transaction():
            for name in (*TABLES, *state.STATE_TABLES):
                self.connection.execute(f"DELETE FROM {name}").fetchall()
        totals = LoadTotals()
        pending = iter(pages)
        while chunk := list(islice(pending, pages_per_load)):
            for stats in self.load_pages(chunk, land_raw=land_raw):
                totals.add(stats)
        mark_reloaded(self.connection)  # the rows are back with the seen times they had
        return totals

    # -- state ---------------------------------------------------------------------------------

    def get_cursors(self, stream: str) -> dict[str, dict[str, Any]]:
        """The cursors saved for `stream`, by partition (a partition without one is absent)."""
        return state.get_cursors(self.connection, stream)

    def start_run(self, run_id: str) -> None:
        """Record a run as started (status 'running')."""
        self._require_writer()
        state.start_run(self.connection, run_id)

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        """Record how a started run ended (for instance 'succeeded' or 'failed') and its figures."""
        self._require_writer()
        state.finish_run(self.connection, run_id, status, summary)

    # -- reading and feeds ---------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pyarrow.Table:
        """Run SQL and return its result as an Arrow table (empty for statements without one)."""
        return _arrow(self.connection, sql, params)

    def query_while_loading(
        self, sql: str, params: list[Any] | dict[str, Any] | None = None
    ) -> pyarrow.Table:
        """`query` for a thread reading while another one loads, on a cursor of its own.

        A DuckDB connection serves one thread at a time; a cursor is a second connection to the
        same database, reading what has been committed. The query and the loads take turns, so
        each has the whole of DuckDB's memory cap, and the cursor is closed before a load may
        renew the connection.
        """
        with self._taking_turns, closing(self.connection.cursor()) as cursor:
            return _arrow(cursor, sql, params)

    def table_counts(self) -> dict[str, int]:
        """Rows in each table of the contract, and in `_kb.quarantine`."""
        names = [*TABLES, "_kb.quarantine"]
        union = " UNION ALL ".join(f"SELECT '{name}', count(*) FROM {name}" for name in names)
        return dict(self.connection.execute(union).fetchall())

    def export_feeds(self, names: list[str] | None = None) -> list[Feed]:
        """Bring `feeds/<name>.parquet` up to date for every table and view of `main` (or just `names`)."""
        return export(self.connection, self.feeds_dir, names)


def _arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any] | None
) -> pyarrow.Table:
    def run() -> pyarrow.Table:
        relation = con.sql(sql, params=params)
        return pyarrow.table({}) if relation is None else relation.to_arrow_table()

    return with_memory_to_grow(con, run, "a query")


def read_only_query(
    data_dir: str | Path, sql: str, *, lock_timeout_s: float = 0.0, poll_interval_s: float = 0.5
) -> pyarrow.Table:
    """Answer one query on a read-only open of the warehouse.

    By default it does not wait: while a run holds the writer it raises `WarehouseBusyError` at
    once (a sensor or the CLI reports that rather than block).
    """
    with Warehouse.reader(
        data_dir, lock_timeout_s=lock_timeout_s, poll_interval_s=poll_interval_s
    ) as warehouse:
        return warehouse.query(sql)


def table_counts(data_dir: str | Path, *, lock_timeout_s: float = 0.0) -> dict[str, int]:
    """Rows per table of the contract (and `_kb.quarantine`), from a read-only open."""
    with Warehouse.reader(data_dir, lock_timeout_s=lock_timeout_s) as warehouse:
        return warehouse.table_counts()
