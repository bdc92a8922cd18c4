"""PAI ListKnowledgeBaseChunks pinned to the official SDK's models: PageNumber/PageSize paging (at most
100), a TotalCount that `PageSize=1` reads in one request and that equals what the knowledge base's
succeeded jobs left, its errors, and the SDK parsing both the listing and an unserved operation's error."""

from __future__ import annotations

import pytest
from alibabacloud_pailangstudio20240710 import models as pai_models
from alibabacloud_tea_openapi.exceptions import ClientException
from sandbox_clients import Pai, pai_sdk

from kb_pipeline.sandbox import SandboxServer

CHUNK_FIELDS = {
    "ChunkAttachment",
    "ChunkContent",
    "ChunkEnd",
    "ChunkSequence",
    "ChunkSize",
    "ChunkStart",
    "ChunkStatus",
    "DownloadUrl",
    "KnowledgeBaseChunkId",
    "KnowledgeBaseId",
    "MetaData",
    "ThumbnailUrl",
    "VersionName",
}


def _jobs_net(pai: Pai, kb_id: str) -> int:
    """Chunks added minus deleted by the knowledge base's succeeded jobs, read from ListKnowledgeBaseJobs."""
    jobs = pai.jobs(kb_id, MaxResults=100, Status="Success").json()["KnowledgeBaseJobs"]
    results = [j["KnowledgeBaseJobResult"] for j in jobs]
    return sum(r["AddChunkCount"] - r["DeleteChunkCount"] for r in results)


def _total(pai: Pai, kb_id: str) -> int:
    answer = pai.chunks(kb_id, PageSize=1)
    assert answer.status_code == 200, answer.text
    return answer.json()["TotalCount"]


@pytest.fixture(scope="module")
def kb_ids(shared: SandboxServer) -> list[str]:
    return [kb["KnowledgeBaseId"] for kbs in shared.dataset.pai_knowledge_bases.values() for kb in kbs]


@pytest.fixture(scope="module")
def big(shared: SandboxServer, kb_ids: list[str]) -> str:
    """The knowledge base with the most chunks (several pages)."""
    pai = Pai(shared.url)
    kb_id = max(kb_ids, key=lambda kb: _total(pai, kb))
    assert _total(pai, kb_id) > 250
    return kb_id


def test_total_count_is_what_the_succeeded_jobs_left(shared: SandboxServer, kb_ids: list[str]) -> None:
    pai = Pai(shared.url)
    totals = {kb: _total(pai, kb) for kb in kb_ids}
    assert totals == {kb: max(0, _jobs_net(pai, kb)) for kb in kb_ids}
    assert any(totals.values())


def test_page_size_one_answers_one_chunk(shared: SandboxServer, big: str) -> None:
    page = Pai(shared.url).chunks(big, PageSize=1).json()
    assert set(page) == {"KnowledgeBaseChunks", "MaxResults", "RequestId", "TotalCount"}
    assert page["MaxResults"] == 1 and len(page["KnowledgeBaseChunks"]) == 1
    chunk = page["KnowledgeBaseChunks"][0]
    assert set(chunk) == CHUNK_FIELDS and chunk["KnowledgeBaseId"] == big and chunk["ChunkStatus"] == "Enable"
    assert set(chunk["MetaData"]) == {"FileMetaId", "FileName", "FileUri"}
    assert chunk["ChunkEnd"] - chunk["ChunkStart"] == chunk["ChunkSize"] == len(chunk["ChunkContent"])


def test_paging_reads_every_chunk_once(shared: SandboxServer, big: str) -> None:
    pai, seen, number = Pai(shared.url), [], 1
    total = _total(pai, big)
    while True:
        page = pai.chunks(big, PageNumber=number, PageSize=100).json()
        seen += [c["KnowledgeBaseChunkId"] for c in page["KnowledgeBaseChunks"]]
        assert page["TotalCount"] == total
        if not page["KnowledgeBaseChunks"]:
            break
        number += 1
    assert number == -(-total // 100) + 1 and len(seen) == len(set(seen)) == total
    default = pai.chunks(big).json()
    assert [c["KnowledgeBaseChunkId"] for c in default["KnowledgeBaseChunks"]] == seen[:10]  # PageSize 10


def test_filters_and_errors(shared: SandboxServer, big: str) -> None:
    pai = Pai(shared.url)
    disabled = pai.chunks(big, ChunkStatus="Disable").json()
    assert (disabled["TotalCount"], disabled["KnowledgeBaseChunks"]) == (0, [])
    assert pai.chunks(big, ChunkStatus="Enable").json()["TotalCount"] == _total(pai, big)
    for query in ({"PageSize": 101}, {"PageNumber": 0}, {"ChunkStatus": "On"}, {"VersionName": "v9"}):
        answer = pai.chunks(big, **query)
        assert answer.status_code == 400 and answer.json()["Code"] == "InvalidParameter", query
    missing = pai.chunks("d-nosuchkb01")
    assert missing.status_code == 404 and missing.json()["Code"] == "InvalidKnowledgeBaseId.NotFound"


def test_official_sdk_counts_and_pages_chunks(shared: SandboxServer, big: str) -> None:
    client = pai_sdk(shared)
    counted = client.list_knowledge_base_chunks(big, pai_models.ListKnowledgeBaseChunksRequest(page_size=1))
    assert counted.status_code == 200 and counted.body.total_count == _total(Pai(shared.url), big)
    page = client.list_knowledge_base_chunks(
        big, pai_models.ListKnowledgeBaseChunksRequest(page_number=2, page_size=50)
    ).body
    expected = Pai(shared.url).chunks(big, PageNumber=2, PageSize=50).json()["KnowledgeBaseChunks"]
    assert [c.knowledge_base_chunk_id for c in page.knowledge_base_chunks] == [
        c["KnowledgeBaseChunkId"] for c in expected
    ]
    assert page.knowledge_base_chunks[0].meta_data.file_name == expected[0]["MetaData"]["FileName"]


def test_official_sdk_reports_an_unserved_operation_as_an_api_error(shared: SandboxServer, big: str) -> None:
    with pytest.raises(ClientException) as refused:
        pai_sdk(shared).get_knowledge_base(big, pai_models.GetKnowledgeBaseRequest())
    assert refused.value.status_code == 404 and refused.value.code == "InvalidAction.NotFound"
    entry = shared.control.requests(vendor="pai_langstudio")[-1]
    assert (entry["operation"], entry["status"]) == ("GetKnowledgeBase", 404)
