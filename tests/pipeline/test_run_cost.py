"""A scheduled run costs what changed, not what exists: the requests of each kind of run, counted
in the sandbox's own request log, and the tables an incremental run leaves behind."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_pipeline.sandbox import Dataset, SandboxServer
from tests.pipeline.conftest import configure, kill_then_resume, rows, run_engine, snapshot

SMALL_LINGMA_PAGES = {"lingma": {"page_size": 5}}
"""Organizations of several pages, so an incremental pass has pages to skip."""
SMALL_PAGES = {**SMALL_LINGMA_PAGES, "pai_langstudio": {"page_size": 3}, "qianfan": {"page_size": 20}}
"""Many pages in every listing, so a run can be killed half-way through any of them."""


def partitions(data: Dataset) -> int:
    """One per workspace and per knowledge base of PAI, one per Lingma organization, one for the
    VikingDB collections (no project configured), one for Qianfan's listing and one per Qianfan KB."""
    pai_kbs = sum(len(kbs) for kbs in data.pai_knowledge_bases.values())
    return (
        len(data.pai_workspaces)
        + pai_kbs
        + 1
        + len(data.lingma_organizations)
        + 1
        + len(data.qianfan_knowledge_bases)
    )


def running_tasks(data: Dataset) -> int:
    return sum(task["status"] == "running" for task in data.vikingdb_tasks.values())


PAGING = {"NextToken", "MaxResults", "page", "perPage", "marker", "maxKeys", "offset", "limit"}
CHILD_LISTINGS = ("ListKbFiles", "ListDocs", "ListKnowledgeBaseChunks")
"""Listings of a knowledge base's children, read only where the knowledge base says something changed."""


def listing_of(entry: dict) -> tuple:
    """Which partition's listing a logged request asked for: everything but its paging values."""
    query = tuple(sorted((k, v) for k, v in entry["query"].items() if k not in PAGING))
    body = tuple(sorted((k, str(v)) for k, v in (entry["body"] or {}).items() if k not in PAGING))
    return entry["operation"], entry["path"], query, body


def requests_of(server: SandboxServer, **options) -> list[dict]:
    """The requests the sandbox answered during one engine run."""
    server.control.clear_requests()
    report = options.pop("run")(**options)
    assert report.ok, [s.errors for s in report.streams]
    return server.control.requests()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Iterator[tuple[SandboxServer, Path]]:
    data_dir = tmp_path_factory.mktemp("warehouse")
    with SandboxServer(seed=12, scale=1.0, qps=None) as server:
        config = configure(server, data_dir, **SMALL_LINGMA_PAGES)
        assert run_engine(config, run_id="first").ok
        yield server, config


def test_a_run_with_nothing_new_asks_each_partition_once_and_each_running_task(loaded) -> None:
    server, config = loaded
    answered = requests_of(server, run=run_engine, config=config, run_id="quiet")
    data = server.dataset
    per_listing = Counter(listing_of(e) for e in answered if e["operation"] != "TaskInfo")
    assert max(per_listing.values()) == 1, "no listing asked twice"
    assert not any("KnowledgeBaseJobId" in e["query"] for e in answered), "running jobs seen by the scan"
    assert sum(e["operation"] == "TaskInfo" for e in answered) == running_tasks(data)
    assert len(answered) <= partitions(data) + running_tasks(data)
    assert not [e for e in answered if e["operation"] in CHILD_LISTINGS], "no child listing read again"


def test_an_incremental_run_never_costs_more_than_a_full_refresh(loaded) -> None:
    server, config = loaded
    incremental = requests_of(server, run=run_engine, config=config, run_id="hourly")
    full = requests_of(server, run=run_engine, config=config, run_id="daily", full_refresh=True)
    assert len(incremental) < len(full)


def parent_of(entry: dict) -> tuple[str, str]:
    """A child listing's operation and the knowledge base (or collection) it listed."""
    if entry["operation"] == "ListDocs":
        return entry["operation"], entry["body"]["resource_id"]
    return entry["operation"], entry["path"].rstrip("/").split("/")[-2]


LATEST_COUNTS = (
    "SELECT source, kb_id, pipeline, arg_max(chunk_count, observed_at) AS chunk_count "
    "FROM chunk_counts GROUP BY ALL ORDER BY ALL"
)


