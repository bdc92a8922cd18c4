"""Alibaba Tongyi Lingma (Yunxiao OpenAPI): knowledge bases per organization, and their files.

Authenticated by a personal access token in `x-yunxiao-token`. The body is a bare JSON array;
paging lives in `x-page`/`x-total-pages`/`x-total` response headers, at most 20 per page. What
`x-next-page` holds on the last page is undocumented, so it is never trusted alone. The listing
sorts by `lastActivityTime`, so an hourly run reads only the knowledge bases active since the last.
A knowledge base's files (ListKbFiles) are listed again only when the knowledge base's
`gmtModified`, `lastActivityTime`, `fileCount` or `size` moved since their last listing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx

from kb_pipeline.auth import HeaderTokenSigner
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import HeaderPagePaginator
from kb_pipeline.http.paths import expand_path
from kb_pipeline.http.retry import parse_retry_after
from kb_pipeline.normalize import mime_type_of, parse_size, to_utc
from kb_pipeline.pages import Page, TableRows
from kb_pipeline.sources.base import KnownRecords, Source, Stream, StreamContext
from kb_pipeline.sources.lingma.settings import LingmaSettings
from kb_pipeline.sources.strategies import Listing, full_listing, recently_active_first, when_parent_changed

NAME = "lingma"
VISIBILITY = {0: "private", 10: "public"}
FILE_STATUS = {"pending": "queued", "processing": "processing", "success": "available", "failed": "failed"}
"""fileState onto the normalized enum; the reference page does not list its values, so an
unknown one keeps status NULL (and its raw value)."""
CHANGE_FIELDS = ("updated_at", "last_activity_at", "file_count", "size_bytes")
"""gmtModified, lastActivityTime, fileCount and size: what moves when a knowledge base's files do."""


def parse_error(response: httpx.Response, body: Any) -> ErrorInfo | None:
    if response.status_code < 400:
        return None
    fields = body if isinstance(body, dict) else {}
    status = response.status_code
    return ErrorInfo(
        code=fields.get("errorCode") or fields.get("code"),
        message=fields.get("errorMessage") or fields.get("message"),
        request_id=fields.get("requestId") or response.headers.get("x-request-id"),
        retryable=status >= 500,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        throttled=status == 429,
    )


def make_client(settings: LingmaSettings, http: httpx.AsyncClient) -> VendorClient:
    return VendorClient(
        source=NAME,
        base_url=settings.endpoint,
        signer=HeaderTokenSigner("x-yunxiao-token", settings.credentials.token),
        parse_error=parse_error,
        http=http,
        qps=settings.qps or SOURCE.default_qps,
        headers={"Content-Type": "application/json"},
    )


KNOWLEDGE_BASES = Listing(
    endpoint="ListKnowledgeBases",
    method="GET",
    path="/oapi/v1/lingma/organizations/{partition}/knowledgeBases",
    paginator=lambda settings: HeaderPagePaginator(page_size=settings.page_size),
    records=lambda body: body if isinstance(body, list) else [],
)


FILES = Listing(
    endpoint="ListKbFiles",
    method="GET",
    path="/knowledgeBases/{partition}/files",
    params=lambda settings, kb_id: {"orderBy": "gmt_added", "sort": "asc"},
    paginator=lambda settings: HeaderPagePaginator(page_size=settings.page_size),
    records=lambda body: body if isinstance(body, list) else [],
)
"""Oldest first, so files added during a scan come after it; a total that moves mid-scan rescans."""


async def _files(ctx: StreamContext, kb_id: str) -> AsyncIterator[Page]:
    """The files of `kb_id`, under the organization the warehouse holds it in."""
    organization = (ctx.known.knowledge_base(NAME, kb_id) or {}).get("scope_id")
    if organization is None:
        raise ValueError(f"knowledge base {kb_id} is not held under any organization")
    prefix = expand_path("/oapi/v1/lingma/organizations/{organization}", organization=organization)
    listing = replace(FILES, path=prefix + FILES.path)
    scan = full_listing(listing, table="documents", scope_column="kb_id", rescan_on_shift=True)
    async for page in scan(ctx, kb_id):
        yield page


def _file_changes(known: KnownRecords, source: str, kb_id: str) -> dict[str, Any] | None:
    held = known.knowledge_base(source, kb_id)
    return None if held is None else {name: held[name] for name in CHANGE_FIELDS}


def normalize_files(page: Page) -> TableRows:
    rows = []
    for file in page.records:
        state = file.get("fileState")
        rows.append(
            {
                "source": NAME,
                "kb_id": page.partition,
                "doc_id": file["fileId"],
                "name": file.get("filename"),
                "status_raw": state,
                "status": FILE_STATUS.get(state),
                "origin": "upload_file",
                "file_id": file.get("fileId"),
                "mime_type": mime_type_of(file.get("filename")),
                "file_size_bytes": parse_size(file.get("fileSize")),
                "path": file.get("filePath"),
                "created_at": to_utc(file.get("gmtAdded") or file.get("gmtCreated")),
                "updated_at": to_utc(file.get("gmtModified")),
                "raw": file,
            }
        )
    return {"documents": rows}


def normalize_knowledge_bases(page: Page) -> TableRows:
    rows = []
    for kb in page.records:
        creator = kb.get("creator") or {}
        rows.append(
            {
                "source": NAME,
                "kb_id": kb["id"],
                "name": kb.get("name"),
                "description": kb.get("description") or None,
                "scope_type": "organization",
                "scope_id": kb.get("organizationId") or page.partition,
                "scene_type": kb.get("sceneType"),
                "state": kb.get("state"),
                "visibility": VISIBILITY.get(kb.get("accessLevel"), str(kb.get("accessLevel"))),
                "file_count": kb.get("fileCount"),
                "size_bytes": parse_size(kb.get("size")),
                "member_count": kb.get("memberCount"),
                "creator": creator.get("userName") or creator.get("displayName") or creator.get("id"),
                "created_at": to_utc(kb.get("gmtCreate")),
                "updated_at": to_utc(kb.get("gmtModified")),
                "last_activity_at": to_utc(kb.get("lastActivityTime")),
                "raw": kb,
            }
        )
    return {"knowledge_bases": rows}


def _organizations(settings: LingmaSettings, known: KnownRecords) -> list[str]:
    return list(settings.organization_ids)


def _knowledge_bases(settings: LingmaSettings, known: KnownRecords) -> list[str]:
    return [
        kb
        for organization in settings.organization_ids
        for kb in known.knowledge_base_ids(NAME, organization)
    ]


SOURCE = Source(
    name=NAME,
    settings_model=LingmaSettings,
    client_factory=make_client,
    default_qps=10,
    streams=(
        Stream(
            name="lingma.knowledge_bases",
            tables=("knowledge_bases",),
            partitions=_organizations,
            extract=recently_active_first(
                KNOWLEDGE_BASES,
                id_field="id",
                active_field="lastActivityTime",
                by_activity={"orderBy": "lastActivityTime", "sort": "desc"},
                by_creation={"orderBy": "gmtCreate", "sort": "asc"},
                table="knowledge_bases",
                scope_column="scope_id",
                key_column="kb_id",
            ),
            normalize=normalize_knowledge_bases,
        ),
        Stream(
            name="lingma.documents",
            tables=("documents",),
            partitions=_knowledge_bases,
            extract=when_parent_changed(_files, parent=_file_changes),
            normalize=normalize_files,
            after=("lingma.knowledge_bases",),
        ),
    ),
)
