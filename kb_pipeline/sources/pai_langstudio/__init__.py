"""Alibaba Cloud PAI LangStudio: knowledge bases per workspace, their indexing jobs and chunk counts.

ROA API signed with ACS3-HMAC-SHA256. Listings page by NextToken/MaxResults (the token may come
back as an integer). Throttling is an `x-acs-retry-after` header (milliseconds), whatever the
status code. Errors are Alibaba's POP envelope `{RequestId, Code, Message}`.

A knowledge base's chunks are counted by ListKnowledgeBaseChunks with `PageSize=1` (its
`TotalCount`), into `chunk_counts` with pipeline `''`, and only where the knowledge base's jobs
changed since its last count: chunks move only when a job finishes.
"""

from __future__ import annotations

from typing import Any

import httpx

from kb_pipeline.auth import Acs3Signer
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import NextTokenPaginator, SinglePage
from kb_pipeline.normalize import to_utc
from kb_pipeline.pages import Page, TableRows
from kb_pipeline.sources.base import KnownRecords, Source, Stream
from kb_pipeline.sources.pai_langstudio.settings import PaiSettings
from kb_pipeline.sources.strategies import Listing, full_listing, newest_first, when_parent_changed

NAME = "pai_langstudio"
API_VERSION = "2024-07-10"
JOB_STATUS = {"Running": "running", "Success": "succeeded", "Failed": "failed"}
TERMINAL_JOB_STATUSES = ("Success", "Failed")


def parse_error(response: httpx.Response, body: Any) -> ErrorInfo | None:
    fields = body if isinstance(body, dict) else {}
    retry_after = response.headers.get("x-acs-retry-after", "")
    throttled = retry_after.isdigit() and int(retry_after) > 0
    if response.status_code < 400 and not throttled:
        return None
    return ErrorInfo(
        code=fields.get("Code") or fields.get("code"),
        message=fields.get("Message") or fields.get("message"),
        request_id=fields.get("RequestId") or fields.get("requestId"),
        retryable=response.status_code >= 500,
        retry_after_s=int(retry_after) / 1000 if throttled else None,
        throttled=throttled or str(fields.get("Code", "")).startswith("Throttling"),
    )


def make_client(settings: PaiSettings, http: httpx.AsyncClient) -> VendorClient:
    credentials = settings.credentials
    return VendorClient(
        source=NAME,
        base_url=settings.endpoint,
        signer=Acs3Signer(credentials.access_key_id.get_secret_value(), credentials.access_key_secret),
        parse_error=parse_error,
        http=http,
        qps=settings.qps or SOURCE.default_qps,
        headers={"accept": "application/json", "x-acs-version": API_VERSION},
    )


def _action(name: str) -> dict[str, str]:
    return {"x-acs-action": name}


def _token_paginator(settings: PaiSettings) -> NextTokenPaginator:
    return NextTokenPaginator(
        token_param="NextToken",
        token_field="NextToken",
        size_param="MaxResults",
        page_size=settings.page_size,
    )


KNOWLEDGE_BASES = Listing(
    endpoint="ListKnowledgeBases",
    method="GET",
    path="/api/v1/langstudio/knowledgebases",
    headers=_action("ListKnowledgeBases"),
    params=lambda settings, workspace: {"WorkspaceId": workspace},
    paginator=_token_paginator,
    records=lambda body: body.get("KnowledgeBases") or [],
)

JOBS = Listing(
    endpoint="ListKnowledgeBaseJobs",
    method="GET",
    path="/api/v1/langstudio/knowledgebases/{partition}/knowledgebasejobs",
    headers=_action("ListKnowledgeBaseJobs"),
    params=lambda settings, kb_id: {"SortBy": "GmtCreateTime", "Order": "DESC"},
    paginator=_token_paginator,
    records=lambda body: body.get("KnowledgeBaseJobs") or [],
)


CHUNKS = Listing(
    endpoint="ListKnowledgeBaseChunks",
    method="GET",
    path="/api/v1/langstudio/knowledgebases/{partition}/knowledgebasechunks",
    headers=_action("ListKnowledgeBaseChunks"),
    params=lambda settings, kb_id: {"PageNumber": 1, "PageSize": 1},
    paginator=lambda settings: SinglePage(),
    records=lambda body: [{"TotalCount": body.get("TotalCount")}],
)
"""One chunk per page: the answer's TotalCount is the count; the chunk itself is not kept."""


