"""Each injected fault does what it says, for exactly the requests it is armed for, and the per-vendor
rate limit answers with that vendor's own throttling error."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from sandbox_clients import PAI_BASE, Pai, Volc, lingma_get, qianfan_post

from kb_pipeline.sandbox import DEFAULT_QPS, SandboxServer


def _largest(server: SandboxServer) -> str:
    docs = server.dataset.qianfan_documents
    return max(docs, key=lambda kb: len(docs[kb]))


def _documents(server: SandboxServer, **body: object) -> httpx.Response:
    return qianfan_post(server, "DescribeDocuments", {"knowledgeBaseId": _largest(server), **body})


def test_server_error_burst_then_recovery(fresh: SandboxServer) -> None:
    fresh.control.add_fault("qianfan", "server_error", count=2, status=503)
    answers = [_documents(fresh) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json()["code"] == "ServiceUnavailable"
    assert fresh.control.pending_faults() == []


def test_gateway_error_is_an_html_page(fresh: SandboxServer) -> None:
    fresh.control.add_fault("vikingdb", "server_error", status=502)
    answer = Volc(fresh.url).post("/api/knowledge/collection/list", {})
    assert answer.status_code == 502 and answer.headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in answer.content


def test_vendor_throttling_answers(fresh: SandboxServer) -> None:
    control = fresh.control
    for vendor in ("pai_langstudio", "vikingdb", "lingma", "qianfan"):
        control.add_fault(vendor, "throttle", retry_after=2.5)
    kb_id = next(iter(fresh.dataset.pai_jobs))
    pai = Pai(fresh.url).jobs(kb_id)
    assert pai.status_code == 429 and pai.json()["Code"] == "Throttling.User"
    assert pai.headers["x-acs-retry-after"] == "2500"  # milliseconds
    volc = Volc(fresh.url).post("/api/knowledge/collection/list", {})
    assert volc.status_code == 429 and volc.json()["code"] == 1000029 and volc.headers["retry-after"] == "3"
    lingma = lingma_get(fresh, next(iter(fresh.dataset.lingma_organizations)))
    assert lingma.status_code == 429 and lingma.json()["errorCode"] == "TooManyRequests"
    assert lingma.headers["retry-after"] == "3"
    qianfan = _documents(fresh)
    assert qianfan.status_code == 429 and qianfan.json()["code"] == "TooManyRequests"


def test_slow_answer(fresh: SandboxServer) -> None:
    fresh.control.add_fault("qianfan", "slow", delay=0.4)
    started = time.monotonic()
    assert _documents(fresh).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_truncated_json(fresh: SandboxServer) -> None:
    fresh.control.add_fault("qianfan", "truncated", operation="DescribeDocuments")
    answer = _documents(fresh, maxKeys=5)
    assert answer.status_code == 200 and int(answer.headers["content-length"]) == len(answer.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(answer.content)
    assert orjson.loads(_documents(fresh, maxKeys=5).content)["data"]


def test_dropped_connection(fresh: SandboxServer) -> None:
    fresh.control.add_fault("lingma", "drop_connection")
    org = next(iter(fresh.dataset.lingma_organizations))
    with pytest.raises(httpx.RemoteProtocolError):
        lingma_get(fresh, org)
    assert lingma_get(fresh, org).status_code == 200
    assert [e["status"] for e in fresh.control.requests("lingma")] == [0, 200]


def test_repeated_marker(fresh: SandboxServer) -> None:
    fresh.control.add_fault("qianfan", "repeat_cursor")
    first = _documents(fresh, maxKeys=3).json()  # a first page carries no cursor: not affected
    second = _documents(fresh, maxKeys=3, marker=first["nextMarker"]).json()
    assert second["nextMarker"] == first["nextMarker"] and second["isTruncated"] is True
    assert (
        _documents(fresh, maxKeys=3, marker=first["nextMarker"]).json()["nextMarker"] != first["nextMarker"]
    )


def test_repeated_next_token_and_page(fresh: SandboxServer) -> None:
    kb_id = max(fresh.dataset.pai_jobs, key=lambda kb: len(fresh.dataset.pai_jobs[kb]))
    fresh.control.add_fault("pai_langstudio", "repeat_cursor")
    page = Pai(fresh.url).jobs(kb_id, MaxResults=2, NextToken=2).json()
    assert page["NextToken"] == 2
    fresh.control.add_fault("lingma", "repeat_cursor")
    org = next(iter(fresh.dataset.lingma_organizations))
    assert (
        lingma_get(fresh, org, perPage=1, page=2).json() == lingma_get(fresh, org, perPage=1, page=1).json()
    )


def test_records_inserted_while_paging_shift_the_next_page(fresh: SandboxServer) -> None:
    kb_id = max(fresh.dataset.pai_jobs, key=lambda kb: len(fresh.dataset.pai_jobs[kb]))
    before = len(fresh.dataset.pai_jobs[kb_id])
    fresh.control.add_fault(
        "pai_langstudio", "insert_while_paging", operation="ListKnowledgeBaseJobs", records=2
    )
    pai = Pai(fresh.url)
    first = pai.jobs(kb_id, MaxResults=5).json()
    second = pai.jobs(kb_id, MaxResults=5, NextToken=first["NextToken"]).json()
    assert len(fresh.dataset.pai_jobs[kb_id]) == before + 2
    ids = [j["KnowledgeBaseJobId"] for j in first["KnowledgeBaseJobs"]]
    assert [j["KnowledgeBaseJobId"] for j in second["KnowledgeBaseJobs"]][:2] == ids[-2:]  # seen twice
    assert second["TotalCount"] == before + 2


def test_fault_scoped_to_one_operation(fresh: SandboxServer) -> None:
    fresh.control.add_fault("qianfan", "server_error", operation="DescribeKnowledgeBases", status=500)
    assert _documents(fresh).status_code == 200
    failed = qianfan_post(fresh, "DescribeKnowledgeBases", {})
    assert failed.status_code == 500 and failed.json()["code"] == "InternalError"


def test_nonce_is_spent_even_on_a_5xx(fresh: SandboxServer) -> None:
    fresh.control.add_fault("pai_langstudio", "server_error")
    kb_id = next(iter(fresh.dataset.pai_jobs))
    url, headers = Pai(fresh.url).signed(f"{PAI_BASE}/{kb_id}/knowledgebasejobs")
    assert httpx.get(url, headers=headers).status_code == 503
    resent = httpx.get(url, headers=headers)  # a retry that resends the same signed request
    assert resent.status_code == 400 and resent.json()["Code"] == "SignatureNonceUsed"


def test_qps_limit_uses_the_vendor_throttling_error() -> None:
    # one request a second: a burst of 12 is throttled however slowly a loaded machine sends it
    with SandboxServer(seed=2, scale=0.05, qps={"qianfan": 1}) as server:
        statuses = [qianfan_post(server, "DescribeKnowledgeBases", {}).status_code for _ in range(12)]
        assert statuses[0] == 200 and 429 in statuses
        throttled = qianfan_post(server, "DescribeKnowledgeBases", {})
        assert throttled.json()["code"] == "TooManyRequests" and int(throttled.headers["retry-after"]) >= 1
        org = next(iter(server.dataset.lingma_organizations))
        assert all(lingma_get(server, org).status_code == 200 for _ in range(12))  # other vendors: no limit
        server.control.set_qps("qianfan", None)
        assert all(qianfan_post(server, "DescribeKnowledgeBases", {}).status_code == 200 for _ in range(12))


def test_default_limits_are_realistic() -> None:
    server = SandboxServer(seed=2, scale=0.05)
    assert server.control.qps() == dict(DEFAULT_QPS)
