"""Protects kb_inventory and kb_inventory_by_scope: where each figure comes from for each kind of
source (documents table, file_count, snapshot doc_num), bytes, latest chunks, last activity, and the
per-scope sums, with deleted knowledge bases, documents and jobs left out."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest


def at(day: int, hour: float = 0) -> datetime:
    return datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def kb(source: str, kb_id: str, scope_id: str, **extra) -> dict:
    scope_type = {"lingma": "organization", "vikingdb": "project"}.get(source, "workspace")
    return {
        "source": source,
        "kb_id": kb_id,
        "name": f"{kb_id} name",
        "scope_type": scope_type,
        "scope_id": scope_id,
        "created_at": at(1),
    } | extra


KNOWLEDGE_BASES = [
    kb("qianfan", "qf-docs", "ws-1", updated_at=at(2)),
    kb("qianfan", "qf-empty", "ws-1", size_bytes=0),
    kb("qianfan", "qf-gone", "ws-1", deleted_at=at(9)),
    kb("lingma", "lm-1", "org-1", file_count=7, size_bytes=1000, last_activity_at=at(6)),
    kb("lingma", "lm-2", "org-1", file_count=3, size_bytes=None),
    kb("vikingdb", "vk-1", "proj-1"),
    kb("pai_langstudio", "pai-1", "ws-9", file_count=4, size_bytes=2048),
]
DOCUMENTS = [
    {"source": "qianfan", "kb_id": "qf-docs", "doc_id": "d1", "file_size_bytes": 100, "created_at": at(3)},
    {"source": "qianfan", "kb_id": "qf-docs", "doc_id": "d2", "file_size_bytes": 250, "created_at": at(4)},
    {"source": "qianfan", "kb_id": "qf-docs", "doc_id": "d3", "file_size_bytes": None, "created_at": at(2)},
    {
        "source": "qianfan",
        "kb_id": "qf-docs",
        "doc_id": "d4",
        "file_size_bytes": 999,
        "created_at": at(8),
        "deleted_at": at(8, 1),
    },
    {"source": "qianfan", "kb_id": "qf-gone", "doc_id": "d5", "file_size_bytes": 5, "created_at": at(3)},
]
CHUNK_COUNTS = [
    {
        "source": "vikingdb",
        "kb_id": "vk-1",
        "pipeline": "p1",
        "observed_at": at(2),
        "doc_num": 10,
        "chunk_count": 300,
    },
    {
        "source": "vikingdb",
        "kb_id": "vk-1",
        "pipeline": "p1",
        "observed_at": at(5),
        "doc_num": 12,
        "chunk_count": 400,
    },
    {
        "source": "vikingdb",
        "kb_id": "vk-1",
        "pipeline": "p2",
        "observed_at": at(5),
        "doc_num": 12,
        "chunk_count": 40,
    },
]
JOBS = [
    {
        "source": "pai_langstudio",
        "job_id": "j1",
        "kb_id": "pai-1",
        "status": "succeeded",
        "created_at": at(2),
        "finished_at": at(2, 1),
        "add_chunk_count": 60,
        "delete_chunk_count": 10,
    },
    {
        "source": "pai_langstudio",
        "job_id": "j2",
        "kb_id": "pai-1",
        "status": "failed",
        "created_at": at(7),
        "modified_at": at(7, 2),
        "add_chunk_count": 5,
    },
    {
        "source": "pai_langstudio",
        "job_id": "j3",
        "kb_id": "pai-1",
        "status": "succeeded",
        "created_at": at(9),
        "finished_at": at(9, 1),
        "add_chunk_count": 1,
        "deleted_at": at(10),
    },
]

# What each live knowledge base should show: (documents, basis, bytes, chunks, last activity).
EXPECTED = {
    "qf-docs": (3, "documents", 350, None, at(4)),
    "qf-empty": (0, "documents", 0, None, at(1)),
    "lm-1": (7, "file_count", 1000, None, at(6)),
    "lm-2": (3, "file_count", None, None, at(1)),
    "vk-1": (12, "doc_num", None, 440, at(1)),
    "pai-1": (4, "file_count", 2048, 50, at(7, 2)),
}


@pytest.fixture
def warehouse_rows(insert) -> None:
    insert("knowledge_bases", KNOWLEDGE_BASES)
    insert("documents", DOCUMENTS)
    insert("chunk_counts", CHUNK_COUNTS)
    insert("jobs", JOBS)


def test_inventory_per_knowledge_base(warehouse_rows, query) -> None:
    rows = {row["kb_id"]: row for row in query("kb_inventory")}
    shown = {
        kb_id: (
            row["documents"],
            row["documents_basis"],
            row["bytes"],
            row["chunks"],
            row["last_activity_at"],
        )
        for kb_id, row in rows.items()
    }
    assert shown == EXPECTED
    assert rows["lm-1"]["scope_type"] == "organization"
    assert rows["vk-1"]["kb_name"] == "vk-1 name"


def test_inventory_by_scope_sums_its_knowledge_bases(warehouse_rows, query) -> None:
    scopes: dict[tuple, dict] = defaultdict(lambda: defaultdict(list))
    for row in KNOWLEDGE_BASES:
        if row["kb_id"] in EXPECTED:
            documents, _, size, chunks, last_activity = EXPECTED[row["kb_id"]]
            scope = scopes[(row["source"], row["scope_type"], row["scope_id"])]
            for name, value in [
                ("documents", documents),
                ("bytes", size),
                ("chunks", chunks),
                ("last_activity_at", last_activity),
            ]:
                if value is not None:
                    scope[name].append(value)
            scope["knowledge_bases"].append(1)

    rows = {
        (row["source"], row["scope_type"], row["scope_id"]): row for row in query("kb_inventory_by_scope")
    }

    assert rows.keys() == scopes.keys()
    for key, figures in scopes.items():
        row = rows[key]
        assert row["knowledge_bases"] == len(figures["knowledge_bases"])
        for name in ("documents", "bytes", "chunks"):
            assert row[name] == (sum(figures[name]) if figures[name] else None), (key, name)
        assert row["last_activity_at"] == max(figures["last_activity_at"])
