"""Baidu Qianfan AppBuilder: knowledge bases and their documents.

`Authorization: Bearer <API key>`. Both listings are POSTs paged by `marker`/`maxKeys` (≤ 100);
continue while `isTruncated`, since the last page still carries a `nextMarker`. The page and the
official SDK spell fields differently (`id`/`documentId`, `displayStatus`/`status`,
`mimeType`/`mime_type`, `fileSize`/`file_size`, `createAt`/`createdAt`): both are accepted.
"""

from __future__ import annotations

from typing import Any

import httpx

from kb_pipeline.auth import BearerSigner
from kb_pipeline.http.client import ErrorInfo, VendorClient
from kb_pipeline.http.paginators import MarkerPaginator
from kb_pipeline.http.retry import parse_retry_after
from kb_pipeline.normalize import parse_size, strip_url_credentials, to_utc
from kb_pipeline.pages import Page, Record, TableRows
from kb_pipeline.sources.base import KnownRecords, Source, Stream
from kb_pipeline.sources.qianfan.settings import QianfanSettings
from kb_pipeline.sources.strategies import Listing, full_listing, resume_from_marker

NAME = "qianfan"

DOCUMENT_STATUS = {
    "queuing": "queued",
    "notConfigured": "queued",
    "paused": "queued",
    "parsing": "processing",
    "indexing": "processing",
    "retrainingSegmentUnusable": "processing",
    "retrainErrSegmentUsable": "available",
    "available": "available",
    "parseError": "failed",
    "error": "failed",
}
"""displayStatus onto the normalized enum. A disabled document is `disabled` whatever its status."""


def parse_error(response: httpx.Response, body: Any) -> ErrorInfo | None:
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code")
    if response.status_code < 400 and code in (None, 0, "0", ""):
        return None
    status = response.status_code
    return ErrorInfo(
        code=None if code is None else str(code),
        message=fields.get("message"),
        request_id=fields.get("requestId") or response.headers.get("x-appbuilder-request-id"),
        retryable=status >= 500,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        throttled=status == 429,
    )


def make_client(settings: QianfanSettings, http: httpx.AsyncClient) -> VendorClient:
    return VendorClient(
        source=NAME,
        base_url=settings.endpoint,
        signer=BearerSigner(settings.credentials.api_key),
        parse_error=parse_error,
        http=http,
        qps=settings.qps or SOURCE.default_qps,
    )


def _marker_paginator(settings: QianfanSettings) -> MarkerPaginator:
    return MarkerPaginator(page_size=settings.page_size)


KNOWLEDGE_BASES = Listing(
    endpoint="DescribeKnowledgeBases",
    method="POST",
    path="/v2/knowledgeBase?Action=DescribeKnowledgeBases",
    json=lambda settings, partition: {},
    paginator=_marker_paginator,
    records=lambda body: body.get("data") or [],
)

DOCUMENTS = Listing(
    endpoint="DescribeDocuments",
    method="POST",
    path="/v2/knowledgeBase?Action=DescribeDocuments",
    json=lambda settings, kb_id: {"knowledgeBaseId": kb_id},
    paginator=_marker_paginator,
    records=lambda body: body.get("data") or [],
)


def _first(record: Record, *names: str) -> Any:
    """The first non-null of several spellings of one field."""
    return next((record[name] for name in names if record.get(name) is not None), None)


def normalize_knowledge_bases(page: Page) -> TableRows:
    return {
        "knowledge_bases": [
            {
                "source": NAME,
                "kb_id": kb["id"],
                "name": kb.get("name"),
                "description": kb.get("description") or None,
                "scope_type": None,
                "scope_id": None,
                "scene_type": ((kb.get("config") or {}).get("index") or {}).get("type"),
                "state": None,
                "visibility": None,
                "file_count": None,
                "size_bytes": None,
                "member_count": None,
                "creator": None,
                "created_at": to_utc(_first(kb, "createAt", "createdAt")),
                "updated_at": None,
                "last_activity_at": None,
                "raw": kb,
            }
            for kb in page.records
        ]
    }


def normalize_documents(page: Page) -> TableRows:
    kb_id = page.partition
    documents, tags = [], []
    for doc in page.records:
        doc_id = _first(doc, "id", "documentId")
        meta = doc.get("meta") or {}
        status_raw = _first(doc, "displayStatus", "status")
        enabled = doc.get("enabled")
        url = meta.get("url")
        documents.append(
            {
                "source": NAME,
                "kb_id": kb_id,
                "doc_id": doc_id,
                "name": doc.get("name"),
                "status_raw": status_raw,
                "status": "disabled" if enabled is False else DOCUMENT_STATUS.get(status_raw),
                "word_count": doc.get("wordCount"),
                "enabled": enabled,
                "origin": meta.get("source"),
                "file_id": meta.get("fileId"),
                "mime_type": _first(meta, "mimeType", "mime_type"),
                "file_size_bytes": parse_size(_first(meta, "fileSize", "file_size")),
                "url": strip_url_credentials(url) if url else None,
                "created_at": to_utc(doc.get("createdAt")),
                "raw": doc,
            }
        )
        tags.extend(
            {"source": NAME, "kb_id": kb_id, "doc_id": doc_id, "tag_key": tag.get("key"), "tag_value": value}
            for tag in meta.get("tags") or ()
            for value in tag.get("values") or ()
        )
    return {"documents": documents, "document_tags": tags}


def _account(settings: QianfanSettings, known: KnownRecords) -> list[str]:
    return [""]


def _knowledge_bases(settings: QianfanSettings, known: KnownRecords) -> list[str]:
    return list(settings.knowledge_base_ids) or known.knowledge_base_ids(NAME)


SOURCE = Source(
    name=NAME,
    settings_model=QianfanSettings,
    client_factory=make_client,
    default_qps=10,
    streams=(
        Stream(
            name="qianfan.knowledge_bases",
            tables=("knowledge_bases",),
            partitions=_account,
            extract=full_listing(KNOWLEDGE_BASES, table="knowledge_bases"),
            normalize=normalize_knowledge_bases,
        ),
        Stream(
            name="qianfan.documents",
            tables=("documents", "document_tags"),
            partitions=_knowledge_bases,
            extract=resume_from_marker(DOCUMENTS, table="documents", scope_column="kb_id"),
            normalize=normalize_documents,
            after=("qianfan.knowledge_bases",),
        ),
    ),
)
