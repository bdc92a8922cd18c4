"""How a load reaches the tables: one merge per table for all its pages, as if they came one by one.

Inside the caller's transaction, for the accepted rows of all pages in page order:

1. Derived status histories, against the tables as they were before the load: each page's row of
   a job is compared with the job's sighting before it, so a status that flips twice within a
   load is observed twice, at each page's fetch time, exactly as page by page.
2. Current tables: per key, the last page's row wins; first_seen_at is the fetch time of the
   key's first page in the load (when the key is new), last_seen_at that of its last. Then each
   page's scan end, in page order. A scan end applies after the rows of its page and of the pages
   before it: when a later page of the load has rows in that scan's scope (normally the scan end
   is the last page of its partition and none does), the merge is cut there and the pages after
   it merge in a second statement, so the scope's rows are marked and then seen again as page by
   page would.
3. Child tables: each parent named in the load (by a parent row or by child rows) keeps the
   children of the last page that named it.
4. History tables: appended, the first page's row of a key kept, as page by page.

Figures go to the page whose row was stored (see `TableStats`).
"""

from __future__ import annotations

import duckdb
import pyarrow
import pyarrow.compute

from kb_pipeline.warehouse import merge_sql
from kb_pipeline.warehouse.arrow_types import ARROW_TYPES, PAGE_COLUMN
from kb_pipeline.warehouse.batches import build
from kb_pipeline.warehouse.connection import registered
from kb_pipeline.warehouse.loads import Load
from kb_pipeline.warehouse.merge_sql import FIRST_SEEN, INCOMING, SEEN
from kb_pipeline.warehouse.stats import TableStats, per_page
from kb_pipeline.warehouse.tables import TABLES, Table
from kb_pipeline.warehouse.times import in_utc

_ROW = "_row"
_LAST = "_last_page"


class Figures:
    """Per page of a load, per table, the figures as the merge steps add them."""

    def __init__(self, pages: int) -> None:
        self.pages: list[dict[str, TableStats]] = [{} for _ in range(pages)]

    def add(self, table: str, figures: list[TableStats]) -> None:
        for page, stats in zip(self.pages, figures, strict=True):
            if stats != TableStats():
                page[table] = page.get(table, TableStats()) + stats

    def add_at(self, table: str, position: int, stats: TableStats) -> None:
        figures = [TableStats()] * len(self.pages)
        figures[position] = stats
        self.add(table, figures)


def merge_load(con: duckdb.DuckDBPyConnection, load: Load) -> list[dict[str, TableStats]]:
    """Merge the load's accepted rows and apply its scan ends; returns each page's figures by table."""
    count = len(load.pages)
    figures = Figures(count)
    seen = pyarrow.array([in_utc(page.fetched_at) for page in load.pages], ARROW_TYPES["TIMESTAMPTZ"])
    accepted: dict[str, pyarrow.Table] = {}
    for name, batch in load.batches.items():
        received = per_page(batch.pages, count)
        quarantined = per_page(batch.rejected_pages(), count)
        figures.add(
            name, [TableStats(received=r, quarantined=q) for r, q in zip(received, quarantined, strict=True)]
        )
        rows = batch.accepted()
        accepted[name] = rows.append_column(SEEN, seen.take(rows.column(PAGE_COLUMN)))

    for rule in merge_sql.STATUS_HISTORIES:
        rows = accepted.get(rule.tracked)
        if rows is not None and rows.num_rows:
            with registered(con, INCOMING, rows):
                observed = merge_sql.derive_status_history(con, rule, rows, count)
            figures.add(rule.history, [TableStats(inserted=n) for n in observed])

    for first, last in _segments(load, accepted):
        for table in _tables("current"):
            rows = accepted.get(table.name)
            if rows is not None and (first, last) != (0, count - 1):
                rows = rows.filter(_between(rows, first, last))
            if rows is not None and rows.num_rows:
                _merge_current(con, table, rows, figures)
        for position in range(first, last + 1):
            page = load.pages[position]
            if page.scan_end is not None:
                marked = merge_sql.mark_deleted(con, page.scan_end, page.source, page.fetched_at)
                figures.add_at(page.scan_end.table, position, TableStats(deleted=marked))

    for table in _tables("children"):
        _merge_children(con, table, accepted, figures)

    for table in _tables("history"):
        rows = accepted.get(table.name)
        if rows is not None and rows.num_rows:
            kept = rows.take(_first_rows(rows, table.key))
            with registered(con, INCOMING, kept):
                inserted = merge_sql.append_history(con, table, kept, count)
            given = _rows_per_page(rows, count)
            figures.add(
                table.name,
                [TableStats(inserted=n, unchanged=g - n) for n, g in zip(inserted, given, strict=True)],
            )
    return figures.pages


def _tables(kind: str) -> list[Table]:
    return [table for table in TABLES.values() if table.merge == kind]


