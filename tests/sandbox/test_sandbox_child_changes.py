"""Control-API changes to child listings move their parents as the vendors report them: Lingma files
set the knowledge base's fileCount, size and times; VikingDB documents the collection's doc_num,
pipeline_stat and update_time; finishing PAI jobs the chunk total. Read back over HTTP, before and after."""

from __future__ import annotations

import httpx
import pytest
from sandbox_clients import Pai, Volc, lingma_files_get, lingma_get

from kb_pipeline.sandbox import SandboxServer

UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _bytes(size: str) -> float:
    number, unit = size.split(" ")
    return float(number) * UNITS[unit]


def _lingma_kb(server: SandboxServer, org: str, kb_id: str) -> dict:
    """The knowledge base as ListKnowledgeBases shows it."""
    page = 1
    while batch := lingma_get(server, org, page=page, perPage=20).json():
        found = [kb for kb in batch if kb["id"] == kb_id]
        if found:
            return found[0]
        page += 1
    raise AssertionError(f"{kb_id} is not listed")


def _files(server: SandboxServer, org: str, kb_id: str) -> list[dict]:
    files, page = [], 1
    while batch := lingma_files_get(server, org, kb_id, page=page, perPage=20).json():
        files, page = files + batch, page + 1
    return files


def _collection(volc: Volc, project: str, name: str) -> dict:
    listed = volc.post("/api/knowledge/collection/list", {"project": project}).json()["data"][
        "collection_list"
    ]
    return next(c for c in listed if c["collection_name"] == name)


def _docs(volc: Volc, project: str, name: str) -> list[dict]:
    docs: list[dict] = []
    while True:
        body = {"collection_name": name, "project": project, "offset": len(docs), "limit": 100}
        batch = volc.post("/api/knowledge/doc/list", body).json()["data"]["doc_list"]
        if not batch:
            return docs
        docs += batch


def test_lingma_files_move_their_knowledge_base(fresh: SandboxServer) -> None:
    org, kb = next(
        (org, kb)
        for org, kbs in fresh.dataset.lingma_organizations.items()
        for kb in kbs
        if kb["fileCount"] >= 3
    )
    before, files_before = _lingma_kb(fresh, org, kb["id"]), _files(fresh, org, kb["id"])
    assert len(files_before) == before["fileCount"]

    control = httpx.Client(base_url=fresh.url + "/_sandbox")
    answer = control.post(
        "/mutations/add_lingma_files", json={"kb_id": kb["id"], "count": 3, "state": "processing"}
    )
    added = answer.json()["result"]
    after, files_after = _lingma_kb(fresh, org, kb["id"]), _files(fresh, org, kb["id"])
    assert after["fileCount"] == before["fileCount"] + 3 == len(files_after)
    assert {f["fileId"] for f in files_after[:3]} == {f["fileId"] for f in added}  # newest gmtAdded first
    assert all(f["fileState"] == "processing" for f in files_after[:3])
    assert after["gmtModified"] > before["gmtModified"] and after["lastActivityTime"] >= after["gmtModified"]
    assert sum(_bytes(f["fileSize"]) for f in files_after) == pytest.approx(_bytes(after["size"]), rel=0.005)
    assert _bytes(after["size"]) > _bytes(before["size"])

    gone = files_before[0]
    fresh.control.delete_lingma_file(kb["id"], gone["fileId"])
    final, files_final = _lingma_kb(fresh, org, kb["id"]), _files(fresh, org, kb["id"])
    assert final["fileCount"] == after["fileCount"] - 1 == len(files_final)
    assert gone["fileId"] not in {f["fileId"] for f in files_final}
    assert sum(_bytes(f["fileSize"]) for f in files_final) == pytest.approx(_bytes(final["size"]), rel=0.005)
    with pytest.raises(KeyError):
        fresh.control.delete_lingma_file(kb["id"], gone["fileId"])

    fresh.control.delete_lingma_knowledge_base(kb["id"])
    assert lingma_files_get(fresh, org, kb["id"]).status_code == 404


