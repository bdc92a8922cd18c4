"""After a full run the warehouse holds, row for row, what the sandbox's generator made; later
runs apply the vendors' changes; a rebuild from raw pages gives the same tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from kb_pipeline.rebuild import rebuild_warehouse
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sandbox.records.common import human_size
from kb_pipeline.warehouse.tables import TABLES
from tests.pipeline.conftest import configure, rows, run_engine


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[SandboxServer, Path]:
    data_dir = tmp_path_factory.mktemp("warehouse")
    with SandboxServer(seed=3, scale=0.4, qps=None) as server:
        report = run_engine(configure(server, data_dir))
        assert report.ok, [s.errors for s in report.streams]
        yield server, data_dir


def documents_of(data_dir: Path, source: str) -> dict[tuple[str, str], dict]:
    """A source's rows of `documents` by (kb_id, doc_id)."""
    found = rows(data_dir, f"SELECT * FROM documents WHERE source = '{source}'")
    return {(r["kb_id"], r["doc_id"]): r for r in found}


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_documents_match_the_generator_row_for_row(loaded) -> None:
    server, data_dir = loaded
    got = documents_of(data_dir, "qianfan")
    expected = {(kb, d["id"]): d for kb, docs in server.dataset.qianfan_documents.items() for d in docs}
    assert got.keys() == expected.keys()
    for key, doc in expected.items():
        row, meta = got[key], doc["meta"]
        assert row["name"] == doc["name"]
        assert row["status_raw"] == doc["displayStatus"]
        assert row["enabled"] is doc["enabled"]
        assert (row["status"] == "disabled") is (doc["enabled"] is False)
        assert row["word_count"] == doc["wordCount"]
        assert row["origin"] == meta["source"]
        assert row["mime_type"] == meta.get("mimeType", meta.get("mime_type"))
        assert row["file_size_bytes"] == meta.get("fileSize", meta.get("file_size"))
        assert row["created_at"] == _iso(doc["createdAt"])
        if meta.get("url"):
            assert "authorization=" not in row["url"].lower()
            assert row["url"].split("?")[0] == meta["url"].split("?")[0]
    statuses = {r["status"] for r in got.values()}
    assert statuses <= {"queued", "processing", "available", "failed", "disabled"}
    assert len(statuses) == 5, "the generator covers every normalized status"


LINGMA_STATUS = {"pending": "queued", "processing": "processing", "success": "available", "failed": "failed"}
VIKINGDB_STATUS = {0: "available", 1: "failed", 2: "queued", 6: "processing"}


def _size(text: str) -> int:
    number, unit = text.split()
    return round(float(number) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit])


def test_lingma_files_match_the_generator_row_for_row(loaded) -> None:
    server, data_dir = loaded
    data = server.dataset
    got = documents_of(data_dir, "lingma")
    kbs = [kb for kbs in data.lingma_organizations.values() for kb in kbs]
    expected = {(kb["id"], f["fileId"]): f for kb in kbs for f in data.lingma_files.get(kb)}
    assert got.keys() == expected.keys()
    for key, file in expected.items():
        row = got[key]
        assert row["name"] == file["filename"]
        assert row["status_raw"] == file["fileState"]
        assert row["status"] == LINGMA_STATUS[file["fileState"]]
        assert row["file_size_bytes"] == _size(file["fileSize"])
        assert row["path"] == file["filePath"]
        assert row["created_at"].timestamp() == file["gmtAdded"] / 1000
        assert row["updated_at"].timestamp() == file["gmtModified"] / 1000
    for kb in kbs:  # the knowledge base's own figures agree with its files
        files = [r for (kb_id, _), r in got.items() if kb_id == kb["id"]]
        assert len(files) == kb["fileCount"]
        assert human_size(sum(r["file_size_bytes"] for r in files)) == kb["size"]
    assert {r["status"] for r in got.values()} == set(LINGMA_STATUS.values())