def normalize_knowledge_bases(page: Page) -> TableRows:
    return {
        "knowledge_bases": [
            {
                "source": NAME,
                "kb_id": kb["KnowledgeBaseId"],
                "name": kb.get("Name"),
                "description": kb.get("Description") or None,
                "scope_type": "workspace",
                "scope_id": kb.get("WorkspaceId") or page.partition,
                "scene_type": kb.get("KnowledgeBaseType"),
                "state": (kb.get("AutoUpdateConfig") or {}).get("Status"),
                "visibility": kb.get("Accessibility"),
                "file_count": None,
                "size_bytes": None,
                "member_count": None,
                "creator": kb.get("Creator"),
                "created_at": to_utc(kb.get("GmtCreateTime")),
                "updated_at": to_utc(kb.get("GmtModifiedTime")),
                "last_activity_at": None,
                "raw": kb,
            }
            for kb in page.records
        ]
    }


def normalize_jobs(page: Page) -> TableRows:
    jobs, files = [], []
    for job in page.records:
        job_id = job["KnowledgeBaseJobId"]
        kb_id = job.get("KnowledgeBaseId") or page.partition
        result = job.get("KnowledgeBaseJobResult") or {}
        created, finished = to_utc(job.get("GmtCreateTime")), to_utc(job.get("GmtFinishTime"))
        status = JOB_STATUS.get(job.get("Status"))
        jobs.append(
            {
                "source": NAME,
                "job_id": job_id,
                "kb_id": kb_id,
                "action": job.get("JobAction"),
                "status_raw": job.get("Status"),
                "status": status,
                "progress_pct": 100.0 if status == "succeeded" else None,
                "created_at": created,
                "modified_at": to_utc(job.get("GmtModifiedTime")),
                "finished_at": finished,
                "duration_s": (finished - created).total_seconds() if created and finished else None,
                "max_running_time_s": job.get("MaxRunningTimeInSeconds"),
                "error_message": job.get("ErrorMessage") or None,
                "total_file_count": result.get("TotalFileCount"),
                "add_chunk_count": result.get("AddChunkCount"),
                "delete_chunk_count": result.get("DeleteChunkCount"),
                "attachment_url": None,
                "raw": job,
            }
        )
        files.extend(
            {
                "source": NAME,
                "job_id": job_id,
                "file_meta_id": meta.get("FileMetaId"),
                "file_name": meta.get("FileName"),
                "file_uri": meta.get("FileUri"),
                "action": meta.get("Action"),
            }
            for meta in result.get("FileMetas") or ()
        )
    return {"jobs": jobs, "job_files": files}


def normalize_chunk_counts(page: Page) -> TableRows:
    return {
        "chunk_counts": [
            {
                "source": NAME,
                "kb_id": page.partition,
                "pipeline": "",
                "observed_at": page.fetched_at,
                "chunk_count": count["TotalCount"],
            }
            for count in page.records
        ]
    }


def _jobs_changed(known: KnownRecords, source: str, kb_id: str) -> str:
    """The knowledge base's jobs as the warehouse holds them ('' for none yet)."""
    return known.job_state(source, kb_id) or ""


def _workspaces(settings: PaiSettings, known: KnownRecords) -> list[str]:
    return list(settings.workspace_ids)


def _knowledge_bases(settings: PaiSettings, known: KnownRecords) -> list[str]:
    return list(settings.knowledge_base_ids) or known.knowledge_base_ids(NAME)


SOURCE = Source(
    name=NAME,
    settings_model=PaiSettings,
    client_factory=make_client,
    default_qps=20,
    streams=(
        Stream(
            name="pai.knowledge_bases",
            tables=("knowledge_bases",),
            partitions=_workspaces,
            extract=full_listing(KNOWLEDGE_BASES, table="knowledge_bases", scope_column="scope_id"),
            normalize=normalize_knowledge_bases,
        ),
        Stream(
            name="pai.jobs",
            tables=("jobs", "job_files", "job_status_history"),
            partitions=_knowledge_bases,
            extract=newest_first(
                JOBS,
                id_field="KnowledgeBaseJobId",
                created_field="GmtCreateTime",
                status_field="Status",
                terminal_statuses=TERMINAL_JOB_STATUSES,
                reread_param="KnowledgeBaseJobId",
            ),
            normalize=normalize_jobs,
            after=("pai.knowledge_bases",),
        ),
        Stream(
            name="pai.chunk_counts",
            tables=("chunk_counts",),
            partitions=_knowledge_bases,
            extract=when_parent_changed(full_listing(CHUNKS, table=None), parent=_jobs_changed),
            normalize=normalize_chunk_counts,
            after=("pai.jobs",),
        ),
    ),
)