def _between(rows: pyarrow.Table, first: int, last: int) -> pyarrow.ChunkedArray:
    pages = rows.column(PAGE_COLUMN)
    return pyarrow.compute.and_(
        pyarrow.compute.greater_equal(pages, first), pyarrow.compute.less_equal(pages, last)
    )


def _rows_per_page(rows: pyarrow.Table, count: int) -> list[int]:
    return per_page(rows.column(PAGE_COLUMN).to_pylist(), count)


def _with_superseded(merged: list[TableStats], given: pyarrow.Table, kept: pyarrow.Table) -> list[TableStats]:
    """`merged` plus, per page, the rows `given` that did not make it into `kept` (the rows stored)."""
    count = len(merged)
    pairs = zip(_rows_per_page(given, count), _rows_per_page(kept, count), strict=True)
    return [stats + TableStats(superseded=g - k) for stats, (g, k) in zip(merged, pairs, strict=True)]


def _numbered(rows: pyarrow.Table) -> pyarrow.Table:
    return rows.append_column(_ROW, pyarrow.array(range(rows.num_rows), pyarrow.int64()))


def _first_rows(rows: pyarrow.Table, key: tuple[str, ...]) -> pyarrow.Array:
    """Indices of the first row of each key."""
    grouped = _numbered(rows).group_by(list(key), use_threads=False).aggregate([(_ROW, "min")])
    return grouped.column(f"{_ROW}_min")


def _merge_current(
    con: duckdb.DuckDBPyConnection, table: Table, rows: pyarrow.Table, figures: Figures
) -> None:
    """Upsert each key's last row, with the fetch time of its first; earlier rows are superseded."""
    grouped = (
        _numbered(rows).group_by(list(table.key), use_threads=False).aggregate([(_ROW, "max"), (_ROW, "min")])
    )
    winners = rows.take(grouped.column(f"{_ROW}_max"))
    winners = winners.append_column(FIRST_SEEN, rows.column(SEEN).take(grouped.column(f"{_ROW}_min")))
    with registered(con, INCOMING, winners):
        merged = merge_sql.merge_current(con, table, winners, len(figures.pages))
    figures.add(table.name, _with_superseded(merged, rows, winners))


def _merge_children(
    con: duckdb.DuckDBPyConnection, table: Table, accepted: dict[str, pyarrow.Table], figures: Figures
) -> None:
    """Replace the children of every parent named, by those of the last page that named it."""
    key = list(table.parent_key)
    parents_rows = accepted.get(table.parent or "")
    children = accepted.get(table.name)
    named = [rows.select([*key, PAGE_COLUMN]) for rows in (parents_rows, children) if rows is not None]
    if not named:
        return
    grouped = pyarrow.concat_tables(named).group_by(key, use_threads=False).aggregate([(PAGE_COLUMN, "max")])
    parents = grouped.select([*key, f"{PAGE_COLUMN}_max"]).rename_columns([*key, PAGE_COLUMN])
    if children is None:
        children = build(table, []).typed
    last = parents.rename_columns([*key, _LAST])
    joined = children.join(last, keys=key, join_type="inner")
    winners = joined.filter(pyarrow.compute.equal(joined.column(PAGE_COLUMN), joined.column(_LAST)))
    winners = winners.drop_columns([_LAST])
    with registered(con, INCOMING, winners):
        replaced = merge_sql.replace_children(con, table, winners, parents, len(figures.pages))
    figures.add(table.name, _with_superseded(replaced, children, winners))


def _segments(load: Load, accepted: dict[str, pyarrow.Table]) -> list[tuple[int, int]]:
    """Runs of pages (first, last) merged together: cut after a scan end whose scope a later page has rows in."""
    last_in_scope: dict[tuple[str, str | None], dict[tuple[str, str | None], int]] = {}
    cuts = []
    for position, page in enumerate(load.pages[:-1]):
        end = page.scan_end
        if end is None:
            continue
        scope = (end.table, end.partition_column)
        if scope not in last_in_scope:
            last_in_scope[scope] = _last_pages(accepted.get(end.table), end.partition_column)
        partition = None if end.partition_column is None else str(end.partition)
        if last_in_scope[scope].get((page.source, partition), -1) > position:
            cuts.append(position)
    starts = [0, *(cut + 1 for cut in cuts)]
    ends = [*cuts, len(load.pages) - 1]
    return list(zip(starts, ends, strict=True))


def _last_pages(rows: pyarrow.Table | None, column: str | None) -> dict[tuple[str, str | None], int]:
    """For each (source, value of `column`) in `rows`, the last page position that has it."""
    if rows is None or rows.num_rows == 0:
        return {}
    by = ["source"] if column is None else ["source", column]
    grouped = rows.group_by(by, use_threads=False).aggregate([(PAGE_COLUMN, "max")]).to_pylist()
    return {
        (row["source"], None if column is None or row[column] is None else str(row[column])): row[
            f"{PAGE_COLUMN}_max"
        ]
        for row in grouped
    }
