"""Alibaba Tongyi Lingma (Yunxiao OpenAPI): knowledge bases per organization.

Authenticated by a personal access token in `x-yunxiao-token`. The body is a bare JSON array;
paging lives in `x-page`/`x-total-pages`/`x-total` response headers, at most 20 per page. What
`x-next-page` holds on the last page is undocumented, so it is never trusted alone. The listing
sorts by `lastActivityTime`, so an hourly run reads only the knowledge bases active since the last.
"""

from __future__ import annotations

from typing import Any

import httpx

from kb_pipeline.auth import HeaderTokenSigner
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import HeaderPagePaginator
from kb_pipeline.http.retry import parse_retry_after
from kb_pipeline.normalize import parse_size, to_utc
from kb_pipeline.pages import Page, TableRows
from kb_pipeline.sources.base import KnownRecords, Source, Stream
from kb_pipeline.sources.lingma.settings import LingmaSettings
from kb_pipeline.sources.strategies import Listing, recently_active_first

NAME = "lingma"
VISIBILITY = {0: "private", 10: "public"}


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
    ),
)