def test_a_child_listing_is_read_again_only_under_a_parent_that_changed(tmp_path: Path) -> None:
    with SandboxServer(seed=15, scale=0.3, qps=None) as server:
        config = configure(server, tmp_path / "hourly", **SMALL_LINGMA_PAGES)
        assert run_engine(config, run_id="first").ok
        data, control = server.dataset, server.control
        lingma = [kb for kbs in data.lingma_organizations.values() for kb in kbs if kb["fileCount"]]
        control.add_lingma_files(lingma[0]["id"], count=2)
        control.delete_lingma_file(lingma[1]["id"], data.lingma_files.get(lingma[1])[0]["fileId"])
        collections = [c for cs in data.vikingdb_collections.values() for c in cs]
        gone = data.vikingdb_documents.get(collections[0])[0]["doc_id"]
        control.delete_vikingdb_document(collections[0]["project"], collections[0]["collection_name"], gone)
        control.add_vikingdb_documents(collections[1]["project"], collections[1]["collection_name"], count=3)
        job = next(j for jobs in data.pai_jobs.values() for j in jobs if j["Status"] == "Running")
        control.finish_pai_job(job["KnowledgeBaseJobId"])

        answered = requests_of(server, run=run_engine, config=config, run_id="hour")
        children = Counter(parent_of(e) for e in answered if e["operation"] in CHILD_LISTINGS)
        assert set(children) == {
            ("ListKbFiles", lingma[0]["id"]),
            ("ListKbFiles", lingma[1]["id"]),
            ("ListDocs", collections[0]["resource_id"]),
            ("ListDocs", collections[1]["resource_id"]),
            ("ListKnowledgeBaseChunks", job["KnowledgeBaseId"]),
        }
        assert children[("ListKnowledgeBaseChunks", job["KnowledgeBaseId"])] == 1
        quiet = requests_of(server, run=run_engine, config=config, run_id="quiet")
        assert not [e for e in quiet if e["operation"] in CHILD_LISTINGS]

        fresh = configure(server, tmp_path / "fresh", **SMALL_LINGMA_PAGES)
        assert run_engine(fresh, run_id="fresh").ok
        hourly, full = live_tables(tmp_path / "hourly"), live_tables(tmp_path / "fresh")
        assert hourly["documents"] == full["documents"]
        assert rows(tmp_path / "hourly", LATEST_COUNTS) == rows(tmp_path / "fresh", LATEST_COUNTS)
        deleted = rows(tmp_path / "hourly", f"SELECT deleted_at FROM documents WHERE doc_id = '{gone}'")
        assert deleted[0]["deleted_at"] is not None


def typical_hour(server: SandboxServer) -> tuple[int, set[str]]:
    """An hour of change on every vendor; returns the records changed and the Qianfan documents
    deleted (which only a full listing can see)."""
    data, control = server.dataset, server.control
    qianfan = [kb["id"] for kb in data.qianfan_knowledge_bases]
    added = [doc for kb_id in qianfan[:2] for doc in control.add_qianfan_documents(kb_id, count=3)]
    deleted = {data.qianfan_documents[qianfan[0]][0]["id"]}
    for doc_id in deleted:
        control.delete_qianfan_document(qianfan[0], doc_id)
    running = [
        j["KnowledgeBaseJobId"] for js in data.pai_jobs.values() for j in js if j["Status"] == "Running"
    ]
    for job_id in running[:3]:
        control.finish_pai_job(job_id)
    pai_kbs = [kb["KnowledgeBaseId"] for kbs in data.pai_knowledge_bases.values() for kb in kbs]
    new_jobs = control.add_pai_jobs(pai_kbs[0], count=2)
    tasks = [t for t, task in data.vikingdb_tasks.items() if task["status"] == "running"]
    for task_id in tasks[:3]:
        control.finish_vikingdb_task(task_id)
    control.add_pai_knowledge_base(data.pai_workspaces[0])
    control.delete_pai_knowledge_base(pai_kbs[-1])
    control.add_qianfan_knowledge_base()
    control.delete_qianfan_knowledge_base(qianfan[-2])
    organization = next(iter(data.lingma_organizations))
    control.add_lingma_knowledge_bases(organization, count=1)
    control.delete_lingma_knowledge_base(data.lingma_organizations[organization][3]["id"])
    collections = data.vikingdb_collections["default"]
    control.add_vikingdb_collection("default")
    control.delete_vikingdb_collection("default", collections[0]["collection_name"])
    changed = len(added) + len(deleted) + 3 + len(new_jobs) + 3 + 8
    return changed, deleted


