"""Qianfan AppBuilder pinned to its DescribeDocuments reference page and official SDK: document fields and both key spellings,
marker paging (exclusive, oldest first, stable across inserts and deletes), the last page's
nextMarker, maxKeys limits, the SDK-spelling setting and the error envelope."""

from __future__ import annotations

import pytest
from sandbox_clients import qianfan_post

from kb_pipeline.sandbox import SandboxServer

DOC_FIELDS = {"id", "name", "createdAt", "displayStatus", "wordCount", "enabled", "meta"}
STATUSES = {
    "queuing",
    "notConfigured",
    "paused",
    "parsing",
    "indexing",
    "parseError",
    "error",
    "available",
    "retrainingSegmentUnusable",
    "retrainErrSegmentUsable",
}


def _largest(server: SandboxServer) -> str:
    docs = server.dataset.qianfan_documents
    return max(docs, key=lambda kb: len(docs[kb]))


def _documents(server: SandboxServer, kb_id: str, **body: object) -> dict:
    answer = qianfan_post(server, "DescribeDocuments", {"knowledgeBaseId": kb_id, **body})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["requestId"] == answer.headers["x-appbuilder-request-id"]
    return page


def _walk(
    server: SandboxServer, kb_id: str, marker: str = "", max_keys: int = 100
) -> tuple[list[dict], dict]:
    docs = []
    while True:
        page = _documents(server, kb_id, marker=marker, maxKeys=max_keys)
        docs += page["data"]
        marker = page["nextMarker"]
        if not page["isTruncated"]:
            return docs, page


def test_document_fields_and_meta_spellings(shared: SandboxServer) -> None:
    kb_id = _largest(shared)
    docs, _ = _walk(shared, kb_id)
    spellings, sources = set(), set()
    for doc in docs:
        assert set(doc) == DOC_FIELDS and doc["displayStatus"] in STATUSES
        assert isinstance(doc["wordCount"], int) and isinstance(doc["enabled"], bool)
        meta = doc["meta"]
        sources.add(meta["source"])
        assert (meta["fileId"] is None) == (meta["source"] == "url")
        if meta["source"] != "url":
            assert "?authorization=bce-auth-v1%2F" in meta["url"]
        spellings.add("mimeType" if "mimeType" in meta else "mime_type")
        assert all(
            set(tag) == {"key", "values"} and all(isinstance(v, str) for v in tag["values"])
            for tag in meta["tags"]
        )
    assert spellings == {"mimeType", "mime_type"} and sources == {"upload_file", "datatable", "url"}
    assert {d["displayStatus"] for d in docs} == STATUSES and not all(d["enabled"] for d in docs)


def test_marker_walk_reads_every_document_oldest_first(shared: SandboxServer) -> None:
    kb_id = _largest(shared)
    docs, last = _walk(shared, kb_id, max_keys=100)
    assert docs == shared.dataset.qianfan_documents[kb_id]
    assert (
        last["isTruncated"] is False and last["nextMarker"] == docs[-1]["id"]
    )  # the reference page's last page
    first = _documents(shared, kb_id)
    assert first["maxKeys"] == 10 and len(first["data"]) == 10 and first["marker"] == ""


@pytest.mark.parametrize("max_keys", [101, 0, "10", True])
def test_max_keys_out_of_range_is_refused(shared: SandboxServer, max_keys: object) -> None:
    answer = qianfan_post(
        shared, "DescribeDocuments", {"knowledgeBaseId": _largest(shared), "maxKeys": max_keys}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameterError"


def test_stored_marker_picks_up_new_documents(fresh: SandboxServer) -> None:
    kb_id = _largest(fresh)
    _, last = _walk(fresh, kb_id)
    added = fresh.control.add_qianfan_documents(kb_id, count=3)
    page = _documents(fresh, kb_id, marker=last["nextMarker"], maxKeys=100)
    assert [d["id"] for d in page["data"]] == [d["id"] for d in added]
    assert page["isTruncated"] is False and page["nextMarker"] == added[-1]["id"]


def test_marker_of_a_deleted_document_still_resumes(fresh: SandboxServer) -> None:
    kb_id = _largest(fresh)
    docs = list(fresh.dataset.qianfan_documents[kb_id])
    gone = docs[4]
    fresh.control.delete_qianfan_document(kb_id, gone["id"])
    page = _documents(fresh, kb_id, marker=gone["id"], maxKeys=3)
    assert [d["id"] for d in page["data"]] == [d["id"] for d in docs[5:8]]
    listed, _ = _walk(fresh, kb_id)
    assert gone["id"] not in {d["id"] for d in listed} and len(listed) == len(docs) - 1


def test_marker_and_kb_errors(shared: SandboxServer) -> None:
    kb_id = _largest(shared)
    unknown = qianfan_post(shared, "DescribeDocuments", {"knowledgeBaseId": kb_id, "marker": "never-seen"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "InvalidParameterError"
    missing_kb = qianfan_post(shared, "DescribeDocuments", {"knowledgeBaseId": "no-such-kb"})
    assert missing_kb.status_code == 404 and missing_kb.json()["code"] == "KnowledgeBaseNotFound"
    assert qianfan_post(shared, "DescribeDocuments", {}).status_code == 400
    bad_action = qianfan_post(shared, "DeleteEverything", {})
    assert bad_action.status_code == 400 and bad_action.json()["code"] == "InvalidParameterError"


def test_keyword_filters_by_name(shared: SandboxServer) -> None:
    kb_id = _largest(shared)
    name = shared.dataset.qianfan_documents[kb_id][0]["name"]
    needle = name[: max(2, len(name) // 2)]
    page = _documents(shared, kb_id, keyword=needle, maxKeys=100)
    expected = [
        d["id"] for d in shared.dataset.qianfan_documents[kb_id] if needle.lower() in d["name"].lower()
    ]
    assert [d["id"] for d in page["data"]] == expected[:100]


def test_sdk_spelling_setting(fresh: SandboxServer) -> None:
    fresh.control.configure(qianfan_fields="sdk")
    kb_id = _largest(fresh)
    page = _documents(fresh, kb_id, maxKeys=100)
    assert page["totalCount"] == len(fresh.dataset.qianfan_documents[kb_id])
    for doc, truth in zip(page["data"], fresh.dataset.qianfan_documents[kb_id], strict=False):
        assert doc["documentId"] == truth["id"] and doc["status"] == truth["displayStatus"]
        assert "id" not in doc and "displayStatus" not in doc
        assert "mime_type" not in doc["meta"] and "file_size" not in doc["meta"]


def test_describe_knowledge_bases(shared: SandboxServer) -> None:
    seen, marker = [], ""
    while True:
        answer = qianfan_post(shared, "DescribeKnowledgeBases", {"marker": marker, "maxKeys": 2})
        page = answer.json()
        assert set(page) == {"requestId", "data", "marker", "maxKeys", "nextMarker", "isTruncated"}
        for kb in page["data"]:
            assert {"id", "name", "description", "createAt", "config"} <= set(kb)
            assert kb["config"]["index"]["type"] in ("public", "bes", "vdb")
        seen += [kb["id"] for kb in page["data"]]
        marker = page["nextMarker"]
        if not page["isTruncated"]:
            break
    assert seen == [kb["id"] for kb in shared.dataset.qianfan_knowledge_bases]
    refused = qianfan_post(shared, "DescribeKnowledgeBases", {"maxKeys": 101})
    assert refused.status_code == 400
