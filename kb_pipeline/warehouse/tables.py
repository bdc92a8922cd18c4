"""The table contract (README, "What lands in the warehouse"): columns, DuckDB types, keys and merge behaviour.

Normalizers in `kb_pipeline.sources` emit rows holding the *payload* columns below (every column
except the bookkeeping ones the warehouse sets itself: first_seen_at, last_seen_at, deleted_at).
`raw` is the wire record as a dict; the warehouse stores it as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Merge = Literal["current", "history", "children"]

BOOKKEEPING = ("first_seen_at", "last_seen_at", "deleted_at")


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]
    merge: Merge
    """current: upsert by key with first/last_seen_at and deleted_at;
    history: append, deduplicated by key;
    children: rows replace all rows of their parent (`parent_key`) each time the parent is loaded."""
    parent_key: tuple[str, ...] = ()
    parent: str | None = None
    """For children: the table keyed by `parent_key`, whose rows in the same page name the parents
    being replaced."""

    @property
    def payload_columns(self) -> list[str]:
        return [c for c in self.columns if c not in BOOKKEEPING]


TSTZ = "TIMESTAMPTZ"

KNOWLEDGE_BASES = Table(
    name="knowledge_bases",
    key=("source", "kb_id"),
    merge="current",
    columns={
        "source": "VARCHAR",
        "kb_id": "VARCHAR",
        "name": "VARCHAR",
        "description": "VARCHAR",
        "scope_type": "VARCHAR",  # workspace | organization | project
        "scope_id": "VARCHAR",
        "scene_type": "VARCHAR",
        "state": "VARCHAR",
        "visibility": "VARCHAR",
        "file_count": "BIGINT",
        "size_bytes": "BIGINT",
        "member_count": "BIGINT",
        "creator": "VARCHAR",
        "created_at": TSTZ,
        "updated_at": TSTZ,
        "last_activity_at": TSTZ,
        "first_seen_at": TSTZ,
        "last_seen_at": TSTZ,
        "deleted_at": TSTZ,
        "raw": "JSON",
    },
)

DOCUMENTS = Table(
    name="documents",
    key=("source", "kb_id", "doc_id"),
    merge="current",
    columns={
        "source": "VARCHAR",
        "kb_id": "VARCHAR",
        "doc_id": "VARCHAR",
        "name": "VARCHAR",
        "status_raw": "VARCHAR",
        "status": "VARCHAR",  # queued | processing | available | failed | disabled
        "word_count": "BIGINT",
        "enabled": "BOOLEAN",
        "origin": "VARCHAR",  # upload_file | datatable | url
        "file_id": "VARCHAR",
        "mime_type": "VARCHAR",
        "file_size_bytes": "BIGINT",
        "url": "VARCHAR",
        "created_at": TSTZ,
        "first_seen_at": TSTZ,
        "last_seen_at": TSTZ,
        "deleted_at": TSTZ,
        "raw": "JSON",
        "chunk_count": "BIGINT",  # VikingDB point_num
        "path": "VARCHAR",
        "updated_at": TSTZ,
    },
)

DOCUMENT_TAGS = Table(
    name="document_tags",
    key=("source", "kb_id", "doc_id", "tag_key", "tag_value"),
    parent_key=("source", "kb_id", "doc_id"),
    parent="documents",
    merge="children",
    columns={
        "source": "VARCHAR",
        "kb_id": "VARCHAR",
        "doc_id": "VARCHAR",
        "tag_key": "VARCHAR",
        "tag_value": "VARCHAR",
    },
)

JOBS = Table(
    name="jobs",
    key=("source", "job_id"),
    merge="current",
    columns={
        "source": "VARCHAR",
        "job_id": "VARCHAR",
        "kb_id": "VARCHAR",
        "action": "VARCHAR",
        "status_raw": "VARCHAR",
        "status": "VARCHAR",  # running | succeeded | failed
        "progress_pct": "DOUBLE",
        "created_at": TSTZ,
        "modified_at": TSTZ,
        "finished_at": TSTZ,
        "duration_s": "DOUBLE",
        "max_running_time_s": "BIGINT",
        "error_message": "VARCHAR",
        "total_file_count": "BIGINT",
        "add_chunk_count": "BIGINT",
        "delete_chunk_count": "BIGINT",
        "attachment_url": "VARCHAR",
        "first_seen_at": TSTZ,
        "last_seen_at": TSTZ,
        "deleted_at": TSTZ,
        "raw": "JSON",
    },
)

JOB_FILES = Table(
    name="job_files",
    key=("source", "job_id", "file_meta_id"),
    parent_key=("source", "job_id"),
    parent="jobs",
    merge="children",
    columns={
        "source": "VARCHAR",
        "job_id": "VARCHAR",
        "file_meta_id": "VARCHAR",
        "file_name": "VARCHAR",
        "file_uri": "VARCHAR",
        "action": "VARCHAR",
    },
)

JOB_STATUS_HISTORY = Table(
    name="job_status_history",
    key=("source", "job_id", "observed_at"),
    merge="history",
    columns={
        "source": "VARCHAR",
        "job_id": "VARCHAR",
        "observed_at": TSTZ,
        "status_raw": "VARCHAR",
        "status": "VARCHAR",
        "progress_pct": "DOUBLE",
    },
)

CHUNK_COUNTS = Table(
    name="chunk_counts",
    key=("source", "kb_id", "pipeline", "observed_at"),
    merge="history",
    columns={
        "source": "VARCHAR",
        "kb_id": "VARCHAR",
        "pipeline": "VARCHAR",
        "observed_at": TSTZ,
        "doc_num": "BIGINT",
        "finish_doc_num": "BIGINT",
        "success_doc_num": "BIGINT",
        "chunk_count": "BIGINT",
    },
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        KNOWLEDGE_BASES,
        DOCUMENTS,
        DOCUMENT_TAGS,
        JOBS,
        JOB_FILES,
        JOB_STATUS_HISTORY,
        CHUNK_COUNTS,
    )
}

DOCUMENT_STATUSES = ("queued", "processing", "available", "failed", "disabled")
JOB_STATUSES = ("running", "succeeded", "failed")
