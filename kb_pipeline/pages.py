"""The unit that flows from a stream to the warehouse: one page as received, plus its cursor.

A stream yields pages; the single writer lands each page raw, normalizes it, and commits its
rows together with `cursor`, so a run killed between two pages resumes exactly after the last
committed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Record = dict[str, Any]
TableRows = dict[str, list[Record]]


@dataclass(frozen=True, slots=True)
class ScanEnd:
    """Marks the page that completes a full listing.

    Rows of `table` (restricted to `source` and, when given, to `partition_column = partition`)
    that this scan did not see get `deleted_at`; rows seen again get it cleared.
    """

    table: str
    scan_started_at: datetime
    partition_column: str | None = None
    partition: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of one stream, as fetched (credentials in pre-signed URLs already stripped)."""

    source: str
    stream: str
    partition: str
    records: list[Record]
    fetched_at: datetime
    request: Record = field(default_factory=dict)
    cursor: Record | None = None
    scan_end: ScanEnd | None = None
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class RunningWindow:
    """A partition's stored jobs from its oldest still-running one on.

    A newest-first scan that is to see every running job again must reach `oldest_created`,
    which takes about `jobs` records of listing.
    """

    oldest_created: datetime
    jobs: int
