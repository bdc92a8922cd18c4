"""Synthetic pages and rows for the warehouse tests.

Rows are built here, not by the vendor normalizers: the warehouse is tested against the table
contract alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kb_pipeline.pages import Page, Record, ScanEnd
from kb_pipeline.warehouse import Warehouse

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A fetch time `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def document(doc_id: str, kb_id: str = "kb-1", **changes: Any) -> Record:
    row: Record = {
        "source": "qianfan",
        "kb_id": kb_id,
        "doc_id": doc_id,
        "name": f"{doc_id}.pdf",
        "status_raw": "available",
        "status": "available",
        "word_count": 80618,
        "enabled": True,
        "origin": "upload_file",
        "file_id": f"file-{doc_id}",
        "mime_type": "pdf",
        "file_size_bytes": 760872,
        "url": f"https://copilot-engine-bos.bj.bcebos.com/upload_files/{doc_id}.pdf",
        "created_at": datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC),
        "raw": {"id": doc_id, "displayStatus": "available", "meta": {"fileSize": 760872}},
    }
    return row | changes


def knowledge_base(kb_id: str, **changes: Any) -> Record:
    row: Record = {
        "source": "lingma",
        "kb_id": kb_id,
        "name": f"{kb_id} docs",
        "scope_type": "organization",
        "scope_id": "org-1",
        "raw": {"id": kb_id},
    }
    return row | changes


def tag(doc_id: str, key: str, value: str, kb_id: str = "kb-1") -> Record:
    return {"source": "qianfan", "kb_id": kb_id, "doc_id": doc_id, "tag_key": key, "tag_value": value}


def job(job_id: str, status: str = "running", progress: float | None = 10.0, **changes: Any) -> Record:
    raw_status = {"running": "Running", "succeeded": "Success", "failed": "Failed"}[status]
    row: Record = {
        "source": "pai_langstudio",
        "job_id": job_id,
        "kb_id": "d-ksicx823d",
        "action": "SyncIndex",
        "status_raw": raw_status,
        "status": status,
        "progress_pct": progress,
        "created_at": T0,
        "total_file_count": 3,
        "add_chunk_count": 120,
        "delete_chunk_count": 0,
        "raw": {"KnowledgeBaseJobId": job_id, "Status": raw_status},
    }
    return row | changes


def job_file(job_id: str, file_meta_id: str) -> Record:
    return {
        "source": "pai_langstudio",
        "job_id": job_id,
        "file_meta_id": file_meta_id,
        "file_name": f"{file_meta_id}.txt",
        "file_uri": f"oss://bucket/{file_meta_id}.txt",
        "action": "add",
    }


def chunk_count(kb_id: str, observed_at: datetime, chunks: int) -> Record:
    return {
        "source": "vikingdb",
        "kb_id": kb_id,
        "pipeline": "default",
        "observed_at": observed_at,
        "doc_num": 3,
        "finish_doc_num": 3,
        "success_doc_num": 3,
        "chunk_count": chunks,
    }


def page(
    stream: str = "qianfan.documents",
    partition: str = "kb-1",
    *,
    fetched_at: datetime = T0,
    records: list[Record] | None = None,
    source: str | None = None,
    cursor: Record | None = None,
    scan_end: ScanEnd | None = None,
    run_id: str = "run-1",
) -> Page:
    return Page(
        source=source or stream.split(".")[0].replace("pai", "pai_langstudio"),
        stream=stream,
        partition=partition,
        records=records if records is not None else [{"id": "doc-1"}],
        fetched_at=fetched_at,
        request={"knowledgeBaseId": partition, "maxKeys": 100},
        cursor=cursor,
        scan_end=scan_end,
        run_id=run_id,
    )


def rows_of(warehouse: Warehouse, table: str, order_by: str = "ALL") -> list[dict[str, Any]]:
    return warehouse.query(f"SELECT * FROM {table} ORDER BY {order_by}").to_pylist()
