"""What a load did, per table: the figures a run reports and the Dagster layer shows as metadata."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class TableStats:
    """Counts for one table.

    received: rows the normalizer gave; inserted: new rows (for history tables, rows appended;
    for child tables, rows written); updated: rows whose payload changed, or that came back after
    being marked deleted; unchanged: rows seen again as they were (for history tables, rows
    already present, or given by an earlier page of the same load); superseded: rows that a later
    page of the same load replaced before they were stored (a current row whose key came again, a
    child row whose parent came again); removed: child rows replaced away; deleted: rows a
    completed scan did not see; quarantined: rows that failed validation.

    In a load of several pages the figures of a row go to the page whose row was stored: for a
    current table, the page of the key's last row is counted inserted, updated or unchanged
    against the table as it was before the load, and the key's earlier rows superseded. So for
    each page and table, received = inserted + updated + unchanged + superseded + quarantined
    (child tables: inserted + superseded + quarantined).
    """

    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    removed: int = 0
    deleted: int = 0
    quarantined: int = 0

    def __add__(self, other: TableStats) -> TableStats:
        return TableStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def add_tables(left: dict[str, TableStats], right: dict[str, TableStats]) -> dict[str, TableStats]:
    """Per-table sums of two sets of figures."""
    return {name: left.get(name, TableStats()) + right.get(name, TableStats()) for name in {*left, *right}}


def per_page(positions: Iterable[int], count: int) -> list[int]:
    """How many of `positions` (page positions in a load of `count` pages) fall on each page."""
    tally = Counter(positions)
    return [tally[position] for position in range(count)]


@dataclass(frozen=True, slots=True)
class LoadStats:
    """The outcome of loading one page (alone, or as one of the pages of a load).

    `cursor_saved` says that the page's cursor is the one stored for its (stream, partition): a
    page without cursor, or followed in the same load by a page of the same pair with one, has
    it False.
    """

    stream: str
    partition: str
    seq: int
    raw_path: Path | None
    tables: dict[str, TableStats]
    cursor_saved: bool

    @property
    def quarantined(self) -> int:
        return sum(stats.quarantined for stats in self.tables.values())

    def by_table(self) -> dict[str, dict[str, int]]:
        """The counts of each table touched, by kind (received, inserted, updated, ...)."""
        return {name: asdict(stats) for name, stats in sorted(self.tables.items())}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (for the page log, run summaries and Dagster metadata)."""
        return {
            "stream": self.stream,
            "partition": self.partition,
            "seq": self.seq,
            "raw_path": None if self.raw_path is None else str(self.raw_path),
            "cursor_saved": self.cursor_saved,
            "tables": self.by_table(),
        }


@dataclass(slots=True)
class LoadTotals:
    """Figures summed over many pages (a run, or a rebuild)."""

    pages: int = 0
    tables: dict[str, TableStats] = field(default_factory=dict)

    def add(self, stats: LoadStats) -> None:
        self.pages += 1
        self.tables = add_tables(self.tables, stats.tables)

    @property
    def quarantined(self) -> int:
        return sum(stats.quarantined for stats in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "tables": {name: asdict(stats) for name, stats in sorted(self.tables.items())},
        }