def test_vikingdb_documents_match_the_generator_row_for_row(loaded) -> None:
    server, data_dir = loaded
    data = server.dataset
    got = documents_of(data_dir, "vikingdb")
    collections = [c for cs in data.vikingdb_collections.values() for c in cs]
    expected = {
        (c["resource_id"], d["doc_id"]): d for c in collections for d in data.vikingdb_documents.get(c)
    }
    assert got.keys() == expected.keys()
    for key, doc in expected.items():
        row = got[key]
        assert row["name"] == doc["doc_name"]
        assert row["status_raw"] == str(doc["status"]["process_status"])
        assert row["status"] == VIKINGDB_STATUS[doc["status"]["process_status"]]
        assert row["chunk_count"] == doc["point_num"]
        assert row["created_at"].timestamp() == doc["create_time"] / 1000
        assert row["updated_at"].timestamp() == doc["update_time"] / 1000
        assert row["path"] == (doc["tos_path"] or None)
    for c in collections:  # the collection's own figures agree with its documents
        docs = [r for (kb_id, _), r in got.items() if kb_id == c["resource_id"]]
        stat = c["pipeline_list"][0]["pipeline_stat"]
        assert len(docs) == c["doc_num"] == stat["doc_num"]
        assert sum(r["chunk_count"] for r in docs) == stat["point_num"]
        assert sum(r["status"] == "available" for r in docs) == stat["success_doc_num"]
    assert {r["status"] for r in got.values()} == set(VIKINGDB_STATUS.values())


def test_document_tags_one_row_per_value(loaded) -> None:
    server, data_dir = loaded
    got = sorted(
        (r["doc_id"], r["tag_key"], r["tag_value"]) for r in rows(data_dir, "SELECT * FROM document_tags")
    )
    expected = sorted(
        (d["id"], tag["key"], value)
        for docs in server.dataset.qianfan_documents.values()
        for d in docs
        for tag in d["meta"].get("tags") or []
        for value in tag["values"]
    )
    assert got == expected


def test_knowledge_bases_of_every_source(loaded) -> None:
    server, data_dir = loaded
    data = server.dataset
    got = {(r["source"], r["kb_id"]): r for r in rows(data_dir, "SELECT * FROM knowledge_bases")}
    lingma = {kb["id"]: kb for kbs in data.lingma_organizations.values() for kb in kbs}
    expected = (
        {("pai_langstudio", kb["KnowledgeBaseId"]) for kbs in data.pai_knowledge_bases.values() for kb in kbs}
        | {("lingma", kb_id) for kb_id in lingma}
        | {("qianfan", kb["id"]) for kb in data.qianfan_knowledge_bases}
        | {("vikingdb", c["resource_id"]) for cs in data.vikingdb_collections.values() for c in cs}
    )
    assert got.keys() == expected
    for kb_id, kb in lingma.items():
        row = got[("lingma", kb_id)]
        assert row["scope_id"] == kb["organizationId"]
        assert row["member_count"] == kb["memberCount"]
        assert row["last_activity_at"].timestamp() == kb["lastActivityTime"] / 1000
        assert row["size_bytes"] == _size(kb["size"])
    assert all(r["deleted_at"] is None for r in got.values())


def test_jobs_files_history_and_chunk_counts(loaded) -> None:
    server, data_dir = loaded
    data = server.dataset
    jobs = {(r["source"], r["job_id"]): r for r in rows(data_dir, "SELECT * FROM jobs")}
    pai = {job["KnowledgeBaseJobId"]: job for js in data.pai_jobs.values() for job in js}
    assert jobs.keys() == {("pai_langstudio", j) for j in pai} | {
        ("vikingdb", t) for t in data.vikingdb_tasks
    }
    for job_id, job in pai.items():
        row = jobs[("pai_langstudio", job_id)]
        assert (
            row["status"] == {"Running": "running", "Success": "succeeded", "Failed": "failed"}[job["Status"]]
        )
        assert row["add_chunk_count"] == job["KnowledgeBaseJobResult"]["AddChunkCount"]
        assert (row["error_message"] or "") == job["ErrorMessage"]
        if job["GmtFinishTime"]:
            expected = (_iso(job["GmtFinishTime"]) - _iso(job["GmtCreateTime"])).total_seconds()
            assert row["duration_s"] == pytest.approx(expected)
    for task_id, task in data.vikingdb_tasks.items():
        row = jobs[("vikingdb", task_id)]
        assert row["progress_pct"] == task["percentage"]
        assert "X-Tos-Signature" not in (row["attachment_url"] or "")
        assert ("X-Tos-Expires" in (row["attachment_url"] or "")) is (
            "X-Tos-Expires" in (task["attachment_link"] or "")
        )

    files = rows(data_dir, "SELECT job_id, file_meta_id FROM job_files WHERE source = 'pai_langstudio'")
    expected_files = sorted(
        (job_id, meta["FileMetaId"])
        for job_id, job in pai.items()
        for meta in job["KnowledgeBaseJobResult"]["FileMetas"]
    )
    assert sorted((r["job_id"], r["file_meta_id"]) for r in files) == expected_files
    history = rows(data_dir, "SELECT source, job_id, status FROM job_status_history")
    assert len(history) == len(jobs), "one observation per job after the first run"

    counts = rows(data_dir, "SELECT kb_id, pipeline, chunk_count FROM chunk_counts WHERE source = 'vikingdb'")
    expected_counts = sorted(
        (c["resource_id"], p["pipeline_type"], p["pipeline_stat"]["point_num"])
        for cs in data.vikingdb_collections.values()
        for c in cs
        for p in c["pipeline_list"]
    )
    assert sorted((r["kb_id"], r["pipeline"], r["chunk_count"]) for r in counts) == expected_counts

    pai_counts = rows(
        data_dir, "SELECT kb_id, pipeline, chunk_count FROM chunk_counts WHERE source = 'pai_langstudio'"
    )
    expected_pai = sorted((kb_id, "", data.pai_chunk_total(kb_id)) for kb_id in data.pai_jobs)
    assert sorted((r["kb_id"], r["pipeline"], r["chunk_count"]) for r in pai_counts) == expected_pai
    assert any(count for _, _, count in expected_pai), "some knowledge base holds chunks"


