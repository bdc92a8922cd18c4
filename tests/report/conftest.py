"""Real warehouse files for the report (the migrations' schema and the marts), filled with a few
days of activity across the four sources, and a run log in which one stream failed last and one
has not been extracted for over a day."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import cycle

import duckdb
import orjson
import pytest

from kb_pipeline.marts import create_marts
from kb_pipeline.report.checks import CheckOutcome
from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES, JOB_STATUSES
from tests.empty_warehouse import Rows, insert_rows, open_empty_warehouse

FIRST_DAY = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime.now(UTC)
STREAMS = {
    "pai.knowledge_bases": "pai_langstudio",
    "pai.jobs": "pai_langstudio",
    "qianfan.knowledge_bases": "qianfan",
    "qianfan.documents": "qianfan",
    "vikingdb.tasks": "vikingdb",
}
FAILED_STREAM = "vikingdb.tasks"
FAILURE = "task/info: code 1000001 unauthorized (request id req-7)"
STALE_STREAM = "qianfan.knowledge_bases"
"""Left out of the latest run, so its last success is the run before, 30 hours ago."""
RUN_ERROR = "WarehouseBusyError: warehouse is locked by another process"
QUARANTINED_LAST_RUN = 2
"""Rows of qianfan.documents the latest run quarantined (one more from the run before)."""


def _run_log() -> dict[str, Rows]:
    """Two runs with stream outcomes (30 h and 1 h ago), then one that failed before any stream ran
    and one that never finished."""
    earlier, latest = NOW - timedelta(hours=30), NOW - timedelta(hours=1)

    def run(run_id: str, finished_at: datetime, streams: list[str]) -> dict:
        outcomes = {
            stream: {
                "records": 10,
                "errors": [FAILURE] if run_id == "run-2" and stream == FAILED_STREAM else [],
            }
            for stream in streams
        }
        failed = any(outcome["errors"] for outcome in outcomes.values())
        return {
            "run_id": run_id,
            "started_at": finished_at - timedelta(minutes=5),
            "finished_at": finished_at,
            "status": "failed" if failed else "succeeded",
            "summary": orjson.dumps(outcomes).decode(),
        }

    latest_streams = [stream for stream in STREAMS if stream != STALE_STREAM]
    pages = [
        {
            "seq": seq,
            "run_id": run_id,
            "source": STREAMS[stream],
            "stream": stream,
            "partition": "",
            "fetched_at": at - timedelta(minutes=2),
            "record_count": 10,
            "loaded_at": at - timedelta(minutes=2),
        }
        for seq, (run_id, at, stream) in enumerate(
            [("run-1", earlier, stream) for stream in STREAMS]
            + [("run-2", latest, stream) for stream in latest_streams if stream != FAILED_STREAM]
        )
    ]
    quarantine = [
        {
            "source": "qianfan",
            "stream": "qianfan.documents",
            "table_name": "documents",
            "reason": "status: not one of the allowed values",
            "run_id": run_id,
            "quarantined_at": at,
        }
        for run_id, at in [("run-1", earlier)] + [("run-2", latest)] * QUARANTINED_LAST_RUN
    ]
    return {
        "_kb.runs": [
            run("run-1", earlier, list(STREAMS)),
            run("run-2", latest, latest_streams),
            {
                "run_id": "run-3",
                "started_at": NOW - timedelta(minutes=40),
                "finished_at": NOW - timedelta(minutes=39),
                "status": "failed",
                "summary": orjson.dumps({"error": RUN_ERROR}).decode(),
            },
            {"run_id": "run-4", "started_at": NOW - timedelta(minutes=20), "status": "running"},
        ],
        "_kb.pages": pages,
        "_kb.quarantine": quarantine,
    }


CHECKS = [
    CheckOutcome("qianfan/documents", "documents_schema", False, "ERROR", "3 rows fail: status", NOW),
    CheckOutcome("qianfan/documents", "nothing_quarantined", False, "WARN", "2 rows quarantined", NOW),
    CheckOutcome("qianfan/documents", "documents_unique_key", True, "ERROR", None, NOW),
    CheckOutcome("pai/jobs", "fresh", True, "WARN", None, NOW),
]
"""The latest check outcomes the report is given: one failed, one warning, two passed."""


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
    } | _run_log()


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
