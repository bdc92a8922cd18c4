"""Real warehouse files for the report (the migrations' schema and the marts), filled with a few
days of activity across the four sources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import cycle

import duckdb
import pytest

from kb_pipeline.marts import create_marts
from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES, JOB_STATUSES
from tests.empty_warehouse import Rows, insert_rows, open_empty_warehouse

FIRST_DAY = datetime(2025, 3, 1, tzinfo=UTC)


def _activity() -> dict[str, Rows]:
    """Five live knowledge bases (one named with HTML markup) and one deleted, with their documents,
    jobs and chunk snapshots."""

    def kb(source: str, kb_id: str, name: str, **extra) -> dict:
        return {
            "source": source,
            "kb_id": kb_id,
            "name": name,
            "scope_type": "workspace",
            "scope_id": "ws-1",
            "created_at": FIRST_DAY,
        } | extra

    statuses = cycle(DOCUMENT_STATUSES)
    job_statuses = cycle(JOB_STATUSES)
    jobs = []
    for n in range(24):
        status = next(job_statuses)
        created_at = FIRST_DAY + timedelta(days=n % 6, hours=n % 5)
        finished = status != "running"
        jobs.append(
            {
                "source": "pai_langstudio" if n % 3 else "vikingdb",
                "job_id": f"job-{n}",
                "kb_id": "pai-1" if n % 3 else "coll-1",
                "status": status,
                "created_at": created_at,
                "finished_at": created_at + timedelta(minutes=10) if finished else None,
                "duration_s": 600.0 if finished else None,
                "add_chunk_count": 40 if n % 3 else None,
                "delete_chunk_count": 5 if n % 3 else None,
            }
        )
    return {
        "knowledge_bases": [
            kb("qianfan", "qf-1", "Product <FAQ> & notes"),
            kb("qianfan", "qf-2", "Manuals"),
            kb("vikingdb", "coll-1", "Support collection", scope_type="project"),
            kb("pai_langstudio", "pai-1", "Runbooks", file_count=12),
            kb("lingma", "lm-1", "Code guides", scope_type="organization", file_count=5, size_bytes=4096),
            kb("qianfan", "qf-gone", "Deleted knowledge base", deleted_at=FIRST_DAY + timedelta(days=3)),
        ],
        "documents": [
            {
                "source": "qianfan",
                "kb_id": "qf-1" if n % 2 else "qf-2",
                "doc_id": f"doc-{n}",
                "status": next(statuses),
                "mime_type": "application/pdf",
                "file_size_bytes": 1000 + n,
                "created_at": FIRST_DAY + timedelta(hours=n),
            }
            for n in range(40)
        ],
        "jobs": jobs,
        "chunk_counts": [
            {
                "source": "vikingdb",
                "kb_id": "coll-1",
                "pipeline": "default",
                "observed_at": FIRST_DAY + timedelta(days=d),
                "doc_num": 10 + d,
                "chunk_count": 500 + 120 * d,
            }
            for d in range(5)
        ],
    }


@pytest.fixture(scope="session")
def activity() -> dict[str, Rows]:
    return _activity()


@pytest.fixture(scope="session")
def warehouse_factory(tmp_path_factory) -> Iterator[Callable[[dict[str, Rows]], duckdb.DuckDBPyConnection]]:
    """Opens a new warehouse file holding the given rows per table, with the marts created."""
    opened: list[Warehouse] = []

    def open_warehouse(rows: dict[str, Rows]) -> duckdb.DuckDBPyConnection:
        warehouse = open_empty_warehouse(tmp_path_factory.mktemp("warehouse"))
        opened.append(warehouse)
        for table, table_rows in rows.items():
            insert_rows(warehouse.connection, table, table_rows)
        create_marts(warehouse.connection)
        return warehouse.connection

    yield open_warehouse
    for warehouse in opened:
        warehouse.close()