LIVE = {
    "knowledge_bases": "SELECT * EXCLUDE (first_seen_at, last_seen_at) FROM knowledge_bases "
    "WHERE deleted_at IS NULL ORDER BY source, kb_id",
    "documents": "SELECT d.* EXCLUDE (first_seen_at, last_seen_at) FROM documents d "
    "JOIN knowledge_bases k USING (source, kb_id) "
    "WHERE d.deleted_at IS NULL AND k.deleted_at IS NULL ORDER BY d.source, d.kb_id, d.doc_id",
    "jobs": "SELECT j.* EXCLUDE (first_seen_at, last_seen_at) FROM jobs j "
    "LEFT JOIN knowledge_bases k USING (source, kb_id) "
    "WHERE j.kb_id IS NULL OR k.deleted_at IS NULL ORDER BY j.source, j.job_id",
}
"""What a fresh full load holds too: the live rows, without the times of the warehouse's own sightings."""


def live_tables(data_dir: Path) -> dict[str, list[dict]]:
    return {name: rows(data_dir, sql) for name, sql in LIVE.items()}


def test_after_an_hour_of_change_an_incremental_run_equals_a_fresh_full_load(tmp_path: Path) -> None:
    with SandboxServer(seed=13, scale=1.0, qps=None) as server:
        config = configure(server, tmp_path / "hourly", **SMALL_LINGMA_PAGES)
        assert run_engine(config, run_id="first").ok
        quiet_bound = partitions(server.dataset) + running_tasks(server.dataset)
        changed, deleted = typical_hour(server)
        answered = requests_of(server, run=run_engine, config=config, run_id="hour")
        assert len(answered) < quiet_bound + changed

        fresh = configure(server, tmp_path / "fresh", **SMALL_LINGMA_PAGES)
        assert run_engine(fresh, run_id="fresh").ok
        hourly, full = live_tables(tmp_path / "hourly"), live_tables(tmp_path / "fresh")
        assert hourly["knowledge_bases"] == full["knowledge_bases"]
        assert hourly["jobs"] == full["jobs"]
        still_listed = [doc for doc in hourly["documents"] if doc["doc_id"] not in deleted]
        assert still_listed == full["documents"], "only the deleted documents wait for the daily sweep"
        assert len(hourly["documents"]) == len(full["documents"]) + len(deleted)

        assert run_engine(config, run_id="daily", full_refresh=True).ok
        assert live_tables(tmp_path / "hourly") == full


def settled(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Tables as `snapshot` gives them, with `deleted_at` reduced to whether a row is deleted (a
    resumed run marks the same rows, at its own time)."""
    return {
        name: [tuple((k, v != "None") if k == "deleted_at" else (k, v) for k, v in row) for row in content]
        for name, content in tables.items()
    }


@pytest.fixture(scope="module")
def changed_tenant(tmp_path_factory) -> Iterator[tuple[SandboxServer, dict, Path]]:
    """A sandbox after an hour of change, and the tables one uninterrupted incremental run leaves."""
    with SandboxServer(seed=14, scale=1.0, qps=None) as server:
        first = tmp_path_factory.mktemp("first-load")
        assert run_engine(configure(server, first, **SMALL_PAGES), run_id="first").ok
        typical_hour(server)
        reference = tmp_path_factory.mktemp("reference")
        shutil.copytree(first, reference, dirs_exist_ok=True)
        assert run_engine(configure(server, reference, **SMALL_PAGES), run_id="hour").ok
        yield server, settled(snapshot(reference)), first


@pytest.mark.parametrize("kill_after_pages", [1, 6, 20])
def test_an_incremental_run_killed_mid_way_resumes_to_the_same_tables(
    changed_tenant, tmp_path: Path, kill_after_pages: int
) -> None:
    server, reference, first = changed_tenant
    shutil.copytree(first, tmp_path, dirs_exist_ok=True)
    config = configure(server, tmp_path, **SMALL_PAGES)
    kill_then_resume(config, tmp_path, kill_after_pages)
    assert settled(snapshot(tmp_path)) == reference
