"""The generator: deterministic from seed and scale, the promised sizes, fast at scale 200, and the
variety real tenants show."""

from __future__ import annotations

import re
from datetime import datetime

import orjson

from kb_pipeline.sandbox import Dataset
from kb_pipeline.sandbox.dataset import RECENT_CHILD_LISTS

ATTRIBUTES = (
    "pai_workspaces",
    "pai_knowledge_bases",
    "pai_jobs",
    "lingma_organizations",
    "qianfan_knowledge_bases",
    "qianfan_documents",
    "vikingdb_collections",
    "vikingdb_tasks",
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _snapshot(dataset: Dataset) -> bytes:
    return orjson.dumps({name: getattr(dataset, name) for name in ATTRIBUTES})


def test_same_seed_and_scale_give_identical_records() -> None:
    assert _snapshot(Dataset.generate(3, 0.5)) == _snapshot(Dataset.generate(3, 0.5))
    assert _snapshot(Dataset.generate(3, 0.5)) != _snapshot(Dataset.generate(4, 0.5))


def test_scale_one_sizes_and_variety() -> None:
    data = Dataset.generate(11, 1.0)
    jobs = [j for js in data.pai_jobs.values() for j in js]
    docs = [d for ds in data.qianfan_documents.values() for d in ds]
    assert len(jobs) == 100 and len(docs) == 1000
    assert len(data.pai_workspaces) >= 2 and sum(map(len, data.pai_knowledge_bases.values())) >= 3

    running = [j for j in jobs if j["Status"] == "Running"]
    overdue = [
        j
        for j in running
        if data.anchor - datetime.fromisoformat(j["GmtCreateTime"]).timestamp() > j["MaxRunningTimeInSeconds"]
    ]
    assert running and overdue and len(overdue) < len(running)
    assert all(j["ErrorMessage"] for j in jobs if j["Status"] == "Failed") and any(
        j["Status"] == "Failed" for j in jobs
    )
    assert all(j["KnowledgeBaseJobResult"]["FileMetas"] for j in jobs)
    assert any(j["KnowledgeBaseJobResult"]["AddChunkCount"] > 0 for j in jobs)

    names = [d["name"] for d in docs]
    assert any(CJK.search(n) for n in names) and any(not CJK.search(n) for n in names)
    assert any(len(tag["values"]) > 1 for d in docs for tag in d["meta"]["tags"])
    assert any(not data.qianfan_documents[kb["id"]] for kb in data.qianfan_knowledge_bases)  # an empty KB

    assert max(len(kbs) for kbs in data.lingma_organizations.values()) > 20
    assert {kb["size"] for kbs in data.lingma_organizations.values() for kb in kbs} >= {"0 B"}
    assert len(data.vikingdb_collections) >= 2 and all(data.vikingdb_collections.values())
    assert {t["status"] for t in data.vikingdb_tasks.values()} == {"running", "success", "fail"}


def test_small_scale_gives_a_handful() -> None:
    summary = Dataset.generate(1, 0.05).summary()
    assert 5 <= summary["qianfan"]["documents"] <= 60
    assert 4 <= summary["pai_langstudio"]["jobs"] <= 10


def test_scale_200_is_large() -> None:
    """How fast it generates is a benchmark's figure (BENCHMARKS.md), not a timed test."""
    summary = Dataset.generate(9, 200).summary()
    assert summary["qianfan"]["documents"] >= 200_000 and summary["pai_langstudio"]["jobs"] >= 20_000


def test_child_listings_are_generated_alike_and_agree_with_their_parents() -> None:
    """Children are regenerated from the seed and their parent, not stored: twice alike, never drifting."""
    first, again = Dataset.generate(6, 2.0), Dataset.generate(6, 2.0)
    kbs = [kb for kbs in first.lingma_organizations.values() for kb in kbs]
    collections = [c for cs in first.vikingdb_collections.values() for c in cs]
    assert len(kbs) > RECENT_CHILD_LISTS and len(collections) > 2  # more parents than generated listings kept
    for kb, same in zip(kbs, (kb for kbs in again.lingma_organizations.values() for kb in kbs), strict=True):
        files = first.lingma_files.get(kb)
        assert files == again.lingma_files.get(same) and len(files) == kb["fileCount"]
    assert first.lingma_files.get(kbs[0]) == again.lingma_files.get(kbs[0])  # evicted, then made again alike
    for collection in collections:
        docs = first.vikingdb_documents.get(collection)
        assert len(docs) == collection["doc_num"]
        assert (
            sum(d["point_num"] for d in docs) == collection["pipeline_list"][0]["pipeline_stat"]["point_num"]
        )
    states = {f["fileState"] for kb in kbs for f in first.lingma_files.get(kb)}
    statuses = {d["status"]["process_status"] for c in collections for d in first.vikingdb_documents.get(c)}
    assert states == {"success", "processing", "failed", "pending"} and statuses == {0, 1, 2, 6}
    summary = first.summary()
    assert summary["lingma"]["files"] == sum(kb["fileCount"] for kb in kbs) > 1000
    assert summary["pai_langstudio"]["chunks"] > 0
