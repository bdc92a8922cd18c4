"""Incremental passes that see every change for the fewest requests: PAI's running jobs, refreshed
by scan or by re-read (whichever costs less), and Lingma's knowledge bases, read most active first."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from kb_pipeline.pages import Page, RunningWindow
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sources.strategies import plan_refresh
from kb_pipeline.warehouse.known import KnownSnapshot
from tests.sources.conftest import config_for, ids, run_partition

WHENEVER = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_plan_weighs_the_pages_of_a_scan_against_one_request_per_running_job() -> None:
    assert plan_refresh(0, None, 100) == "scan"
    assert plan_refresh(3, None, 100) == "reread", "without a window only a re-read is sure to find them"
    assert plan_refresh(3, RunningWindow(WHENEVER, 250), 100) == "scan", "3 pages against 3 + 1 requests"
    assert plan_refresh(3, RunningWindow(WHENEVER, 400), 100) == "reread", "5 pages against 4 requests"
    assert plan_refresh(1, RunningWindow(WHENEVER, 100), 100) == "scan", "a full page needs a second to stop"
    assert plan_refresh(1, RunningWindow(WHENEVER, 200), 100) == "reread"


def _window(jobs: list[dict]) -> RunningWindow:
    oldest = min(j["GmtCreateTime"] for j in jobs if j["Status"] == "Running")
    return RunningWindow(
        datetime.fromisoformat(oldest.replace("Z", "+00:00")), sum(j["GmtCreateTime"] >= oldest for j in jobs)
    )


def test_pai_running_jobs_are_seen_again_by_one_scan_when_that_is_cheaper(
    live: SandboxServer, tmp_path: Path
) -> None:
    config = config_for(live, tmp_path)
    data = live.dataset
    kb_id = max(data.pai_jobs, key=lambda kb: sum(j["Status"] == "Running" for j in data.pai_jobs[kb]))
    first = run_partition(config, "pai.jobs", kb_id)
    running = first[-1].cursor["running"]
    assert len(running) >= 2
    finished = running[0]
    live.control.finish_pai_job(finished, status="Failed")
    new = live.control.add_pai_jobs(kb_id, count=1)
    known = KnownSnapshot(running_windows={("pai_langstudio", kb_id): _window(data.pai_jobs[kb_id])})
    live.control.clear_requests()
    again = run_partition(config, "pai.jobs", kb_id, cursor=first[-1].cursor, known=known)
    sent = live.control.requests(vendor="pai_langstudio")
    assert len(sent) == 1 and "KnowledgeBaseJobId" not in sent[0]["query"]
    seen = {r["KnowledgeBaseJobId"]: r for page in again for r in page.records}
    assert seen[finished]["Status"] == "Failed"
    assert set(running) | {new[0]["KnowledgeBaseJobId"]} <= set(seen)
    assert set(again[-1].cursor["running"]) == (set(running) - {finished}) | {new[0]["KnowledgeBaseJobId"]}


def test_pai_rereads_run_concurrently_and_count_as_rereads(live: SandboxServer, tmp_path: Path) -> None:
    config = config_for(live, tmp_path)
    data = live.dataset
    kb_id = max(data.pai_jobs, key=lambda kb: sum(j["Status"] == "Running" for j in data.pai_jobs[kb]))
    first = run_partition(config, "pai.jobs", kb_id)
    running = first[-1].cursor["running"]
    live.control.clear_requests()
    again = run_partition(config, "pai.jobs", kb_id, cursor=first[-1].cursor)  # no window known: re-read
    sent = live.control.requests(vendor="pai_langstudio")
    assert sorted(e["query"].get("KnowledgeBaseJobId") for e in sent[:-1]) == sorted(running)
    assert sorted(again[-1].cursor["running"]) == sorted(running)


def test_lingma_reads_only_what_was_active_and_finds_the_vanished_by_bisection(
    live: SandboxServer, tmp_path: Path
) -> None:
    config = config_for(live, tmp_path)
    organization, kbs = max(live.dataset.lingma_organizations.items(), key=lambda kv: len(kv[1]))

    def incremental(after: list[Page], held: list[str], page_size: int = 3) -> tuple[list[Page], int]:
        """The pages of a run after `after`'s last cursor with `held` in the warehouse, and the
        requests it sent."""
        known = KnownSnapshot(knowledge_bases={"lingma": [(kb_id, organization) for kb_id in held]})
        live.control.clear_requests()
        pages = run_partition(
            config,
            "lingma.knowledge_bases",
            organization,
            cursor=after[-1].cursor,
            known=known,
            settings_override={"page_size": page_size},
        )
        return pages, len(live.control.requests(vendor="lingma"))

    first = run_partition(config, "lingma.knowledge_bases", organization, settings_override={"page_size": 3})
    assert first[-1].scan_end is not None, "the first run is a full listing"
    held = [kb["id"] for kb in kbs]
    quiet, asked = incremental(first, held)
    assert asked == 1 and quiet[-1].scan_end is None

    added = live.control.add_lingma_knowledge_bases(organization, count=1)
    grown, asked = incremental(quiet, held)
    assert added[0]["id"] in ids(grown, "id") and asked == 1

    held = [kb["id"] for kb in kbs]
    gone = held[len(held) // 2]
    live.control.delete_lingma_knowledge_base(gone)
    shrunk, asked = incremental(grown, held, page_size=2)
    pages = -(-len(held) // 2)
    assert asked <= 2 + math.ceil(math.log2(pages + 1)) and asked < pages, "fewer than a full listing"
    ends = [page.scan_end for page in shrunk if page.scan_end is not None]
    assert [(end.partition_column, end.partition) for end in ends] == [("kb_id", gone)]


def test_a_child_listing_is_read_only_when_its_parent_moved_and_restarts_if_it_moved_mid_scan(
    live: SandboxServer, tmp_path: Path
) -> None:
    config = config_for(live, tmp_path)
    collection = max(
        (c for cs in live.dataset.vikingdb_collections.values() for c in cs), key=lambda c: c["doc_num"]
    )
    kb_id, held = collection["resource_id"], {"updated_at": "2026-01-01T00:00:00+00:00"}
    parent = {"scope_id": collection["project"], "file_count": collection["doc_num"], **held}

    def run(parent: dict, cursor: dict | None = None) -> list[Page]:
        known = KnownSnapshot(
            knowledge_bases={"vikingdb": [(kb_id, collection["project"])]},
            parents={("vikingdb", kb_id): parent},
        )
        return run_partition(config, "vikingdb.documents", kb_id, cursor=cursor, known=known)

    pages = run(parent)
    assert len(pages) > 2
    everything = ids(pages, "doc_id")
    live.control.clear_requests()
    assert run(parent, pages[-1].cursor) == []
    assert not live.control.requests(), "nothing moved: not one request"
    assert ids(pages[:2] + run(parent, pages[1].cursor), "doc_id") == everything, "a killed scan resumes"
    moved = {**parent, "file_count": parent["file_count"] + 1}
    assert ids(run(moved, pages[1].cursor), "doc_id") == everything, "its parent moved: it starts over"
    assert ids(run(moved, pages[-1].cursor), "doc_id") == everything
