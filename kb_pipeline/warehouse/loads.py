"""A load: the pages of one `Warehouse.load_pages` call, checked and validated together.

Each table's rows of all the pages are concatenated in page order and validated at once (keys
unique per page, not across pages: a later page may give a key again, and then its row wins).
The rules that look at a page alone still do: a child row whose parent row was quarantined on
the same page is quarantined too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb_pipeline.pages import Page, TableRows
from kb_pipeline.vendors import SOURCE_NAMES
from kb_pipeline.warehouse.batches import Batch, prepare
from kb_pipeline.warehouse.merge import parent_table
from kb_pipeline.warehouse.tables import TABLES


@dataclass(frozen=True, slots=True)
class Load:
    """The pages of a load, in order, and each table's rows of all of them, validated."""

    pages: list[Page]
    batches: dict[str, Batch]

    def stored_cursors(self) -> set[int]:
        """Positions of the pages whose cursor is stored: the last one given per (stream, partition)."""
        last = {
            (page.stream, page.partition): position
            for position, page in enumerate(self.pages)
            if page.cursor is not None
        }
        return set(last.values())


def check_page(page: Page, rows: TableRows) -> None:
    """Refuse a page that cannot load, before anything is written."""
    where = f"page of stream {page.stream!r} (partition {page.partition!r})"
    if page.fetched_at.tzinfo is None:
        raise ValueError(f"{where}: fetched_at must be timezone-aware")
    if page.source not in SOURCE_NAMES:
        raise ValueError(f"{where}: unknown source {page.source!r}; known: {', '.join(SOURCE_NAMES)}")
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


def prepare_load(items: Sequence[tuple[Page, TableRows]]) -> Load:
    """Check every page, then type and validate each table's rows of all pages at once."""
    for page, rows in items:
        check_page(page, rows)
    batches = {}
    for name, table in TABLES.items():
        rows = [row for _, given in items for row in given.get(name) or ()]
        if rows:
            pages = [position for position, (_, given) in enumerate(items) for _ in given.get(name) or ()]
            batches[name] = prepare(table, rows, pages)
    _quarantine_orphans(batches)
    return Load([page for page, _ in items], batches)


def _quarantine_orphans(batches: dict[str, Batch]) -> None:
    """Reject the child rows whose parent row was rejected on the same page (and not loaded there)."""
    for table in TABLES.values():
        if table.merge != "children" or table.name not in batches:
            continue
        parent_of = parent_table(table)
        parent = batches.get(parent_of.name)
        if parent is None or not parent.rejected:
            continue
        keys = [
            (page, *(row.get(c) for c in parent_of.key))
            for page, row in zip(parent.pages, parent.rows, strict=True)
        ]
        loaded = {key for index, key in enumerate(keys) if index not in parent.rejected}
        dropped = {keys[index] for index in parent.rejected} - loaded
        children = batches[table.name]
        for index, (page, row) in enumerate(zip(children.pages, children.rows, strict=True)):
            if (page, *(row.get(c) for c in table.parent_key)) in dropped:
                children.reject(index, f"its {parent_of.name} row was quarantined")