def test_rebuild_from_raw_gives_the_same_tables(tmp_path: Path) -> None:
    with SandboxServer(seed=4, scale=0.2, qps=None) as server:
        config = configure(server, tmp_path)
        assert run_engine(config).ok
        server.control.add_qianfan_documents(server.dataset.qianfan_knowledge_bases[0]["id"], count=2)
        running = next(t for t, info in server.dataset.vikingdb_tasks.items() if info["status"] == "running")
        server.control.finish_vikingdb_task(running, status="fail")
        assert run_engine(config, run_id="second").ok
    before = {name: sorted(map(repr, rows(tmp_path, f"SELECT * FROM {name}"))) for name in TABLES}
    counts = rebuild_warehouse(tmp_path)
    after = {name: sorted(map(repr, rows(tmp_path, f"SELECT * FROM {name}"))) for name in TABLES}
    assert after == before
    assert counts["documents"] == len(before["documents"]) > 0


def test_changes_flow_in_deletions_are_marked_and_status_history_grows(tmp_path: Path) -> None:
    with SandboxServer(seed=6, scale=0.3, qps=None) as server:
        config = configure(server, tmp_path)
        assert run_engine(config).ok
        data, control = server.dataset, server.control
        organization = next(iter(data.lingma_organizations))
        gone_kb = data.lingma_organizations[organization][0]["id"]
        control.delete_lingma_knowledge_base(gone_kb)
        kb_id = max(data.qianfan_documents, key=lambda kb: len(data.qianfan_documents[kb]))
        gone_doc, changed_doc = data.qianfan_documents[kb_id][0]["id"], data.qianfan_documents[kb_id][1]["id"]
        control.delete_qianfan_document(kb_id, gone_doc)
        control.set_qianfan_document_status(kb_id, changed_doc, status="error")
        running = next(t for t, info in data.vikingdb_tasks.items() if info["status"] == "running")
        control.finish_vikingdb_task(running, status="success")

        assert run_engine(config, run_id="incremental").ok
        kb_rows = rows(tmp_path, f"SELECT deleted_at FROM knowledge_bases WHERE kb_id = '{gone_kb}'")
        assert kb_rows[0]["deleted_at"] is not None
        history = rows(
            tmp_path, f"SELECT status FROM job_status_history WHERE job_id = '{running}' ORDER BY observed_at"
        )
        assert [h["status"] for h in history] == ["running", "succeeded"]
        # an incremental pass does not re-read old documents; the daily full refresh does
        doc = rows(tmp_path, f"SELECT status_raw, deleted_at FROM documents WHERE doc_id = '{changed_doc}'")[
            0
        ]
        assert doc["status_raw"] != "error"

        assert run_engine(config, run_id="full", full_refresh=True).ok
        doc = rows(tmp_path, f"SELECT status_raw, status FROM documents WHERE doc_id = '{changed_doc}'")[0]
        assert doc["status_raw"] == "error"
        gone = rows(tmp_path, f"SELECT deleted_at FROM documents WHERE doc_id = '{gone_doc}'")[0]
        assert gone["deleted_at"] is not None
        live = rows(
            tmp_path, f"SELECT count(*) AS n FROM documents WHERE kb_id = '{kb_id}' AND deleted_at IS NULL"
        )
        assert live[0]["n"] == len(data.qianfan_documents[kb_id])