def test_vikingdb_documents_move_their_collection(fresh: SandboxServer) -> None:
    volc = Volc(fresh.url)
    project, name = next(
        (p, c["collection_name"])
        for p, cs in fresh.dataset.vikingdb_collections.items()
        for c in cs
        if c["doc_num"]
    )
    before = _collection(volc, project, name)
    stat_before = dict(before["pipeline_list"][0]["pipeline_stat"])
    processed = fresh.control.add_vikingdb_documents(project, name, count=2)
    queued = fresh.control.add_vikingdb_documents(project, name, count=1, process_status=2)

    after = _collection(volc, project, name)
    stat = after["pipeline_list"][0]["pipeline_stat"]
    docs = _docs(volc, project, name)
    new_points = sum(d["point_num"] for d in processed)
    assert new_points > 0 and queued[0]["point_num"] == 0
    assert after["doc_num"] == before["doc_num"] + 3 == stat["doc_num"] == len(docs)
    assert stat["point_num"] == stat_before["point_num"] + new_points == sum(d["point_num"] for d in docs)
    assert stat["success_doc_num"] == stat_before["success_doc_num"] + 2
    assert stat["finish_doc_num"] == stat_before["finish_doc_num"] + 2
    assert after["update_time"] > before["update_time"]
    assert {d["doc_id"] for d in docs[:3]} == {d["doc_id"] for d in processed + queued}  # newest first

    gone = processed[0]
    fresh.control.delete_vikingdb_document(project, name, gone["doc_id"])
    final = _collection(volc, project, name)
    assert final["doc_num"] == after["doc_num"] - 1
    assert final["pipeline_list"][0]["pipeline_stat"]["point_num"] == stat["point_num"] - gone["point_num"]
    assert gone["doc_id"] not in {d["doc_id"] for d in _docs(volc, project, name)}
    with pytest.raises(ValueError):
        fresh.control.add_vikingdb_documents(project, name, process_status=5)

    fresh.control.delete_vikingdb_collection(project, name)
    answer = volc.post("/api/knowledge/doc/list", {"collection_name": name, "project": project})
    assert answer.json()["code"] == 1000005


def test_finishing_pai_jobs_moves_the_chunk_total(fresh: SandboxServer) -> None:
    pai = Pai(fresh.url)
    running = [j for js in fresh.dataset.pai_jobs.values() for j in js if j["Status"] == "Running"]
    done, broken = running[0], running[1]

    def total(kb_id: str) -> int:
        return pai.chunks(kb_id, PageSize=1).json()["TotalCount"]

    def net(job: dict) -> int:
        result = job["KnowledgeBaseJobResult"]
        return result["AddChunkCount"] - result["DeleteChunkCount"]

    before = total(done["KnowledgeBaseId"])
    fresh.control.finish_pai_job(done["KnowledgeBaseJobId"])
    assert net(done) > 0 and total(done["KnowledgeBaseId"]) == before + net(done)

    before = total(broken["KnowledgeBaseId"])
    fresh.control.finish_pai_job(broken["KnowledgeBaseJobId"], "Failed")
    assert total(broken["KnowledgeBaseId"]) == before  # a failed job leaves no chunks

    kb_id = done["KnowledgeBaseId"]
    before = total(kb_id)
    [job] = fresh.control.add_pai_jobs(kb_id, status="Success")
    assert total(kb_id) == max(0, before + net(job))
    listed = pai.chunks(kb_id, PageNumber=1, PageSize=100).json()
    assert listed["TotalCount"] == total(kb_id) and len(listed["KnowledgeBaseChunks"]) == min(
        100, total(kb_id)
    )


def test_insert_while_paging_adds_children_and_moves_parents(fresh: SandboxServer) -> None:
    org, kb = next(
        (org, kb) for org, kbs in fresh.dataset.lingma_organizations.items() for kb in kbs if kb["fileCount"]
    )
    count = _lingma_kb(fresh, org, kb["id"])["fileCount"]
    fresh.control.add_fault("lingma", "insert_while_paging", operation="ListKbFiles", records=2)
    assert int(lingma_files_get(fresh, org, kb["id"]).headers["x-total"]) == count
    assert _lingma_kb(fresh, org, kb["id"])["fileCount"] == count + 2 == len(_files(fresh, org, kb["id"]))

    volc = Volc(fresh.url)
    project, name = next(
        (p, cs[0]["collection_name"]) for p, cs in fresh.dataset.vikingdb_collections.items() if cs
    )
    doc_num = _collection(volc, project, name)["doc_num"]
    fresh.control.add_fault("vikingdb", "insert_while_paging", operation="ListDocs", records=4)
    volc.post("/api/knowledge/doc/list", {"collection_name": name, "project": project, "limit": 10})
    assert _collection(volc, project, name)["doc_num"] == doc_num + 4 == len(_docs(volc, project, name))

    kb_id = next(iter(fresh.dataset.pai_jobs))
    jobs = len(fresh.dataset.pai_jobs[kb_id])
    fresh.control.add_fault(
        "pai_langstudio", "insert_while_paging", operation="ListKnowledgeBaseChunks", records=1
    )
    Pai(fresh.url).chunks(kb_id, PageSize=1)
    assert (
        len(fresh.dataset.pai_jobs[kb_id]) == jobs + 1
        and fresh.dataset.pai_jobs[kb_id][-1]["Status"] == "Success"
    )
