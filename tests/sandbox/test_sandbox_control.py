"""Changes made through the control API (Python and HTTP) show up in the vendors' listings, and the
request log records what clients sent, without the control calls themselves."""

from __future__ import annotations

import httpx
import pytest
from sandbox_clients import PAI_BASE, Pai, Volc, lingma_get, qianfan_post

from kb_pipeline.sandbox import SandboxServer


def test_finishing_a_pai_job_shows_in_its_listing(fresh: SandboxServer) -> None:
    running = [j for js in fresh.dataset.pai_jobs.values() for j in js if j["Status"] == "Running"]
    done, broken = running[0], running[1]
    fresh.control.finish_pai_job(done["KnowledgeBaseJobId"])
    fresh.control.finish_pai_job(broken["KnowledgeBaseJobId"], "Failed", error_message="quota exceeded")
    pai = Pai(fresh.url)
    for job, status in ((done, "Success"), (broken, "Failed")):
        page = pai.jobs(job["KnowledgeBaseId"], KnowledgeBaseJobId=job["KnowledgeBaseJobId"]).json()
        listed = page["KnowledgeBaseJobs"][0]
        assert listed["Status"] == status and listed["GmtFinishTime"] >= listed["GmtCreateTime"]
    assert page["KnowledgeBaseJobs"][0]["ErrorMessage"] == "quota exceeded"
    with pytest.raises(ValueError):
        fresh.control.finish_pai_job(done["KnowledgeBaseJobId"])


def test_new_jobs_and_deleted_knowledge_bases(fresh: SandboxServer) -> None:
    workspace = fresh.dataset.pai_workspaces[0]
    kb = fresh.control.add_pai_knowledge_base(workspace, Name="新知识库")
    [job] = fresh.control.add_pai_jobs(kb["KnowledgeBaseId"])
    pai = Pai(fresh.url)
    listed = pai.jobs(kb["KnowledgeBaseId"], MaxResults=10).json()["KnowledgeBaseJobs"]
    assert [j["KnowledgeBaseJobId"] for j in listed] == [job["KnowledgeBaseJobId"]]
    names = {k["Name"] for k in pai.knowledge_bases(WorkspaceId=workspace).json()["KnowledgeBases"]}
    assert "新知识库" in names
    fresh.control.delete_pai_knowledge_base(kb["KnowledgeBaseId"])
    assert pai.jobs(kb["KnowledgeBaseId"]).status_code == 404


def test_document_status_change_and_kb_deletion(fresh: SandboxServer) -> None:
    kb_id = max(fresh.dataset.qianfan_documents, key=lambda kb: len(fresh.dataset.qianfan_documents[kb]))
    body = {"knowledgeBaseId": kb_id, "maxKeys": 1}
    first = qianfan_post(fresh, "DescribeDocuments", body).json()["data"][0]  # now encoded and cached
    fresh.control.set_qianfan_document_status(kb_id, first["id"], "error", enabled=False)
    changed = qianfan_post(fresh, "DescribeDocuments", body).json()["data"][0]
    assert (changed["displayStatus"], changed["enabled"]) == ("error", False)
    fresh.control.delete_qianfan_knowledge_base(kb_id)
    assert qianfan_post(fresh, "DescribeDocuments", body).status_code == 404
    listed = qianfan_post(fresh, "DescribeKnowledgeBases", {"maxKeys": 100}).json()["data"]
    assert kb_id not in {kb["id"] for kb in listed}


def test_vikingdb_and_lingma_changes(fresh: SandboxServer) -> None:
    volc = Volc(fresh.url)
    task_id = next(t for t, info in fresh.dataset.vikingdb_tasks.items() if info["status"] == "running")
    fresh.control.finish_vikingdb_task(task_id)
    data = volc.post("/api/knowledge/task/info", {"task_id": task_id}).json()["data"]
    assert (
        data["status"] == "success"
        and data["percentage"] == 100
        and "X-Tos-Signature" in data["attachment_link"]
    )
    [new_task] = fresh.control.add_vikingdb_tasks(status="running")
    assert volc.post("/api/knowledge/task/info", {"task_id": new_task}).json()["data"]["status"] == "running"
    collection = fresh.control.add_vikingdb_collection("brand-new")
    listed = volc.post("/api/knowledge/collection/list", {"project": "brand-new"}).json()["data"]
    assert [c["collection_name"] for c in listed["collection_list"]] == [collection["collection_name"]]
    org = next(iter(fresh.dataset.lingma_organizations))
    before = int(lingma_get(fresh, org).headers["x-total"])
    fresh.control.add_lingma_knowledge_bases(org, count=2)
    assert int(lingma_get(fresh, org).headers["x-total"]) == before + 2


def test_http_control_api(fresh: SandboxServer) -> None:
    control = httpx.Client(base_url=fresh.url + "/_sandbox")
    assert "DescribeDocuments" in control.get("/").text
    summary = control.get("/dataset/summary").json()
    kb_id = fresh.dataset.qianfan_knowledge_bases[0]["id"]
    added = control.post("/mutations/add_qianfan_documents", json={"kb_id": kb_id, "count": 2}).json()[
        "result"
    ]
    assert len(added) == 2
    assert (
        control.get("/dataset/summary").json()["qianfan"]["documents"] == summary["qianfan"]["documents"] + 2
    )
    armed = control.post("/faults", json={"vendor": "qianfan", "kind": "server_error", "status": 500})
    assert armed.status_code == 201 and control.get("/faults").json()[0]["kind"] == "server_error"
    assert qianfan_post(fresh, "DescribeKnowledgeBases", {}).status_code == 500
    assert control.get("/faults").json() == []
    assert control.put("/qps", json={"lingma": 3}).json()["lingma"] == 3
    assert (
        control.patch("/settings", json={"lingma_last_page": "empty"}).json()["lingma_last_page"] == "empty"
    )
    assert control.patch("/settings", json={"lingma_last_page": "sometimes"}).status_code == 400
    assert control.post("/faults", json={"vendor": "nobody", "kind": "slow"}).status_code == 400
    assert control.post("/mutations/drop_tables", json={}).status_code == 404
    assert (
        control.post("/mutations/delete_qianfan_document", json={"kb_id": kb_id, "doc_id": "x"}).status_code
        == 404
    )


def test_request_log(fresh: SandboxServer) -> None:
    kb_id = fresh.dataset.qianfan_knowledge_bases[0]["id"]
    marker = fresh.dataset.qianfan_documents[kb_id][0]["id"]
    qianfan_post(fresh, "DescribeDocuments", {"knowledgeBaseId": kb_id, "marker": marker, "maxKeys": 5})
    workspace = fresh.dataset.pai_workspaces[0]
    Pai(fresh.url).get(PAI_BASE, {"WorkspaceId": workspace, "MaxResults": 2}, action="ListKnowledgeBases")
    httpx.get(fresh.url + "/_sandbox/dataset/summary")  # control calls are not logged
    entries = httpx.get(fresh.url + "/_sandbox/requests").json()
    assert [(e["vendor"], e["operation"], e["status"]) for e in entries] == [
        ("qianfan", "DescribeDocuments", 200),
        ("pai_langstudio", "ListKnowledgeBases", 200),
    ]
    assert entries[0]["body"]["marker"] == marker and entries[0]["method"] == "POST"
    assert entries[1]["query"] == {"WorkspaceId": workspace, "MaxResults": "2"} and entries[1]["body"] is None
    assert "authorization" not in str(entries).lower()
    assert fresh.control.requests(vendor="pai_langstudio") == entries[1:]
    httpx.delete(fresh.url + "/_sandbox/requests")
    assert fresh.requests == []
