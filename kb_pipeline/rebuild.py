"""Recreate every table from the raw landing: no API is called, the vendors' normalizers rerun."""

from __future__ import annotations

from pathlib import Path

from kb_pipeline.pages import NormalizedPage
from kb_pipeline.sources import stream
from kb_pipeline.warehouse import Warehouse


def rebuild_warehouse(data_dir: Path) -> dict[str, int]:
    """Reload every raw page, in the order it was fetched, into emptied tables; returns row counts."""
    with Warehouse(data_dir) as warehouse:
        warehouse.rebuild(
            NormalizedPage(page, stream(page.stream).normalize(page)) for page in warehouse.iter_raw_pages()
        )
        return warehouse.table_counts()
