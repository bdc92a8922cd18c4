"""Volcengine VikingDB knowledge base: collections (snapshot each run), their documents (listed
again where a collection's `update_time` or `doc_num` moved) and tasks (polled to the end).

POSTs with JSON bodies, signed with Volcengine HMAC-SHA256 (service `air`). Answers use the
envelope `{code, message, data, request_id}`; errors are HTTP 400/401/403 with a `code`
(1000001 unauthorized, 1000002 no permission, 1000003 invalid request, 1000005 collection not
exist) and throttling is code 1000029. doc/list pages by offset/limit (at most 100), newest first;
its times are epoch milliseconds where collections' are seconds, and `doc_meta` is a JSON string.
"""

from __future__ import annotations

from typing import Any

import httpx

from kb_pipeline.auth import VolcSigner
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import OffsetPaginator, SinglePage
from kb_pipeline.http.retry import parse_retry_after
from kb_pipeline.normalize import mime_type_of, strip_url_credentials, to_utc
from kb_pipeline.pages import Page, TableRows
from kb_pipeline.sources.base import KnownRecords, Source, Stream
from kb_pipeline.sources.strategies import Listing, full_listing, poll_until_terminal, when_parent_changed
from kb_pipeline.sources.vikingdb.settings import VikingDbSettings

NAME = "vikingdb"
QUOTA_LIMITED = 1000029
TASK_STATUS = {"running": "running", "success": "succeeded", "fail": "failed"}
DOC_STATUS = {0: "available", 1: "failed", 2: "queued", 3: "processing", 5: "processing", 6: "processing"}
"""`status.process_status` (doc/info reference page: 0 done, 1 failed, 2 queued, 3 updating,
5 deleting, 6 processing) onto the normalized enum."""
ALL_PROJECTS = ""


def parse_error(response: httpx.Response, body: Any) -> ErrorInfo | None:
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code")
    if response.status_code < 400 and code in (None, 0):
        return None
    throttled = code == QUOTA_LIMITED or response.status_code == 429
    return ErrorInfo(
        code=None if code is None else str(code),
        message=fields.get("message"),
        request_id=fields.get("request_id"),
        retryable=response.status_code >= 500,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        throttled=throttled,
    )


def make_client(settings: VikingDbSettings, http: httpx.AsyncClient) -> VendorClient:
    credentials = settings.credentials
    return VendorClient(
        source=NAME,
        base_url=settings.endpoint,
        signer=VolcSigner(
            credentials.access_key_id.get_secret_value(),
            credentials.secret_access_key,
            region=settings.region,
        ),
        parse_error=parse_error,
        http=http,
        qps=settings.qps or SOURCE.default_qps,
        headers={"Accept": "application/json"},
    )


COLLECTIONS = Listing(
    endpoint="collection/list",
    method="POST",
    path="/api/knowledge/collection/list",
    json=lambda settings, project: {"project": project, "brief": False} if project else {"brief": False},
    paginator=lambda settings: SinglePage(),
    records=lambda body: (body.get("data") or {}).get("collection_list") or [],
)

TASK = Listing(
    endpoint="task/info",
    method="POST",
    path="/api/knowledge/task/info",
    json=lambda settings, task_id: {"task_id": task_id},
    paginator=lambda settings: SinglePage(),
    records=lambda body: [body.get("data") or {}],
)


def _doc_list_body(settings: VikingDbSettings, kb_id: str) -> dict[str, Any]:
    """The collection by resource_id, or by project and name where `collection_id` had to build one."""
    project, slash, name = kb_id.partition("/")
    return {"project": project, "collection_name": name} if slash else {"resource_id": kb_id}


DOCUMENTS = Listing(
    endpoint="doc/list",
    method="POST",
    path="/api/knowledge/doc/list",
    json=_doc_list_body,
    paginator=lambda settings: OffsetPaginator(page_size=settings.doc_page_size),
    records=lambda body: (body.get("data") or {}).get("doc_list") or [],
)
"""Newest first: a document added or removed mid-scan moves `total_num`, and the scan starts over."""


def collection_id(collection: dict[str, Any], project: str) -> str:
    """resource_id when the vendor sends it; else project/name, unique within the account."""
    return (
        collection.get("resource_id")
        or f"{collection.get('project') or project}/{collection['collection_name']}"
    )


