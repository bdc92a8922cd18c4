"""`Warehouse`: one data directory (``warehouse.duckdb``, ``raw/``, ``feeds/``) and its single writer.

A page goes in with `load_page`: it lands raw first, then its rows are validated, quarantined or
merged, its scan end applied and its stream cursor saved, all in one DuckDB transaction. If any
step fails the transaction rolls back and the page's raw file is removed, so the warehouse (raw
included) holds exactly the pages it committed, and a rebuild from raw gives the same tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import pyarrow

from kb_pipeline.pages import SOURCES, Page, Record, TableRows
from kb_pipeline.warehouse import merge, state
from kb_pipeline.warehouse.batches import Batch, build, prepare
from kb_pipeline.warehouse.connection import connect
from kb_pipeline.warehouse.errors import WarehouseSchemaError
from kb_pipeline.warehouse.feeds import export
from kb_pipeline.warehouse.migrations import migrate, schema_version
from kb_pipeline.warehouse.raw_landing import iter_raw_pages, page_path, write_page
from kb_pipeline.warehouse.stats import LoadStats, LoadTotals, TableStats, add_tables
from kb_pipeline.warehouse.tables import TABLES, Table

DATABASE_FILE = "warehouse.duckdb"


class Warehouse:
    """The warehouse of one data directory, opened for writing (the default) or read-only.

    Opening for write applies pending migrations and holds DuckDB's file lock until `close`
    (or the end of a ``with`` block); a second process that opens it waits up to
    `lock_timeout_s`, polling every `poll_interval_s`, then raises `WarehouseBusyError`. Use one
    instance from one thread at a time.
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
        if not read_only:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self._con = connect(
            self.db_path, read_only=read_only, lock_timeout_s=lock_timeout_s, poll_interval_s=poll_interval_s
        )
        try:
            if read_only:
                if schema_version(self._con) == 0:
                    raise WarehouseSchemaError(
                        f"{self.db_path} is not a kb-pipeline warehouse (no _kb schema)"
                    )
                self._seq = 0
            else:
                migrate(self._con, label=str(self.db_path))
                self._seq = state.last_page_seq(self._con)
        except BaseException:
            self._con.close()
            raise

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
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def feeds_dir(self) -> Path:
        return self.data_dir / "feeds"

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection, for work this class does not wrap (creating mart views)."""
        return self._con

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        return schema_version(self._con)

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
        self._require_writer()
        _check_page(page, rows)
        batches = _prepare(rows)
        self._seq += 1
        seq = self._seq
        raw_path = None
        if land_raw:
            raw_path = page_path(self.raw_dir, page, seq)
            while raw_path.exists():
                self._seq += 1
                seq = self._seq
                raw_path = page_path(self.raw_dir, page, seq)
            write_page(raw_path, page, seq)
        try:
            with self._transaction():
                tables = self._merge(page, batches)
                state.quarantine(self._con, page, seq, list(batches.values()))
                if page.cursor is not None:
                    state.set_cursor(self._con, page.stream, page.partition, page.cursor)
                stats = LoadStats(
                    stream=page.stream,
                    partition=page.partition,
                    seq=seq,
                    raw_path=raw_path,
                    tables=tables,
                    cursor_saved=page.cursor is not None,
                )
                state.log_page(
                    self._con, page, seq, None if raw_path is None else str(raw_path), stats.as_dict()
                )
        except BaseException:
            if raw_path is not None:
                raw_path.unlink(missing_ok=True)
            raise
        return stats

    def _merge(self, page: Page, batches: dict[str, Batch]) -> dict[str, TableStats]:
        stats = {
            name: TableStats(received=len(batch.rows), quarantined=len(batch.rejected))
            for name, batch in batches.items()
        }
        for table in TABLES.values():
            batch = batches.get(table.name)
            if table.merge == "children":
                merged = self._merge_children(table, batches)
            elif batch is None:
                continue
            elif table.merge == "current":
                merged = self._merge_current(table, batch.accepted(), page, stats)
            else:
                merged = self._merge_history(table, batch.accepted())
            stats = add_tables(stats, {table.name: merged})
        if page.scan_end is not None:
            marked = merge.mark_deleted(self._con, page.scan_end, page.source, page.fetched_at)
            stats = add_tables(stats, {page.scan_end.table: TableStats(deleted=marked)})
        return {name: figures for name, figures in stats.items() if figures != TableStats()}

    def _merge_current(
        self, table: Table, accepted: pyarrow.Table, page: Page, stats: dict[str, TableStats]
    ) -> TableStats:
        if accepted.num_rows == 0:
            return TableStats()
        with self._incoming(accepted):
            for rule in merge.STATUS_HISTORIES:
                if rule.tracked == table.name:
                    observed = merge.derive_status_history(self._con, rule, accepted, page.fetched_at)
                    stats[rule.history] = stats.get(rule.history, TableStats()) + TableStats(
                        inserted=observed
                    )
            return merge.merge_current(self._con, table, accepted, page.fetched_at)

    def _merge_children(self, table: Table, batches: dict[str, Batch]) -> TableStats:
        parent = batches.get(merge.parent_table(table).name)
        children = batches.get(table.name)
        key = list(table.parent_key)
        sources = [batch.accepted().select(key) for batch in (parent, children) if batch is not None]
        if not sources:
            return TableStats()
        parents = pyarrow.concat_tables(sources).group_by(key).aggregate([])
        incoming = children.accepted() if children is not None else build(table, []).typed
        with self._incoming(incoming):
            return merge.replace_children(self._con, table, incoming, parents)

    def _merge_history(self, table: Table, accepted: pyarrow.Table) -> TableStats:
        if accepted.num_rows == 0:
            return TableStats()
        with self._incoming(accepted):
            return merge.append_history(self._con, table, accepted)

    @contextmanager
    def _incoming(self, rows: pyarrow.Table) -> Iterator[None]:
        self._con.register(merge.INCOMING, rows)
        try:
            yield
        finally:
            self._con.unregister(merge.INCOMING)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def _require_writer(self) -> None:
        if self.read_only:
            raise PermissionError(f"warehouse {self.db_path} is open read-only; open it for writing to load")

    # -- rebuild -------------------------------------------------------------------------------

    def iter_raw_pages(self) -> Iterator[Page]:
        """The landed pages, in the order they were fetched (fetched_at, then page sequence)."""
        return iter_raw_pages(self.raw_dir)

    def rebuild(self, pages: Iterable[tuple[Page, TableRows]], *, land_raw: bool = False) -> LoadTotals:
        """Empty the tables and the derived bookkeeping, then load `pages` in the order given.

        Meant for pages read back with `iter_raw_pages` and normalized again: stream cursors,
        deletions and job status history come back as they were. Raw files are not written again
        unless `land_raw` (set it when rebuilding into another data directory). The run log is
        kept. Each page commits on its own: after a failure, run the rebuild again.
        """
        self._require_writer()
        with self._transaction():
            for name in (*TABLES, *state.STATE_TABLES):
                self._con.execute(f"DELETE FROM {name}").fetchall()
        totals = LoadTotals()
        for page, rows in pages:
            totals.add(self.load_page(page, rows, land_raw=land_raw))
        return totals

    # -- state ---------------------------------------------------------------------------------

    def get_cursor(self, stream: str, partition: str = "") -> dict[str, Any] | None:
        """The cursor saved for (stream, partition), or None."""
        return state.get_cursor(self._con, stream, partition)

    def set_cursor(self, stream: str, partition: str, cursor: Record | None) -> None:
        """Save a cursor outside a page load (None forgets it)."""
        self._require_writer()
        state.set_cursor(self._con, stream, partition, cursor)

    def clear_cursors(self, stream: str) -> int:
        """Forget every cursor of a stream, so its next run reads everything (a full refresh)."""
        self._require_writer()
        return state.clear_cursors(self._con, stream)

    def start_run(self, run_id: str) -> None:
        """Record a run as started (status 'running')."""
        self._require_writer()
        state.start_run(self._con, run_id)

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None = None) -> None:
        """Record how a started run ended (for instance 'succeeded' or 'failed') and its figures."""
        self._require_writer()
        state.finish_run(self._con, run_id, status, summary)

    # -- reading and feeds ---------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pyarrow.Table:
        """Run SQL and return its result as an Arrow table (empty for statements without one)."""
        relation = self._con.sql(sql, params=params)
        return pyarrow.table({}) if relation is None else relation.to_arrow_table()

    def table_counts(self) -> dict[str, int]:
        """Rows in each table of the contract, and in `_kb.quarantine`."""
        names = [*TABLES, "_kb.quarantine"]
        union = " UNION ALL ".join(f"SELECT '{name}', count(*) FROM {name}" for name in names)
        return dict(self._con.execute(union).fetchall())

    def export_feeds(self, names: list[str] | None = None) -> list[Path]:
        """Write `feeds/<name>.parquet` for every table and view of `main` (or just `names`)."""
        return export(self._con, self.feeds_dir, names)


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


def _check_page(page: Page, rows: TableRows) -> None:
    where = f"page of stream {page.stream!r} (partition {page.partition!r})"
    if page.fetched_at.tzinfo is None:
        raise ValueError(f"{where}: fetched_at must be timezone-aware")
    if page.source not in SOURCES:
        raise ValueError(f"{where}: unknown source {page.source!r}; known: {', '.join(SOURCES)}")
    unknown = sorted(set(rows) - set(TABLES))
    if unknown:
        raise ValueError(f"{where}: rows for unknown tables {unknown}; tables are {', '.join(TABLES)}")
    scan_end = page.scan_end
    if scan_end is None:
        return
    table = TABLES.get(scan_end.table)
    if table is None or table.merge != "current":
        raise ValueError(f"{where}: scan end names {scan_end.table!r}, which is not a current-state table")
    if scan_end.scan_started_at.tzinfo is None:
        raise ValueError(f"{where}: scan_started_at must be timezone-aware")
    if scan_end.partition_column is not None and (
        scan_end.partition_column not in table.columns or scan_end.partition is None
    ):
        raise ValueError(
            f"{where}: scan end partition {scan_end.partition_column!r}={scan_end.partition!r} "
            f"needs a column of {table.name} and a value"
        )


def _prepare(rows: TableRows) -> dict[str, Batch]:
    """Validated batches in table order; children of a quarantined parent are quarantined too."""
    batches = {name: prepare(table, rows[name]) for name, table in TABLES.items() if rows.get(name)}
    for table in TABLES.values():
        if table.merge != "children" or table.name not in batches:
            continue
        parent_table = merge.parent_table(table)
        parent = batches.get(parent_table.name)
        if parent is None or not parent.rejected:
            continue
        keys = [tuple(row.get(c) for c in parent_table.key) for row in parent.rows]
        loaded = {key for index, key in enumerate(keys) if index not in parent.rejected}
        dropped = {keys[index] for index in parent.rejected} - loaded
        children = batches[table.name]
        for index, row in enumerate(children.rows):
            if tuple(row.get(c) for c in table.parent_key) in dropped:
                children.reject(index, f"its {parent_table.name} row was quarantined")
    return batches
