"""Operations the vendors offer but the sandbox does not serve answer with the vendor's own JSON
error, never a plain-text 404, so a client or SDK reports a vendor error rather than a parse failure."""

from __future__ import annotations

import httpx
from sandbox_clients import PAI_BASE, Pai, Volc

from kb_pipeline.sandbox import SandboxServer, credentials


def _json(answer: httpx.Response) -> dict:
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    return answer.json()


def test_pai_unknown_api(shared: SandboxServer) -> None:
    pai = Pai(shared.url)
    answer = pai.get(f"{PAI_BASE}/d-anykb/knowledgebasejobs/kbjob-x/logs", action="GetKnowledgeBaseJobLogs")
    body = _json(answer)
    assert answer.status_code == 404 and body["Code"] == "InvalidAction.NotFound"
    assert body["RequestId"] == answer.headers["x-acs-request-id"]
    unsigned = httpx.get(f"{shared.url}{PAI_BASE}/d-anykb")
    assert (
        unsigned.status_code == 401 and _json(unsigned)["Code"] == "IncompleteSignature"
    )  # auth still first


def test_vikingdb_unknown_api_and_method(shared: SandboxServer) -> None:
    answer = Volc(shared.url).post("/api/knowledge/point/list", {"collection_name": "x"})
    assert answer.status_code == 404
    assert _json(answer)["code"] == 1000024 and _json(answer)["request_id"] == answer.headers["x-tt-logid"]
    volc = Volc(shared.url)
    url, headers = volc.signed("/api/knowledge/doc/list", b"", method="GET")  # doc/list is POST only
    wrong_method = httpx.get(url, headers=headers)
    assert wrong_method.status_code == 404 and _json(wrong_method)["code"] == 1000024


def test_qianfan_unknown_path(shared: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {credentials.QIANFAN_API_KEY}"}
    answer = httpx.post(f"{shared.url}/v2/app/conversation", json={}, headers=headers)
    body = _json(answer)
    assert answer.status_code == 404 and set(body) == {"requestId", "code", "message"}
    assert body["code"] == "NotFound" and body["requestId"] == answer.headers["x-appbuilder-request-id"]


def test_unserved_requests_are_logged_by_what_they_ask_for(fresh: SandboxServer) -> None:
    Pai(fresh.url).get(f"{PAI_BASE}/d-anykb", action="GetKnowledgeBase")
    Volc(fresh.url).post("/api/knowledge/doc/info", {})
    entries = [(e["vendor"], e["operation"], e["status"]) for e in fresh.requests]
    assert entries == [
        ("pai_langstudio", "GetKnowledgeBase", 404),
        ("vikingdb", "/api/knowledge/doc/info", 404),
    ]