def normalize_collections(page: Page) -> TableRows:
    knowledge_bases, chunk_counts = [], []
    for collection in page.records:
        project = collection.get("project") or page.partition or None
        kb_id = collection_id(collection, page.partition)
        pipelines = collection.get("pipeline_list") or []
        knowledge_bases.append(
            {
                "source": NAME,
                "kb_id": kb_id,
                "name": collection.get("collection_name"),
                "description": collection.get("description") or None,
                "scope_type": "project",
                "scope_id": project,
                "scene_type": collection.get("data_type"),
                "state": None,
                "visibility": None,
                "file_count": collection.get("doc_num"),
                "size_bytes": None,
                "member_count": None,
                "creator": collection.get("creator"),
                "created_at": to_utc(collection.get("create_time")),
                "updated_at": to_utc(collection.get("update_time")),
                "last_activity_at": None,
                "raw": collection,
            }
        )
        for pipeline in pipelines:
            stat = pipeline.get("pipeline_stat") or {}
            chunk_counts.append(
                {
                    "source": NAME,
                    "kb_id": kb_id,
                    "pipeline": pipeline.get("pipeline_type") or "default",
                    "observed_at": page.fetched_at,
                    "doc_num": stat.get("doc_num"),
                    "finish_doc_num": stat.get("finish_doc_num"),
                    "success_doc_num": stat.get("success_doc_num"),
                    "chunk_count": stat.get("point_num"),
                }
            )
    return {"knowledge_bases": knowledge_bases, "chunk_counts": chunk_counts}


def normalize_documents(page: Page) -> TableRows:
    rows = []
    for doc in page.records:
        state = doc.get("status") or {}
        process_status = state.get("process_status") if isinstance(state, dict) else state
        url = doc.get("url")
        rows.append(
            {
                "source": NAME,
                "kb_id": page.partition,
                "doc_id": doc["doc_id"],
                "name": doc.get("doc_name"),
                "status_raw": None if process_status is None else str(process_status),
                "status": DOC_STATUS.get(process_status),
                "chunk_count": doc.get("point_num"),
                "origin": "url" if doc.get("add_type") == "url" else "upload_file",
                "mime_type": mime_type_of(doc.get("doc_type")),
                "path": doc.get("tos_path") or None,
                "url": strip_url_credentials(url) if url else None,
                "created_at": to_utc(doc.get("create_time")),
                "updated_at": to_utc(doc.get("update_time")),
                "raw": doc,
            }
        )
    return {"documents": rows}


def normalize_tasks(page: Page) -> TableRows:
    jobs = []
    for task in page.records:
        link = task.get("attachment_link")
        jobs.append(
            {
                "source": NAME,
                "job_id": task["task_id"],
                "kb_id": None,
                "action": "task",
                "status_raw": task.get("status"),
                "status": TASK_STATUS.get(task.get("status")),
                "progress_pct": task.get("percentage"),
                "created_at": None,
                "modified_at": None,
                "finished_at": None,
                "duration_s": None,
                "max_running_time_s": None,
                "error_message": None,
                "total_file_count": None,
                "add_chunk_count": None,
                "delete_chunk_count": None,
                "attachment_url": strip_url_credentials(link) if link else None,
                "raw": task,
            }
        )
    return {"jobs": jobs}


def _projects(settings: VikingDbSettings, known: KnownRecords) -> list[str]:
    return list(settings.projects) or [ALL_PROJECTS]


def _collections(settings: VikingDbSettings, known: KnownRecords) -> list[str]:
    projects = settings.projects or [None]
    return [kb for project in projects for kb in known.knowledge_base_ids(NAME, project)]


def _document_changes(known: KnownRecords, source: str, kb_id: str) -> dict[str, Any] | None:
    """update_time and doc_num, as the last collection listing gave them."""
    held = known.knowledge_base(source, kb_id)
    return None if held is None else {"updated_at": held["updated_at"], "doc_num": held["file_count"]}


def _tasks(settings: VikingDbSettings, known: KnownRecords) -> list[str]:
    """One account-wide partition when any task is configured or still running, else none."""
    return [""] if settings.task_ids or known.running_job_ids(NAME) else []


def _task_ids(settings: VikingDbSettings, known: KnownRecords) -> list[str]:
    """Every task configured or seen, less those the warehouse already holds as finished."""
    finished = known.job_ids(NAME) - set(known.running_job_ids(NAME))
    wanted = dict.fromkeys([*settings.task_ids, *known.running_job_ids(NAME)])
    return [task_id for task_id in wanted if task_id not in finished]


SOURCE = Source(
    name=NAME,
    settings_model=VikingDbSettings,
    client_factory=make_client,
    default_qps=10,
    streams=(
        Stream(
            name="vikingdb.collections",
            tables=("knowledge_bases", "chunk_counts"),
            partitions=_projects,
            extract=full_listing(COLLECTIONS, table="knowledge_bases", scope_column="scope_id"),
            normalize=normalize_collections,
        ),
        Stream(
            name="vikingdb.documents",
            tables=("documents",),
            partitions=_collections,
            extract=when_parent_changed(
                full_listing(DOCUMENTS, table="documents", scope_column="kb_id", rescan_on_shift=True),
                parent=_document_changes,
            ),
            normalize=normalize_documents,
            after=("vikingdb.collections",),
        ),
        Stream(
            name="vikingdb.tasks",
            tables=("jobs", "job_status_history"),
            partitions=_tasks,
            extract=poll_until_terminal(TASK, task_ids=_task_ids, id_field="task_id"),
            normalize=normalize_tasks,
        ),
    ),
)
